"""Text files beside a track, all from the same timeline as its audio.

``.lrc`` synced lyrics (music players show the current instruction),
``.vtt`` WebVTT and ``.srt`` SubRip captions (the same cues: podcast apps differ in
which they read), and ``.chapters.json`` (Podcasting 2.0 JSON chapters).
A ``Window`` picks the part of the timeline one file holds (the whole track, or
one chapter when tracks are split); times are relative to its start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceguide.files import write_text
from voiceguide.plan.script import EventKind, Role
from voiceguide.plan.timeline import Event, Timeline

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
        if event.kind is EventKind.SPEECH and window.start <= event.start < window.end:
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


def srt(timeline: Timeline, window: Window) -> str:
    """SubRip captions: the cues of ``vtt``, numbered, with ``,`` before the milliseconds."""
    rate = timeline.sample_rate
    blocks = []
    for number, event in enumerate(spoken(timeline, window), start=1):
        start, end = (to_ms(t - window.start, rate) for t in (event.start, event.end))
        blocks.append(f"{number}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{event.text}\n")
    return "\n".join(blocks)


_CUE_TIMES = re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d{3}) --> (\d+):(\d\d):(\d\d)\.(\d{3})$", re.MULTILINE)


def caption_times(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each cue of WebVTT captions, in milliseconds: where lines are spoken."""
    found = []
    for match in _CUE_TIMES.finditer(text):
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(part) for part in match.groups())
        found.append(((h1 * 60 + m1) * 60_000 + s1 * 1000 + ms1, (h2 * 60 + m2) * 60_000 + s2 * 1000 + ms2))
    return found


def chapters_json(timeline: Timeline, window: Window, images: Mapping[int, str] | None = None) -> str:
    """Podcasting 2.0 JSON chapters (version 1.2.0), times in seconds; ``images`` gives a step's
    picture (by step number) as the chapter's ``img`` URL.

    The silence of a ``wait: true`` step is a chapter outside the table of contents
    (``"toc": false``) named after the line before it, followed by one that goes back to
    the step's title where the silence ends: a player can find where to wait for the listener.
    """
    rate = timeline.sample_rate
    images = images or {}

    def entry(start: int, end: int, title: str, **more: Any) -> dict[str, Any]:
        bounds = (
            to_ms(max(start, window.start) - window.start, rate),
            to_ms(min(end, window.end) - window.start, rate),
        )
        return {"startTime": bounds[0] / 1000, "endTime": bounds[1] / 1000, "title": title, **more}

    def picture(step: int | None) -> dict[str, str]:
        return {"img": images[step]} if step is not None and step in images else {}

    chapters = [
        entry(c.start, c.end, c.title, **picture(c.step))
        for c in timeline.chapters
        if c.start < window.end and c.end > window.start
    ]
    line = ""
    for event in timeline.events:
        if event.role is Role.READY:
            line = event.text or ""
        if event.kind is EventKind.READY and window.start <= event.start < window.end:
            chapter = next(c for c in timeline.chapters if c.start <= event.start < c.end)
            chapters.append(entry(event.start, event.end, line, toc=False))
            if event.end < min(chapter.end, window.end):
                chapters.append(entry(event.end, chapter.end, chapter.title, toc=False, **picture(chapter.step)))
    chapters.sort(key=lambda c: float(c["startTime"]))
    return json.dumps({"version": JSON_CHAPTERS_VERSION, "chapters": chapters}, indent=2, ensure_ascii=False) + "\n"


def write_sidecars(
    timeline: Timeline, window: Window, header: Header, base: Path, images: Mapping[int, str] | None = None
) -> tuple[Path, ...]:
    """Write ``<base>.lrc``, ``<base>.vtt``, ``<base>.srt`` and ``<base>.chapters.json``; return their paths."""
    texts = {
        ".lrc": lrc(timeline, window, header),
        ".vtt": vtt(timeline, window),
        ".srt": srt(timeline, window),
        ".chapters.json": chapters_json(timeline, window, images),
    }
    written = []
    for suffix, text in texts.items():
        written.append(write_text(base.with_name(base.name + suffix), text))
    return tuple(written)


def _clock(ms: int, point: str = ".") -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{point}{ms % 1000:03d}"
