"""voiceguide: turn a written routine into a voice-guided, exactly timed audio track."""

from __future__ import annotations

__version__ = "0.1.0"
