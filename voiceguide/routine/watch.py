"""Notice when routine files are saved, with watchfiles (inotify, FSEvents, ReadDirectoryChangesW).

Editors often save by writing a new file and renaming it over the old one (vim,
VS Code), which ends a watch on the file itself; so the folders that hold the
routines are watched (not their subfolders), and changes are filtered by path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import watchfiles

from voiceguide.errors import Fault

ROUTINE_SUFFIXES = (".yaml", ".yml")
_WAKE_MS = 200  # how often the watcher looks up from waiting, so the first yield says "running"


def watch_routines(paths: Sequence[Path], stop: threading.Event | None = None) -> Iterator[set[Path]]:
    """Yield the set of routine files that changed since the last yield, until ``stop`` is set.

    ``paths`` are routine files or folders of them, as the commands take them; a file
    created or deleted in a named folder counts too. The first yield is an empty set as
    soon as the watcher runs, so a change saved after it is never missed; later yields
    are never empty. Ctrl-C raises ``KeyboardInterrupt`` from the wait.
    """
    absolute = {Path(os.path.abspath(path)) for path in paths}
    folders = {path for path in absolute if path.is_dir()}
    files = absolute - folders
    watched = sorted(folders | {file.parent for file in files})
    for folder in watched:
        if not folder.is_dir():
            raise Fault(f"cannot watch {folder}: no such folder", "fix the routine's path")

    def relevant(_change: watchfiles.Change, name: str) -> bool:
        path = Path(name)
        return path in files or (path.parent in folders and path.suffix in ROUTINE_SUFFIXES)

    running = False
    for changes in watchfiles.watch(
        *watched,
        watch_filter=relevant,
        stop_event=stop,
        rust_timeout=_WAKE_MS,
        yield_on_timeout=True,
        recursive=False,
    ):
        changed = {Path(name) for _change, name in changes}
        if changed or not running:
            running = True
            yield changed
