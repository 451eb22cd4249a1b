"""A content-addressed cache of synthesised speech, in the user's cache folder.

Each entry is the trimmed speech of one utterance as 16-bit samples, followed by a
BLAKE2b digest of those bytes; an entry whose digest does not match (truncated,
corrupted, half-written by a crash) is a miss and gets synthesised again, never played.
Keys cover everything that changes the sound: text, engine and its version, voice,
rate, volume, sample rate and this file format.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import platformdirs

from voiceguide.errors import OutputError
from voiceguide.files import atomic_path, remove_stale_parts

FORMAT_VERSION = 1
_DIGEST_BYTES = 32
_SUFFIX = ".pcm"
_DIGESTS_LOCK = threading.Lock()


def default_folder() -> Path:
    """$VOICEGUIDE_CACHE_DIR, else the platform's user cache folder."""
    chosen = os.environ.get("VOICEGUIDE_CACHE_DIR")
    return Path(chosen) if chosen else Path(platformdirs.user_cache_dir("voiceguide")) / "speech"


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


class SpeechCache:
    """Speech by key, stored as ``<folder>/<key[:2]>/<key>.pcm``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
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
        path = self._path(entry)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        payload, digest = data[:-_DIGEST_BYTES], data[-_DIGEST_BYTES:]
        if len(data) < _DIGEST_BYTES or len(payload) % 2 or _digest(payload) != digest:
            path.unlink(missing_ok=True)
            return None
        return np.frombuffer(payload, dtype="<i2").astype(np.int16)

    def put(self, entry: str, samples: npt.NDArray[np.int16]) -> None:
        """Store samples; the entry appears only once complete."""
        payload = samples.astype("<i2").tobytes()
        path = self._path(entry)
        self.sweep()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as partial:
                partial.write_bytes(payload + _digest(payload))
        except OSError as err:
            raise OutputError(
                f"cannot write the speech cache in {self.folder}: {err.strerror}",
                "free some space, set VOICEGUIDE_CACHE_DIR to a writable folder, or use --no-cache",
            ) from None

    def usage(self) -> Usage:
        files = list(self.folder.glob(f"*/*{_SUFFIX}"))
        return Usage(len(files), sum(f.stat().st_size for f in files))

    def clear(self) -> Usage:
        """Remove every entry; returns what was removed."""
        removed = self.usage()
        for path in self.folder.glob(f"*/*{_SUFFIX}"):
            path.unlink(missing_ok=True)
        return removed


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


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_BYTES).digest()
