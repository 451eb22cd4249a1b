"""`voiceguide docs`: the routine format from the installed package, whole or one field at a time."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.cli.app import cli
from voiceguide.routine.reference import DOCS_PATH, field_help, field_names
from voiceguide.routine.starter import starter_text

from conftest import ROOT

VOICEGUIDE = [sys.executable, "-m", "voiceguide"]


def test_docs_prints_the_whole_reference(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["docs"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (ROOT / DOCS_PATH).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (
            "cues",
            "cues, in each step, under `steps:`\n  Short lines spoken *during* the hold, each at a chosen moment.\n"
            "  Values:  a list of `{at, say}`\n  Default: none\n",
        ),
        ("CUES", "cues, in each step, under `steps:`"),
        ("voice.rate", "rate, in `voice` (the routine's, or a step's own)\n  Speaking speed in words per minute."),
        ("at", "at, in each cue, under a step's `cues:`\n  Required. When the cue starts"),
        ("background", "background, at the top level of a routine\n  Ambience under the whole track"),
        ("durations", "## 10. Durations\n\nEvery time in a routine"),
    ],
)
def test_docs_prints_one_field_or_section(topic: str, expected: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["docs", topic])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(expected)


def test_every_field_of_every_block_has_its_entry() -> None:
    """A block added to the schema (a step's `variants`, say) is documented by `voiceguide docs` too."""
    for name in field_names():
        entry = field_help(name)
        assert entry is not None, name
        assert entry.startswith(name.rsplit(".", 1)[-1] + ", "), entry


def test_docs_of_a_block_names_its_fields(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["docs", "background"])
    assert "  Fields inside: file, noise, volume, duck (`voiceguide docs background.FIELD`)" in result.stdout
    assert runner.invoke(cli, ["docs", "background.noise"]).stdout.startswith("noise, in `background`\n")


def test_docs_of_a_field_in_several_blocks_shows_each(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["docs", "rest"])
    assert [line for line in result.stdout.splitlines() if line.startswith("rest,")] == [
        "rest, in `defaults`",
        "rest, in each step, under `steps:`",
    ]


def test_docs_of_an_unknown_field_suggests_one(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["docs", "cuse"])
    assert result.exit_code == 2
    assert "no field or section 'cuse' in the routine format; did you mean 'cues'?" in result.stderr


def test_docs_opens_a_pager_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal the reference goes through $PAGER (here a script that keeps what it is given)."""
    kept = tmp_path / "paged.txt"
    pager = tmp_path / "pager"
    pager.write_text(f"#!/bin/sh\ncat > '{kept}'\n", encoding="utf-8")
    pager.chmod(0o755)
    main, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [*VOICEGUIDE, "docs", "cues"],
            stdin=terminal,
            stdout=terminal,
            stderr=subprocess.PIPE,
            env={**os.environ, "PAGER": str(pager)},
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(main)
    assert done.returncode == 0, done.stderr
    assert kept.read_text(encoding="utf-8").startswith("cues, in each step, under `steps:`")


def test_the_starter_help_and_errors_point_at_voiceguide_docs(tmp_path: Path, runner: CliRunner) -> None:
    starter = starter_text("en")
    assert "voiceguide docs" in starter
    for repository_path in ("docs/", "routines/", "schema/", ".md"):
        assert repository_path not in starter
    assert "voiceguide docs" in runner.invoke(cli, ["--help"]).stdout
    path = tmp_path / "r.yaml"
    path.write_text("title: T\nsteps:\n  - say: Hi.\n    hold: 30 sec\n", encoding="utf-8")
    assert "See `voiceguide docs hold`" in runner.invoke(cli, ["validate", str(path)]).stderr
