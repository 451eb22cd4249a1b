"""`render --watch`: a running process re-renders saved routines, survives bad edits, stops on Ctrl-C."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from voiceguide.watch import watch_routines

BOUND = 180.0  # seconds: a safety net only; every wait ends as soon as its state is reached

ROUTINE = """\
title: Watched
steps:
  - say: {say}
    hold: 1s
    countdown: 0
  - say: Unchanged line.
"""


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the watcher exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def save(path: Path, text: str) -> None:
    """Save as vim and VS Code do: write a new file, then rename it over the old one."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class Watcher:
    """`voiceguide render --watch` running in its own process, its output captured to files."""

    def __init__(self, routine: Path, out: Path) -> None:
        self.out, self.err = routine.parent / "stdout.txt", routine.parent / "stderr.txt"
        command = [sys.executable, "-m", "voiceguide", "render", "--watch", str(routine), "-o", str(out)]
        with self.out.open("wb") as stdout, self.err.open("wb") as stderr:
            self.process = subprocess.Popen([*command, "--engine", "espeak-ng"], stdout=stdout, stderr=stderr)

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8")

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        wait_for(condition, what, self.process)

    def renders(self) -> int:
        return self.stdout().count("Wrote ")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=BOUND)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, Path, Watcher]]:
    routine = tmp_path / "watched.yaml"
    routine.write_text(ROUTINE.format(say="First version."), encoding="utf-8")
    watcher = Watcher(routine, tmp_path / "out")
    try:
        yield routine, tmp_path / "out" / "watched.mp3", watcher
    finally:
        if watcher.process.poll() is None:
            watcher.process.kill()
            watcher.process.wait()


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_watch_renders_again_after_a_save_and_stops_cleanly_on_ctrl_c(
    watched: tuple[Path, Path, Watcher],
) -> None:
    routine, track, watcher = watched
    watcher.wait_for(lambda: watcher.renders() == 1, "the first track")
    assert "Watching 1 routine for changes" in watcher.stderr()
    first = fingerprint(track)

    save(routine, ROUTINE.format(say="Second version, longer than the first."))
    watcher.wait_for(lambda: watcher.renders() == 2, "the track rendered again")
    assert fingerprint(track) != first
    second = watcher.stdout().splitlines()[-1]
    assert "2 lines, 1 from cache" in second  # only the edited line was spoken again

    assert watcher.stop() == 0
    assert watcher.stderr().rstrip().endswith("Stopped watching.")
    assert "Traceback" not in watcher.stderr()


def test_watch_shows_an_error_and_keeps_watching(watched: tuple[Path, Path, Watcher]) -> None:
    routine, track, watcher = watched
    watcher.wait_for(lambda: watcher.renders() == 1, "the first track")
    first = fingerprint(track)

    save(routine, "title: Watched\nsteps:\n  - say: Broken.\n    hodl: 1s\n")
    watcher.wait_for(lambda: "unknown field 'hodl'" in watcher.stderr(), "the error")
    assert watcher.process.poll() is None
    assert fingerprint(track) == first  # the last good track stays

    save(routine, ROUTINE.format(say="Fixed again."))
    watcher.wait_for(lambda: watcher.renders() == 2, "the track rendered after the fix")
    assert fingerprint(track) != first
    assert watcher.stop() == 0


def test_watch_routines_yields_only_the_files_asked_for(tmp_path: Path) -> None:
    ours, other = tmp_path / "ours.yaml", tmp_path / "other.yaml"
    ours.write_text("a", encoding="utf-8")
    stop = threading.Event()
    safety = threading.Timer(BOUND, stop.set)  # a broken watcher ends the test instead of hanging it
    safety.start()
    changes = watch_routines([ours], stop)
    assert next(changes) == set()  # running
    other.write_text("b", encoding="utf-8")
    save(ours, "c")
    assert next(changes) == {ours}
    stop.set()
    safety.cancel()
    assert list(changes) == []  # ends once stopped
