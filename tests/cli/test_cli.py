"""The command line: help, exit codes, and one clear message per error class."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_routine import BAD as BAD_ROUTINES

from voiceguide import __version__
from voiceguide.audio.ffmpeg import FFMPEG_HINT, ffmpeg
from voiceguide.cli.app import COMMANDS, cli
from voiceguide.durations import format_clock
from voiceguide.pipeline import load

from conftest import MINIMAL, ROOT, FakeEspeak

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


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(name: str, runner: CliRunner) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert command.help, f"{name} has no help"
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"voiceguide {name}" in result.output


def test_group_help_lists_commands_and_examples(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    for name in COMMANDS:
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
        f'{path}:4: step 1 "Hold it" (steps[0]) → hold: expected a duration like 30s, 1m30s, 500ms or 1:30, '
        "got 'forever'",
        f"{path}:5: step 1 \"Hold it\" (steps[0]) → sied: unknown field 'sied'; did you mean 'sides'?",
        f"Error: 2 problems in {path}.",
        "See `voiceguide docs hold` (or `voiceguide docs` for every field).",
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
    assert "(steps[0]) → hold: expected a duration" in result.stderr
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
    assert f"1 of 2 routines failed: {bad}." in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "b-good.chapters.json",
        "b-good.lrc",
        "b-good.mp3",
        "b-good.srt",
        "b-good.vtt",
    ]


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


def test_unknown_voice_in_the_file_exits_2_naming_file_line_and_field(
    write_routine: Callable[..., Path], runner: CliRunner
) -> None:
    """A voice name written in the routine is a problem in the routine: every one is reported."""
    path = write_routine(
        "title: T\nvoice:\n  engine: pyttsx3\n  name: en-uss\nsteps:\n  - say: Hi.\n"
        "  - say: There.\n    voice: {engine: espeak-ng, name: zz}\n"
    )
    result = runner.invoke(cli, ["plan", str(path)])
    assert result.exit_code == 2
    first, second, summary, docs = result.stderr.splitlines()
    assert docs == "See `voiceguide docs name` (or `voiceguide docs` for every field)."
    assert first.startswith(f"{path}:4: voice.name: no voice 'en-uss' in pyttsx3 (did you mean 'gmw/en-us'?); voices: ")
    assert first.endswith("(pick one from `voiceguide voices --engine pyttsx3`)")
    assert "gmw/en-us" in first.split("voices: ")[1]
    assert second.startswith(f"{path}:8: steps[1].voice.name: no voice 'zz' in espeak-ng; voices: ")
    assert summary == f"Error: 2 problems in {path}."


def test_ambiguous_voice_in_the_file_names_its_line(write_routine: Callable[..., Path], runner: CliRunner) -> None:
    path = write_routine("title: T\nvoice: {engine: espeak-ng, name: gb}\nsteps:\n  - say: Hi.\n")
    result = runner.invoke(cli, ["plan", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:2: voice.name: voice 'gb' matches ")
    assert "be more specific" in result.stderr


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
    fake.write_text(
        '#!/bin/sh\n[ "$1" = -version ] && echo "ffmpeg version fake" && exit 0\n'
        "echo 'Unknown encoder libmp3lame' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    out = tmp_path / "out"
    result = run("render", str(path), "-o", str(out), "--loudness", "off", env={"VOICEGUIDE_FFMPEG": str(fake)})
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
    document = json.loads(runner.invoke(cli, ["plan", str(path), "--engine", "espeak-ng", "--json"]).stdout)
    sequence = [e for e in document["events"] if e["role"] != "countdown"]  # said, held, then the pause
    assert [e["kind"] for e in sequence] == ["speech", "gap", "hold", "pause"]
    total = sum(e["duration"] for e in sequence)
    assert 5.6 < total < 7.4  # "Hold." (under 2 s), a 0.4 s gap, the 3 s hold and the 2 s pause after the step
    assert lines[-1] == f"Total {format_clock(total)}"


def test_voices_lists_both_engines_voices(runner: CliRunner) -> None:
    for engine, voice_id in (("pyttsx3", "gmw/en-us"), ("espeak-ng", "en-us")):
        result = runner.invoke(cli, ["voices", "--engine", engine, "--language", "en"])
        assert result.exit_code == 0, result.output
        assert voice_id in result.stdout.split()


# --- every bad input, through `render`: exit 2, one message per problem, nothing written


@pytest.mark.parametrize(("text", "expected"), BAD_ROUTINES)
def test_render_refuses_every_bad_routine_and_writes_nothing(
    text: str, expected: str, write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    path = write_routine(text)
    out = tmp_path / "out"
    result = runner.invoke(cli, ["render", str(path), "-o", str(out), "--engine", "espeak-ng"])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # no other exception escaped
    lines = [line for line in result.stderr.splitlines() if not line.startswith("See `voiceguide docs ")]
    assert [line.replace(str(path), "routine.yaml") for line in lines[:-1]] == expected.splitlines()
    count = sum(not line.startswith(" ") for line in expected.splitlines())  # a problem's excerpt is indented
    assert lines[-1] == f"Error: {count} problem{'s' * (count > 1)} in {path}."
    assert result.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00"), "is a binary file, not a YAML routine"),
        (lambda p: p.write_bytes(b"title: Caf\xe9\n"), "is not UTF-8 text (byte 0xe9); save it as UTF-8"),
        (lambda p: p.write_bytes(b" \n\t\n"), "the file is empty; a routine needs at least `title` and `steps`"),
        (lambda p: p.mkdir(), "is a folder with no .yaml routines in it"),
    ],
    ids=["binary", "not-utf8", "whitespace", "empty-folder"],
)
def test_render_refuses_unreadable_inputs_and_writes_nothing(
    make: Callable[[Path], object], expected: str, runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "routine.yaml"
    make(path)
    out = tmp_path / "out"
    result = runner.invoke(cli, ["render", str(path), "-o", str(out), "--engine", "espeak-ng"])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert expected in result.stderr.splitlines()[0]
    assert not out.exists()


def run_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    """voiceguide as a user whom file permissions apply to (as root: user nobody, through setpriv)."""
    if os.geteuid() != 0:
        return run(*args)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "voiceguide"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd="/", timeout=120)


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder every user can enter (pytest's tmp_path is private to root when run as root)."""
    folder = Path(tempfile.mkdtemp(prefix="voiceguide-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_unreadable_routine_file_and_folder_exit_2(shared_folder: Path) -> None:
    secret = shared_folder / "secret.yaml"
    secret.write_text(MINIMAL)
    secret.chmod(0o600 if os.geteuid() == 0 else 0)
    locked = shared_folder / "locked"
    locked.mkdir(mode=0o700 if os.geteuid() == 0 else 0)
    try:
        for path, message in (
            (secret, "cannot be read (permission denied); check the file's permissions"),
            (locked, "cannot list this folder: Permission denied"),
        ):
            result = run_unprivileged("render", str(path), "-o", str(shared_folder / "out"))
            assert result.returncode == 2, result.stderr
            assert result.stderr.splitlines() == [f"{path}: {message}", f"Error: 1 problem in {path}."]
    finally:
        secret.chmod(0o644)
        locked.chmod(0o755)
    assert sorted(p.name for p in shared_folder.iterdir()) == ["locked", "secret.yaml"]


@pytest.mark.parametrize(
    ("text", "exit_code"),
    [
        ("title: T\nsteps:\n  - say: Hello.\n    reps: 100000\n", 2),
        ("title: T\nsteps:\n  - say: " + "Hello. " * 140_000 + "\n", 2),
        ("title: T\nsteps:\n" + "  - {say: Hello., hold: 30m}\n" * 9, 2),
        ("title: T\nsteps:\n  - say: Hello.\n", 0),  # the probe works: a good routine is spoken
    ],
    ids=["reps-100000", "say-1mb", "total-over-4h", "control"],
)
def test_absurd_sizes_are_refused_before_any_synthesis(
    text: str, exit_code: int, write_routine: Callable[..., Path], fake_espeak: FakeEspeak, tmp_path: Path
) -> None:
    path = write_routine(text)
    result = run("render", str(path), "-o", str(tmp_path / "out"), "--engine", "espeak-ng", env=fake_espeak.env)
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    assert fake_espeak.spoken() == ([] if exit_code else ["Hello."])


# --- faults outside the routine: exit 1, a fix, no partial output, and the other routines still rendered


def test_engine_crash_on_one_line_fails_that_routine_only(
    write_routine: Callable[..., Path], fake_espeak: FakeEspeak, tmp_path: Path
) -> None:
    bad = write_routine(BAD, "a-invalid.yaml")
    crashing = write_routine("title: T\nsteps:\n  - say: Breathe in.\n  - say: CRASH here.\n", "b-crash.yaml")
    good = write_routine(MINIMAL, "c-good.yaml")
    out = tmp_path / "out"
    result = run(
        "render",
        str(bad),
        str(crashing),
        str(good),
        "-o",
        str(out),
        "--engine",
        "espeak-ng",
        "--no-sidecars",
        env=fake_espeak.env,
    )
    assert result.returncode == 1  # a runtime fault among the failures
    assert result.stdout.startswith(f"Wrote {out / 'c-good.mp3'} (")
    assert result.stderr.splitlines()[-3:] == [
        "Error: espeak-ng failed on 'CRASH here.': espeak-ng: internal error while speaking",
        "  fix: reword that line, reinstall espeak-ng (`sudo apt-get install --reinstall espeak-ng`), "
        "or use the other engine with `--engine pyttsx3`",
        f"2 of 3 routines failed: {bad}, {crashing}.",
    ]
    assert "CRASH here." in fake_espeak.spoken()  # the real program was run, and failed
    assert sorted(p.name for p in out.iterdir()) == ["c-good.mp3"]


def test_ffmpeg_missing_exits_1_with_a_fix(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    path = write_routine(MINIMAL)
    out = tmp_path / "out"
    missing = tmp_path / "no-such-ffmpeg"
    result = run("render", str(path), "-o", str(out), "--engine", "espeak-ng", env={"VOICEGUIDE_FFMPEG": str(missing)})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: VOICEGUIDE_FFMPEG is set to {str(missing)!r}, which is not a program",
        "  fix: point VOICEGUIDE_FFMPEG at an ffmpeg binary, or unset it to use the one voiceguide finds",
    ]
    assert not out.exists() or list(out.iterdir()) == []


def test_ffmpeg_crashing_mid_track_leaves_no_partial_file(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    """A real ffmpeg writes a valid, shorter MP3 from the first 4.5 s of sound, then the wrapper crashes."""
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 20s}\n")
    previous = b"the previous track"
    out = tmp_path / "out"
    out.mkdir()
    (out / "routine.mp3").write_bytes(previous)
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!/bin/sh\nhead -c 200000 | '{ffmpeg()}' \"$@\"\nkill -SEGV $$\n")
    fake.chmod(0o755)
    env = {"VOICEGUIDE_FFMPEG": str(fake)}
    result = run("render", str(path), "-o", str(out), "--engine", "espeak-ng", "--loudness", "off", env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: ffmpeg could not encode the MP3: it was stopped by signal SIGSEGV",
        f"  fix: voiceguide ran {fake}; point VOICEGUIDE_FFMPEG at another ffmpeg (4.4 or newer), or {FFMPEG_HINT}",
    ]
    assert [p.name for p in out.iterdir()] == ["routine.mp3"]
    assert (out / "routine.mp3").read_bytes() == previous


DISK_FULL_FIX = "  fix: free some space (or choose another folder with -o) and render again"


def assert_disk_full(result: subprocess.CompletedProcess[str], disk: Path) -> None:
    """Exit 1 with the disk-full message and its fix, and nothing left on the disk."""
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"Error: no room to write the MP3 in {disk}: the disk is full", DISK_FULL_FIX]
    assert list(disk.iterdir()) == []


