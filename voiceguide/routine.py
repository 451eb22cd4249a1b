"""Load and validate a routine file into a ``Routine`` (the schema is declared here, once)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .durations import format_span
from .errors import Problem, RoutineError
from .model import CHIMES, ENGINE_CHOICES, NOISES, Background, Cue, Routine, Sounds, Step, Voice
from .phrases import Phrases, languages, phrases
from .schema import (
    Choice,
    Context,
    Duration,
    Field,
    Flag,
    Integer,
    Invalid,
    Kind,
    ListOf,
    Nested,
    Number,
    Offset,
    Schema,
    Section,
    Text,
    check,
    closest,
)
from .yamlsource import read_nodes

MAX_TOTAL_MS = 4 * 3_600_000
MAX_COUNTDOWN = 20
MAX_COUNT = 60  # numbers the phrase files spell out
PLACEHOLDERS = ("side", "rep", "reps")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME_WORDS = 5
COVER_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
T = TypeVar("T")


class Sides(Kind["tuple[str, ...] | str"]):
    """``both`` (the language's two sides, resolved later) or a list of labels."""

    expected = "`both` or a list of side labels like [right, left]"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> tuple[str, ...] | str:
        if isinstance(node, yaml.SequenceNode):
            labels = tuple(Text(60).convert(item, path, ctx) for item in node.value)
            if not labels:
                raise Invalid("expected at least one side label, got an empty list")
            if len(set(labels)) != len(labels):
                raise Invalid(f"lists a side twice: {list(labels)}")
            return labels
        value = self.scalar(node).strip()
        return value if value == "both" else (value,)


class WholeSeconds(Duration):
    """A duration of whole seconds, at least two (spoken as "N seconds")."""

    expected = "whole seconds like 30s or 1m"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> int:
        ms = super().convert(node, path, ctx)
        if ms % 1000 or ms < 2000:
            raise self.fail(node)
        return ms


class Decibels(Number):
    """A level in dB: ``-20dB``, ``-20 dB`` or ``-20``, within bounds."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__(low, high)
        self.expected = f"a level in dB from {low:g}dB to {high:g}dB, like -20dB"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> float:
        return self.within(self.scalar(node).strip().removesuffix("dB").removesuffix("db").strip(), node)


class BackgroundSchema(Schema):
    file = Field(Text(1000), help="an audio file looped under the whole track")
    noise = Field(Choice(NOISES), help="generated noise instead of a file")
    volume = Field(Decibels(-60, 0), help="the background's level (RMS, dB of full scale)")
    duck = Field(Decibels(-60, 0), help="how far it dips under speech")


class PhrasesSchema(Schema):
    sides = Field(ListOf(Text(60), min_items=2, max_items=2), help="the two sides of `sides: both`")
    remaining = Field(Text(200), help='"{n} seconds left."')
    rep = Field(Text(200), help='"Rep {rep} of {reps}."')
    numbers = Field(ListOf(Text(60), min_items=1, max_items=MAX_COUNT), help="one, two, three, ...")


class VoiceSchema(Schema):
    engine = Field(
        Choice(ENGINE_CHOICES),
        help="which speech engine speaks (`auto`: piper if it has a voice for the language, else pyttsx3)",
    )
    name = Field(Text(200), help="engine voice id, or a unique part of its name")
    rate = Field(Integer(60, 450), help="words per minute")
    volume = Field(Number(0.1, 1.0), help="0.1 to 1.0")


class DefaultsSchema(Schema):
    pause = Field(Duration(), help="silence after each step")
    rest = Field(Duration(), help="silence between reps")
    countdown = Field(Integer(0, MAX_COUNTDOWN), help="numbers spoken at the end of every hold")
    switch = Field(Text(), help="prompt before every later side")
    again = Field(Text(), help="spoken instead of `say` on later reps")
    chime = Field(Choice(CHIMES), help="chimes at the start and/or end of every hold")
    remaining = Field(ListOf(WholeSeconds()), help='"30 seconds left" at these points of every hold')
    count_reps = Field(Flag(), help='"Rep 2 of 5" before every rep')


class SoundsSchema(Schema):
    start = Field(Text(1000), help="audio file played at the start of a hold")
    end = Field(Text(1000), help="audio file played at the end of a hold")


class CueSchema(Schema):
    at = Field(Offset(), required=True, help="`half`, 10s from the start, or -10s from the end")
    say = Field(Text(), required=True, help="what to say at that moment")


class StepSchema(Schema):
    name = Field(Text(200), help="chapter title")
    say = Field(Text(), required=True, help="the instruction to speak")
    sides = Field(Sides(), help="`both` or a list of side labels")
    hold = Field(Duration(minimum_ms=1), help="timed silence after `say`")
    reps = Field(Integer(1, 100), help="how many times")
    rest = Field(Duration(), help="silence between reps")
    again = Field(Text(), help="spoken instead of `say` on later reps")
    release = Field(Text(), help="spoken after every hold")
    switch = Field(Text(), help="prompt before every later side")
    countdown = Field(Integer(0, MAX_COUNTDOWN), help="numbers spoken at the end of the hold")
    cues = Field(ListOf(Nested(CueSchema)), help="lines spoken inside the hold")
    pause = Field(Duration(), help="silence after the step")
    chime = Field(Choice(CHIMES), help="chimes at the start and/or end of the hold")
    remaining = Field(ListOf(WholeSeconds()), help='"30 seconds left" at these points of the hold')
    count_reps = Field(Flag(), help='"Rep 2 of 5" before every rep')
    count = Field(Integer(1, MAX_COUNT), help="numbers counted aloud through the hold")
    voice = Field(Nested(VoiceSchema), help="this step's own voice")


class RoutineSchema(Schema):
    title = Field(Text(200), required=True, help="the track's title")
    description = Field(Text(5000))
    author = Field(Text(200))
    album = Field(Text(200))
    cover = Field(Text(500), help="cover image (.jpg or .png), relative to the routine file")
    language = Field(Choice(languages()))
    voice = Field(Nested(VoiceSchema))
    defaults = Field(Nested(DefaultsSchema))
    intro = Field(Text())
    outro = Field(Text())
    steps = Field(ListOf(Nested(StepSchema), min_items=1, max_items=500), required=True, help="at least one step")
    sounds = Field(Nested(SoundsSchema), help="your own audio files for the chimes")
    background = Field(Nested(BackgroundSchema), help="ambience under the whole track")
    phrases = Field(Nested(PhrasesSchema), help="your own words for the built-in phrases")


def load_routine(path: str | Path) -> Routine:
    """Read and validate one routine file; raise ``RoutineError`` listing every problem."""
    source = str(path)
    root = read_nodes(Path(path), source)
    ctx = Context(source)
    top = check(root, RoutineSchema, "", ctx)
    routine = _build(top, ctx)
    if ctx.problems or routine is None:
        raise RoutineError(sorted(ctx.problems, key=lambda p: (p.line or 0, p.field)))
    return routine


def _build(top: Section, ctx: Context) -> Routine | None:
    language = top.get(RoutineSchema.language) or "en"
    words = _phrases(phrases(language), top.get(RoutineSchema.phrases), ctx)
    voice_section = top.get(RoutineSchema.voice)
    defaults = top.get(RoutineSchema.defaults)
    default = _Defaults(defaults, words.switch, words.again)
    for f in (RoutineSchema.intro, RoutineSchema.outro):
        if (text := top.get(f)) is not None:
            _check_placeholders(text, (), top.line(f), top.where(f), ctx, in_step=False)
    if defaults is not None:
        for f in (DefaultsSchema.switch, DefaultsSchema.again):
            if (text := defaults.get(f)) is not None:
                _check_placeholders(text, PLACEHOLDERS, defaults.line(f), defaults.where(f), ctx)
    step_sections = top.get(RoutineSchema.steps) or []
    voice = _voice(voice_section, Voice())
    steps = tuple(
        _build_step(number, section, default, words.both, voice, ctx)
        for number, section in enumerate(step_sections, start=1)
    )
    title = top.get(RoutineSchema.title)
    if title is None or not steps:
        return None
    total_ms = sum(_silence_ms(step) for step in steps)
    if total_ms > MAX_TOTAL_MS:
        ctx.report(
            top.line(RoutineSchema.steps),
            "steps",
            f"holds, rests and pauses alone last {format_span(total_ms)}; "
            f"the limit for one track is {format_span(MAX_TOTAL_MS)} (split it into several routines)",
        )
    return Routine(
        source=ctx.source,
        title=title,
        description=top.get(RoutineSchema.description),
        author=top.get(RoutineSchema.author),
        album=top.get(RoutineSchema.album),
        language=language,
        voice=voice,
        intro=top.get(RoutineSchema.intro),
        outro=top.get(RoutineSchema.outro),
        pause_ms=default.pause,
        steps=steps,
        cover=_cover(top, ctx),
        sounds=_sounds(top.get(RoutineSchema.sounds), ctx),
        background=_background(top.get(RoutineSchema.background), ctx),
        phrases=words if top.given(RoutineSchema.phrases) else None,
    )


def _cover(top: Section, ctx: Context) -> Path | None:
    """The cover image, resolved beside the routine file; it must exist now, not at render time."""
    name = top.get(RoutineSchema.cover)
    if name is None:
        return None
    path = Path(ctx.source).parent / name
    where, line = top.where(RoutineSchema.cover), top.line(RoutineSchema.cover)
    if path.suffix.lower() not in COVER_TYPES:
        ctx.report(line, where, f"expected a .jpg or .png image, got {name!r}")
    elif not path.is_file():
        ctx.report(line, where, f"no image file at {path}; give a path relative to the routine file")
    else:
        return path
    return None


def _phrases(built_in: Phrases, section: Section | None, ctx: Context) -> Phrases:
    """The language's phrases with the routine's own words where it gives them."""
    if section is None:
        return built_in
    for f, needed in ((PhrasesSchema.remaining, ("n",)), (PhrasesSchema.rep, ("rep", "reps"))):
        if (text := section.get(f)) is None:
            continue
        _check_placeholders(text, needed, section.line(f), section.where(f), ctx, in_step=False)
        if missing := [name for name in needed if "{" + name + "}" not in text]:
            listed = ", ".join("{" + name + "}" for name in missing)
            ctx.report(section.line(f), section.where(f), f"must say where the numbers go: add {listed}")
    numbers = section.get(PhrasesSchema.numbers) or []
    sides = section.get(PhrasesSchema.sides)
    return dataclasses.replace(
        built_in,
        both=tuple(sides) if sides else built_in.both,
        remaining=_first(section.get(PhrasesSchema.remaining), built_in.remaining),
        rep=_first(section.get(PhrasesSchema.rep), built_in.rep),
        numbers=(*numbers, *built_in.numbers[len(numbers) :]),
    )


def _background(section: Section | None, ctx: Context) -> Background | None:
    """The ambience: exactly one of `file` (relative to the routine's folder) and `noise`."""
    if section is None:
        return None
    if section.given(BackgroundSchema.file) == section.given(BackgroundSchema.noise):
        ctx.report(section.line(), section.path, "give either `file` or `noise` (pink or brown)")
        return None
    base = Background()
    return Background(
        file=_audio_file(section, BackgroundSchema.file, ctx),
        noise=section.get(BackgroundSchema.noise),
        volume_db=_first(section.get(BackgroundSchema.volume), base.volume_db),
        duck_db=_first(section.get(BackgroundSchema.duck), base.duck_db),
    )


def _sounds(section: Section | None, ctx: Context) -> Sounds:
    """The user's chime files, relative to the routine's folder; each must exist."""
    if section is None:
        return Sounds()
    return Sounds(
        start=_audio_file(section, SoundsSchema.start, ctx),
        end=_audio_file(section, SoundsSchema.end, ctx),
    )


def _audio_file(section: Section, f: Field[str], ctx: Context) -> Path | None:
    """The file ``f`` names, from the routine's folder; reported if it does not exist."""
    if (name := section.get(f)) is None:
        return None
    path = Path(ctx.source).parent / Path(name).expanduser()
    if not path.is_file():
        ctx.report(section.line(f), section.where(f), f"no such audio file {name!r} (a path from the routine's folder)")
    return path


class _Defaults:
    """Routine-wide defaults (built-in phrases where the file sets none)."""

    def __init__(self, section: Section | None, switch: str, again: str) -> None:
        def pick(f: Field[Any], fallback: Any) -> Any:
            value = section.get(f) if section else None
            return fallback if value is None else value

        self.pause: int = pick(DefaultsSchema.pause, 2000)
        self.rest: int = pick(DefaultsSchema.rest, 3000)
        self.countdown: int = pick(DefaultsSchema.countdown, 3)
        self.switch: str = pick(DefaultsSchema.switch, switch)
        self.again: str = pick(DefaultsSchema.again, again)
        self.chime: str = pick(DefaultsSchema.chime, "none")
        self.remaining: list[int] = pick(DefaultsSchema.remaining, [])
        self.count_reps: bool = pick(DefaultsSchema.count_reps, False)


def _voice(section: Section | None, base: Voice) -> Voice:
    """The voice a ``voice`` block sets; what it leaves out comes from ``base``."""
    if section is None:
        return base
    return Voice(
        engine=section.get(VoiceSchema.engine) or base.engine,
        name=section.get(VoiceSchema.name) or base.name,
        rate=section.get(VoiceSchema.rate) or base.rate,
        volume=v if (v := section.get(VoiceSchema.volume)) is not None else base.volume,
    )


def _build_step(number: int, s: Section, default: _Defaults, both: tuple[str, ...], voice: Voice, ctx: Context) -> Step:
    say = s.get(StepSchema.say) or ""
    raw_sides = s.get(StepSchema.sides)
    sides = both if raw_sides == "both" else tuple(raw_sides or ())
    hold = s.get(StepSchema.hold) or 0
    available = PLACEHOLDERS if sides else PLACEHOLDERS[1:]
    reps = s.get(StepSchema.reps) or 1
    for f in (StepSchema.say, StepSchema.again, StepSchema.switch, StepSchema.release):
        if (value := s.get(f)) is not None:
            _check_placeholders(value, available, s.line(f), s.where(f), ctx)
    if (name := s.get(StepSchema.name)) is not None:
        _check_placeholders(name, (), s.line(StepSchema.name), s.where(StepSchema.name), ctx, in_step=False)
    if reps > 1 and not sides and s.get(StepSchema.again) is None and "{side}" in default.again:
        ctx.report(
            s.line(),
            s.where(StepSchema.again),
            "inherits `defaults.again`, which uses {side}, but this step has no `sides`; give it its own `again`",
        )

    countdown = s.get(StepSchema.countdown)
    count = _count(s, hold, countdown, ctx)
    if countdown is None:
        countdown = 0 if count else min(default.countdown, hold // 1000)
    elif countdown:
        _fits_hold(s, StepSchema.countdown, countdown, hold, f"a countdown of {countdown}", ctx)
    cues = tuple(_cues(s, hold, available, ctx))
    return Step(
        number=number,
        name=s.get(StepSchema.name) or _name_from(say),
        say=say,
        sides=sides,
        hold_ms=hold,
        reps=reps,
        rest_ms=_first(s.get(StepSchema.rest), default.rest),
        again=s.get(StepSchema.again) or default.again,
        release=s.get(StepSchema.release),
        switch=s.get(StepSchema.switch) or default.switch,
        countdown=countdown,
        cues=cues,
        pause_ms=_first(s.get(StepSchema.pause), default.pause),
        hold_line=s.line(StepSchema.hold) if s.given(StepSchema.hold) else s.line(),
        chimes=_chimes(_first(s.get(StepSchema.chime), default.chime)) if hold else (),
        remaining=_remaining(s, default.remaining, hold),
        count=count,
        count_reps=_first(s.get(StepSchema.count_reps), default.count_reps) and reps > 1,
        voice=_voice(s.get(StepSchema.voice), voice) if s.given(StepSchema.voice) else None,
    )


def _chimes(chime: str) -> tuple[str, ...]:
    return {"start": ("start",), "end": ("end",), "both": ("start", "end")}.get(chime, ())


def _fits_hold(s: Section, f: Field[int], seconds: int, hold: int, what: str, ctx: Context) -> bool:
    """Whether one number a second for ``seconds`` fits in the hold; reported at ``f`` if not."""
    if seconds * 1000 <= hold:
        return True
    having = f"this hold is {format_span(hold)}" if hold else "this step has no `hold`"
    ctx.report(s.line(f), s.where(f), f"{what} needs a hold of at least {seconds} s; {having}")
    return False


def _count(s: Section, hold: int, countdown: int | None, ctx: Context) -> int:
    """``count``: needs a hold of at least one second per number, and no countdown of its own."""
    count = s.get(StepSchema.count) or 0
    if count and not _fits_hold(s, StepSchema.count, count, hold, f"counting to {count}", ctx):
        return 0
    if count and countdown:
        ctx.report(s.line(StepSchema.countdown), s.where(StepSchema.countdown), "use either `count` or `countdown`")
    return count


def _remaining(s: Section, inherited: list[int], hold: int) -> tuple[int, ...]:
    """The ``remaining`` points that fit: those shorter than the hold."""
    return tuple(ms for ms in _first(s.get(StepSchema.remaining), inherited) if ms < hold)


def _cues(s: Section, hold: int, available: tuple[str, ...], ctx: Context) -> Iterable[Cue]:
    sections = s.get(StepSchema.cues) or []
    if sections and not hold:
        ctx.report(s.line(StepSchema.cues), s.where(StepSchema.cues), "cues are spoken inside a hold; add `hold`")
        return
    for cue in sections:
        at, say = cue.get(CueSchema.at), cue.get(CueSchema.say)
        if at is None or say is None:
            continue
        _check_placeholders(say, available, cue.line(CueSchema.say), cue.where(CueSchema.say), ctx)
        offset = hold // 2 if at == Offset.HALF else (hold + at if at < 0 else at)
        if not 0 <= offset < hold:
            ctx.report(
                cue.line(CueSchema.at),
                cue.where(CueSchema.at),
                f"falls outside its {format_span(hold)} hold; use a time from 0 s to just under "
                f"{format_span(hold)}, or a negative time counted back from the end",
            )
            continue
        yield Cue(offset_ms=offset, text=say)


def _check_placeholders(
    text: str, available: tuple[str, ...], line: int | None, where: str, ctx: Context, *, in_step: bool = True
) -> None:
    for name in _PLACEHOLDER.findall(text):
        if name in available:
            continue
        if name in PLACEHOLDERS and not in_step:
            message = f"uses {{{name}}}; placeholders are only filled in a step's spoken texts"
        elif name == "side":
            message = "uses {side}, but this step has no `sides`"
        elif match := closest(name, available or PLACEHOLDERS):
            message = f"unknown placeholder {{{name}}}; did you mean {{{match}}}?"
        else:
            listed = ", ".join("{" + o + "}" for o in available) or "none"
            message = f"unknown placeholder {{{name}}}; placeholders available here: {listed}"
        ctx.report(line, where, message)


def fill(text: str, side: str | None = None, rep: int = 1, reps: int = 1) -> str:
    """Replace the placeholders of an already validated text."""
    values = {"side": side or "", "rep": str(rep), "reps": str(reps)}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _name_from(say: str) -> str:
    words = [w for w in _PLACEHOLDER.sub("", say).split() if any(c.isalnum() for c in w)]
    return " ".join(words[:_NAME_WORDS]).strip(".,;:!?") or "Step"


def _first(value: T | None, fallback: T) -> T:
    return fallback if value is None else value


def _silence_ms(step: Step) -> int:
    """The silence a step is sure to contain, whatever its speech takes."""
    per_side = step.reps * step.hold_ms + (step.reps - 1) * step.rest_ms
    sides = max(1, len(step.sides))
    return sides * per_side + (sides - 1) * step.rest_ms + step.pause_ms


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Routine files named directly, plus the ``.yaml``/``.yml`` files of named folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            try:
                inside = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            except OSError as err:
                raise RoutineError([Problem(str(path), None, "", f"cannot list this folder: {err.strerror}")]) from None
            if not inside:
                raise RoutineError([Problem(str(path), None, "", "is a folder with no .yaml routines in it")])
            found.extend(inside)
        else:
            found.append(path)
    return found
