"""Output files: safe names on every file system, and atomic replacement."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.cli.app import cli
from voiceguide.files import MAX_NAME_BYTES, atomic_path, read_at, remove_stale_parts, safe_name
from voiceguide.speech.cache import SpeechCache

from conftest import FakeEspeak, writing_elsewhere


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("neck-and-back", "neck-and-back"),
        ("Shoulder knead", "Shoulder knead"),
        ("../../etc/passwd", "etc-passwd"),
        ("a/b\\c", "a-b-c"),
        ('what? "this" <is> a|b*c:d', "what- -this- -is- a-b-c-d"),
        ("CON", "_CON"),
        ("lpt1.txt", "_lpt1.txt"),
        ("trailing dots...", "trailing dots"),
        ("  spaced \t out  ", "spaced out"),
        ("..", "track"),
        ("", "track"),
        ("Entspannung für den Nacken 🙂", "Entspannung für den Nacken 🙂"),
        ("tab\tand\nnewline", "tab and newline"),
    ],
)
def test_safe_name(text: str, expected: str) -> None:
    assert safe_name(text) == expected


def test_safe_name_caps_length_on_a_character_boundary() -> None:
    name = safe_name("ü" * 300)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name == "ü" * (MAX_NAME_BYTES // 2)


@pytest.mark.parametrize("pread", [True, False], ids=["pread", "seek and read (Windows)"])
def test_read_at_reads_by_position(pread: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not pread:
        monkeypatch.delattr(os, "pread")
    path = tmp_path / "data"
    path.write_bytes(bytes(range(256)) * 4)
    with path.open("rb") as file:
        fd = file.fileno()
        assert read_at(fd, 3, 10) == bytes([10, 11, 12])
        assert read_at(fd, 2, 0) == bytes([0, 1])
        assert read_at(fd, 10, 1020) == bytes([252, 253, 254, 255])  # fewer at the end
        assert read_at(fd, 4, 1024) == b""


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "track.mp3"
    target.write_bytes(b"old")

    def interrupted_write() -> None:
        with atomic_path(target) as partial:
            partial.write_bytes(b"half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_write()
    assert target.read_bytes() == b"old"
    with atomic_path(target) as partial:
        partial.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["track.mp3"]


# --- a render killed mid-way: the old track stays whole (or there is none), never half of a new one

# a background makes the encoder encode every second (digital silence alone is spliced in, not encoded)
LONG = "title: Long\nbackground: {noise: pink}\nsteps:\n  - say: Hold still.\n    hold: 3h\n"  # encodes for minutes


def hear_sigint() -> None:
    """In the render's process: take SIGINT's default action even if whoever started the tests
    ignores it (a background job in a non-interactive shell does), so Python turns it into Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def part_sizes(folder: Path) -> set[int]:
    """Sizes of the temporary files in ``folder`` now (one may vanish as we look)."""
    sizes = set()
    for path in folder.glob("*.part"):
        with contextlib.suppress(FileNotFoundError):
            sizes.add(path.stat().st_size)
    return sizes


