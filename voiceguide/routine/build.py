"""Load and validate a routine file into a ``Routine``: check it against ``fields``, then build the model."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from voiceguide.durations import format_span
from voiceguide.errors import Problem, RoutineError
from voiceguide.model import (
    PLACEHOLDER,
    PLACEHOLDERS,
    Background,
    Cue,
    Routine,
    Sounds,
    Step,
    Version,
    Voice,
    step_label,
)
from voiceguide.phrases import Phrases, phrases
from voiceguide.routine.fields import (
    BackgroundSchema,
    CueSchema,
    DefaultsSchema,
    PhrasesSchema,
    RoutineSchema,
    SoundsSchema,
    StepSchema,
    VoiceSchema,
)
from voiceguide.routine.kinds import Context, Invalid, Offset, visible
from voiceguide.routine.paths import audio_file, local_file, picture_file
from voiceguide.routine.schema import Field, Section, check
from voiceguide.routine.source import read_nodes
from voiceguide.routine.values import _distinct
from voiceguide.routine.variants import Scale, scale
from voiceguide.suggest import closest

MAX_TOTAL_MS = 4 * 3_600_000
_NAME_WORDS = 5
T = TypeVar("T")


def load_routine(
    path: str | Path, version: Version = Version(), *, trusted: Iterable[Path] = (), max_ms: int = MAX_TOTAL_MS
) -> Routine:
    """Read and validate one routine file, in ``version``; raise ``RoutineError`` listing every problem.

    The files it names must lie in its own folder or in one of the ``trusted`` folders; its holds,
    rests and pauses alone must fit in ``max_ms`` (the pipeline then counts its speech too)."""
    source = str(path)
    root = read_nodes(Path(path), source)
    ctx = Context(source, tuple(trusted), max_ms)

    top = check(root, RoutineSchema, "", ctx)
    routine = _build(top, ctx, version)
    if ctx.problems or routine is None:
        labelled = _labelled(ctx.problems, _step_names(root))
        raise RoutineError(sorted(labelled, key=lambda p: (p.line or 0, p.field)))
    return routine


def length_limit(max_ms: int) -> str:
    """The limit on a track's length, and what to do when a routine passes it."""
    limit = format_span(max_ms)
    return f"the limit for one track is {limit} (split it into several routines, or allow more with --max-length)"


_STEP_PATH = re.compile(r"steps\[(\d+)\]")


def _labelled(problems: Iterable[Problem], names: list[str | None]) -> list[Problem]:
    """Problems inside a step, labelled with the step's number and name."""
    found = []
    for problem in problems:
        match = _STEP_PATH.match(problem.field)
        index = int(match[1]) if match else len(names)
        found.append(
            dataclasses.replace(problem, label=step_label(index + 1, names[index])) if index < len(names) else problem
        )
    return found


def _step_names(root: yaml.MappingNode) -> list[str | None]:
    """Each written step's name (its `name`, or the first words of `say`), read from the nodes
    so that steps with errors are named too."""
    steps = next((v for k, v in root.value if getattr(k, "value", None) == "steps"), None)
    if not isinstance(steps, yaml.SequenceNode):
        return []
    names: list[str | None] = []
    for step in steps.value:
        fields: dict[str, yaml.Node] = {}
        for k, v in step.value if isinstance(step, yaml.MappingNode) else ():
            if isinstance(k, yaml.ScalarNode):
                fields.setdefault(k.value, v)  # a key written twice: the step is named by the first
        name, say = fields.get("name"), fields.get("say")
        if isinstance(name, yaml.ScalarNode) and str(name.value).strip():
            names.append(" ".join(visible(str(name.value)).split()))
        elif isinstance(say, yaml.ScalarNode) and str(say.value).strip():
            names.append(_name_from(visible(str(say.value))))
        else:
            names.append(None)
    return names


