"""ID3v2.4 tags as a phone shows them: text frames, cover art, and chapters.

Chapters are one CHAP frame each plus the CTOC table of contents (top-level,
ordered) that Apple Podcasts, AntennaPod and Prologue need before they list any.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mutagen import MutagenError
from mutagen.id3 import APIC, CHAP, COMM, CTOC, ID3, TALB, TCON, TDRC, TIT2, TLAN, TPE1, TRCK, TXXX, CTOCFlags
from mutagen.id3._tags import save_frame

from voiceguide.errors import OutputError
from voiceguide.export.cover import Cover
from voiceguide.export.stamp import AUDIO_TAG, FINGERPRINT_TAG
from voiceguide.files import disk_full

NO_OFFSET = 0xFFFFFFFF  # CHAP byte offsets unused: players seek by time
# ID3 wants ISO 639-2 codes; routines use the two-letter ISO 639-1 code.
ISO_639_2 = {"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "nl": "nld", "pt": "por", "pl": "pol"}


@dataclass(frozen=True)
class Mark:
    """A chapter in whole milliseconds from the start of its file."""

    title: str
    start_ms: int
    end_ms: int
    image: Cover | None = None  # the step's picture: chapter art in podcast apps


@dataclass(frozen=True)
class TrackTags:
    """Everything written into one MP3's ID3 tag."""

    title: str
    artist: str
    album: str
    track: int
    tracks: int | None  # None for a single whole track
    year: int
    genre: str
    comment: str | None
    language: str
    cover: Cover
    chapters: tuple[Mark, ...]
    fingerprint: str | None = None  # what the audio was made from, so an unchanged track is not re-encoded
    audio: str | None = None  # the SHA-256 of the audio as written, so a damaged track is noticed


class _InOrder(ID3):
    """An ID3 tag whose frames are saved in the order they were added.

    mutagen sorts frames by size, which shuffles CHAP frames; ffprobe and some
    players list chapters in frame order rather than by the CTOC.
    """

    def _write(self, config: Any) -> bytes:
        pictures = [f for f in self.values() if f.FrameID == "APIC"]  # big: last, as mutagen does
        others = [f for f in self.values() if f.FrameID != "APIC"]
        return b"".join(save_frame(f, config=config) for f in [*others, *pictures])


TOC_ENTRIES = 255  # a CTOC counts its entries in one byte


def _contents(frames: ID3, ids: list[str]) -> None:
    """The top-level, ordered table of contents; past 255 chapters it lists tables of 255 each
    (ID3's nested contents), so every chapter is listed, in order."""
    groups = [ids[n : n + TOC_ENTRIES] for n in range(0, len(ids), TOC_ENTRIES)]
    nested = len(groups) > 1
    parts = [f"toc{n}" for n in range(1, len(groups) + 1)] if nested else []
    frames.add(
        CTOC(
            element_id="toc",
            flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
            child_element_ids=parts if nested else ids,
            sub_frames=[TIT2(encoding=3, text="Chapters")],
        )
    )
    for part, group in zip(parts, groups if nested else [], strict=True):
        frames.add(CTOC(element_id=part, flags=CTOCFlags.ORDERED, child_element_ids=group, sub_frames=[]))


def listed_chapters(tags: ID3) -> list[str] | None:
    """The chapter ids the top-level table of contents lists, nested tables unfolded, in order
    (``None``: the tag has no table of contents)."""
    tocs = {toc.element_id: toc for toc in tags.getall("CTOC")}
    top = [toc for toc in tocs.values() if toc.flags & CTOCFlags.TOP_LEVEL] or list(tocs.values())[:1]
    if not top:
        return None
    seen: set[str] = set()

    def unfold(element: str) -> list[str]:
        if element in seen:  # a table listed twice (or inside itself) is read once
            return []
        seen.add(element)
        toc = tocs.get(element)
        return [leaf for child in toc.child_element_ids for leaf in unfold(child)] if toc else [element]

    return unfold(top[0].element_id)


def _chapter_art(mark: Mark) -> list[APIC]:
    """The chapter's picture as an APIC frame inside its CHAP, which podcast apps show as chapter art."""
    if mark.image is None:
        return []
    return [APIC(encoding=3, mime=mark.image.mime, type=0, desc=mark.title[:64], data=mark.image.data)]


def write_tags(path: Path, tags: TrackTags) -> None:
    """Replace ``path``'s ID3 tag with ``tags`` (ID3v2.4, UTF-8)."""
    frames = _InOrder()
    if tags.fingerprint is not None:
        frames.add(TXXX(encoding=3, desc=FINGERPRINT_TAG, text=tags.fingerprint))
    if tags.audio is not None:
        frames.add(TXXX(encoding=3, desc=AUDIO_TAG, text=tags.audio))
    frames.add(TIT2(encoding=3, text=tags.title))
    frames.add(TPE1(encoding=3, text=tags.artist))
    frames.add(TALB(encoding=3, text=tags.album))
    frames.add(TRCK(encoding=3, text=f"{tags.track}/{tags.tracks}" if tags.tracks else str(tags.track)))
    frames.add(TDRC(encoding=3, text=str(tags.year)))
    frames.add(TCON(encoding=3, text=tags.genre))
    frames.add(TLAN(encoding=3, text=ISO_639_2.get(tags.language, tags.language)))
    if tags.comment:
        frames.add(COMM(encoding=3, lang="eng", desc="", text=tags.comment))
    frames.add(APIC(encoding=3, mime=tags.cover.mime, type=3, desc="Cover", data=tags.cover.data))
    ids = [f"ch{n}" for n in range(1, len(tags.chapters) + 1)]
    _contents(frames, ids)
    for element_id, mark in zip(ids, tags.chapters, strict=True):
        frames.add(
            CHAP(
                element_id=element_id,
                start_time=mark.start_ms,
                end_time=mark.end_ms,
                start_offset=NO_OFFSET,
                end_offset=NO_OFFSET,
                sub_frames=[TIT2(encoding=3, text=mark.title), *_chapter_art(mark)],
            )
        )
    try:
        frames.save(path, v2_version=4)
    except (OSError, MutagenError) as err:
        # mutagen wraps an OSError from growing the file in its own error, the OSError its argument
        cause = err if isinstance(err, OSError) else next((a for a in err.args if isinstance(a, OSError)), None)
        if cause is not None and cause.errno in (errno.ENOSPC, errno.EFBIG):
            raise disk_full(path) from None
        reason = cause.strerror if cause is not None else str(err)
        raise OutputError(f"could not tag {path.name}: {reason}", "check the output folder") from None