def test_disk_full_exits_1_and_leaves_nothing(write_routine: Callable[..., Path], tiny_disk: Path) -> None:
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 1m}\n")  # about 480 kB of MP3
    result = run("render", str(path), "-o", str(tiny_disk), "--engine", "espeak-ng")
    assert_disk_full(result, tiny_disk)


def test_disk_full_while_tagging_exits_1_and_leaves_nothing(
    write_routine: Callable[..., Path], tiny_disk: Path, tmp_path: Path
) -> None:
    # the MP3 of one word fits in 64 kB; its tag, with a cover photo of noise, does not
    pixels = np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "cover.jpg", quality=95)
    assert (tmp_path / "cover.jpg").stat().st_size > 80_000
    path = write_routine("title: T\ncover: cover.jpg\nsteps:\n  - say: Hi.\n")
    result = run("render", str(path), "-o", str(tiny_disk), "--engine", "espeak-ng")
    assert_disk_full(result, tiny_disk)


def test_file_size_limit_exits_1_and_leaves_nothing(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    """Without root: the kernel's file size limit (ulimit -f, on ffmpeg only) stops it like a full disk.
    The background makes ffmpeg encode the whole minute (silence alone would be spliced in by us)."""
    routine = "title: T\nbackground: {noise: pink}\nsteps:\n  - {say: Hold., hold: 1m}\n"
    path = write_routine(routine)  # about 480 kB of MP3
    out = tmp_path / "out"
    limited = tmp_path / "ffmpeg"
    limited.write_text(f"#!/bin/sh\nulimit -f 600\nexec '{ffmpeg()}' \"$@\"\n")  # 300 kB
    limited.chmod(0o755)
    result = run("render", str(path), "-o", str(out), "--engine", "espeak-ng", env={"VOICEGUIDE_FFMPEG": str(limited)})
    assert result.returncode == 1, result.stderr
    message = f"Error: no room to write the MP3 in {out}: the disk is full"
    assert result.stderr.splitlines() == [message, DISK_FULL_FIX]
    assert list(out.iterdir()) == []


def test_output_folder_not_writable_exits_1(shared_folder: Path) -> None:
    routine = shared_folder / "routine.yaml"
    routine.write_text(MINIMAL)
    locked = shared_folder / "locked"
    locked.mkdir(mode=0o755 if os.geteuid() == 0 else 0o555)  # as root, user nobody cannot write here
    try:
        for out, message in (
            (locked, f"Error: cannot write to the output folder {locked}"),
            (locked / "new", f"Error: cannot create the output folder {locked / 'new'}: Permission denied"),
        ):
            result = run_unprivileged("render", str(routine), "-o", str(out), "--engine", "espeak-ng", "--no-cache")
            assert result.returncode == 1, result.stderr
            assert result.stderr.splitlines()[0] == message
            assert result.stderr.splitlines()[1].startswith("  fix: choose another folder with -o")
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


def test_render_summary_counts_cache_hits_and_quiet_prints_nothing(
    write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEGUIDE_CACHE_DIR", str(tmp_path / "cache"))
    path = write_routine("title: T\nsteps:\n  - {say: Unique summary line., hold: 2s}\n")
    args = ["render", str(path), "-o", str(tmp_path / "out"), "--engine", "espeak-ng"]
    first = runner.invoke(cli, args)
    second = runner.invoke(cli, args)
    assert first.exit_code == second.exit_code == 0
    assert first.stdout.strip().endswith("3 lines, 0 from cache; voice espeak-ng en-us")
    assert second.stdout.strip().endswith("3 lines, 3 from cache; voice espeak-ng en-us")
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
    empty = runner.invoke(cli, ["cache", "info"]).stdout.splitlines()[1]
    assert empty == "0 lines, 0.0 MB (cap 1000 MB, set by VOICEGUIDE_CACHE_MB)"
    monkeypatch.setenv("VOICEGUIDE_CACHE_MB", "250.5")
    assert runner.invoke(cli, ["cache", "info"]).stdout.endswith("(cap 250.5 MB, set by VOICEGUIDE_CACHE_MB)\n")


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


def _readme_commands() -> list[list[str]]:
    """The `.venv/bin/voiceguide ...` lines of the README's shell blocks, as argument lists."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():  # a command continued with \ is one line
            words = shlex.split(line, comments=True)
            while words and "=" in words[0]:  # VAR=value before the command
                words.pop(0)
            if words and words[0] != "./setup.sh":
                commands.append(words)
    return commands


@pytest.mark.parametrize("words", _readme_commands(), ids=" ".join)
def test_readme_commands_run_as_written_from_the_repository(words: list[str]) -> None:
    """Each README command names the venv's program, a real command, real options and real routine paths."""
    assert words[0] == ".venv/bin/voiceguide", "a fresh terminal has no `voiceguide` on PATH"
    args = words[1:]
    command: click.Command = cli
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        found = command.get_command(click.Context(command), args[0])
        assert found is not None, f"no command {args[0]!r}"
        command, args = found, args[1:]
    if "--help" not in args:  # a rendered track under output/ only exists after `render`
        command.make_context(words[0], [str(ROOT / "README.md") if a.startswith("output/") else a for a in args])
    for arg in args:
        if arg.startswith("routines"):
            assert (ROOT / arg).exists(), f"{arg} is not in the repository"


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"new"}))  # `new`'s examples name files it creates
def test_help_examples_name_real_bundled_files(name: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, [name, "--help"])
    for path in re.findall(r"\S+\.yaml|routines/\S*", result.output):
        assert (ROOT / path).exists(), f"`{name} --help` names {path}, which is not in the repository"


