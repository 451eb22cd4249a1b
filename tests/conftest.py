"""Shared fixtures: routine files on disk, and a CLI runner."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
ROUTINES = ROOT / "routines"

MINIMAL = """\
title: Test
steps:
  - say: Breathe in.
"""


@pytest.fixture(autouse=True, scope="session")
def private_speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every voiceguide process it starts) uses a throw-away speech cache."""
    folder = tmp_path_factory.mktemp("speech-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOICEGUIDE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture
def write_routine(tmp_path: Path) -> Callable[..., Path]:
    """Write YAML text (dedented) to ``tmp_path/<name>`` and return its path."""

    def write(text: str, name: str = "routine.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


SHORT_ROUTINE = """\
title: Short check
author: Tester
intro: Sit tall.
defaults: {pause: 1s, rest: 1500ms, countdown: 2}
steps:
  - name: Press
    say: Press your {side} hand, rep {rep}.
    again: Press again.
    sides: both
    reps: 2
    hold: 4s
    release: Relax.
    cues:
      - {at: 1s, say: Keep going.}
  - say: Breathe out.
    hold: 2500ms
    countdown: 0
outro: Done.
"""


@pytest.fixture
def short_routine(write_routine: Callable[..., Path]) -> Path:
    """A small routine with sides, reps, a cue, countdowns and a release: renders in seconds."""
    return write_routine(SHORT_ROUTINE, "short.yaml")