def _build(top: Section, ctx: Context, version: Version) -> Routine | None:
    language = top.get(RoutineSchema.language) or "en"
    words = _phrases(phrases(language), top.get(RoutineSchema.phrases), ctx)
    voice_section = top.get(RoutineSchema.voice)
    defaults = top.get(RoutineSchema.defaults)
    variants = top.get(RoutineSchema.variants)
    scaled = scale(variants, top.line(RoutineSchema.variants), version, ctx)
    default = _Defaults(defaults, words.switch, words.again, scaled)
    for f in (RoutineSchema.intro, RoutineSchema.outro):
        if (text := top.get(f)) is not None:
            _check_placeholders(text, (), top.line(f), top.where(f), ctx, in_step=False)
    if defaults is not None:
        for f in (DefaultsSchema.switch, DefaultsSchema.again):
            if (text := defaults.get(f)) is not None:
                _check_placeholders(text, PLACEHOLDERS, defaults.line(f), defaults.where(f), ctx)
    step_sections = top.get(RoutineSchema.steps) or []
    voice = scaled.voice(_voice(voice_section, Voice(), ctx))
    steps = tuple(
        _build_step(number, section, default, words, voice, ctx, scaled)
        for number, section in enumerate(step_sections, start=1)
    )
    title = top.get(RoutineSchema.title)
    if title is None or not steps:
        return None
    total_ms = sum(_silence_ms(step) + step.wait * default.ready for step in steps)  # before the script is spelt out
    if total_ms > ctx.max_ms:
        ctx.report(
            top.line(RoutineSchema.steps),
            "steps",
            f"holds, rests and pauses alone last {format_span(total_ms)}; {length_limit(ctx.max_ms)}",
        )

    return Routine(
        source=ctx.source,
        title=scaled.title(title),
        description=top.get(RoutineSchema.description),
        author=top.get(RoutineSchema.author),
        album=top.get(RoutineSchema.album),
        language=language,
        voice=voice,
        intro=top.get(RoutineSchema.intro),
        outro=top.get(RoutineSchema.outro),
        pause_ms=scaled.silence(default.pause),
        ready_ms=default.ready,
        steps=steps,
        steps_line=top.line(RoutineSchema.steps),
        cover=picture_file(top, RoutineSchema.cover, ctx),
        sounds=_sounds(top.get(RoutineSchema.sounds), ctx),
        background=_background(top.get(RoutineSchema.background), ctx),
        phrases=words if top.given(RoutineSchema.phrases) else None,
        gap_ms=default.gap,
        variant=scaled.label,
        variants=tuple(variants or ()),
        pace=scaled.pace,
    )


def _phrases(built_in: Phrases, section: Section | None, ctx: Context) -> Phrases:
    """The language's phrases with the routine's own words where it gives them."""
    if section is None:
        return built_in
    texts: tuple[tuple[Field[str], tuple[str, ...]], ...] = (
        (PhrasesSchema.remaining, ("n",)),
        (PhrasesSchema.remaining_minute, ()),
        (PhrasesSchema.remaining_minutes, ("n",)),
        (PhrasesSchema.remaining_minute_and_half, ()),
        (PhrasesSchema.remaining_minutes_and_half, ("n",)),
        (PhrasesSchema.rep, ("rep", "reps")),
        (PhrasesSchema.ready, ()),
    )
    for f, needed in texts:
        if (text := section.get(f)) is None:
            continue
        _check_placeholders(text, needed, section.line(f), section.where(f), ctx, in_step=False)
        if missing := [name for name in needed if "{" + name + "}" not in text]:
            listed = ", ".join("{" + name + "}" for name in missing)
            ctx.report(section.line(f), section.where(f), f"must say where the numbers go: add {listed}")
    numbers = section.get(PhrasesSchema.numbers) or []
    sides = section.get(PhrasesSchema.sides)
    try:
        _distinct(sides or ())
    except Invalid as err:
        ctx.report(section.line(PhrasesSchema.sides), section.where(PhrasesSchema.sides), str(err))
    return dataclasses.replace(
        built_in,
        both=tuple(sides) if sides else built_in.both,
        **{f.key: _first(section.get(f), getattr(built_in, f.key)) for f, _ in texts},
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
        file=audio_file(section, BackgroundSchema.file, ctx),
        noise=section.get(BackgroundSchema.noise),
        volume_db=_first(section.get(BackgroundSchema.volume), base.volume_db),
        duck_db=_first(section.get(BackgroundSchema.duck), base.duck_db),
        file_at=_named_at(section, BackgroundSchema.file, ctx),
    )


