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
from voiceguide.model import PLACEHOLDER, PLACEHOLDERS, Background, Cue, Routine, Sounds, Step, Voice, step_label
from voiceguide.phrases import Phrases, phrases
from voiceguide.routine.fields import (
    COVER_TYPES,
    MAX_IMAGE_PIXELS,
    BackgroundSchema,
    CueSchema,
    DefaultsSchema,
    PhrasesSchema,
    RoutineSchema,
    SoundsSchema,
    StepSchema,
    VoiceSchema,
)
from voiceguide.routine.kinds import Context, Invalid, Offset
from voiceguide.routine.schema import Field, Section, check
from voiceguide.routine.source import read_nodes
from voiceguide.routine.values import _distinct
from voiceguide.suggest import closest

MAX_TOTAL_MS = 4 * 3_600_000
_NAME_WORDS = 5
T = TypeVar("T")


def load_routine(path: str | Path) -> Routine:
    """Read and validate one routine file; raise ``RoutineError`` listing every problem."""
    source = str(path)
    root = read_nodes(Path(path), source)
    ctx = Context(source)
    top = check(root, RoutineSchema, "", ctx)
    routine = _build(top, ctx)
    if ctx.problems or routine is None:
        labelled = _labelled(ctx.problems, _step_names(root))
        raise RoutineError(sorted(labelled, key=lambda p: (p.line or 0, p.field)))
    return routine


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
        fields = (
            {k.value: v for k, v in step.value if isinstance(k, yaml.ScalarNode)}
            if isinstance(step, yaml.MappingNode)
            else {}
        )
        name, say = fields.get("name"), fields.get("say")
        if isinstance(name, yaml.ScalarNode) and str(name.value).strip():
            names.append(" ".join(str(name.value).split()))
        elif isinstance(say, yaml.ScalarNode) and str(say.value).strip():
            names.append(_name_from(str(say.value)))
        else:
            names.append(None)
    return names


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
    voice = _voice(voice_section, Voice(), ctx)
    steps = tuple(
        _build_step(number, section, default, words, voice, ctx)
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
        cover=_picture(top, RoutineSchema.cover, ctx),
        sounds=_sounds(top.get(RoutineSchema.sounds), ctx),
        background=_background(top.get(RoutineSchema.background), ctx),
        phrases=words if top.given(RoutineSchema.phrases) else None,
    )


def _picture(section: Section, f: Field[str], ctx: Context) -> Path | None:
    """The image file ``f`` names (the cover, a step's picture), resolved beside the routine file;
    it must exist and be a readable image now, not at render time."""
    name = section.get(f)
    if name is None:
        return None
    path = Path(ctx.source).parent / name
    where, line = section.where(f), section.line(f)
    if path.suffix.lower() not in COVER_TYPES:
        ctx.report(line, where, f"expected a .jpg or .png image, got {name!r}")
    elif not path.is_file():
        ctx.report(line, where, f"no image file at {path}; give a path relative to the routine file")
    elif problem := _unreadable_image(path):
        ctx.report(line, where, problem)
    else:
        return path
    return None


def _unreadable_image(path: Path) -> str | None:
    """Why ``path`` is not a JPEG or PNG image a phone can show (decoded in full), or ``None``."""
    formats = {"image/jpeg": "JPEG", "image/png": "PNG"}
    wanted = formats[COVER_TYPES[path.suffix.lower()]]
    from PIL import Image  # only for routines with a cover: PIL is not paid by the others

    try:
        with Image.open(path) as image:
            found, (width, height) = image.format, image.size
            if width * height > MAX_IMAGE_PIXELS:  # before decoding a single pixel
                return (
                    f"{path.name} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), more than "
                    f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels; save a smaller copy (2000 pixels wide is plenty)"
                )
            image.verify()  # checksums and structure
        with Image.open(path) as image:
            image.load()  # every pixel: a truncated file fails here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return f"{path.name} is not a readable {wanted} image ({err}); export the picture again as .jpg or .png"
    if found != wanted:
        right = ".png" if found == "PNG" else ".jpg"
        return f"{path.name} is a {found} image with a {path.suffix} name; rename it to {path.stem}{right}"
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
    try:
        _distinct(sides or ())
    except Invalid as err:
        ctx.report(section.line(PhrasesSchema.sides), section.where(PhrasesSchema.sides), str(err))
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


def _voice(section: Section | None, base: Voice, ctx: Context) -> Voice:
    """The voice a ``voice`` block sets; what it leaves out comes from ``base``."""
    if section is None:
        return base
    name = section.get(VoiceSchema.name)
    if name and name.lower().endswith(".onnx"):  # a voice file, like a cover, lies beside the routine
        name = str(Path(ctx.source).parent / Path(name).expanduser())
    return Voice(
        engine=section.get(VoiceSchema.engine) or base.engine,
        name=name or base.name,
        rate=section.get(VoiceSchema.rate) or base.rate,
        volume=v if (v := section.get(VoiceSchema.volume)) is not None else base.volume,
        named_at=(ctx.source, section.line(VoiceSchema.name), section.where(VoiceSchema.name))
        if name
        else base.named_at,
    )


def _build_step(number: int, s: Section, default: _Defaults, words: Phrases, voice: Voice, ctx: Context) -> Step:
    say = s.get(StepSchema.say) or ""
    raw_sides = s.get(StepSchema.sides)
    sides = words.both if raw_sides == "both" else tuple(raw_sides or ())
    hold = s.get(StepSchema.hold) or 0
    available = (
        PLACEHOLDERS if sides or s.given(StepSchema.sides) else PLACEHOLDERS[1:]
    )  # one wrong `sides`, one message
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
        name=s.get(StepSchema.name) or _name_from(say) or words.step_chapter,
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
        voice=_voice(s.get(StepSchema.voice), voice, ctx) if s.given(StepSchema.voice) else None,
        image=_picture(s, StepSchema.image, ctx),
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
