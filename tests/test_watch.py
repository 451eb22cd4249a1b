"""Watching routine files: real file-system events, bounded waits."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from voiceguide.watch import watch_routines

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
        ready.set()
        for changed in watch_routines([folder, single], stop):
            found.put(changed)

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