def _sounds(section: Section | None, ctx: Context) -> Sounds:
    """The user's chime files, relative to the routine's folder; each must exist."""
    if section is None:
        return Sounds()
    return Sounds(
        start=audio_file(section, SoundsSchema.start, ctx),
        end=audio_file(section, SoundsSchema.end, ctx),
        start_at=_named_at(section, SoundsSchema.start, ctx),
        end_at=_named_at(section, SoundsSchema.end, ctx),
    )


def _named_at(section: Section, f: Field[str], ctx: Context) -> tuple[str, int, str] | None:
    """Where field ``f`` is written (file, line, field), if it is, for messages after validation."""
    return (ctx.source, section.line(f), section.where(f)) if section.given(f) else None


class _Defaults:
    """Routine-wide defaults (built-in phrases where the file sets none)."""

    def __init__(self, section: Section | None, switch: str, again: str, scaled: Scale) -> None:
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
        self.ready: int = pick(DefaultsSchema.ready, 5000)
        gap = pick(DefaultsSchema.gap, None)
        self.gap: int | None = None if gap is None else scaled.silence(gap)


def _voice(section: Section | None, base: Voice, ctx: Context, scaled: Scale | None = None) -> Voice:
    """The voice a ``voice`` block sets; what it leaves out comes from ``base`` (already ``scaled``,
    as a rate the block sets is scaled here)."""
    if section is None:
        return base
    name, rate = section.get(VoiceSchema.name), section.get(VoiceSchema.rate)
    if name and name.lower().endswith(".onnx"):  # a voice file, like a cover, lies beside the routine
        name = str(local_file(section, VoiceSchema.name, ctx) or name)
    return Voice(
        engine=section.get(VoiceSchema.engine) or base.engine,
        name=name or base.name,
        rate=(scaled.voice(Voice(rate=rate)).rate if scaled else rate) if rate else base.rate,
        volume=v if (v := section.get(VoiceSchema.volume)) is not None else base.volume,
        named_at=(ctx.source, section.line(VoiceSchema.name), section.where(VoiceSchema.name))
        if name
        else base.named_at,
    )


