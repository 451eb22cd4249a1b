"""The one error hierarchy.

Core code raises these; only the CLI prints them and picks exit codes:
``RoutineError`` (bad input, exit 2) and ``Fault`` (the machine or a tool let
us down, exit 1, always with a fix the user can act on).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class VoiceguideError(Exception):
    """Base of every error voiceguide raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a routine, pinned to a file, line and field.

    ``field`` is the path tools read (``steps[2].hold``); ``label`` names the step the
    way people count (``step 3 "Shoulder knead"``); ``fix`` says what to change.
    """

    source: str
    line: int | None
    field: str
    message: str
    label: str = ""
    fix: str = ""

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        text = f"{where}: {self.subject}: {self.message}" if self.field else f"{where}: {self.message}"
        return f"{text}\n  fix: {self.fix}" if self.fix else text

    @property
    def subject(self) -> str:
        """The field as a person reads it: ``step 3 "Shoulder knead" (steps[2]) → hold``."""
        if not self.label:
            return self.field
        head, _, rest = self.field.partition(".")
        return f"{self.label} ({head}) → {rest}" if rest else f"{self.label} ({head})"


class RoutineError(VoiceguideError):
    """A routine is invalid; carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Fault(VoiceguideError):
    """A runtime failure outside the routine; ``fix`` tells the user what to do."""

    exit_code = 1

    def __init__(self, message: str, fix: str = "") -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message}\n  fix: {fix}" if fix else message)


class EngineError(Fault):
    """A speech engine is missing, broken or lacks the requested voice."""


class UnknownVoice(EngineError):
    """A voice name that fits no voice of the engine, or several. ``detail`` says so in the
    words of a routine problem, for when the name came from a routine file."""

    def __init__(self, message: str, fix: str, detail: str) -> None:
        super().__init__(message, fix)
        self.detail = detail


class EncoderError(Fault):
    """ffmpeg is missing or failed to encode or decode."""


class OutputError(Fault):
    """An output file could not be written."""


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: stop exactly as Ctrl-C does (ffmpeg stopped, temporary files
    removed), since every clean-up that handles Ctrl-C handles this too."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signum)
