"""Phone-ready output: the MP3 (or one per chapter plus a playlist), its tags, and its sidecars.

Every file is written through ``files.atomic_path``; loudness is set on the
whole track, and split parts reuse that setting so they play at one level.
"""

from __future__ import annotations

import datetime
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .audio import encode_mp3
from .cover import Cover, cover_art
from .files import atomic_path, output_folder, safe_name
from .loudness import DEFAULT_TARGET, encode_levelled
from .model import Routine
from .sidecars import Header, Window, to_ms, write_sidecars, write_text
from .tags import Mark, TrackTags, write_tags
from .timeline import Chapter, Timeline

GENRE = "Speech"
BYTES_PER_SAMPLE = 2
PART_NAME = re.compile(r"\d{2,} - .+\.(mp3|lrc|vtt|chapters\.json)")


@dataclass(frozen=True)
class Export:
    """How a track is written: target loudness (``None``: untouched), sidecars, one file per chapter."""

    loudness: float | None = DEFAULT_TARGET
    sidecars: bool = True
    split: bool = False


def export(
    routine: Routine,
    timeline: Timeline,
    chunks: Callable[[], Iterator[bytes]],
    base: Path,
    bitrate: int,
    options: Export = Export(),
    fingerprint: str | None = None,
) -> Path:
    """Write ``<base>.mp3`` (or, split, ``<base>/NN - Chapter.mp3`` and ``<base>.m3u8``); return that path.

    ``chunks()`` streams the whole track's PCM and is called once per pass.
    """
    cover = cover_art(routine)
    rate = timeline.sample_rate
    if options.split:
        return _split(routine, timeline, chunks, base, bitrate, options, cover)
    target = target_path(base, options)
    with atomic_path(target) as partial:
        encode_levelled(chunks, partial, rate, bitrate, options.loudness)
        marks = tuple(Mark(c.title, to_ms(c.start, rate), to_ms(c.end, rate)) for c in timeline.chapters)
        write_tags(partial, _tags(routine, routine.title, 1, None, cover, marks, fingerprint))
    if options.sidecars:
        track_sidecars(routine, timeline, base)
    return target


def track_sidecars(routine: Routine, timeline: Timeline, base: Path) -> None:
    """The whole track's ``.lrc``, ``.vtt`` and ``.chapters.json`` beside ``<base>.mp3``."""
    header = Header(routine.title, _artist(routine), _album(routine))
    write_sidecars(timeline, Window(0, timeline.duration), header, base)


def target_path(base: Path, options: Export) -> Path:
    """The file ``export`` names as its result: the MP3, or the playlist when split."""
    return base.with_name(f"{base.name}.m3u8" if options.split else f"{base.name}.mp3")


def _split(
    routine: Routine,
    timeline: Timeline,
    whole: Callable[[], Iterator[bytes]],
    base: Path,
    bitrate: int,
    options: Export,
    cover: Cover,
) -> Path:
    """One gapless MP3 per chapter, cut at its exact sample, plus a relative-path playlist."""
    rate = timeline.sample_rate
    with tempfile.TemporaryDirectory(prefix="voiceguide-") as scratch:
        filters = encode_levelled(whole, Path(scratch) / "whole.mp3", rate, bitrate, options.loudness)
    folder = output_folder(base.parent / base.name)
    count = len(timeline.chapters)
    entries = ["#EXTM3U", f"#PLAYLIST:{routine.title}"]
    written: set[Path] = set()
    for number, chapter in enumerate(timeline.chapters, start=1):
        stem = safe_name(f"{number:0{max(2, len(str(count)))}d} - {chapter.title}")
        target = folder / f"{stem}.mp3"
        with atomic_path(target) as partial:
            encode_mp3(_window(whole(), chapter), partial, rate, bitrate, filters)
            marks = (Mark(chapter.title, 0, to_ms(chapter.end - chapter.start, rate)),)
            write_tags(partial, _tags(routine, chapter.title, number, count, cover, marks, None))
        written.add(target)
        if options.sidecars:
            header = Header(chapter.title, _artist(routine), _album(routine))
            written.update(write_sidecars(timeline, Window(chapter.start, chapter.end), header, folder / stem))
        seconds = to_ms(chapter.end - chapter.start, rate) / 1000
        entries += [f"#EXTINF:{seconds:.3f},{_artist(routine)} - {chapter.title}", f"{folder.name}/{target.name}"]
    _remove_stale_parts(folder, written)
    return write_text(target_path(base, options), "\n".join(entries) + "\n")


def _remove_stale_parts(folder: Path, written: set[Path]) -> None:
    """Delete parts an earlier render left behind (a step renamed or removed): on a phone
    they would still show up in the album. Only files named like our parts are touched."""
    for path in folder.iterdir():
        if PART_NAME.fullmatch(path.name) and path not in written:
            path.unlink(missing_ok=True)


def _window(chunks: Iterable[bytes], chapter: Chapter) -> Iterator[bytes]:
    """The PCM bytes of one chapter, cut from the whole track's stream."""
    lo, hi = chapter.start * BYTES_PER_SAMPLE, chapter.end * BYTES_PER_SAMPLE
    offset = 0
    for chunk in chunks:
        end = offset + len(chunk)
        if end > lo:
            yield chunk[max(0, lo - offset) : hi - offset]
        if end >= hi:
            return
        offset = end


def _tags(
    routine: Routine,
    title: str,
    track: int,
    tracks: int | None,
    cover: Cover,
    marks: tuple[Mark, ...],
    fingerprint: str | None,
) -> TrackTags:
    return TrackTags(
        title=title,
        artist=_artist(routine),
        album=_album(routine),
        track=track,
        tracks=tracks,
        year=datetime.date.today().year,
        genre=GENRE,
        comment=routine.description,
        language=routine.language,
        cover=cover,
        chapters=marks,
        fingerprint=fingerprint,
    )


def _artist(routine: Routine) -> str:
    return routine.author or "voiceguide"


def _album(routine: Routine) -> str:
    return routine.album or routine.title