def _build_step(
    number: int, s: Section, default: _Defaults, words: Phrases, voice: Voice, ctx: Context, scaled: Scale
) -> Step:
    say = s.get(StepSchema.say) or ""
    raw_sides = s.get(StepSchema.sides)
    sides = words.both if raw_sides == "both" else tuple(raw_sides or ())
    hold = scaled.hold(s.get(StepSchema.hold) or 0)
    available = (
        PLACEHOLDERS if sides or s.given(StepSchema.sides) else PLACEHOLDERS[1:]
    )  # one wrong `sides`, one message
    reps = scaled.reps or s.get(StepSchema.reps) or 1
    for f in (StepSchema.say, StepSchema.again, StepSchema.switch, StepSchema.release):
        if (value := s.get(f)) is not None:
            _check_placeholders(value, available, s.line(f), s.where(f), ctx)
    if (name := s.get(StepSchema.name)) is not None:
        _check_placeholders(name, (), s.line(StepSchema.name), s.where(StepSchema.name), ctx, in_step=False)
    if reps > 1 and not s.given(StepSchema.sides) and s.get(StepSchema.again) is None and "{side}" in default.again:
        ctx.report(
            s.line(),
            s.where(StepSchema.again),
            "inherits `defaults.again`, which uses {side}, but this step has no `sides`; give it its own `again`",
        )

    countdown = s.get(StepSchema.countdown)
    count = _count(s, hold, countdown, ctx, scaled)
    if countdown is None:
        countdown = 0 if count else min(default.countdown, hold // 1000)
    elif countdown:
        _fits_hold(s, StepSchema.countdown, countdown, hold, f"a countdown of {countdown}", ctx, scaled)
    cues = tuple(_cues(s, hold, available, ctx, scaled))
    return Step(
        number=number,
        name=s.get(StepSchema.name) or _name_from(say) or words.step_chapter,
        say=say,
        sides=sides,
        hold_ms=hold,
        reps=reps,
        rest_ms=scaled.silence(_first(s.get(StepSchema.rest), default.rest)),
        again=s.get(StepSchema.again) or default.again,
        release=s.get(StepSchema.release),
        switch=s.get(StepSchema.switch) or default.switch,
        countdown=countdown,
        cues=cues,
        pause_ms=scaled.silence(_first(s.get(StepSchema.pause), default.pause)),
        hold_line=s.line(StepSchema.hold) if s.given(StepSchema.hold) else s.line(),
        chimes=_chimes(_first(s.get(StepSchema.chime), default.chime)) if hold else (),
        remaining=_remaining(s, default.remaining, hold),
        count=count,
        count_reps=_first(s.get(StepSchema.count_reps), default.count_reps) and reps > 1,
        voice=_voice(s.get(StepSchema.voice), voice, ctx, scaled) if s.given(StepSchema.voice) else None,
        image=picture_file(s, StepSchema.image, ctx),
        wait=s.get(StepSchema.wait) or False,
    )


def _chimes(chime: str) -> tuple[str, ...]:
    return {"start": ("start",), "end": ("end",), "both": ("start", "end")}.get(chime, ())


def _fits_hold(
    s: Section, f: Field[int], seconds: int, hold: int, what: str, ctx: Context, scaled: Scale = Scale()
) -> bool:
    """Whether one number a second for ``seconds`` fits in the hold; reported at ``f`` if not
    (naming the version that scaled the hold, whose factor is then the fix, or a smaller number)."""
    if seconds * 1000 <= hold:
        return True
    if not hold and s.given(StepSchema.hold):
        return False  # the hold itself was refused, and that is the one problem reported
    having = f"this hold is {format_span(hold)}{scaled.why}" if hold else "this step has no `hold`"
    fix = f"; {scaled.fix}, or lower `{f.key}` to {hold // 1000}" if scaled.fix and hold else ""
    ctx.report(s.line(f), s.where(f), f"{what} needs a hold of at least {seconds} s; {having}{fix}")
    return False


def _count(s: Section, hold: int, countdown: int | None, ctx: Context, scaled: Scale) -> int:
    """``count``: needs a hold of at least one second per number, and no countdown of its own."""
    count = s.get(StepSchema.count) or 0
    if count and not _fits_hold(s, StepSchema.count, count, hold, f"counting to {count}", ctx, scaled):
        return 0
    if count and countdown:
        ctx.report(s.line(StepSchema.countdown), s.where(StepSchema.countdown), "use either `count` or `countdown`")
    return count


def _remaining(s: Section, inherited: list[int], hold: int) -> tuple[int, ...]:
    """The ``remaining`` points that fit: those shorter than the hold."""
    return tuple(ms for ms in _first(s.get(StepSchema.remaining), inherited) if ms < hold)


def _cues(s: Section, hold: int, available: tuple[str, ...], ctx: Context, scaled: Scale) -> Iterable[Cue]:
    sections = s.get(StepSchema.cues) or []
    if sections and not hold:
        if not s.given(StepSchema.hold):  # a refused hold is the one problem reported
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
                f"falls outside its {format_span(hold)} hold{scaled.why}; "
                + (f"{scaled.fix}, or use `half` or " if scaled.fix else "use ")
                + f"a time from 0 s to just under {format_span(hold)}, or a negative time counted back from the end",
            )
            continue
        yield Cue(offset_ms=offset, text=say, line=cue.line(CueSchema.at))


def _check_placeholders(
    text: str, available: tuple[str, ...], line: int | None, where: str, ctx: Context, *, in_step: bool = True
) -> None:
    for name in PLACEHOLDER.findall(text):
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


def _name_from(say: str) -> str:
    words = [w for w in PLACEHOLDER.sub("", say).split() if any(c.isalnum() for c in w)]
    return " ".join(words[:_NAME_WORDS]).strip(".,;:!?")


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
