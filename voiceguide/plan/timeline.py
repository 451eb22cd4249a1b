"""Turn a routine into an exact timeline. Pure: no engine, no audio.

Two steps, because where a hold starts depends on how long the speech before
it lasts: ``script()`` lists what happens in order (and so which utterances
must be synthesised), and ``schedule()`` places it on a sample grid once the
length of every utterance is known.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from voiceguide.durations import format_span
from voiceguide.errors import Problem, RoutineError
from voiceguide.model import Routine, Step, Voice, fill, step_label
from voiceguide.phrases import phrases

SAMPLE_RATE = 22_050


class EventKind(StrEnum):
    SPEECH = "speech"
    HOLD = "hold"
    REST = "rest"
    PAUSE = "pause"
    CHIME = "chime"
    GAP = "gap"  # breathing room between two spoken lines


GAP_MS = 400  # between two spoken lines at GAP_RATE; espeak-ng pauses 0.38-0.41 s between sentences at 150 wpm
GAP_RATE = 150  # words per minute; a slower voice gets a longer gap, in proportion
CHIME_LEAD_MS = 500  # a line after a chime waits this long: the bell's bright attack has died away


class Role(StrEnum):
    INTRO = "intro"
    SAY = "say"
    AGAIN = "again"
    SWITCH = "switch"
    RELEASE = "release"
    COUNTDOWN = "countdown"
    CUE = "cue"
    OUTRO = "outro"
    REMAINING = "remaining"  # "30 seconds left", inside a hold
    COUNT = "count"  # a number counted through a hold
    REP = "rep"  # "Rep 2 of 5", before a rep
    START = "start"  # the chime at a hold's start
    END = "end"  # the chime at a hold's end


OVERLAYS = (Role.COUNTDOWN, Role.CUE, Role.REMAINING, Role.COUNT, Role.START, Role.END)
FIXED = (Role.COUNTDOWN, Role.COUNT)  # overlays that keep their second; cues and `remaining` make way


@dataclass(frozen=True)
class Utterance:
    """A line to synthesise; equal utterances are synthesised once."""

    text: str
    voice: Voice


@dataclass(frozen=True)
class Sound:
    """A chime (``start`` or ``end``); its audio is made or loaded in the audio stage."""

    name: str


@dataclass(frozen=True)
class Where:
    """Which step, side and rep an item belongs to (all ``None`` for intro/outro)."""

    step: int | None = None
    side: str | None = None
    rep: int | None = None


@dataclass(frozen=True)
class Line:
    utterance: Utterance
    role: Role
    where: Where


@dataclass(frozen=True)
class Gap:
    kind: EventKind  # REST, PAUSE or GAP
    ms: int
    where: Where


@dataclass(frozen=True)
class Overlay:
    """Speech inside a hold; ``at_ms`` is where it would like to start.

    ``field`` and ``line`` say where the routine asks for it (``cues[1]`` on line 14; line 0:
    the step's ``hold``, for the numbers and reminders), for the warning when it has to move.
    """

    utterance: Utterance
    role: Role
    at_ms: int
    field: str = ""
    line: int = 0


@dataclass(frozen=True)
class Hold:
    ms: int
    overlays: tuple[Overlay, ...]
    where: Where
    step: Step


Item = Line | Gap | Hold


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


def script(routine: Routine) -> tuple[Item, ...]:
    """Everything the track does, in order, before any timing is known."""
    return tuple(_breathe(routine, list(_script(routine))))


def gap_ms(routine: Routine, voice: Voice) -> int:
    """The silence between two spoken lines: ``defaults.gap``, else ``GAP_MS`` scaled to the voice's rate."""
    return routine.gap_ms if routine.gap_ms is not None else round(GAP_MS * GAP_RATE / voice.rate)


def _breathe(routine: Routine, items: list[Item]) -> Iterator[Item]:
    """``items`` with a gap after each spoken line that a line or a hold follows directly, and
    after each hold with an end chime that a line follows (at least ``CHIME_LEAD_MS`` there)."""
    for item, after in zip(items, [*items[1:], None], strict=True):
        yield item
        if isinstance(item, Line) and isinstance(after, Line | Hold):
            ms = gap_ms(routine, item.utterance.voice)
        elif isinstance(item, Hold) and isinstance(after, Line) and "end" in item.step.chimes:
            ms = max(gap_ms(routine, after.utterance.voice), CHIME_LEAD_MS)
        else:
            continue
        if ms:
            yield Gap(EventKind.GAP, ms, item.where)


def utterances(items: tuple[Item, ...]) -> frozenset[Utterance]:
    """Each distinct line the script speaks."""
    found: set[Utterance] = set()
    for item in items:
        if isinstance(item, Line):
            found.add(item.utterance)
        elif isinstance(item, Hold):
            found.update(o.utterance for o in item.overlays)
    return frozenset(found)


def sounds(items: tuple[Item, ...]) -> frozenset[Sound]:
    """Each distinct chime the script plays."""
    return frozenset(Sound(name) for item in items if isinstance(item, Hold) for name in item.step.chimes)


def _script(routine: Routine) -> Iterator[Item]:
    words = routine.phrases or phrases(routine.language)

    def say(text: str, role: Role, where: Where, voice: Voice = routine.voice) -> Line:
        return Line(Utterance(text, voice), role, where)

    if routine.intro:
        yield say(routine.intro, Role.INTRO, Where())
        if routine.pause_ms:
            yield Gap(EventKind.PAUSE, routine.pause_ms, Where())
    for step in routine.steps:
        voice = step.voice or routine.voice
        sides: tuple[str | None, ...] = step.sides or (None,)
        for side_index, side in enumerate(sides):
            if side_index:
                yield say(fill(step.switch, side, 1, step.reps), Role.SWITCH, Where(step.number, side, 1), voice)
            for rep in range(1, step.reps + 1):
                where = Where(step.number, side, rep)
                if step.count_reps:
                    yield say(words.rep_of(rep, step.reps), Role.REP, where, voice)
                text, role = (step.say, Role.SAY) if rep == 1 else (step.again, Role.AGAIN)
                yield say(fill(text, side, rep, step.reps), role, where, voice)
                if step.hold_ms:
                    overlays = [
                        Overlay(
                            Utterance(fill(c.text, side, rep, step.reps), voice),
                            Role.CUE,
                            c.offset_ms,
                            f"cues[{i}]",
                            c.line,
                        )
                        for i, c in enumerate(step.cues)
                    ]
                    overlays += [
                        Overlay(
                            Utterance(words.number(n), voice),
                            Role.COUNTDOWN,
                            step.hold_ms - n * 1000,
                            "countdown",
                        )
                        for n in range(step.countdown, 0, -1)
                    ]
                    overlays += [
                        Overlay(
                            Utterance(words.time_left(ms // 1000), voice),
                            Role.REMAINING,
                            step.hold_ms - ms,
                            "remaining",
                        )
                        for ms in step.remaining
                    ]
                    lead = CHIME_LEAD_MS if "start" in step.chimes else 0
                    overlays += [
                        Overlay(
                            Utterance(words.number(n), voice),
                            Role.COUNT,
                            lead + (n - 1) * (step.hold_ms - lead) // step.count,
                            "count",
                        )
                        for n in range(1, step.count + 1)
                    ]
                    overlays.sort(key=lambda o: o.at_ms)
                    yield Hold(step.hold_ms, tuple(overlays), where, step)
                if step.release:
                    yield say(fill(step.release, side, rep, step.reps), Role.RELEASE, where, voice)
                last = side_index == len(sides) - 1 and rep == step.reps
                if not last and step.rest_ms:
                    yield Gap(EventKind.REST, step.rest_ms, where)
        if step.pause_ms:
            yield Gap(EventKind.PAUSE, step.pause_ms, Where(step.number))
    if routine.outro:
        yield say(routine.outro, Role.OUTRO, Where())


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
