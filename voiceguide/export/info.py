"""What a phone will see in a track: its tags, chapters, true duration and loudness.

Read from the file itself (mutagen for tags, one streamed decode for the duration, the
whole track's loudness and the voice's, measured in-process), never from what voiceguide
meant to write. Where the voice speaks comes from the captions beside the track (``.vtt``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from mutagen.id3 import ID3, ID3NoHeaderError

from voiceguide.audio.ffmpeg import decode_stream, rate_of
from voiceguide.audio.loudness import FULL_SCALE, Loudness, Meter
from voiceguide.durations import format_clock
from voiceguide.errors import EncoderError, Fault
from voiceguide.export.sidecars import caption_times
from voiceguide.export.tags import Mark, listed_chapters

FIELDS = (
    ("TIT2", "Title"),
    ("TPE1", "Artist"),
    ("TALB", "Album"),
    ("TRCK", "Track"),
    ("TDRC", "Year"),
    ("TCON", "Genre"),
    ("TLAN", "Language"),
    ("COMM", "Comment"),
)


@dataclass(frozen=True)
class TrackInfo:
    """A track as read back from disk."""

    name: str
    tags: tuple[tuple[str, str], ...]  # (label, value) for the fields present
    cover: str | None  # e.g. "image/png, 42.7 kB"
    chapters: tuple[Mark, ...]  # in table-of-contents order when there is one
    has_toc: bool
    samples: int
    sample_rate: int
    loudness: Loudness
    voice: float | None  # LUFS over the spoken lines; None: the captions that say where they are are missing
    lines: int  # spoken lines the captions list
    captions: str  # the captions' file name


def inspect(path: Path) -> TrackInfo:
    """Read ``path``'s tags and chapters, decode it, and measure its loudness."""
    if path.suffix.lower() in (".yaml", ".yml"):
        raise Fault(
            f"{path} is a routine; `info` reads a track that `voiceguide render` wrote",
            f"render it first (voiceguide render {path}), then run voiceguide info output/{path.stem}.mp3",
        )
    try:
        rate = rate_of(path)
    except EncoderError:
        raise Fault(
            f"{path} is not an audio file; `info` expected an MP3 written by `voiceguide render`",
            "give the path of a rendered track (they are in output/ unless you chose another folder with -o)",
        ) from None
    captions = path.with_suffix(".vtt")
    try:
        times = caption_times(captions.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        times = []
    spans = [(ms * rate // 1000, end * rate // 1000) for ms, end in times]
    loudness, voice, samples = _measure(decode_stream(path, rate), rate, spans)
    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        tags = ID3()
    found = []
    for frame, label in FIELDS:
        frames = tags.getall(frame)
        if frames:
            found.append((label, str(frames[0])))
    pictures = tags.getall("APIC")
    cover = f"{pictures[0].mime}, {len(pictures[0].data) / 1000:.1f} kB" if pictures else None
    chapters = {c.element_id: c for c in tags.getall("CHAP")}
    listed = listed_chapters(tags)
    order = listed if listed is not None else sorted(chapters, key=lambda k: chapters[k].start_time)
    marks = tuple(
        Mark(str(chapters[k].sub_frames.get("TIT2", "")), chapters[k].start_time, chapters[k].end_time)
        for k in order
        if k in chapters
    )
    return TrackInfo(
        path.name,
        tuple(found),
        cover,
        marks,
        listed is not None,
        samples,
        rate,
        loudness,
        voice if times else None,
        len(times),
        captions.name,
    )


def _measure(
    chunks: Iterable[npt.NDArray[np.int16]], rate: int, spans: list[tuple[int, int]]
) -> tuple[Loudness, float, int]:
    """The whole track's loudness, the voice's over ``spans`` (end to end), and the samples, in one pass."""
    track, voice = Meter(rate), Meter(rate, true_peak=False)
    count = 0
    for chunk in chunks:
        wave = chunk.astype(np.float64) / FULL_SCALE
        track.add(wave)
        for lo, hi in spans:
            if lo < count + len(wave) and hi > count:
                voice.add(wave[max(lo, count) - count : min(hi, count + len(wave)) - count])
        count += len(wave)
    return track.result(), voice.result().integrated, count


def info_lines(info: TrackInfo) -> list[str]:
    """The report ``voiceguide info`` prints; times in seconds."""
    lines = [info.name]
    lines += [f"  {label:<10}{value}" for label, value in info.tags]
    lines.append(f"  {'Cover':<10}{info.cover or 'none'}")
    toc = "with table of contents" if info.has_toc else "NO table of contents: most podcast apps will not show them"
    lines.append(f"Chapters: {len(info.chapters)} ({toc})" if info.chapters else "Chapters: none")
    lines += [f"  {format_clock(m.start_ms / 1000):>11}  {m.title}" for m in info.chapters]
    seconds = info.samples / info.sample_rate
    lines.append(f"Duration: {format_clock(seconds)} (decoded: {info.samples:,} samples at {info.sample_rate} Hz)")
    track = info.loudness
    if info.voice is None:
        lines.append(f"Voice: not measured: no captions ({info.captions}) beside the track tell where it speaks")
    else:
        lines.append(f"Voice: {info.voice:.1f} LUFS over {info.lines} spoken line{'s' * (info.lines != 1)}")
    lines.append(f"Track: {track.integrated:.1f} LUFS integrated, true peak {track.true_peak:.1f} dBTP")
    if info.voice is not None:
        ratio = round(track.integrated, 1) - round(info.voice, 1)  # as shown above: the three figures add up
        lines.append(f"Loudness-to-dialogue ratio: {ratio:+.1f} LU (the track against its voice)")
    return lines
