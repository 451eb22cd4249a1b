"""The command line: help, exit codes, and one clear message per error class."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide import __version__
from voiceguide.cli import cli

from conftest import MINIMAL, ROOT

BAD = """\
title: T
steps:
  - say: Hold it.
    hold: forever
    sied: left
"""


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """voiceguide in a real process (``python -m``), for what depends on the process environment."""
    return subprocess.run(
        [sys.executable, "-m", "voiceguide", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        timeout=120,
    )


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_an_example(name: str, runner: CliRunner) -> None:
    command = cli.commands[name]
    assert command.help, f"{name} has no help"
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"voiceguide {name}" in result.output


def test_group_help_lists_commands_and_examples(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    for name in cli.commands:
        assert name in result.output


def test_version_and_python_dash_m() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"voiceguide, version {__version__}"


def test_validate_reports_every_problem_with_file_line_and_field(
    write_routine: Callable[..., Path], runner: CliRunner
) -> None:
    path = write_routine(BAD, "neck.yaml")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}:4: steps[0].hold: expected a duration like 30s, 1m30s, 500ms or 1:30, got 'forever'",
        f"{path}:5: steps[0].sied: unknown field 'sied'; did you mean 'sides'?",
        f"Error: 2 problems in {path}.",
    ]
    assert "Traceback" not in result.output


def test_validate_accepts_good_routines_and_folders(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(ROOT / "routines")])
    assert result.exit_code == 0, result.output
    assert "neck-and-back.yaml: ok (7 steps)" in result.stdout


@pytest.mark.parametrize("command", ["render", "plan"])
def test_invalid_routine_exits_2_and_writes_nothing(
    command: str, write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    path = write_routine(BAD, "neck.yaml")
    out = tmp_path / "out"
    args = [command, str(path)] + (["-o", str(out)] if command == "render" else [])
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "steps[0].hold: expected a duration" in result.stderr
    assert not out.exists()


def test_render_continues_past_a_bad_routine_and_exits_2(
    write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    bad = write_routine(BAD, "a-bad.yaml")
    good = write_routine(MINIMAL, "b-good.yaml")
    out = tmp_path / "out"
    result = runner.invoke(cli, ["render", str(bad), str(good), "-o", str(out), "--engine", "espeak-ng"])
    assert result.exit_code == 2
    assert f"Wrote {out / 'b-good.mp3'}" in result.stdout
    assert "1 of 2 routines failed." in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["b-good.mp3"]


def test_unknown_voice_exits_1_with_a_fix(
    write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    path = write_routine(MINIMAL)
    result = runner.invoke(cli, ["render", str(path), "-o", str(tmp_path / "out"), "--voice", "en-uss"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: pyttsx3 has no voice 'en-uss'; did you mean 'gmw/en-us'?",
        "  fix: pick one from `voiceguide voices --engine pyttsx3`",
    ]
    assert not (tmp_path / "out").exists()


def test_missing_espeak_ng_exits_1_with_the_install_command(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    path = write_routine(MINIMAL)
    result = run("render", str(path), "-o", str(tmp_path / "out"), "--engine", "espeak-ng", env={"PATH": ""})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: the espeak-ng program is not installed",
        "  fix: install espeak-ng: `sudo apt-get install espeak-ng` (macOS: `brew install espeak-ng`)",
    ]
    assert not (tmp_path / "out").exists()


def test_broken_ffmpeg_exits_1_and_leaves_no_partial_file(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    path = write_routine(MINIMAL)
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'Unknown encoder libmp3lame' >&2\nexit 1\n")
    fake.chmod(0o755)
    out = tmp_path / "out"
    result = run("render", str(path), "-o", str(out), env={"VOICEGUIDE_FFMPEG": str(fake)})
    assert result.returncode == 1
    assert "Error: ffmpeg could not encode the MP3: Unknown encoder libmp3lame" in result.stderr
    assert "fix:" in result.stderr
    assert list(out.iterdir()) == []


def test_output_folder_that_is_a_file_exits_1(
    write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    path = write_routine(MINIMAL)
    blocker = tmp_path / "taken"
    blocker.write_text("")
    result = runner.invoke(cli, ["render", str(path), "-o", str(blocker), "--engine", "espeak-ng"])
    assert result.exit_code == 1
    assert f"Error: {blocker} is a file, not a folder" in result.stderr


def test_missing_routine_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{tmp_path / 'nope.yaml'}: no such file"


def test_plan_json_has_the_documented_shape(write_routine: Callable[..., Path], runner: CliRunner) -> None:
    path = write_routine(MINIMAL)
    result = runner.invoke(cli, ["plan", str(path), "--json", "--engine", "espeak-ng"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert {"title", "duration", "sample_rate", "events"} <= set(plan)
    assert plan["sample_rate"] == 22050
    (event, pause) = plan["events"]
    assert set(event) == {"start", "duration", "kind", "role", "text", "step", "side", "rep"}
    assert (event["kind"], event["role"], event["text"], event["step"]) == ("speech", "say", "Breathe in.", 1)
    assert (pause["kind"], pause["duration"]) == ("pause", 2.0)
    assert plan["duration"] == pytest.approx(pause["start"] + 2.0)


def test_plan_text_shows_times_kinds_and_total(write_routine: Callable[..., Path], runner: CliRunner) -> None:
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 3s, countdown: 2}\n")
    result = runner.invoke(cli, ["plan", str(path), "--engine", "espeak-ng"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "T"
    assert [line.split()[1:4] for line in lines if " hold " in line] == [["hold", "3.000", "s"]]
    assert [line.split()[-1] for line in lines if "countdown" in line] == ["two", "one"]
    assert lines[-1].startswith("Total 0:0")


def test_voices_lists_both_engines_voices(runner: CliRunner) -> None:
    for engine, voice_id in (("pyttsx3", "gmw/en-us"), ("espeak-ng", "en-us")):
        result = runner.invoke(cli, ["voices", "--engine", engine, "--language", "en"])
        assert result.exit_code == 0, result.output
        assert voice_id in result.stdout.split()


def test_render_summary_counts_cache_hits_and_quiet_prints_nothing(
    write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    path = write_routine("title: T\nsteps:\n  - {say: Unique summary line., hold: 2s}\n")
    args = ["render", str(path), "-o", str(tmp_path / "out"), "--engine", "espeak-ng"]
    first = runner.invoke(cli, args)
    second = runner.invoke(cli, args)
    assert first.exit_code == second.exit_code == 0
    assert first.stdout.strip().endswith("3 lines, 0 from cache")
    assert second.stdout.strip().endswith("3 lines, 3 from cache")
    assert first.stderr == ""  # no progress bars when stderr is not a terminal
    quiet = runner.invoke(cli, [*args, "--quiet"])
    assert (quiet.exit_code, quiet.output) == (0, "")


def test_cache_info_and_clear(
    write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    path = write_routine(MINIMAL)
    assert runner.invoke(cli, ["plan", str(path), "--engine", "espeak-ng"]).exit_code == 0
    info = runner.invoke(cli, ["cache", "info"])
    assert info.stdout.splitlines()[0] == str(tmp_path / "cache")
    assert info.stdout.splitlines()[1].startswith("1 lines, ")
    cleared = runner.invoke(cli, ["cache", "clear"])
    assert cleared.stdout.startswith("Removed 1 lines")
    assert runner.invoke(cli, ["cache", "info"]).stdout.splitlines()[1] == "0 lines, 0.0 MB"


@pytest.mark.parametrize("command", ["validate", "plan", "render"])
def test_unknown_language_exits_2_listing_the_supported_ones(
    command: str, write_routine: Callable[..., Path], runner: CliRunner
) -> None:
    path = write_routine("title: T\nlanguage: klingon\nsteps:\n  - say: hi\n")
    result = runner.invoke(cli, [command, str(path)])
    assert result.exit_code == 2
    assert "routine.yaml:2: language: expected one of [de, en, es, fr, it, nl, pt], got 'klingon'" in result.output


def test_unreadable_sound_file_exits_1_with_a_fix(
    write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "bell.wav").write_text("not audio")
    path = write_routine(
        "title: T\nsounds: {start: bell.wav}\ndefaults: {chime: start}\nsteps:\n  - {say: Hi., hold: 2s}\n"
    )
    result = runner.invoke(cli, ["render", str(path), "-o", str(tmp_path / "out"), "--engine", "espeak-ng"])
    assert result.exit_code == 1
    assert "Error: ffmpeg could not decode" in result.output
    assert "fix: check the file named in `sounds`" in result.output
    assert not (tmp_path / "out" / "routine.mp3").exists()
