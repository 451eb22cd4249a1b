"""Every field of a routine file, declared once.

Validation, the JSON Schema, the docs' tables and the starter's checks all read these classes.
"""

from __future__ import annotations

from voiceguide.model import CHIMES, ENGINE_CHOICES, NOISES, Voice
from voiceguide.phrases import languages
from voiceguide.routine.kinds import Choice, Duration, Flag, Integer, ListOf, Number, Offset, Text
from voiceguide.routine.schema import Field, MapOf, Nested, Schema
from voiceguide.routine.values import Decibels, Language, Sides, WholeSeconds

MAX_COUNTDOWN = 20
VARIANT_ALL = "all"  # `--variant all`: the routine as written, and every variant it declares
HOLDS = (0.1, 10.0)  # the factors `holds` and --holds take
PACE = (0.5, 2.0)  # the factors `pace` and --pace take
MAX_COUNT = 60  # numbers the phrase files spell out
COVER_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
MAX_IMAGE_PIXELS = 40_000_000  # a 48-megapixel phone photo is more than any page or chapter shows


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
        doc="Replaces the line of `remaining` in seconds (under a minute, or not a whole or half minute); `{n}` is "
        "the seconds, as a word.",
        values="text that contains `{n}`",
        default_doc="the language's",
    )
    remaining_minute = Field(
        Text(200),
        doc='Replaces the line of `remaining` for one minute ("One minute left.").',
        default_doc="the language's",
    )
    remaining_minutes = Field(
        Text(200),
        doc='Replaces the line of `remaining` for whole minutes ("{n} minutes left."); `{n}` is the minutes, '
        "as a word.",
        values="text that contains `{n}`",
        default_doc="the language's",
    )
    remaining_minute_and_half = Field(
        Text(200),
        doc='Replaces the line of `remaining` for 90 seconds ("One and a half minutes left.").',
        default_doc="the language's",
    )
    remaining_minutes_and_half = Field(
        Text(200),
        doc='Replaces the line of `remaining` for 150 s, 210 s, … ("{n} and a half minutes left."); `{n}` is the '
        "whole minutes, as a word.",
        values="text that contains `{n}`",
        default_doc="the language's",
    )
    rep = Field(
        Text(200),
        doc="Replaces the line of `count_reps`; `{rep}` and `{reps}` are the numbers, as words.",
        values="text that contains `{rep}` and `{reps}`",
        default_doc="the language's",
    )
    ready = Field(
        Text(200),
        doc='Replaces the line of `wait: true` ("Press play when you\'re ready.").',
        values="text, up to 200 characters; no placeholders",
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
        Integer(
            60, 450, advice="it is words per minute: 150 is the usual pace, `rate: 120` slower, `rate: 180` faster"
        ),
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
        doc='Say how long is left ("Thirty seconds left.", "One minute left.", "One and a half minutes left.") this '
        "long before the end of every hold that is longer; whole and half minutes are said in minutes.",
        values="a list of durations in whole seconds, 2 s or more (`[30s, 10s]`, `[1m]`)",
        default=[],
        examples=[["30s", "10s"]],
    )
    count_reps = Field(Flag(), doc='Say "Rep 2 of 5." before every rep of steps with 2 or more reps.', default=False)
    ready = Field(
        Duration(minimum_ms=1000),
        doc='The silence of a step with `wait: true`, after "Press play when you\'re ready.": the published page '
        "pauses where it begins; a player that cannot be told to pause plays it through.",
        default="5s",
    )
    gap = Field(
        Duration(maximum_ms=10_000),
        doc="Silence between two spoken lines that follow each other (the switch line, `Rep 2 of 5.`, `say`, "
        "`release`, …), and between `say` and its hold. `0` speaks them back to back. See "
        "[section 8](#8-holds-countdowns-and-cues-the-exact-timing).",
        values="a [duration](#10-durations), 0 to 10 s",
        default_doc="0.4 s at the default `rate` of 150, longer for a slower voice (0.5 s at 120)",
    )


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
        doc='"Thirty seconds left.", "One minute left." … inside this step\'s holds.',
        values="like `defaults.remaining`; `[]` turns it off",
        default_doc="`defaults.remaining`",
    )
    count_reps = Field(Flag(), doc='"Rep 2 of 5." before every rep.', default_doc="`defaults.count_reps`")
    count = Field(
        Integer(1, MAX_COUNT),
        doc='Count aloud through the hold: "one, two, three …", evenly spread (one number per second when `count` '
        "equals the hold's seconds; `count: 5` in a 20 s hold counts every 4 s, e.g. breaths; after a start chime, "
        "evenly from 0.5 s on). Replaces the countdown.",
        values=f"whole number, 1 to {MAX_COUNT}; needs a `hold` of at least that many seconds; "
        "not together with `countdown`",
    )
    image = Field(
        Text(500),
        doc="A picture of the position: a `.jpg` or `.png` file, relative to the routine file (checked by "
        "`validate`). Printed beside the step on the handout, shown on the published page while the step plays, "
        "and the chapter's art in podcast apps.",
        values="a path",
        default_doc="none",
    )
    wait = Field(
        Flag(),
        doc="Wait for the listener before the hold (to move into position, or fetch a prop): after `say`, "
        '"Press play when you\'re ready." and a silence of `defaults.ready`; the published page pauses there and '
        "goes on at the hold when play is pressed. Only before the step's first hold: the other sides and reps "
        "follow after `rest` as usual. See [Waiting for the listener](#waiting-for-the-listener).",
        default=False,
    )
    voice = Field(
        Nested(VoiceSchema),
        doc="This step's own voice (for example slower and softer for a relaxation step). Fields it leaves out come "
        "from the routine's `voice`; the other steps keep the routine's voice.",
        values="a `voice` block, see [section 4](#4-voice)",
        default_doc="the routine's voice",
    )


