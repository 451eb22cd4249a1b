"""Text files beside a track, all from the same timeline as its audio.

``.lrc`` synced lyrics (music players show the current instruction),
``.vtt`` WebVTT captions, and ``.chapters.json`` (Podcasting 2.0 JSON chapters).
A ``Window`` picks the part of the timeline one file holds (the whole track, or
one chapter when tracks are split); times are relative to its start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError
from .files import atomic_path
from .timeline import Event, Kind, Timeline

JSON_CHAPTERS_VERSION = "1.2.0"


@dataclass(frozen=True)
class Window:
    """Samples ``start`` (inclusive) to ``end`` (exclusive) of a timeline."""

    start: int
    end: int


@dataclass(frozen=True)
class Header:
    """What the LRC header names."""

    title: str
    artist: str
    album: str


def to_ms(samples: int, sample_rate: int) -> int:
    """Samples to the nearest whole millisecond."""
    return (samples * 1000 + sample_rate // 2) // sample_rate


def spoken(timeline: Timeline, window: Window) -> Iterator[Event]:
    """The speech events that start inside ``window``, in order."""
    for event in timeline.events:
        if event.kind is Kind.SPEECH and window.start <= event.start < window.end:
            yield event


def lrc(timeline: Timeline, window: Window, header: Header) -> str:
    """Synced lyrics: a ``[mm:ss.xx]`` line per spoken line, with ti/ar/al/length tags."""
    rate = timeline.sample_rate
    length = to_ms(window.end - window.start, rate)
    lines = [
        f"[ti:{header.title}]",
        f"[ar:{header.artist}]",
        f"[al:{header.album}]",
        f"[length:{length // 60_000:02d}:{length // 1000 % 60:02d}]",
    ]
    for event in spoken(timeline, window):
        ms = to_ms(event.start - window.start, rate)
        lines.append(f"[{ms // 60_000:02d}:{ms // 1000 % 60:02d}.{ms % 1000 // 10:02d}]{event.text}")
    return "\n".join(lines) + "\n"


def vtt(timeline: Timeline, window: Window) -> str:
    """WebVTT captions: each spoken line shown while it is spoken."""
    rate = timeline.sample_rate
    blocks = ["WEBVTT"]
    for number, event in enumerate(spoken(timeline, window), start=1):
        start, end = (to_ms(t - window.start, rate) for t in (event.start, event.end))
        text = (event.text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{number}\n{_clock(start)} --> {_clock(end)}\n{text}")
    return "\n\n".join(blocks) + "\n"


_CUE_TIMES = re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d{3}) --> (\d+):(\d\d):(\d\d)\.(\d{3})$", re.MULTILINE)


def caption_times(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each cue of WebVTT captions, in milliseconds: where lines are spoken."""
    found = []
    for match in _CUE_TIMES.finditer(text):
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(part) for part in match.groups())
        found.append(((h1 * 60 + m1) * 60_000 + s1 * 1000 + ms1, (h2 * 60 + m2) * 60_000 + s2 * 1000 + ms2))
    return found


def chapters_json(timeline: Timeline, window: Window) -> str:
    """Podcasting 2.0 JSON chapters (version 1.2.0), times in seconds."""
    rate = timeline.sample_rate
    chapters = [
        {
            "startTime": to_ms(max(c.start, window.start) - window.start, rate) / 1000,
            "endTime": to_ms(min(c.end, window.end) - window.start, rate) / 1000,
            "title": c.title,
        }
        for c in timeline.chapters
        if c.start < window.end and c.end > window.start
    ]
    return json.dumps({"version": JSON_CHAPTERS_VERSION, "chapters": chapters}, indent=2, ensure_ascii=False) + "\n"


def write_sidecars(timeline: Timeline, window: Window, header: Header, base: Path) -> tuple[Path, ...]:
    """Write ``<base>.lrc``, ``<base>.vtt`` and ``<base>.chapters.json``; return their paths."""
    texts = {
        ".lrc": lrc(timeline, window, header),
        ".vtt": vtt(timeline, window),
        ".chapters.json": chapters_json(timeline, window),
    }
    written = []
    for suffix, text in texts.items():
        written.append(write_text(base.with_name(base.name + suffix), text))
    return tuple(written)


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text so that a reader never sees half of it."""
    try:
        with atomic_path(path) as partial:
            partial.write_text(text, encoding="utf-8", newline="\n")
    except OSError as err:
        raise OutputError(f"could not write {path.name}: {err.strerror}", "check the output folder") from None
    return path


def _clock(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
