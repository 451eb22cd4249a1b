"""Timelines for people and programs: the edge where samples become seconds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from voiceguide.durations import format_clock
from voiceguide.errors import Problem
from voiceguide.model import step_label
from voiceguide.plan.script import EventKind
from voiceguide.plan.timeline import Event, Timeline


def _seconds(timeline: Timeline, samples: int) -> float:
    return round(timeline.seconds(samples), 6)


def voices_text(voices: Sequence[tuple[str, str]]) -> str:
    """Which engines and voices spoke: ``piper en_US-joe-medium``."""
    return ", ".join(f"{engine} {voice}" for engine, voice in voices)


def plan_dict(timeline: Timeline, voices: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The ``plan --json`` document; times in seconds; ``voices`` as (engine, voice id)."""
    return {
        "title": timeline.title,
        "voices": [{"engine": engine, "voice": voice} for engine, voice in voices],
        "duration": _seconds(timeline, timeline.duration),
        "sample_rate": timeline.sample_rate,
        "tail": _seconds(timeline, timeline.tail),
        "events": [
            {
                "start": _seconds(timeline, e.start),
                "duration": _seconds(timeline, e.duration),
                "kind": e.kind.value,
                "role": e.role.value if e.role else None,
                "text": e.text,
                "step": e.where.step,
                "side": e.where.side,
                "rep": e.where.rep,
            }
            for e in timeline.events
        ],
        "chapters": [
            {"title": c.title, "start": _seconds(timeline, c.start), "end": _seconds(timeline, c.end), "step": c.step}
            for c in timeline.chapters
        ],
    }


def plan_lines(timeline: Timeline, voices: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The plan as a readable table: start, kind, role or length, text."""
    lines = [timeline.title, *([f"Voice: {voices_text(voices)}"] if voices else []), ""]
    chapters = {c.start: c for c in timeline.chapters}
    for event in timeline.events:
        chapter = chapters.pop(event.start, None)
        if chapter is not None:
            lines.append(f"  -- {chapter.title}")
        lines.append(_event_line(timeline, event))
    if timeline.tail:
        lines.append(
            f"{format_clock(timeline.seconds(timeline.duration - timeline.tail)):>11}  "
            f"{'tail':<11}{timeline.seconds(timeline.tail):.3f} s  (the track runs on so the last chime ends)"
        )
    lines += ["", f"Total {format_clock(timeline.seconds(timeline.duration))}"]
    return lines


def _event_line(timeline: Timeline, event: Event) -> str:
    start = format_clock(timeline.seconds(event.start))
    kind = f"    {event.kind.value}" if event.overlay else event.kind.value
    if event.kind is EventKind.CHIME:
        return f"{start:>11}  {kind:<11}{event.role}"
    if event.role is not None:
        return f"{start:>11}  {kind:<11}{event.role.value:<11}{event.text}"
    rep = f"rep {event.where.rep}" if event.kind is EventKind.HOLD and event.where.rep else ""
    context = ", ".join(part for part in (event.where.side, rep) if part)
    note = f"  ({context})" if context else ""
    if event.kind is EventKind.READY:
        note = "  (the page pauses here; play goes on after it)"
    return f"{start:>11}  {kind:<11}{timeline.seconds(event.duration):.3f} s{note}"


AUDIBLE_MOVE = 0.05  # seconds: a line moved less than this is heard where it was asked for


def move_warnings(timeline: Timeline) -> list[str]:
    """One warning per line inside a hold that is spoken at another moment than asked, and far
    enough from it for a listener to hear (``AUDIBLE_MOVE``)."""
    warnings = []
    for move in timeline.moves:
        asked, given = timeline.seconds(move.asked), timeline.seconds(move.given)
        size = abs(given - asked)
        if size < AUDIBLE_MOVE:
            continue
        digits = 1 if size >= 0.1 else 2  # "0.06 s", never a move of "0.1 s" that was 0.06 s
        shift = f"{size:.{digits}f} s {'earlier' if given < asked else 'later'}"
        if move.because:
            reason = f'to make room for "{move.because}"'
        else:
            reason = "so that the start chime is heard first" if move.chime else "so that it ends with the hold"
        problem = Problem(
            move.source,
            move.line,
            f"steps[{move.step.number - 1}].{move.field}",
            f'"{move.text}" is spoken {given:.{digits}f} s into the hold, not at {asked:.{digits}f} s as asked '
            f"({shift}, {reason})",
            label=step_label(move.step.number, move.step.name),
        )
        warnings.append(f"Warning: {problem}")
    return warnings
