"""How results and errors read on the terminal: the one place that prints errors and picks exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from voiceguide.errors import Problem, RoutineError, VoiceguideError
from voiceguide.plan.present import move_warnings
from voiceguide.plan.timeline import Timeline


def error_text(error: VoiceguideError) -> str:
    """How an error reads on the terminal."""
    if isinstance(error, RoutineError):
        sources = sorted({p.source for p in error.problems})
        count = len(error.problems)
        lines = [str(p) for p in error.problems]
        noun = "problem" if count == 1 else "problems"
        lines.append(f"Error: {count} {noun} in {', '.join(sources)}.")
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


def fail_batch(failures: list[VoiceguideError], total: int, failed: Sequence[Path] = ()) -> NoReturn:
    """End a batch in which some routines failed: bad input alone exits 2, any runtime fault 1."""
    code = min(f.exit_code for f in failures)
    if total > 1:
        names = f": {', '.join(str(p) for p in failed)}" if failed else ""
        click.echo(f"{len(failures)} of {total} routines failed{names}.", err=True)
    sys.exit(code)
