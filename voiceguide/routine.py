"""Load and validate a routine file into a ``Routine`` (the schema is declared here, once)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from PIL import Image

from .durations import DURATION_HINT, duration_pattern, format_span
from .errors import Problem, RoutineError
from .model import CHIMES, ENGINE_CHOICES, NOISES, Background, Cue, Routine, Sounds, Step, Voice
from .phrases import Phrases, languages, phrases
from .schema import (
    JSON,
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
    matching,
)
from .yamlsource import describe, read_nodes

MAX_TOTAL_MS = 4 * 3_600_000
MAX_COUNTDOWN = 20
MAX_COUNT = 60  # numbers the phrase files spell out
PLACEHOLDERS = ("side", "rep", "reps")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME_WORDS = 5
_TAG = "tag:yaml.org,2002:"
COVER_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
T = TypeVar("T")


class SideLabel(Text):
    """One side's name: letters, digits, spaces and hyphens (``left``, ``upper arm``)."""

    expected = "a side label (letters, digits, spaces and hyphens)"

    def json(self, defs: JSON) -> JSON:
        # no `,` `/` `&` or ` and `: one label per side (the validator suggests the list)
        return {**super().json(defs), **matching(r"^(?!.*\s[Aa][Nn][Dd]\s)[^,/&]*[^\s,/&][^,/&]*$", self.expected)}

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> str:
        if isinstance(node, yaml.ScalarNode) and node.tag != _TAG + "str":
            kind = _KINDS.get(node.tag, "a value")
            raise Invalid(f"expected a side label like left or right, got {describe(node)}, which YAML reads as {kind}")
        label = super().convert(node, path, ctx)
        if parts := _several(label):
            raise Invalid(f"names several sides in one text ({label!r}); did you mean [{', '.join(parts)}]?")
        if not _LABEL.fullmatch(label):
            raise Invalid(f"expected {self.expected}, got {label!r}")
        return label


_LABEL = re.compile(r"[^\W_]([^\W_]|[ -])*")
_SEPARATORS = re.compile(r"\s*[,/&]\s*|\s+and\s+", re.IGNORECASE)
_KINDS = {_TAG + "int": "a number", _TAG + "float": "a number", _TAG + "bool": "yes/no (true/false)"}


def _several(text: str) -> list[str]:
    """The sides in ``left, right``, ``left and right``, ``left/right`` or ``left & right``; else []."""
    if not _SEPARATORS.search(text):
        return []
    return [part for part in _SEPARATORS.split(text) if part]


class Sides(Kind["tuple[str, ...] | str"]):
    """``both`` (any case: the language's two sides, resolved later), one side label, or a list of labels."""

    expected = "`both`, one side label, or a list of side labels like [right, left]"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> tuple[str, ...] | str:
        if isinstance(node, yaml.SequenceNode):
            labels = tuple(SideLabel(60).convert(item, path, ctx) for item in node.value)
            if not labels:
                raise Invalid("expected at least one side label, got an empty list")
            _distinct(labels)
            return labels
        if isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "str" and node.value.strip().lower() == "both":
            return "both"
        if not isinstance(node, yaml.ScalarNode) or node.tag == _TAG + "null":
            raise self.fail(node)
        return (SideLabel(60).convert(node, path, ctx),)

    def json(self, defs: JSON) -> JSON:
        label = SideLabel(60).json(defs)
        return {
            "anyOf": [label, {"type": "array", "items": label, "minItems": 1, "uniqueItems": True}],
            "examples": ["both", ["upper", "lower"], "right"],
        }


class Language(Choice):
    """A language with a phrase file; ``fr-FR`` or ``fr_CA`` suggest ``fr``."""

    def hint(self, value: str) -> str:
        base = re.split(r"[-_]", value)[0]
        return f"; did you mean {base!r}?" if base in self.options else super().hint(value)


