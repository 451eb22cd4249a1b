"""The command line: help, exit codes, and one clear message per error class."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_routine import BAD as BAD_ROUTINES

from voiceguide import __version__
from voiceguide.audio import FFMPEG_HINT, ffmpeg
from voiceguide.cli import cli

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
    assert f"1 of 2 routines failed: {bad}." in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "b-good.chapters.json",
        "b-good.lrc",
        "b-good.mp3",
        "b-good.vtt",
    ]

    assert sorted(p.name for p in out.iterdir()) == [
        "b-good.chapters.json",
        "b-good.lrc",
        "b-good.mp3",
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
    assert lines[-1].startswith("Total 0:0")


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
    assert result.stderr.replace(str(path), "routine.yaml").splitlines()[:-1] == expected.splitlines()
    count = len(expected.splitlines())
    assert result.stderr.splitlines()[-1] == f"Error: {count} problem{'s' * (count > 1)} in {path}."
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
        f"  fix: {FFMPEG_HINT}",
    ]
    assert [p.name for p in out.iterdir()] == ["routine.mp3"]
    assert (out / "routine.mp3").read_bytes() == previous


@pytest.fixture
def tiny_disk() -> Iterator[Path]:
    """A real 64 kB file system (tmpfs): needs root and permission to mount."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    folder = Path(tempfile.mkdtemp(prefix="voiceguide-full-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True).returncode:
        folder.rmdir()
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)
    folder.rmdir()


DISK_FULL_FIX = "  fix: free some space (or choose another folder with -o) and render again"


def test_disk_full_exits_1_and_leaves_nothing(write_routine: Callable[..., Path], tiny_disk: Path) -> None:
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 1m}\n")  # about 480 kB of MP3
    result = run("render", str(path), "-o", str(tiny_disk), "--engine", "espeak-ng")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: no room to write the MP3 in {tiny_disk}: the disk is full",
        DISK_FULL_FIX,
    ]
    assert list(tiny_disk.iterdir()) == []


def test_file_size_limit_exits_1_and_leaves_nothing(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    """Without root: the kernel's file size limit (ulimit -f, on ffmpeg only) stops it like a full disk."""
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 1m}\n")  # about 480 kB of MP3
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