def test_top_level_help_shows_every_summary_whole(runner: CliRunner) -> None:
    lines = runner.invoke(cli, ["--help"]).output.split("Commands:")[1].splitlines()
    assert [line for line in lines if line.rstrip().endswith("...")] == []


STEP = "title: T\nsteps:\n  - name: Lift\n    say: Lift your {side} arm.\n"
# A newcomer's mistakes, each with (part of) the plain-language message and the fix `validate` gives.
# The first rows are the ones reported in issue 15; the rest are other common slips.
NEWCOMER_MISTAKES = [
    pytest.param(
        "title: T\nsteps:\n\t- say: Hi.\n",
        "a tab is used here; YAML lines are indented with spaces, never tabs\n      3 | →- say: Hi.\n        | ^",
        "fix: replace the tab with spaces",
        id="tab",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold:10s\n",
        "`hold:10s` needs a space after the colon\n      4 |     hold:10s\n        |          ^",
        "fix: write `hold: 10s`",
        id="no-space-after-colon",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 10s\n    release: Tip: shake it out.\n",
        "the text after `release:` contains `: `, which YAML reads as the start of another field",
        'fix: put the text in quotes: release: "Tip: shake it out."',
        id="unquoted-colon",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 10s\n  release: Relax.\n",
        "this line's indentation does not line up with the lines above it\n      5 |   release: Relax.",
        "fix: give fields of the same step the same indentation",
        id="indent-slip",
    ),
    pytest.param(
        STEP + "    sides: left and right\n",
        "sides: names several sides in one text ('left and right'); did you mean [left, right]?",
        "did you mean [left, right]?",
        id="sides-and",
    ),
    pytest.param(
        STEP + "    sides: left, right\n",
        "names several sides in one text ('left, right')",
        "did you mean [left, right]?",
        id="sides-comma",
    ),
    pytest.param(
        STEP + "    sides: left/right\n", "names several sides", "did you mean [left, right]?", id="sides-slash"
    ),
    pytest.param(
        STEP + "    sides: Left & Right\n", "names several sides", "did you mean [Left, Right]?", id="sides-ampersand"
    ),
    pytest.param(
        STEP + "    sides: 2\n",
        "sides: expected a side label like left or right, got '2', which YAML reads as a number",
        "a side label like left or right",
        id="sides-number",
    ),
    pytest.param(
        STEP + "    sides: true\n",
        "got 'true', which YAML reads as yes/no (true/false)",
        "a side label like left or right",
        id="sides-boolean",
    ),
    pytest.param(
        "title: T\nlanguage: fr-FR\nsteps:\n  - say: Hi.\n",
        "language: expected one of [de, en, es, fr, it, nl, pt], got 'fr-FR'",
        "did you mean 'fr'?",
        id="language-with-region",
    ),
    pytest.param(
        "title: T\ncover: fake.png\nsteps:\n  - say: Hi.\n",
        "cover: fake.png is not a readable PNG image",
        "export the picture again as .jpg or .png",
        id="cover-not-an-image",
    ),
    pytest.param(
        'title: T\nsteps:\n  - say: "Hi.\n    hold: 10s\n',
        'this quote (") is never closed\n      3 |   - say: "Hi.\n        |          ^',
        'fix: add the closing " at the end of the text',
        id="unclosed-quote",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    sides: [left, right\n    hold: 10s\n",
        "this `[` is not closed on its line",
        "fix: end it with `]` on the same line",
        id="unclosed-bracket",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Do set #2 now.\n",
        "the text stops at ` #2 now.`: YAML reads everything after ` #` as a comment",
        'fix: put the whole text in quotes: say: "Do set #2 now."',
        id="hash-in-text",
    ),
    # --- more realistic slips
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hodl: 20s\n",
        "step 1 \"Hi\" (steps[0]) → hodl: unknown field 'hodl'",
        "did you mean 'hold'?",
        id="field-typo",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 30 seconds\n",
        "hold: expected a duration like 30s, 1m30s, 500ms or 1:30, got '30 seconds'",
        "like 30s",
        id="duration-in-words",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    reps: three\n",
        "reps: expected a whole number from 1 to 100, got 'three'",
        "a whole number",
        id="number-in-words",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: 'It's fine.'\n",
        "the quoted text ends early, at the ' inside it",
        'fix: put the text in double quotes: say: "It\'s fine."',
        id="apostrophe-in-single-quotes",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n      hold: 10s\n",
        "this line is indented more than the field above it",
        "fix: indent it by the same number of spaces as the field above it",
        id="over-indented",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n  - Breathe in.\n",
        "step 2 (steps[1]): expected a group of fields (`key: value` lines), got 'Breathe in.'",
        "`key: value` lines",
        id="step-without-say",
    ),
    pytest.param(
        "title: T\nsteps:\n  - {say: When?}\n",
        "inside `{ }`, a text with `?`, `:`, `[` or `{` must be quoted",
        'fix: put that text in quotes: "When?"',
        id="question-mark-in-braces",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n---\ntitle: U\n",
        "a routine file holds one routine, but `---` starts a second one",
        "fix: put each routine in a file of its own",
        id="two-routines",
    ),
    pytest.param(
        "title: T\nvoice: {engine: espeak}\nsteps:\n  - say: Hi.\n",
        "voice.engine: expected one of",
        "did you mean 'espeak-ng'?",
        id="engine-typo",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 10s\n    cues:\n      - at: 5s\n",
        'step 1 "Hi" (steps[0]) → cues[0].say: is required',
        "(what to say at that moment)",
        id="cue-without-say",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Lift your {Side} arm.\n    sides: both\n",
        "unknown placeholder {Side}",
        "did you mean {side}?",
        id="placeholder-case",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 10s\n    cues: [{at: 15s, say: Late.}]\n",
        "cues[0].at: falls outside its 10 s hold",
        "use a time from 0 s to just under 10 s",
        id="cue-after-the-hold",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    cues: [{at: 1s, say: Now.}]\n",
        "cues: cues are spoken inside a hold",
        "add `hold`",
        id="cues-without-hold",
    ),
    pytest.param(
        "title: T\nbackground: {noise: pink, volume: loud}\nsteps:\n  - say: Hi.\n",
        "background.volume: expected a level in dB from -60dB to 0dB",
        "like -20dB",
        id="volume-in-words",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 3s\n    countdown: 5\n",
        "countdown: a countdown of 5 needs a hold of at least 5 s; this hold is 3 s",
        "at least 5 s",
        id="countdown-longer-than-hold",
    ),
    # --- issue 25: messages that misled a newcomer, each now with the right diagnosis and nothing else
    *(
        pytest.param(
            f"title: T\nsteps:\n{step}",
            f"the text after `{key}:` starts with `{{`, which YAML reads as the start of a group of fields",
            f"fix: put the text in quotes: {key}: {quoted}",
            id=f"placeholder-first-{number}",
        )
        for number, (step, key, quoted) in enumerate(
            [
                ("  - say: {side} hand: stroke up.\n    sides: both\n", "say", '"{side} hand: stroke up."'),
                ("  - say: {side} arm\n    sides: both\n", "say", '"{side} arm"'),  # the docs' own example
                ("  - name: Arm\n    say: {side} arm up.\n    sides: both\n", "say", '"{side} arm up."'),
                ("  - say: Hi.\n    again: {rep} of {reps}\n    reps: 2\n", "again", '"{rep} of {reps}"'),
                (
                    "  - say: Hi.\n    sides: both\n    hold: 9s\n    cues: [{at: half, say: {side} now}]\n",
                    "say",
                    '"{side} now"',
                ),
                ("  - say: {side}, please.\n    sides: both\n", "say", '"{side}, please."'),
            ],
            start=1,
        )
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: {side}\n    sides: both\n",
        "say: a text that starts with `{` needs quotes, or YAML reads {side} as a group of fields",
        'write say: "{side}"',
        id="placeholder-alone",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Lift your {side} arm.\n    Sides: both\n",
        "Sides: unknown field 'Sides'; did you mean 'sides'?",
        "did you mean 'sides'?",
        id="field-case-no-knock-on",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 30 sec\n    cues: [{at: half, say: Breathe.}]\n",
        "hold: expected a duration like 30s, 1m30s, 500ms or 1:30, got '30 sec'",
        "did you mean 30s?",
        id="duration-sec-no-knock-on",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 20 secs\n    count: 5\n    countdown: 0\n",
        "hold: expected a duration like 30s, 1m30s, 500ms or 1:30, got '20 secs'",
        "did you mean 20s?",
        id="duration-secs-no-knock-on",
    ),
    pytest.param(
        "title: T\nsteps:\n  - name: Neck\n    say: Tilt.\n    name: Back\n    say: Arch.\n    hold: 5s\n",
        "name: appears twice (first on line 3); did you forget `- ` to start a new step?",
        "fix: start the step on line 5 with `- `",
        id="forgotten-dash",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 40s\n    remaining: 30s\n",
        "remaining: expected a list, even for one item; write it in brackets: [30s]",
        "[30s]",
        id="remaining-without-brackets",
    ),
    pytest.param(
        "title: T\nbackground: rain\nsteps:\n  - say: Hi.\n",
        "background: expected a group of fields (`key: value` lines), got 'rain'",
        "write `background: {noise: pink}` (like steady rain; `brown` is deeper), or your own recording: "
        "`background: {file: rain.mp3}`",
        id="background-in-words",
    ),
    pytest.param(
        "title: T\nvoice: {rate: slow}\nsteps:\n  - say: Hi.\n",
        "voice.rate: expected a whole number from 60 to 450, got 'slow'",
        "150 is the usual pace, `rate: 120` slower",
        id="rate-in-words",
    ),
    # --- ten more, found the same way
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 1.5 minutes\n",
        "got '1.5 minutes'",
        "did you mean 1.5m?",
        id="minutes-in-words",
    ),
    pytest.param(
        "title: T\nsteps:\n  say: Hi.\n  hold: 10s\n",
        "steps: expected a list of steps, got one group of fields",
        "start each step with `- ` (a dash and a space)",
        id="steps-without-dash",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 10s\n    cues: {at: 5s, say: Now.}\n",
        "cues: expected a list of cues, even for one",
        "put it in brackets: [{at: 5s, say: Now.}]",
        id="one-cue-without-brackets",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 10s\n    cues: [at: 5s, say: Now.]\n",
        "cues: each cue needs its own braces inside the brackets",
        "write [{at: 5s, say: Now.}]",
        id="cue-without-braces",
    ),
    pytest.param(
        "title: T\nlanguage: German\nsteps:\n  - say: Hallo.\n",
        "language: expected one of [de, en, es, fr, it, nl, pt], got 'German'",
        "did you mean 'de'?",
        id="language-by-name",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 10s\n    cues: [{at: 50%, say: Now.}]\n",
        "cues[0].at: expected `half`",
        "did you mean `half`?",
        id="cue-at-percent",
    ),
    pytest.param(
        "title: T\nvoice: {volume: 80%}\nsteps:\n  - say: Hi.\n",
        "voice.volume: expected a number from 0.1 to 1.0, got '80%'",
        "a share is written as a fraction: 0.8",
        id="volume-percent",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\nhold: 10s\n",
        "hold: unknown field 'hold'; `hold` belongs to a step",
        "write it under `steps:`, in a step that starts with `- `",
        id="step-field-at-top-level",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    hold: 10s\n    at: 5s\n",
        "at: unknown field 'at'; `at` belongs to a cue",
        "write it under `cues:`",
        id="cue-field-in-a-step",
    ),
    pytest.param(
        "title: T\ndefaults: {countdown: 3s}\nsteps:\n  - say: Hi.\n",
        "defaults.countdown: expected a whole number from 0 to 20, got '3s'",
        "write the number alone: 3",
        id="countdown-in-seconds",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Hi.\n    reps: 3 times\n",
        "reps: expected a whole number from 1 to 100, got '3 times'",
        "write the number alone: 3",
        id="reps-in-words",
    ),
]


