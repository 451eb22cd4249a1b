"""A content-addressed cache of synthesised speech, in the user's cache folder, kept under a size cap.

Each entry is the trimmed speech of one utterance: a short header (format, sample count and a
BLAKE2b digest of the 16-bit samples) and the samples, stored as zlib-compressed differences
(lossless, about 40% smaller than the raw samples for speech). An entry whose samples do not
match its digest (truncated, corrupted, half-written by a crash) is a miss and gets synthesised
again, never played. Keys cover everything that changes the sound: text, engine and its
version, voice, rate, volume, sample rate and this file format.

Every hit refreshes an entry's modification time, so the least recently used lines are the
ones removed when the cache grows past its cap ($VOICEGUIDE_CACHE_MB, default 1000 MB).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from voiceguide.errors import Fault, OutputError
from voiceguide.files import atomic_path, remove_stale_parts

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

FORMAT_VERSION = 2
DEFAULT_CAP_MB = 1000
CAP_VARIABLE = "VOICEGUIDE_CACHE_MB"
_DIGEST_BYTES = 32
_HEADER = struct.Struct("<4sI32s")  # magic, sample count, BLAKE2b of the samples as 16-bit little-endian
_MAGIC = b"VGC2"
_SUFFIX = ".clip"
_OLD_SUFFIXES = (".pcm",)  # earlier formats: never read, removed first when the cache is over its cap
_DIGESTS_LOCK = threading.Lock()
_CLOCK_LOCK = threading.Lock()
_last_touch = [0]  # the newest time this process gave an entry


def default_folder() -> Path:
    """$VOICEGUIDE_CACHE_DIR, else the platform's user cache folder."""
    chosen = os.environ.get("VOICEGUIDE_CACHE_DIR")
    return Path(chosen) if chosen else Path(platformdirs.user_cache_dir("voiceguide")) / "speech"


def default_cap() -> int:
    """The cache's size cap in bytes: $VOICEGUIDE_CACHE_MB megabytes, else DEFAULT_CAP_MB."""
    chosen = os.environ.get(CAP_VARIABLE, "").strip()
    if not chosen:
        return DEFAULT_CAP_MB * 1_000_000
    try:
        megabytes = float(chosen)
    except ValueError:
        megabytes = -1.0
    if not megabytes > 0 or megabytes == float("inf"):
        raise Fault(
            f"{CAP_VARIABLE}={chosen!r} is not a size in megabytes",
            f"set it to a number above 0, e.g. {CAP_VARIABLE}=500, or unset it for {DEFAULT_CAP_MB} MB",
        )
    return round(megabytes * 1_000_000)


def key(
    text: str,
    engine: str,
    engine_version: str,
    voice_id: str,
    rate: int,
    volume: float,
    sample_rate: int,
    model: str = "",
) -> str:
    """The cache key of one utterance as spoken with these settings (``model``: the digest of
    the voice's model file, for engines whose voices are files)."""
    fields = [FORMAT_VERSION, text, engine, engine_version, voice_id, rate, volume, sample_rate]
    if model:
        fields.append(model)
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Usage:
    entries: int
    bytes: int


@dataclass(frozen=True)
class Stored:
    """What an entry's header says about its samples, read without decoding them."""

    length: int  # samples
    digest: bytes  # BLAKE2b of the samples as 16-bit little-endian, as ``samples_digest`` makes it


