"""``python -m voiceguide``."""

from __future__ import annotations

from voiceguide.cli.app import cli

cli(prog_name="voiceguide")
