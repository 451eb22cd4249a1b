"""Turn a routine into an exact timeline. Pure: no engine, no audio.

Two steps, because where a hold starts depends on how long the speech before
it lasts: ``script()`` lists what happens in order (and so which utterances
must be synthesised), and ``schedule()`` places it on a sample grid once the
length of every utterance is known.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from voiceguide.durations import format_span
from voiceguide.errors import Problem, RoutineError
from voiceguide.model import Routine, Step, step_label
from voiceguide.phrases import phrases
from voiceguide.plan.script import (
    CHIME_LEAD_MS,
    FIXED,
    OVERLAYS,
    EventKind,
    Gap,
    Hold,
    Item,
    Line,
    Overlay,
    Role,
    Sound,
    Utterance,
    Where,
)

SAMPLE_RATE = 22_050


@dataclass(frozen=True)
class Event:
    """Something on the track, in samples from its start."""

    start: int
    duration: int
    kind: EventKind
    where: Where
    role: Role | None = None
    utterance: Utterance | None = None
    sound: Sound | None = None

    @property
    def clip(self) -> Utterance | Sound | None:
        """What is heard: a line of speech or a chime."""
        return self.utterance or self.sound

    @property
    def end(self) -> int:
        return self.start + self.duration

    @property
    def text(self) -> str | None:
        return self.utterance.text if self.utterance else None

    @property
    def overlay(self) -> bool:
        """Heard inside a hold (or at its edge) rather than in sequence."""
        return self.role in OVERLAYS


@dataclass(frozen=True)
class Chapter:
    title: str
    start: int
    end: int
    step: int | None


@dataclass(frozen=True)
class Move:
    """A line inside a hold spoken at another moment than the routine asks, to make room.

    Times are in samples from the start of the hold; ``because`` is the line that was in the
    way (``None``: the end of the hold). The CLI prints these as warnings.
    """

    source: str
    line: int
    step: Step
    field: str  # inside the step: "cues[0]", "remaining", "countdown" or "count"
    text: str
    asked: int
    given: int
    because: str | None
    chime: bool = False  # moved later, past the start chime's attack


@dataclass(frozen=True)
class Timeline:
    """Every event of a track, ordered by start, with its total length (and any lines moved)."""

    title: str
    sample_rate: int
    duration: int
    events: tuple[Event, ...]
    chapters: tuple[Chapter, ...]
    tail: int = 0  # samples added after the last hold or line so that a chime ends in full
    moves: tuple[Move, ...] = ()

    def seconds(self, samples: int) -> float:
        return samples / self.sample_rate


def to_samples(ms: int, sample_rate: int) -> int:
    """Milliseconds to the nearest whole sample."""
    return (ms * sample_rate + 500) // 1000


def schedule(
    routine: Routine,
    items: tuple[Item, ...],
    lengths: Mapping[Utterance | Sound, int],
    sample_rate: int = SAMPLE_RATE,
) -> Timeline:
    """Place ``items`` end to end; ``lengths`` gives each utterance's (and chime's) length in samples.

    Holds start where the speech before them ends and keep their exact length;
    their overlays are fitted inside (raising ``RoutineError`` if they cannot be).
    Chimes start exactly at a hold's start or end and move nothing; if one would run
    past the end of the track, the track is extended (``Timeline.tail``) so it is heard in full.
    """
    events: list[Event] = []
    problems: list[Problem] = []
    moves: dict[tuple[int, str, int, int], Move] = {}  # the same move in every rep is reported once
    cursor = 0
    for item in items:
        if isinstance(item, Line):
            n = lengths[item.utterance]
            events.append(Event(cursor, n, EventKind.SPEECH, item.where, item.role, item.utterance))
        elif isinstance(item, Gap):
            n = to_samples(item.ms, sample_rate)
            events.append(Event(cursor, n, item.kind, item.where))
        else:
            n = to_samples(item.ms, sample_rate)
            events.append(Event(cursor, n, EventKind.HOLD, item.where))
            placed = _fit(item, n, lengths, sample_rate)
            if placed is None:
                problems.append(_overfull(routine, item, lengths, sample_rate))
                placed = []
            for move in _moves(routine.source, item, placed, lengths, sample_rate):
                moves.setdefault((item.step.number, move.field, move.asked, move.given), move)
            events.extend(
                Event(cursor + offset, lengths[o.utterance], EventKind.SPEECH, item.where, o.role, o.utterance)
                for offset, o in placed
            )
            for name in item.step.chimes:
                at, sound = cursor + (n if name == "end" else 0), Sound(name)
                events.append(Event(at, lengths[sound], EventKind.CHIME, item.where, Role(name), sound=sound))
        cursor += n
    if problems:
        raise RoutineError(problems)
    end = max([cursor, *(e.end for e in events if e.sound)])
    events.sort(key=lambda e: (e.start, e.overlay))
    chapters = _chapters(routine, events, end)
    ordered = sorted(moves.values(), key=lambda m: (m.step.number, m.line, m.asked))  # as written in the file
    return Timeline(routine.title, sample_rate, end, tuple(events), chapters, end - cursor, tuple(ordered))


def _fit(
    hold: Hold, length: int, lengths: Mapping[Utterance | Sound, int], sample_rate: int
) -> list[tuple[int, Overlay]] | None:
    """Start offsets for a hold's overlays, or ``None`` if they cannot all fit.

    Countdown (and count) numbers keep their moment; one too long for its second moves
    earlier, so the last one always ends by the end of the hold. The other lines (cues and
    `remaining`) are spoken in the order of their moments, equal moments in the order
    written (cues before `remaining`). Each starts at its moment, moved earlier only as far
    as needed to clear the numbers, the lines after it and the end of the hold. A line that
    would then start before the hold begins (cues at ``0``, say) starts as early as it fits
    instead, and the lines after it wait their turn. After a start chime, "begins" means
    ``CHIME_LEAD_MS`` into the hold, so no line starts with the chime.
    """
    lead = _lead(hold, sample_rate)
    placed: list[tuple[int, Overlay]] = []
    limit = length
    for overlay in reversed([o for o in hold.overlays if o.role in FIXED]):
        start = min(to_samples(overlay.at_ms, sample_rate), limit - lengths[overlay.utterance])
        placed.append((start, overlay))
        limit = start
    if limit < 0:
        return None
    fixed = [(start, start + lengths[o.utterance]) for start, o in placed]
    lines = [o for o in hold.overlays if o.role not in FIXED]  # already in order: moment, then as written
    latest: list[int] = []
    busy = list(fixed)
    for line in reversed(lines):
        size = lengths[line.utterance]
        start = min(to_samples(line.at_ms, sample_rate), length - size)
        for other_start, other_end in sorted(busy, reverse=True):
            if start < other_end and other_start < start + size:
                start = other_start - size
        latest.append(start)
        busy.append((start, start + size))
    latest.reverse()
    if latest and latest[0] < lead:
        previous_end = lead
        for index, line in enumerate(lines):
            size = lengths[line.utterance]
            start = max(latest[index], previous_end)
            while clash := [end for begin, end in fixed if start < end and begin < start + size]:
                start = max(clash)
            if start + size > length:
                return None
            latest[index] = start
            previous_end = start + size
    placed += zip(latest, lines, strict=True)
    return sorted(placed, key=lambda p: p[0])


def _lead(hold: Hold, sample_rate: int) -> int:
    """Where lines may begin in ``hold``: after the start chime's attack, if it has one."""
    return to_samples(CHIME_LEAD_MS, sample_rate) if "start" in hold.step.chimes else 0


