"""What voiceguide stamps into each track it writes, read back: the fingerprint of what the audio was
made from, kept only while the audio is still the audio written (its SHA-256 beside it).

Telling whether a track is current comes down to this, so it reads the two frames from the tag's
first bytes itself, without mutagen: ``tags.write_tags`` puts them first, as ID3v2.4 ``TXXX``
frames in UTF-8, with no flags. A tag of any other shape (another tagger's) is read by mutagen,
so the answer is the same either way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FINGERPRINT_TAG = "voiceguide fingerprint"
AUDIO_TAG = "voiceguide audio sha256"  # of the MP3 after its tag: a damaged track is noticed
_HEADER = 10  # "ID3", version, revision, flags, syncsafe size; and each frame's: id, syncsafe size, flags
_FIRST_BYTES = 4096  # room for both frames
_UTF8 = 3


def read_fingerprint(path: Path) -> str | None:
    """The fingerprint voiceguide stored in a track it wrote, if the track's audio is still the
    audio it wrote (its SHA-256, stored beside it, matches); else ``None``: a track truncated or
    changed since is made again."""
    try:
        with path.open("rb") as file:
            head = file.read(_FIRST_BYTES)
        if not head.startswith(b"ID3"):
            return None  # no ID3v2 tag, so neither frame (an ID3v1 tag has no TXXX)
        found = _ours(head) or _by_mutagen(path)
        if found is None:
            return None
        fingerprint, audio, size = found
        return fingerprint if audio_digest(path, size) == audio else None
    except OSError:
        return None


def _ours(head: bytes) -> tuple[str, str, int] | None:
    """(fingerprint, audio digest, tag size) from a tag shaped as ``write_tags`` writes it;
    ``None`` if it is shaped otherwise."""
    if len(head) < _HEADER or head[3:6] != b"\x04\x00\x00" or not _syncsafe(head[6:10]):
        return None  # not ID3v2.4.0 with no flags (unsynchronised, extended header, footer)
    size = _HEADER + _size(head[6:10])
    texts: list[str] = []
    at = _HEADER
    for desc in (FINGERPRINT_TAG, AUDIO_TAG):
        frame = head[at : at + _HEADER]
        if len(frame) < _HEADER or frame[:4] != b"TXXX" or frame[8:10] != b"\0\0" or not _syncsafe(frame[4:8]):
            return None
        end = at + _HEADER + _size(frame[4:8])
        body = head[at + _HEADER : end]
        if end > min(size, len(head)) or len(body) < 1 or body[0] != _UTF8:
            return None
        named, _, values = body[1:].partition(b"\0")
        if named != desc.encode("utf-8"):
            return None
        try:
            texts.append(values.split(b"\0")[0].decode("utf-8"))
        except UnicodeDecodeError:
            return None
        at = end
    return texts[0], texts[1], size


def _syncsafe(field: bytes) -> bool:
    return all(byte < 0x80 for byte in field)


def _size(field: bytes) -> int:
    return (field[0] << 21) | (field[1] << 14) | (field[2] << 7) | field[3]


def _by_mutagen(path: Path) -> tuple[str, str, int] | None:
    """(fingerprint, audio digest, tag size) from any ID3 tag, as mutagen reads it."""
    from mutagen import MutagenError
    from mutagen.id3 import ID3

    try:
        tag = ID3(path)
    except MutagenError:
        return None
    frames, digest = tag.getall(f"TXXX:{FINGERPRINT_TAG}"), tag.getall(f"TXXX:{AUDIO_TAG}")
    if not frames or not digest:
        return None
    return str(frames[0].text[0]), str(digest[0].text[0]), int(tag.size)


def audio_digest(path: Path, start: int = 0) -> str:
    """SHA-256 of ``path`` from byte ``start`` on (its audio, after the ID3 tag), read in 1 MB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        file.seek(start)
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
