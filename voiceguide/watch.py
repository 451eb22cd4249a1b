"""Watch routine files for changes (``watchfiles``: native file-system events, polling where there are none)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import watchfiles

ROUTINE_SUFFIXES = (".yaml", ".yml")


def watch_routines(paths: Sequence[Path], stop: threading.Event | None = None) -> Iterator[set[Path]]:
    """Yield the set of routine files that changed since the last yield, until ``stop`` is set.

    ``paths`` are routine files or folders of them (as the commands take them). The folders
    holding them are watched rather than the files, so an editor that saves by writing a new
    file and renaming it over the old one is still seen; a file created in a named folder
    counts too, and so does one that was deleted.
    """
    files = {p.resolve() for p in paths if not p.is_dir()}
    folders = {p.resolve() for p in paths if p.is_dir()}
    watched = sorted(folders | {f.parent for f in files})

    def relevant(path: Path) -> bool:
        return path in files or (path.parent in folders and path.suffix in ROUTINE_SUFFIXES)

    for changes in watchfiles.watch(*watched, stop_event=stop, recursive=False, raise_interrupt=False):
        changed = {Path(name).resolve() for _, name in changes}
        found = {p for p in changed if relevant(p)}
        if found:
            yield found