def ffmpeg_writing_into(folder: Path) -> list[str]:
    """Command lines of running processes that name ``folder`` (a leftover ffmpeg would)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(str(folder).encode() in arg for arg in args):
            found.append(b" ".join(args).decode(errors="replace"))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to find leftover processes")
@pytest.mark.parametrize(
    ("sig", "whole_group", "previous"),
    [
        (signal.SIGINT, True, b"the previous track"),  # Ctrl-C in a terminal signals the whole group
        (signal.SIGINT, False, None),
        (signal.SIGTERM, False, b"the previous track"),  # `timeout`, `docker stop`: this process only
        (signal.SIGTERM, True, None),  # `systemctl stop`: the whole group
        (signal.SIGHUP, False, b"the previous track"),
        (signal.SIGHUP, True, None),  # the terminal closed
        (signal.SIGKILL, False, b"the previous track"),
        (signal.SIGKILL, True, None),
    ],
    ids=[
        "ctrl-c-over-old-track",
        "sigint-no-old-track",
        "sigterm-over-old-track",
        "sigterm-group-no-old-track",
        "sighup-over-old-track",
        "sighup-group-no-old-track",
        "sigkill-over-old-track",
        "sigkill-group-no-old-track",
    ],
)
def test_killed_render_leaves_the_old_track_or_nothing(
    sig: signal.Signals, whole_group: bool, previous: bytes | None, tmp_path: Path
) -> None:
    routine = tmp_path / "long.yaml"
    routine.write_text(LONG)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "long.mp3"
    if previous is not None:
        target.write_bytes(previous)
    command = [sys.executable, "-m", "voiceguide", "render", str(routine), "-o", str(out), "--engine", "espeak-ng"]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=hear_sigint,  # noqa: PLW1509
    )
    try:
        safety_net = time.monotonic() + 600  # only if the render hangs: the wait is for a state
        sizes: set[int] = set()
        while len(sizes - {0}) < 2:  # encoding is under way: the partial MP3 exists and has grown
            assert process.poll() is None, "render ended before it could be interrupted"
            assert time.monotonic() < safety_net, "render never started encoding"
            sizes.update(part_sizes(out))
            time.sleep(0.05)
        if whole_group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if previous is None:
        assert not target.exists()
    else:
        assert target.read_bytes() == previous
    if sig != signal.SIGKILL:
        assert process.returncode == 128 + sig
        what = "Interrupted" if sig == signal.SIGINT else f"Stopped by {sig.name}"
        assert stderr == f"{what}; no partial file was left behind.\n"
        assert [p.name for p in out.iterdir()] == ([target.name] if previous else [])
        assert ffmpeg_writing_into(out) == []
    else:
        assert process.returncode == -signal.SIGKILL
        # nothing can clean up after SIGKILL: only the hidden temporary file and its lock may remain
        assert all(p.name.endswith((".part", ".part.lock")) for p in out.iterdir() if p != target)


# --- what a killed render left is removed by the next one, never what a running one writes


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_only_the_temporary_files_of_writers_that_no_longer_run_are_removed(tmp_path: Path) -> None:
    """Two writers in other processes: one killed, one still writing; and leftovers without a lock."""
    writers = [writing_elsewhere(tmp_path / name) for name in ("killed.mp3", "running.mp3")]
    try:
        killed, running = (writer.part for writer in writers)
        writers[0].kill()
        writers[0].wait()
        (tmp_path / ".old.mp3.0123abcd.part").write_bytes(b"left by a version without locks")
        (tmp_path / ".gone.mp3.89abcdef.part.lock").write_bytes(b"")
        (tmp_path / ".hidden.mp3").write_bytes(b"not ours")
        assert hidden(tmp_path) == sorted(
            [
                killed,
                f"{killed}.lock",
                running,
                f"{running}.lock",
                ".old.mp3.0123abcd.part",
                ".gone.mp3.89abcdef.part.lock",
                ".hidden.mp3",
            ]
        )
        remove_stale_parts(tmp_path)
        assert hidden(tmp_path) == sorted([running, f"{running}.lock", ".hidden.mp3"])
        writers[1].communicate("")  # the running writer finishes: its track appears whole, its lock goes
        assert writers[1].returncode == 0
        assert (tmp_path / "running.mp3").read_bytes() == b"half a track"
        assert hidden(tmp_path) == [".hidden.mp3"]
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()


def wait_for_growing_part(process: subprocess.Popen[str], folder: Path) -> None:
    """Until the render's temporary MP3 exists and has grown: it is encoding."""
    safety_net = time.monotonic() + 600  # only if the render hangs: the wait is for a state
    sizes: set[int] = set()
    while len(sizes - {0}) < 2:
        assert process.poll() is None, "render ended before it encoded"
        assert time.monotonic() < safety_net, "render never started encoding"
        sizes.update(part_sizes(folder))
        time.sleep(0.05)