@pytest.mark.parametrize(("text", "message", "fix"), NEWCOMER_MISTAKES)
def test_validate_explains_a_newcomers_mistakes_in_plain_words(
    text: str, message: str, fix: str, write_routine: Callable[..., Path], runner: CliRunner
) -> None:
    path = write_routine(text)
    (path.parent / "fake.png").write_text("not a picture\n")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert fix in result.stderr
    assert f"Error: 1 problem in {path}." in result.stderr.splitlines(), "one mistake, one message: no knock-on"
    for jargon in ("mapping", "scalar", "sequence", "<block end>", "simple key", "could not find expected"):
        assert jargon not in result.stderr


def test_case_slips_that_are_not_mistakes(write_routine: Callable[..., Path]) -> None:
    """`sides: Both`, `chime: Both`, `at: Half` and `language: FR` mean what they say."""
    path = write_routine(
        "title: T\nlanguage: FR\nsteps:\n  - say: Levez le bras {side}.\n    sides: Both\n"
        "    hold: 10s\n    chime: Both\n    cues: [{at: Half, say: Respirez.}]\n"
    )
    routine = load(path)
    (step,) = routine.steps
    assert (routine.language, step.sides, step.chimes) == ("fr", ("droite", "gauche"), ("start", "end"))
    assert step.cues[0].offset_ms == 5_000