def _moves(
    source: str,
    hold: Hold,
    placed: list[tuple[int, Overlay]],
    lengths: Mapping[Utterance | Sound, int],
    sample_rate: int,
) -> Iterator[Move]:
    """The overlays of one hold that start elsewhere than asked, each with what was in its way."""
    for start, overlay in placed:
        asked = to_samples(overlay.at_ms, sample_rate)
        if start == asked:
            continue
        size = lengths[overlay.utterance]
        blockers = [
            other.utterance.text
            for other_start, other in placed
            if other is not overlay and other_start < asked + size and asked < other_start + lengths[other.utterance]
        ]
        yield Move(
            source,
            overlay.line or hold.step.hold_line,
            hold.step,
            overlay.field,
            overlay.utterance.text,
            asked,
            start,
            blockers[0] if blockers else None,
            chime=not blockers and asked < _lead(hold, sample_rate) <= start,
        )


def _overfull(routine: Routine, hold: Hold, lengths: Mapping[Utterance | Sound, int], sample_rate: int) -> Problem:
    speech_ms = sum(lengths[o.utterance] for o in hold.overlays) * 1000 // sample_rate
    return Problem(
        routine.source,
        hold.step.hold_line,
        f"steps[{hold.step.number - 1}].hold",
        f"its cues and countdown ({format_span(speech_ms)} of speech) cannot all fit in the "
        f"{format_span(hold.ms)} hold without overlapping"
        + (f" (in the version {routine.variant!r})" if routine.variant else ""),
        label=step_label(hold.step.number, hold.step.name),
        fix="spread the cues out, shorten them, or lengthen the hold"
        + (" (or the version's `holds`)" if routine.variant else ""),
    )


def _chapters(routine: Routine, events: list[Event], total: int) -> tuple[Chapter, ...]:
    """One chapter per step, plus intro and outro: each runs until the next begins."""
    words = routine.phrases or phrases(routine.language)
    starts: list[tuple[int, str, int | None]] = []
    for event in events:
        if event.overlay:
            continue
        step = event.where.step
        if step is None:
            title = words.intro_chapter if all(s[2] is None for s in starts) else words.outro_chapter
        else:
            title = routine.steps[step - 1].name
        if not starts or (starts[-1][2], starts[-1][1]) != (step, title):
            starts.append((event.start, title, step))
    ends = [start for start, _, _ in starts[1:]] + [total]
    return tuple(Chapter(title, start, end, step) for (start, title, step), end in zip(starts, ends, strict=True))
