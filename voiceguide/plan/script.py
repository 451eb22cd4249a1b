"""The script of a routine: every line, hold and silence in order, before any speech is measured. Pure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from voiceguide.model import Routine, Step, Voice, fill
from voiceguide.phrases import phrases


class EventKind(StrEnum):
    SPEECH = "speech"
    HOLD = "hold"
    REST = "rest"
    PAUSE = "pause"
    CHIME = "chime"
    READY = "ready"  # the silence of `wait: true`: the published page pauses where it starts
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
    READY = "ready"  # "Press play when you're ready.", before a `wait: true` step's silence


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
    kind: EventKind  # REST, PAUSE, READY or GAP
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


FASTEST_WPM = 450  # the highest `rate`: no engine speaks a word in less than 60/450 s


def least_ms(items: tuple[Item, ...]) -> int:
    """The least the track can last, known before any speech is synthesised: every hold, rest and
    pause, and each line spoken between them at the fastest rate (lines inside holds take no extra time)."""
    total = 0
    for item in items:
        if isinstance(item, Hold | Gap):
            total += item.ms
        else:
            total += len(item.utterance.text.split()) * 60_000 // FASTEST_WPM
    return total


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
                if step.wait and side_index == 0 and rep == 1:
                    yield say(words.ready, Role.READY, where, voice)
                    yield Gap(EventKind.READY, routine.ready_ms, where)
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