def test_validate_speech_warns_about_every_moved_cue(write_routine: Callable[..., Path], runner: CliRunner) -> None:
    """Real synthesis: the issue's cue at 15 s that "Thirty seconds left" also wants."""
    path = write_routine(
        "title: T\nvoice: {engine: espeak-ng}\nsteps:\n  - name: Shoulders\n    say: Hold.\n    hold: 45s\n"
        "    remaining: [30s]\n    cues:\n      - {at: 15s, say: Breathe out.}\n      - {at: 0s, say: In.}\n"
        "      - {at: 0s, say: Out.}\n"
    )
    plain = runner.invoke(cli, ["validate", str(path)])
    assert plain.exit_code == 0
    assert "Warning" not in plain.stderr  # nothing is spoken without --speech
    for command in (["validate", "--speech"], ["plan"]):
        result = runner.invoke(cli, [*command, str(path)])
        assert result.exit_code == 0, result.output
        warnings = result.stderr.splitlines()
        assert len(warnings) == 2, warnings
        assert warnings[0].startswith(
            f'Warning: {path}:9: step 1 "Shoulders" (steps[0]) → cues[0]: "Breathe out." is spoken '
        )
        assert warnings[0].endswith('s earlier, to make room for "Thirty seconds left.")')
        assert warnings[1].startswith(f'Warning: {path}:11: step 1 "Shoulders" (steps[0]) → cues[2]: "Out." is ')
        assert "not at 0.0 s as asked" in warnings[1]
        assert warnings[1].endswith('s later, to make room for "In.")')


