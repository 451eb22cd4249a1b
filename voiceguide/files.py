"""Write files so that a reader never sees half of one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success rename it into place.

    The rename is atomic on one file system, so an existing file is replaced only
    by a complete new one; on any failure (or Ctrl-C) the temporary file is removed.
    """
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield temporary
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def output_folder(folder: Path) -> Path:
    """Create ``folder`` if needed; fail with a fix if it cannot hold our files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{folder} is a file, not a folder", "choose another folder with -o") from None
    except OSError as err:
        raise OutputError(
            f"cannot create the output folder {folder}: {err.strerror}", "choose another folder with -o"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write to the output folder {folder}", "choose another folder with -o, or fix its permissions"
        )
    return folder
