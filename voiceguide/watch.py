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

from .errors import Fault

_WAKE_MS = 200  # how often the watcher looks up from waiting, so the first yield says "running"


def watch_routines(paths: Sequence[Path], stop: threading.Event | None = None) -> Iterator[set[Path]]:
    """Yield the set of routine files that changed since the last yield, until ``stop`` is set.

    The first yield is an empty set as soon as the watcher runs: a change saved
    after it is never missed. Later yields are never empty, and hold only files
    that exist (a file deleted and not written again is left out). Ctrl-C raises
    ``KeyboardInterrupt`` from the wait.
    """
    targets = {Path(os.path.abspath(path)) for path in paths}
    folders = sorted({target.parent for target in targets})
    for folder in folders:
        if not folder.is_dir():
            raise Fault(f"cannot watch {folder}: no such folder", "fix the routine's path")
    running = False
    for changes in watchfiles.watch(
        *folders,
        watch_filter=lambda _change, path: Path(path) in targets,
        stop_event=stop,
        rust_timeout=_WAKE_MS,
        yield_on_timeout=True,
        recursive=False,
    ):
        changed = {Path(path) for _change, path in changes if Path(path).is_file()}
        if changed or not running:
            running = True
            yield changed
