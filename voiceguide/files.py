"""Write files so that a reader never sees half of one."""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from voiceguide.errors import OutputError

MAX_NAME_BYTES = 120  # well under the 255-byte limit of every phone and desktop file system
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')  # not allowed by Windows/FAT (and "/" anywhere)
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{dev}{n}" for dev in ("COM", "LPT") for n in range(1, 10))}


def safe_name(text: str, fallback: str = "track") -> str:
    """A file name (without extension) that stays in its folder and is valid on
    Windows, macOS, Linux and a phone's FAT/exFAT card: no separators or ``..``,
    no reserved device names, no trailing dots or spaces, at most 120 UTF-8 bytes."""
    name = _FORBIDDEN.sub("-", " ".join(unicodedata.normalize("NFC", text).split())).strip(" .-")
    name = name.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip(" .-")
    if name.split(".")[0].upper() in _RESERVED:
        name = f"_{name}"
    return name or fallback


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


def disk_full(path: Path) -> OutputError:
    """No room for the file being written (a full disk, or a file size limit)."""
    return OutputError(
        f"no room to write the MP3 in {path.parent}: the disk is full",
        "free some space (or choose another folder with -o) and render again",
    )


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text so that a reader never sees half of it."""
    try:
        with atomic_path(path) as partial:
            partial.write_text(text, encoding="utf-8", newline="\n")
    except OSError as err:
        raise OutputError(f"could not write {path.name}: {err.strerror}", "check the output folder") from None
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` so that a reader never sees half of it; a file already holding exactly that
    is left alone (its date too)."""
    try:
        if path.is_file() and path.read_bytes() == data:
            return path
        with atomic_path(path) as partial:
            partial.write_bytes(data)
    except OSError as err:
        raise OutputError(f"could not write {path.name}: {err.strerror}", "check the output folder") from None
    return path
