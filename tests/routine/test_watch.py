"""Watching routine files (real file-system events) and `render --watch` (a real process); bounded waits."""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from voiceguide.cli.app import cli
from voiceguide.routine import watch as watch_module
from voiceguide.routine.watch import watch_routines

WAIT = 30.0  # seconds: a safety net only


@pytest.fixture
def changes(tmp_path: Path) -> Iterator[tuple[Path, queue.Queue[set[Path]]]]:
    """Watch ``tmp_path/routines`` (a folder) plus one routine file elsewhere; changes arrive on a queue."""
    folder = tmp_path / "routines"
    folder.mkdir()
    (folder / "a.yaml").write_text("title: A\n", encoding="utf-8")
    single = tmp_path / "single.yaml"
    single.write_text("title: S\n", encoding="utf-8")
    found: queue.Queue[set[Path]] = queue.Queue()
    stop = threading.Event()
    ready = threading.Event()

    def run() -> None:
        for changed in watch_routines([folder, single], stop):
            if changed:
                found.put(changed)
            else:  # the first yield: the watcher is running
                ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(WAIT)
    yield tmp_path, found
    stop.set()
    thread.join(WAIT)
    assert not thread.is_alive(), "setting stop ends the watch"


def next_change(found: queue.Queue[set[Path]], trigger: Path, text: str) -> set[Path]:
    """Write ``trigger`` until the watcher reports something (it may start a moment after the thread)."""
    for _ in range(int(WAIT)):
        trigger.write_text(text, encoding="utf-8")
        try:
            return found.get(timeout=1)
        except queue.Empty:
            continue
    raise AssertionError("no change was reported")


def test_an_edited_routine_is_reported(changes: tuple[Path, queue.Queue[set[Path]]]) -> None:
    root, found = changes
    edited = root / "routines" / "a.yaml"
    assert next_change(found, edited, "title: A2\n") == {edited.resolve()}


def test_a_file_saved_by_rename_and_a_new_routine_are_reported(changes: tuple[Path, queue.Queue[set[Path]]]) -> None:
    root, found = changes
    single = root / "single.yaml"
    next_change(found, single, "title: S1\n")  # the watcher is running
    partial = root / ".single.yaml.swp"
    partial.write_text("title: S2\n", encoding="utf-8")
    os.replace(partial, single)  # how many editors save
    seen: set[Path] = set()
    while single.resolve() not in seen:
        seen |= found.get(timeout=WAIT)
    new = root / "routines" / "b.yml"
    assert new.resolve() in next_change(found, new, "title: B\n")


def test_other_files_are_not_reported(changes: tuple[Path, queue.Queue[set[Path]]]) -> None:
    root, found = changes
    (root / "routines" / "notes.txt").write_text("not a routine", encoding="utf-8")
    (root / "other.yaml").write_text("not watched", encoding="utf-8")
    edited = root / "routines" / "a.yaml"
    reported = next_change(found, edited, "title: A3\n")
    assert reported == {edited.resolve()}


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

    def rounds(self) -> int:
        """Rounds of rendering done: the watch says it is watching again after each one."""
        return self.stderr().count("Watching 1 routine for changes; Ctrl-C stops.")

    def wait_for_round(self, rounds: int, what: str) -> None:
        self.wait_for(lambda: self.rounds() == rounds, what)

    def stop(self) -> int:
        """Ctrl-C while the watch waits for a save (sent once it has said so: a Ctrl-C during a
        render is exit 130, and "Wrote" comes before the round ends)."""
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
    watcher.wait_for_round(1, "the first track")
    assert watcher.renders() == 1
    first = fingerprint(track)

    save(routine, ROUTINE.format(say="Second version, longer than the first."))
    watcher.wait_for_round(2, "the track rendered again")
    assert watcher.renders() == 2
    assert fingerprint(track) != first
    second = watcher.stdout().splitlines()[-1]
    assert "2 lines, 1 from cache" in second  # only the edited line was spoken again

    assert watcher.stop() == 0
    assert watcher.stderr().rstrip().endswith("Stopped watching.")
    assert "Traceback" not in watcher.stderr()


def test_watch_renders_every_save_in_turn(tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two good saves in a row, two renders more: `render --watch` with the watcher replaced by a script
    of saves, each made only once the render before it is done; decided by state, nothing waits."""
    routine, out = tmp_path / "watched.yaml", tmp_path / "out"
    routine.write_text(ROUTINE.format(say="First version."), encoding="utf-8")
    tracks: list[str] = []

    def two_saves(paths: Sequence[Path]) -> Iterator[set[Path]]:
        assert [Path(p) for p in paths] == [routine]
        yield set()  # running
        for say in ("Second version.", "Third version."):
            tracks.append(fingerprint(out / "watched.mp3"))  # the render before this save
            save(routine, ROUTINE.format(say=say))
            yield {Path(os.path.abspath(routine))}
        tracks.append(fingerprint(out / "watched.mp3"))
        raise KeyboardInterrupt  # Ctrl-C, once the watch has asked for a third save

    monkeypatch.setattr(watch_module, "watch_routines", two_saves)  # render --watch imports it when it starts
    results: list[Result] = []
    args = ["render", "--watch", str(routine), "-o", str(out), "--engine", "espeak-ng"]
    watching = threading.Thread(target=lambda: results.append(runner.invoke(cli, args)), daemon=True)
    watching.start()
    watching.join(BOUND)  # a safety net only: a watch that neither renders nor asks for a save never ends
    assert results, "the watch neither rendered again nor asked for the next save"
    (result,) = results
    assert result.exit_code == 0, result.output
    assert result.output.count("Wrote ") == 3
    assert result.stderr.count("Watching 1 routine for changes; Ctrl-C stops.") == 3  # once after each round
    assert len(tracks) == 3  # the watch asked for a change after each render
    assert len(set(tracks)) == 3  # and each save made a new track
    assert result.stderr.rstrip().endswith("Stopped watching.")


def test_watch_shows_an_error_and_keeps_watching(watched: tuple[Path, Path, Watcher]) -> None:
    routine, track, watcher = watched
    watcher.wait_for_round(1, "the first track")
    first = fingerprint(track)

    save(routine, "title: Watched\nsteps:\n  - say: Broken.\n    hodl: 1s\n")
    watcher.wait_for_round(2, "the error")
    assert "unknown field 'hodl'" in watcher.stderr()
    assert watcher.process.poll() is None
    assert fingerprint(track) == first  # the last good track stays

    save(routine, ROUTINE.format(say="Fixed again."))
    watcher.wait_for_round(3, "the track rendered after the fix")
    assert watcher.renders() == 2
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