class VariantSchema(Schema):
    name = Field(
        Text(100),
        doc="What the track's title and file name call this version: `Neck and back (Gentle)`, "
        "`neck-and-back (Gentle).mp3`.",
        default_doc="the variant's key (`gentle`)",
    )
    holds = Field(
        Number(*HOLDS),
        doc="Scales every hold: `0.5` halves them, `1.5` makes them half as long again. Countdowns, `count`, "
        "`remaining` and cues at `half` or `-10s` follow the scaled hold; a hold that becomes too short for its "
        "countdown or cues is an error, as for any hold.",
        default=1.0,
    )
    pace = Field(
        Number(*PACE),
        doc="Scales the pace: rests, pauses and gaps last 1/`pace` as long, and every voice speaks `pace` times as "
        "fast (`0.8`: a fifth slower, with a quarter more time between). Holds are not changed (that is `holds`).",
        default=1.0,
    )
    reps = Field(Integer(1, 100), doc="Every step is done this many times (on each side).", default_doc="each step's")


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
        Nested(
            BackgroundSchema,
            example="`background: {noise: pink}` (like steady rain; `brown` is deeper), or your "
            "own recording: `background: {file: rain.mp3}`",
        ),
        doc="Ambience under the whole track: your own audio file looped, or generated noise; it dips under the "
        "voice. See [Background](#background).",
        values="`file` or `noise`, with `volume` and `duck`",
    )
    variants = Field(
        MapOf(Nested(VariantSchema), reserved=(VARIANT_ALL,)),
        doc="Other versions of this routine (gentler, shorter, …), each under a name of your choice and made with "
        "`--variant NAME`. See [Versions of one routine](#versions-of-one-routine).",
        values="names (lower-case letters, digits, `-`; not `all`), each a `variant` block",
        default_doc="none",
        examples=[{"gentle": {"holds": 0.75, "pace": 0.85, "reps": 1}}],
    )
    phrases = Field(
        Nested(PhrasesSchema),
        doc='Your own words for the built-in phrases (side names, "seconds left", "Rep 2 of 5", numbers). '
        "See [Languages](#languages).",
        values="see there",
        default_doc="the language's phrases",
    )


RoutineSchema.elsewhere = {
    key: f"`{key}` belongs to a step: write it under `steps:`, in a step that starts with `- `"
    for key in StepSchema.fields()
    if key not in RoutineSchema.fields()
}
StepSchema.elsewhere = {"at": "`at` belongs to a cue: write it under `cues:`, as `- at: half` with the cue's `say`"}