# --- a batch never writes two routines to one track


def test_routines_that_map_to_one_track_name_refuse_the_batch(
    write_routine: Callable[..., Path], fake_espeak: FakeEspeak, tmp_path: Path
) -> None:
    """`a:b.yaml` and `a-b.yaml` would both become `a-b.mp3` (and `A-B.yml` on a FAT card or a Mac)."""
    first = write_routine("title: One\nsteps:\n  - say: First.\n", "a:b.yaml")
    second = write_routine("title: Two\nsteps:\n  - say: Second.\n", "a-b.yaml")
    third = write_routine("title: Three\nsteps:\n  - say: Third.\n", "A-B.yml")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a-b.mp3").write_bytes(b"an older track")
    result = run("render", str(first.parent), "-o", str(out), "--engine", "espeak-ng", env=fake_espeak.env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"{second}: would be written to the same track as {third} ('a-b'); rename one of the two files",
        f"{first}: would be written to the same track as {third} ('a-b'); rename one of the two files",
        f"Error: 2 problems in {second}, {first}.",
    ]
    assert fake_espeak.spoken() == []
    assert sorted(p.name for p in out.iterdir()) == ["a-b.mp3"]
    assert (out / "a-b.mp3").read_bytes() == b"an older track"


def test_one_routine_named_twice_is_rendered_once(
    write_routine: Callable[..., Path], fake_espeak: FakeEspeak, tmp_path: Path
) -> None:
    """A file named directly and through its folder is the same routine, not a collision."""
    path = write_routine("title: T\nsteps:\n  - say: Hello.\n", "hello.yaml")
    out = tmp_path / "out"
    result = run("render", str(path), str(path.parent), "-o", str(out), "--engine", "espeak-ng", env=fake_espeak.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Wrote") == 1
    assert fake_espeak.spoken() == ["Hello."]


def test_a_folder_renders_its_yaml_and_yml_files_not_its_subfolders_and_then_is_up_to_date(
    tmp_path: Path, runner: CliRunner
) -> None:
    folder = tmp_path / "routines"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.yaml", "b.yml", "sub/c.yaml", "notes.txt"):
        (folder / name).write_text(MINIMAL, encoding="utf-8")
    out = tmp_path / "out"
    args = ["render", str(folder), "-o", str(out), "--engine", "espeak-ng", "--no-sidecars"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.iterdir()) == ["a.mp3", "b.mp3"]
    assert [line.split(" (")[0] for line in first.stdout.splitlines()] == [
        f"Wrote {out / 'a.mp3'}",
        f"Wrote {out / 'b.mp3'}",
    ]
    again = runner.invoke(cli, args)
    assert [line.split(" (")[0] for line in again.stdout.splitlines()] == [
        f"Up to date: {out / 'a.mp3'}",
        f"Up to date: {out / 'b.mp3'}",
    ]


def test_rate_from_the_command_line_changes_the_speech(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("title: T\nsteps:\n  - say: Sit tall, and let your shoulders drop slowly.\n", encoding="utf-8")
    lengths = {}
    for rate in ("100", "300"):
        result = runner.invoke(cli, ["plan", str(path), "--json", "--engine", "espeak-ng", "--rate", rate])
        assert result.exit_code == 0, result.output
        lengths[rate] = json.loads(result.stdout)["events"][0]["duration"]
    assert lengths["300"] < lengths["100"] / 2


@pytest.mark.parametrize(("jobs", "together"), [("1", 1), ("3", 3)])
def test_jobs_sets_how_many_lines_are_spoken_at_once(
    jobs: str, together: int, tmp_path: Path, fake_espeak: FakeEspeak
) -> None:
    """Three lines held by the fake espeak-ng until all three have started (or, with --jobs 1, until the
    first has): by the order of starts and ends, never more than ``--jobs`` lines are spoken at once."""
    routine = tmp_path / "r.yaml"
    routine.write_text("title: T\nsteps:\n" + "".join(f"  - say: WAIT line {i}.\n" for i in range(3)))
    command = [sys.executable, "-m", "voiceguide", "plan", str(routine), "--engine", "espeak-ng", "--jobs", jobs]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env={**os.environ, **fake_espeak.env})
    try:
        deadline = time.monotonic() + 60  # a safety net only
        while len([e for e in fake_espeak.events() if e.startswith("+")]) < together:
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.02)
        fake_espeak.open_gate()
        assert process.wait(timeout=60) == 0
    finally:
        fake_espeak.open_gate()
        if process.poll() is None:
            process.kill()
    running = peak = 0
    for event in fake_espeak.events():
        running += 1 if event.startswith("+") else -1
        peak = max(peak, running)
    assert peak == together


