"""How results and errors read on the terminal: the one place that prints errors and picks exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from voiceguide.errors import Problem, RoutineError, VoiceguideError
from voiceguide.phrases import language_name
from voiceguide.pipeline import Fallback
from voiceguide.plan.present import move_warnings
from voiceguide.plan.timeline import Timeline
from voiceguide.routine.reference import field_help


def error_text(error: VoiceguideError) -> str:
    """How an error reads on the terminal."""
    if isinstance(error, RoutineError):
        sources = sorted({p.source for p in error.problems})
        count = len(error.problems)
        lines = [str(p) for p in error.problems]
        noun = "problem" if count == 1 else "problems"
        lines.append(f"Error: {count} {noun} in {', '.join(sources)}.")
        keys = (problem.field.rsplit(".", 1)[-1].split("[")[0] for problem in error.problems)
        if name := next((key for key in keys if key and field_help(key)), None):
            lines.append(f"See `voiceguide docs {name}` (or `voiceguide docs` for every field).")
        return "\n".join(lines)
    return f"Error: {error}"


def warn_moves(timeline: Timeline) -> None:
    """Lines moved to make room, on stderr (they never stop a render)."""
    for line in move_warnings(timeline):
        click.echo(line, err=True)


def warn_levelling(problems: Sequence[Problem]) -> None:
    """What levelling could not do, on stderr (it never stops a render)."""
    for problem in problems:
        click.echo(f"Warning: {problem}", err=True)


class Tips:
    """Where ``engine: auto`` fell back to pyttsx3 for want of a Piper voice: one tip per language
    and run (not one per routine of a batch, or per render of --watch)."""

    def __init__(self) -> None:
        self.fallbacks: set[Fallback] = set()
        self._shown: set[Fallback] = set()

    def show(self) -> None:
        for fallback in sorted(self.fallbacks - self._shown, key=lambda f: f.language):
            click.echo(
                f"Tip: {language_name(fallback.language)} is spoken with a system voice (pyttsx3), because no "
                f"natural Piper voice for it is installed. Get one with: voiceguide voices download {fallback.voice}",
                err=True,
            )
        self._shown |= self.fallbacks


def fail_batch(failures: list[VoiceguideError], total: int, failed: Sequence[Path] = ()) -> NoReturn:
    """End a batch in which some routines failed: bad input alone exits 2, any runtime fault 1."""
    code = min(f.exit_code for f in failures)
    if total > 1:
        names = f": {', '.join(str(p) for p in failed)}" if failed else ""
        click.echo(f"{len(failures)} of {total} routines failed{names}.", err=True)
    sys.exit(code)