class SpeechCache:
    """Speech by key, stored as ``<folder>/<key[:2]>/<key>.clip``, at most ``cap`` bytes of it."""

    def __init__(self, folder: Path, cap: int | None = None) -> None:
        self.folder = folder
        self.cap = default_cap() if cap is None else cap
        self._swept = False
        self._sweeping = threading.Lock()

    def sweep(self) -> None:
        """Remove the temporary files of writers that no longer run (a killed render's), in the
        folder and each of its entry folders; once, before this cache first stores anything."""
        with self._sweeping:
            if self._swept:
                return
            self._swept = True
            remove_stale_parts(self.folder)
            for folder in self.folder.glob("??"):
                remove_stale_parts(folder)

    def _path(self, entry: str) -> Path:
        return self.folder / entry[:2] / f"{entry}{_SUFFIX}"

    def get(self, entry: str) -> npt.NDArray[np.int16] | None:
        """The stored samples, or ``None`` if absent or damaged (a damaged entry is removed)."""
        import numpy as np

        path = self._path(entry)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        stored = _header(data)
        try:
            deltas = np.frombuffer(zlib.decompress(data[_HEADER.size :]), dtype="<i2") if stored else None
        except zlib.error:
            deltas = None
        if stored is None or deltas is None or len(deltas) != stored.length:
            path.unlink(missing_ok=True)
            return None
        samples = np.cumsum(deltas, dtype=np.int16)  # wraps as the differences did: lossless
        if samples_digest(samples) != stored.digest:
            path.unlink(missing_ok=True)
            return None
        _touch(path)
        return samples

    def stored(self, entry: str) -> Stored | None:
        """The length and digest of an entry's samples from its header alone (no numpy, no
        decoding), marking it used; ``None`` if absent. Damage in the samples shows at ``get``."""
        path = self._path(entry)
        try:
            with path.open("rb") as file:
                found = _header(file.read(_HEADER.size))
        except OSError:
            return None
        if found is not None:
            _touch(path)
        return found

    def put(self, entry: str, samples: npt.NDArray[np.int16]) -> None:
        """Store samples; the entry appears only once complete."""
        import numpy as np

        pcm = samples.astype("<i2")
        deltas = np.diff(pcm, prepend=np.zeros(1, dtype="<i2"))  # int16 differences wrap; cumsum wraps them back
        header = _HEADER.pack(_MAGIC, len(pcm), samples_digest(pcm))
        path = self._path(entry)
        self.sweep()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as partial:
                partial.write_bytes(header + zlib.compress(deltas.astype("<i2").tobytes(), 6))
        except OSError as err:
            raise OutputError(
                f"cannot write the speech cache in {self.folder}: {err.strerror}",
                "free some space, set VOICEGUIDE_CACHE_DIR to a writable folder, or use --no-cache",
            ) from None
        _touch(path)

    def usage(self) -> Usage:
        sizes = [size for _, size, _ in self._entries()]
        return Usage(len(sizes), sum(sizes))

    def evict(self) -> Usage:
        """Remove the least recently used entries until the cache is within its cap; returns
        what was removed. Entries of earlier formats go first."""
        entries = sorted(self._entries(), key=lambda e: (e[0].suffix == _SUFFIX, e[2]))
        total = sum(size for _, size, _ in entries)
        removed = [0, 0]
        for path, size, _ in entries:
            if total <= self.cap:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed[0] += 1
            removed[1] += size
        return Usage(*removed)

    def clear(self) -> Usage:
        """Remove every entry; returns what was removed."""
        removed = self.usage()
        for path, _, _ in self._entries():
            path.unlink(missing_ok=True)
        return removed

    def _entries(self) -> Iterator[tuple[Path, int, int]]:
        """(path, size, last use in ns) of every entry, of this format or an earlier one."""
        for path in self.folder.glob("*/*"):
            if path.suffix == _SUFFIX or path.suffix in _OLD_SUFFIXES:
                try:
                    stat = path.stat()
                except OSError:
                    continue  # removed meanwhile by another render
                yield path, stat.st_size, stat.st_mtime_ns


def samples_digest(samples: npt.NDArray[np.int16]) -> bytes:
    """BLAKE2b of ``samples`` as 16-bit little-endian: what the cache stores and checks."""
    return hashlib.blake2b(samples.astype("<i2").tobytes(), digest_size=_DIGEST_BYTES).digest()


def _header(data: bytes) -> Stored | None:
    if len(data) < _HEADER.size:
        return None
    magic, length, digest = _HEADER.unpack_from(data)
    return Stored(length, digest) if magic == _MAGIC else None


def _touch(path: Path) -> None:
    """Mark ``path`` as used now, strictly after every entry touched before it by this process."""
    with _CLOCK_LOCK:
        now = _last_touch[0] = max(time.time_ns(), _last_touch[0] + 1)
    with contextlib.suppress(OSError):  # only the eviction order: a read-only cache still plays
        os.utime(path, ns=(now, now))


def file_digest(path: Path) -> str:
    """The BLAKE2b digest of a file's content (a voice model), remembered by path, size and
    modification time in ``digests.json`` beside the speech, so a 63 MB model is read once."""
    try:
        stat = path.stat()
    except OSError:
        return ""  # the engine reports the missing file, with its fix
    stamp = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    record = default_folder() / "digests.json"
    with _DIGESTS_LOCK:
        try:
            known = json.loads(record.read_text(encoding="utf-8"))
            known = known if isinstance(known, dict) else {}
        except (OSError, ValueError):
            known = {}
        if isinstance(found := known.get(stamp), str):
            return found
        digest = hashlib.blake2b(digest_size=_DIGEST_BYTES)
        with path.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        known[stamp] = digest.hexdigest()
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(record) as partial:
                partial.write_text(json.dumps(known, indent=0), encoding="utf-8")
        except OSError:
            pass  # only a speed-up: the digest is still right
        return str(known[stamp])
