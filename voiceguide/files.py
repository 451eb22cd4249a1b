"""Write files so that a reader never sees half of one, and a crash leaves nothing for long.

A file is written under a hidden temporary name (``.track.mp3.1a2b3c4d.part``) and renamed
into place when complete. While it is written, its writer holds an OS lock on a lock file
beside it (``….part.lock``: ``flock`` on Linux and macOS, ``msvcrt.locking`` on Windows).
The lock goes with the writer's process, however that ends, so a later writer into the same
folder (``output_folder``) can tell the temporary files of writers that no longer run, and
removes those, never one whose writer still holds its lock (see docs/security.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from voiceguide.errors import OutputError

MAX_NAME_BYTES = 120  # well under the 255-byte limit of every phone and desktop file system
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')  # not allowed by Windows/FAT (and "/" anywhere)
_KEPT = frozenset("\t\n\r\u200c\u200d")  # tab, line breaks, and the joiners some scripts and emoji need
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{dev}{n}" for dev in ("COM", "LPT") for n in range(1, 10))}
_PART = re.compile(r"\..+\.[0-9a-f]{8}\.part")
LOCK = ".lock"  # the lock file of a temporary file is its name plus this


def hidden(character: str) -> bool:
    """A control character (NUL, a terminal escape), bidi override or other invisible format
    character: Unicode's Cc, Cf and Cs, except tab, line breaks and the zero-width joiners."""
    return character not in _KEPT and unicodedata.category(character) in ("Cc", "Cf", "Cs")


def safe_name(text: str, fallback: str = "track") -> str:
    """A file name (without extension) that stays in its folder and is valid on
    Windows, macOS, Linux and a phone's FAT/exFAT card: no separators or ``..``, no control
    or invisible characters (a right-to-left override), no reserved device names, no trailing
    dots or spaces, at most 120 UTF-8 bytes."""
    text = "".join("-" if hidden(c) else c for c in unicodedata.normalize("NFC", text))
    name = _FORBIDDEN.sub("-", " ".join(text.split())).strip(" .-")
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
    with _claimed(final) as temporary:
        try:
            yield temporary
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)


@contextmanager
def _claimed(final: Path) -> Iterator[Path]:
    """A temporary name beside ``final``, whose lock file this process holds until the end."""
    while True:
        temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
        lock = _lock_path(temporary)
        try:
            handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        except FileExistsError:  # the same eight random digits as another's: take others
            continue
        try:
            held = _try_lock(handle)
        except OSError:
            held = True  # a file system without locks: no one can lock it, so no one removes it
        if held and _same_file(handle, lock):
            break
        os.close(handle)  # another writer's clean-up took the new lock file as stale: take another name
    try:
        yield temporary
    finally:
        _release(handle, lock)


def remove_stale_parts(folder: Path) -> None:
    """Remove the temporary files in ``folder`` whose writers no longer run (killed, crashed,
    or the power went): their lock is free. A writer that still runs holds its lock, here or
    on another machine that shares the folder, and its file is left alone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    parts = {name.removesuffix(LOCK) for name in names if _PART.fullmatch(name.removesuffix(LOCK))}
    for name in sorted(parts):
        _remove_if_stale(folder / name)


def _remove_if_stale(temporary: Path) -> None:
    lock = _lock_path(temporary)
    try:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT)
    except OSError:
        return
    stale = False
    try:
        stale = _try_lock(handle) and _same_file(handle, lock)
        if stale:
            temporary.unlink(missing_ok=True)
    except OSError:
        stale = False  # no locks on this file system, or the file is in use: it cannot be told apart from a live one
    finally:
        _release(handle, lock if stale else None)


def read_at(fd: int, count: int, at: int) -> bytes:
    """Up to ``count`` bytes of the open file ``fd`` from offset ``at``: ``os.pread`` where the system
    has it, else a seek and a read (Windows has no pread; the one reader of ``fd`` moves its position)."""
    if hasattr(os, "pread"):
        return os.pread(fd, count, at)
    os.lseek(fd, at, os.SEEK_SET)
    return os.read(fd, count)


def _lock_path(temporary: Path) -> Path:
    return temporary.with_name(temporary.name + LOCK)


def _try_lock(handle: int) -> bool:
    """Lock the open lock file without waiting; ``False`` if another process holds it. Raises
    ``OSError`` where the file system has no locks."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)  # its first byte (past the end: the file is empty)
        except PermissionError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the open file's lock: no other open or close drops it
    except BlockingIOError:
        return False
    return True


def _same_file(handle: int, lock: Path) -> bool:
    """Whether ``lock`` still names the open file (a clean-up may have removed it in between)."""
    try:
        return os.path.samestat(os.fstat(handle), os.stat(lock))
    except OSError:
        return False


def _release(handle: int, lock: Path | None) -> None:
    """Unlock and close ``handle``, removing ``lock`` (if given) while it is still held where the
    OS allows (Windows removes no open file, so there it goes after)."""
    if lock is not None and sys.platform != "win32":
        lock.unlink(missing_ok=True)
    if sys.platform == "win32":
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(handle, 0, os.SEEK_SET)
            msvcrt.locking(handle, msvcrt.LK_UNLCK, 1)
    os.close(handle)
    if lock is not None and sys.platform == "win32":
        with contextlib.suppress(OSError):  # in use by another's clean-up: removed by a later one
            lock.unlink(missing_ok=True)


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
    remove_stale_parts(folder)
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