def test_render_draws_progress_bars_on_a_terminal(tmp_path: Path) -> None:
    """Through a pseudo-terminal, as a user sees it: a bar for synthesis and one for encoding."""
    import pty

    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    command = [sys.executable, "-m", "voiceguide", "render", str(path), "-o", str(tmp_path / "out")]
    primary, secondary = pty.openpty()
    process = subprocess.Popen([*command, "--engine", "espeak-ng"], stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed: the process is done with it
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    assert process.wait(timeout=60) == 0
    screen = drawn.decode("utf-8", "replace")
    assert "Synthesising" in screen
    assert "Encoding" in screen
    assert "100%" in screen


LIGHT_RENDER = (
    "import sys; from voiceguide.cli.app import cli; sys.argv = ['voiceguide', *sys.argv[1:]]\n"
    "try:\n    cli()\nexcept SystemExit:\n    pass\n"
    "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
)
HEAVY = {"onnxruntime", "onnx", "piper", "PIL", "soxr", "pydub", "watchfiles", "uvicorn", "starlette", "segno"}


def test_an_up_to_date_render_imports_no_voice_model_image_or_server_library(
    write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    """With the default engine (piper, when installed): the second render finds its track current."""
    path = write_routine("title: T\nsteps:\n  - {say: Current already., hold: 2s}\n")
    command = [sys.executable, "-c", LIGHT_RENDER, "render", str(path), "-o", str(tmp_path / "out")]
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout.splitlines()
    second = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout.splitlines()
    assert first[0].startswith("Wrote ")
    assert second[0].startswith("Up to date: ")
    assert set(second[-1].split()) & HEAVY == set()


AUDIO_OPTIONS = ("engine", "voice", "rate", "bitrate", "loudness")


@pytest.mark.parametrize("command", ["publish", "serve"])
def test_publish_and_serve_take_every_option_that_changes_the_audio_as_render_does(command: str) -> None:
    def options(name: str) -> dict[str, tuple[object, ...]]:
        command = cli.get_command(click.Context(cli), name)  # the app loads a command when asked for it
        assert command is not None
        found = command.params
        return {p.name: (p.to_info_dict(), p.callback) for p in found if p.name in AUDIO_OPTIONS and p.name is not None}

    render = options("render")
    assert sorted(render) == sorted(AUDIO_OPTIONS)
    assert options(command) == render


@pytest.mark.parametrize("command", ["render", "publish", "serve"])
@pytest.mark.parametrize("kbps", ["320", "100", "24"])
def test_a_bitrate_the_track_cannot_have_is_refused(
    command: str, kbps: str, write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    """LAME would round it (320 kbps gave 160) without a word: the command names the rates there are."""
    path = write_routine(MINIMAL)
    where = {
        "render": ["-o", str(tmp_path / "out")],
        "publish": ["-o", str(tmp_path / "out"), "--base-url", "https://example.com/"],
    }
    result = runner.invoke(cli, [command, str(path), "--bitrate", kbps, *where.get(command, ["--port", "0"])])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--bitrate': an MP3 of speech (22,050 Hz) can have "
        f"32, 40, 48, 56, 64, 80, 96, 112, 128, 144 or 160 kbps; got {kbps}"
    )
    assert not (tmp_path / "out").exists()