@pytest.mark.render
def test_a_render_removes_what_a_killed_render_left(tmp_path: Path, runner: CliRunner) -> None:
    routine, short = tmp_path / "long.yaml", tmp_path / "short.yaml"
    routine.write_text(LONG)
    short.write_text("title: Short\nsteps:\n  - say: Hi.\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "voiceguide", "render", str(routine), "-o", str(out), "--engine", "espeak-ng"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for_growing_part(process, out)
        process.kill()  # as the out-of-memory killer or a power cut would: nothing runs to clean up
        process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert [name for name in hidden(out) if name.endswith(".part")]
    result = runner.invoke(cli, ["render", str(short), "-o", str(out), "--engine", "espeak-ng", "--no-sidecars"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["short.mp3"]


MEDIUM = "title: Medium\nbackground: {noise: pink}\nsteps:\n  - say: Hold still.\n    hold: 10m\n"


@pytest.mark.render
def test_a_short_render_leaves_a_running_long_one_alone(tmp_path: Path, runner: CliRunner) -> None:
    """The long render is paused (SIGSTOP) while it encodes, so the short one's clean-up surely
    meets its temporary file; once resumed it finishes, and its track decodes to its full length."""
    routine, short = tmp_path / "medium.yaml", tmp_path / "short.yaml"
    routine.write_text(MEDIUM)
    short.write_text("title: Short\nsteps:\n  - say: Hi.\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "voiceguide", "render", str(routine), "-o", str(out), "--engine", "espeak-ng"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for_growing_part(process, out)
        process.send_signal(signal.SIGSTOP)
        writing = [name for name in hidden(out) if name.endswith(".part")]
        assert writing
        result = runner.invoke(cli, ["render", str(short), "-o", str(out), "--engine", "espeak-ng", "--no-sidecars"])
        assert result.exit_code == 0, result.output
        assert [name for name in hidden(out) if name.endswith(".part")] == writing  # untouched
        process.send_signal(signal.SIGCONT)
        _, stderr = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, stderr
    planned = json.loads(runner.invoke(cli, ["plan", str(routine), "--engine", "espeak-ng", "--json"]).stdout)
    samples, rate = decode_file(out / "medium.mp3")
    assert abs(len(samples) / rate - planned["duration"]) < 0.05
    assert hidden(out) == []


# --- odd routine names and titles, end to end: every track lands inside the output folder

ODD_NAMES = {
    "CON.yaml": "_CON.mp3",
    "lpt1.yaml": "_lpt1.mp3",
    "...yaml": "track.mp3",  # its stem is ".."
    "a..b.yaml": "a..b.mp3",
    'what? "this" <is> a|b*c:d.yaml': "what- -this- -is- a-b-c-d.mp3",
    "back\\slash.yaml": "back-slash.mp3",
    " trailing dots... .yaml": "trailing dots.mp3",
    "Entspannung für den Nacken 🙂.yaml": "Entspannung für den Nacken 🙂.mp3",
    "ü" * 120 + ".yaml": "ü" * (MAX_NAME_BYTES // 2) + ".mp3",
}


def test_odd_routine_names_render_inside_the_output_folder(tmp_path: Path) -> None:
    source = tmp_path / "routines"
    source.mkdir()
    for i, name in enumerate(ODD_NAMES):
        title = ["../../etc/passwd", "CON", "Smile " + "🙂" * 150, "a/b\\c"][i % 4]  # titles are tags, never paths
        routine = {"title": title, "steps": [{"say": "Hi."}]}
        (source / name).write_text(yaml.safe_dump(routine, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    args = ["render", str(source), "-o", str(out), "--engine", "espeak-ng", "--no-sidecars"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(ODD_NAMES.values())
    assert all(len(p.name.encode()) <= MAX_NAME_BYTES + len(".mp3") for p in out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "routines"]  # nothing written beside it
    assert sorted(p.name for p in source.iterdir()) == sorted(ODD_NAMES)


@pytest.mark.parametrize("whole_group", [True, False], ids=["ctrl-c", "sigint"])
def test_interrupted_synthesis_leaves_no_track_and_no_half_cache_entries(
    whole_group: bool, tmp_path: Path, fake_espeak: FakeEspeak
) -> None:
    """Ctrl-C (or SIGINT) while lines are spoken in parallel: no output, and every cache entry whole.

    Decided by state, not by the clock: the first lines are spoken and stored; the rest are held
    by the fake espeak-ng until the signal is sent, so the render cannot finish before it."""
    routine = tmp_path / "many.yaml"
    # lines are spoken in sorted order: the five "A ..." lines first, then the held ones
    lines = [f"A line, number {i}." if i < 5 else f"Held WAIT line, number {i}." for i in range(400)]
    routine.write_text("title: Many\nsteps:\n" + "".join(f"  - say: {line}\n" for line in lines))
    out = tmp_path / "out"
    cache = SpeechCache(Path(fake_espeak.env["VOICEGUIDE_CACHE_DIR"]))
    command = [sys.executable, "-m", "voiceguide", "render", str(routine), "-o", str(out), "--engine", "espeak-ng"]
    env = {**os.environ, **fake_espeak.env}
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
        preexec_fn=hear_sigint,  # noqa: PLW1509
    )
    try:
        deadline = time.monotonic() + 120  # a safety net only: the loop ends on what it sees
        while not (any(cache.folder.rglob("*.clip")) and any("WAIT" in line for line in fake_espeak.spoken())):
            assert process.poll() is None, "render ended before it could be interrupted"
            assert time.monotonic() < deadline, "render never stored a line and started a held one"
            time.sleep(0.02)
        if whole_group:
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGINT)
        fake_espeak.open_gate()  # lines already being spoken may finish; no new ones start
        _, stderr = process.communicate(timeout=60)
    finally:
        fake_espeak.open_gate()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert stderr == "Interrupted; no partial file was left behind.\n"
    assert not out.exists() or list(out.iterdir()) == []
    assert len(fake_espeak.spoken()) < 400  # it really was interrupted
    entries = list(cache.folder.rglob("*"))
    assert not [p for p in entries if p.name.endswith(".part")]
    stored = [p for p in entries if p.suffix == ".clip"]
    assert stored  # some lines were finished and kept...
    assert all(cache.get(p.stem) is not None for p in stored)  # ...each one whole
    assert ffmpeg_writing_into(tmp_path) == []