def _distinct(labels: Iterable[str]) -> None:
    """Side labels must differ (ignoring case), or two sides would sound the same."""
    labels = list(labels)
    if len({label.casefold() for label in labels}) != len(labels):
        raise Invalid(f"lists a side twice: {labels}")


class WholeSeconds(Duration):
    """A duration of whole seconds, at least two (spoken as "N seconds")."""

    expected = "whole seconds like 30s or 1m"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> int:
        ms = super().convert(node, path, ctx)
        if ms % 1000 or ms < 2000:
            raise self.fail(node)
        return ms

    def json(self, defs: JSON) -> JSON:
        seconds = {"type": "integer", "minimum": 2, "maximum": self.maximum_ms // 1000}
        return {"anyOf": [matching(duration_pattern(), DURATION_HINT), seconds], "examples": ["30s", "1m"]}

    def summary(self) -> str:
        return "a duration in whole seconds, 2 s or more"


class Decibels(Number):
    """A level in dB: ``-20dB``, ``-20 dB`` or ``-20``, within bounds."""

    def __init__(self, low: int, high: int = 0) -> None:
        if high != 0 or not -99 <= low <= -10:
            raise ValueError("Decibels' pattern is written for levels from -10..-99 dB up to 0 dB")
        super().__init__(low, high)
        self.expected = f"a level in dB from {low:g}dB to {high:g}dB, like -20dB"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> float:
        return self.within(self.scalar(node).strip().removesuffix("dB").removesuffix("db").strip(), node)

    def json(self, defs: JSON) -> JSON:
        tens, ones = divmod(-int(self.low), 10)
        fraction = r"(?:\.\d+)?"
        below = [rf"[0-{tens - 1}]?\d{fraction}" if tens > 1 else rf"\d{fraction}", r"\.\d+"]
        if ones:
            below.append(rf"{tens}[0-{ones - 1}]{fraction}" if ones > 1 else rf"{tens}0{fraction}")
        magnitude = "|".join([*below, rf"{-int(self.low)}(?:\.0+)?"])
        level = rf"^\s*(?:-(?:{magnitude})|[+-]?(?:0+(?:\.0*)?|\.0+))\s*(?:dB|db)?\s*$"
        return {"anyOf": [matching(level, self.expected), super().json(defs)], "examples": ["-20dB"]}

    def summary(self) -> str:
        return f"`{self.low:g}dB` to `{self.high:g}dB` (`-20dB`, `-20 dB` or `-20`)"


class BackgroundSchema(Schema):
    file = Field(
        Text(1000),
        doc="An audio file (any format ffmpeg reads), from the routine's folder, looped for the whole track.",
        values="a path",
    )
    noise = Field(
        Choice(NOISES),
        doc="Generated noise instead of a file: `pink` (like steady rain) or `brown` (deeper, like distant surf).",
    )
    volume = Field(
        Decibels(-60),
        doc="The background's level in the finished track: its average (RMS) loudness in dB of full scale. "
        "`--loudness` sets the voice's level, never the background's, so this is what you hear in the holds "
        "whatever `--loudness` is. `-20dB` is clearly audible, `-35dB` faint; the voice at the default -16 LUFS "
        "averages about `-18dB` while it speaks. A background loud enough to peak over -1 dBTP by itself is "
        "held under it by the limiter, with a warning.",
        default="-30dB",
    )
    duck = Field(
        Decibels(-60),
        doc="How much quieter the background gets under every spoken line (the voice, countdowns, cues, …; "
        "not chimes), relative to its `volume`: the default leaves it 12 dB under its level in the holds.",
        values="`-60dB` to `0dB`",
        default="-12dB",
    )


class PhrasesSchema(Schema):
    sides = Field(
        ListOf(Text(60), min_items=2, max_items=2),
        doc="Replaces the two labels of `sides: both`, in order.",
        values="a list of exactly two labels",
        default_doc="the language's",
        examples=[["rechte", "linke"]],
    )
    remaining = Field(
        Text(200),
        doc="Replaces the line of `remaining`; `{n}` is the seconds, as a word.",
        values="text that contains `{n}`",
        default_doc="the language's",
    )
    rep = Field(
        Text(200),
        doc="Replaces the line of `count_reps`; `{rep}` and `{reps}` are the numbers, as words.",
        values="text that contains `{rep}` and `{reps}`",
        default_doc="the language's",
    )
    numbers = Field(
        ListOf(Text(60), min_items=1, max_items=MAX_COUNT),
        doc="Replaces the first numbers, from one on (for the countdown, `count`, `{n}`, `{rep}` and `{reps}`).",
        values=f"a list of 1 to {MAX_COUNT} words",
        default_doc="the language's",
    )


class VoiceSchema(Schema):
    engine = Field(
        Choice(ENGINE_CHOICES),
        doc="The speech engine. `auto` uses `piper` (natural offline neural voices, from "
        '`pip install "voiceguide[neural]"`) when it has a voice for the routine\'s language, and `pyttsx3` '
        "otherwise. `pyttsx3` uses your computer's own voices (on Linux it speaks through espeak-ng); "
        "`espeak-ng` calls the espeak-ng program directly.",
        default=Voice().engine,
    )
    name = Field(
        Text(200),
        doc="The voice: its id as listed by `voiceguide voices` (or `voiceguide voices --engine piper`), for piper "
        "also the path of an `.onnx` voice file (relative to the routine file), its "
        "name, its main language (the first code in the last column of that list, e.g. `en-gb`), or a part of the "
        "id or name that matches exactly one voice. Upper/lower case does not matter.",
        default_doc="the voice of the routine's `language` (see [Languages](#languages)) if the engine has it, "
        "otherwise the engine's first voice for that language",
        examples=["en-us", "en-gb"],
    )
    rate = Field(
        Integer(60, 450),
        doc="Speaking speed in words per minute. 130 to 150 is calm; 150 is the default. With `piper`, the rate is "
        "mapped to the voice's speed as measured on the bundled voice, so `rate: 130` is about 130 words per minute.",
        values="whole number, 60 to 450, written as plain digits (`140`, not `1:40` or `1_40`)",
        default=Voice().rate,
    )
    volume = Field(Number(0.1, 1.0), doc="Loudness of the voice.", default=Voice().volume)


_TEXT_PLACEHOLDERS = "text, up to 2000 characters; may use `{side}`, `{rep}`, `{reps}`"


class DefaultsSchema(Schema):
    pause = Field(Duration(), doc="Silence after each step, and after the `intro`.", default="2s")
    rest = Field(Duration(), doc="Silence between two reps, and between two sides of a step.", default="3s")
    countdown = Field(
        Integer(0, MAX_COUNTDOWN),
        doc='How many numbers are counted down at the end of each hold ("three, two, one"). `0` turns the '
        "countdown off. Shortened automatically for short holds (see "
        "[section 8](#8-holds-countdowns-and-cues-the-exact-timing)).",
        default=3,
    )
    switch = Field(
        Text(),
        doc="Spoken before each side after the first.",
        values=_TEXT_PLACEHOLDERS,
        default_doc="`Now switch to your {side} side.` (in the routine's `language`)",
    )
    again = Field(
        Text(),
        doc="Spoken instead of `say` on every rep after the first.",
        values=f"{_TEXT_PLACEHOLDERS} (but see below for `{{side}}`)",
        default_doc="`Again.` (in the routine's `language`)",
    )
    chime = Field(
        Choice(CHIMES),
        doc="A chime at the `start` of every hold, at its `end`, at `both`, or `none`.",
        default="none",
    )
    remaining = Field(
        ListOf(WholeSeconds()),
        doc='Say "N seconds left." this long before the end of every hold that is longer.',
        values="a list of durations in whole seconds, 2 s or more (`[30s, 10s]`, `[1m]`)",
        default=[],
        examples=[["30s", "10s"]],
    )
    count_reps = Field(Flag(), doc='Say "Rep 2 of 5." before every rep of steps with 2 or more reps.', default=False)


class SoundsSchema(Schema):
    start = Field(
        Text(1000),
        doc="Your own audio file for the chime where a hold starts, from the routine's folder.",
        values="a path to any audio file ffmpeg reads (WAV, MP3, OGG, FLAC, …)",
        default_doc="the built-in bell",
    )
    end = Field(
        Text(1000),
        doc="Your own audio file for the chime where a hold ends, from the routine's folder.",
        values="a path to any audio file ffmpeg reads (WAV, MP3, OGG, FLAC, …)",
        default_doc="the built-in bells",
    )


class CueSchema(Schema):
    at = Field(
        Offset(),
        required=True,
        help="`half`, 10s from the start, or -10s from the end",
        doc="When the cue starts, measured inside the hold: `half` (exactly the middle, in any case), a "
        "[duration](#10-durations) from the start of the hold (`15s`, `1m`, `0` = at the very start), or a duration "
        "with a minus sign counted back from the end of the hold (`-15s` = 15 seconds before the end). The resulting "
        "moment must be from 0 up to, but not including, the length of the hold. `-0s` means the start, not the end.",
    )
    say = Field(
        Text(),
        required=True,
        help="what to say at that moment",
        doc="What is said. May use placeholders.",
    )


class StepSchema(Schema):
    name = Field(
        Text(200),
        doc="A short label for the step, shown as a heading by `voiceguide plan` (and as a chapter in "
        "`plan --json`). Not spoken.",
        values="text, up to 200 characters; no placeholders (any `{…}` in it is an error)",
        default_doc="the first five words of `say` (see below)",
    )
    say = Field(
        Text(),
        required=True,
        help="the instruction to speak",
        doc="The instruction, spoken at the start of the step (and at the start of each side).",
    )
    sides = Field(
        Sides(),
        doc="Do the step once per side: `both` (any case), a list of side labels, or one label. "
        "See [section 7](#7-sides).",
        values="`both`, a list, or one label",
        default_doc="no sides (done once)",
    )
    hold = Field(
        Duration(minimum_ms=1),
        doc="How long the position is held, in silence, after `say` has been spoken.",
        default_doc="no hold",
    )
    reps = Field(Integer(1, 100), doc="How many times the step is done (on each side).", default=1)
    rest = Field(Duration(), doc="Silence between reps, and between sides.", default_doc="`defaults.rest`")
    again = Field(Text(), doc="Spoken instead of `say` on rep 2, 3, …", default_doc="`defaults.again`")
    release = Field(Text(), doc='Spoken after every hold (for example "And relax.").', default_doc="nothing")
    switch = Field(Text(), doc="Spoken before each side after the first.", default_doc="`defaults.switch`")
    countdown = Field(
        Integer(0, MAX_COUNTDOWN),
        doc="Numbers counted down at the end of the hold. `0` = no countdown.",
        values=f"whole number, 0 to {MAX_COUNTDOWN}; needs a `hold` at least that many seconds long",
        default_doc="`defaults.countdown`, shortened to fit the hold",
    )
    cues = Field(
        ListOf(Nested(CueSchema)),
        doc="Short lines spoken *during* the hold, each at a chosen moment.",
        values="a list of `{at, say}`",
    )
    pause = Field(Duration(), doc="Silence after the whole step.", default_doc="`defaults.pause`")
    chime = Field(Choice(CHIMES), doc="Chimes at this step's holds.", default_doc="`defaults.chime`")
    remaining = Field(
        ListOf(WholeSeconds()),
        doc='"N seconds left." inside this step\'s holds.',
        values="like `defaults.remaining`; `[]` turns it off",
        default_doc="`defaults.remaining`",
    )
    count_reps = Field(Flag(), doc='"Rep 2 of 5." before every rep.', default_doc="`defaults.count_reps`")
    count = Field(
        Integer(1, MAX_COUNT),
        doc='Count aloud through the hold: "one, two, three …", evenly spread (one number per second when `count` '
        "equals the hold's seconds; `count: 5` in a 20 s hold counts every 4 s, e.g. breaths). Replaces the "
        "countdown.",
        values=f"whole number, 1 to {MAX_COUNT}; needs a `hold` of at least that many seconds; "
        "not together with `countdown`",
    )
    voice = Field(
        Nested(VoiceSchema),
        doc="This step's own voice (for example slower and softer for a relaxation step). Fields it leaves out come "
        "from the routine's `voice`; the other steps keep the routine's voice.",
        values="a `voice` block, see [section 4](#4-voice)",
        default_doc="the routine's voice",
    )


class RoutineSchema(Schema):
    title = Field(Text(200), required=True, help="the track's title", doc='The track\'s title (MP3 "title" tag).')
    description = Field(Text(5000), doc='A longer description (MP3 "comment" tag).')
    author = Field(Text(200), doc='Who wrote the routine (MP3 "artist" tag).', default_doc="`voiceguide` in the MP3")
    album = Field(Text(200), doc='Groups tracks together (MP3 "album" tag).', default_doc="the `title`")
    cover = Field(
        Text(500),
        doc="Cover art: a `.jpg` or `.png` file, relative to the routine file (checked by `validate`).",
        values="a path",
        default_doc="a generated square PNG showing the title",
    )
    language = Field(
        Language(languages()),
        doc='Language of the built-in phrases (numbers, "Again.", "Now switch to your … side.", the names of the '
        'two sides, "30 seconds left", "Rep 2 of 5"), and of the voice picked when `voice.name` is not set. '
        "See [Languages](#languages).",
        default="en",
    )
    voice = Field(
        Nested(VoiceSchema),
        doc="Which speech engine and voice, speed and loudness.",
        values="see [section 4](#4-voice)",
        default_doc="see section 4",
    )
    defaults = Field(
        Nested(DefaultsSchema),
        doc="Settings shared by all steps.",
        values="see [section 5](#5-defaults)",
        default_doc="see section 5",
    )
    intro = Field(Text(), doc="Spoken once at the very start.", values="text, up to 2000 characters; no placeholders")
    outro = Field(Text(), doc="Spoken once at the very end.", values="text, up to 2000 characters; no placeholders")
    steps = Field(
        ListOf(Nested(StepSchema), min_items=1, max_items=500),
        required=True,
        help="at least one step",
        doc="The exercises, in order.",
        values="a list of 1 to 500 steps",
    )
    sounds = Field(
        Nested(SoundsSchema),
        doc="Your own audio files for the chimes: `start` and/or `end`. "
        "See [Chimes](#chimes-time-cues-and-a-steps-own-voice).",
        values="see there",
        default_doc="the built-in bells",
    )
    background = Field(
        Nested(BackgroundSchema),
        doc="Ambience under the whole track: your own audio file looped, or generated noise; it dips under the "
        "voice. See [Background](#background).",
        values="`file` or `noise`, with `volume` and `duck`",
    )
    phrases = Field(
        Nested(PhrasesSchema),
        doc='Your own words for the built-in phrases (side names, "seconds left", "Rep 2 of 5", numbers). '
        "See [Languages](#languages).",
        values="see there",
        default_doc="the language's phrases",
    )


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


def step_label(number: int, name: str | None) -> str:
    """A step as people count and name it: ``step 3 "Shoulder knead"``."""
    if name and len(name) > 40:
        name = name[:37] + "..."
    return f'step {number} "{name}"' if name else f"step {number}"


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
    elif problem := _unreadable_image(path):
        ctx.report(line, where, problem)
    else:
        return path
    return None


def _unreadable_image(path: Path) -> str | None:
    """Why ``path`` is not a JPEG or PNG image a phone can show (decoded in full), or ``None``."""
    formats = {"image/jpeg": "JPEG", "image/png": "PNG"}
    wanted = formats[COVER_TYPES[path.suffix.lower()]]
    try:
        with Image.open(path) as image:
            found = image.format
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
