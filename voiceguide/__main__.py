"""``python -m voiceguide``."""

from __future__ import annotations

from .cli import cli

cli(prog_name="voiceguide")
