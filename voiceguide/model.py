"""The validated routine: plain frozen data, times in whole milliseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from voiceguide.phrases import Phrases

PLACEHOLDERS = ("side", "rep", "reps")  # what a text may say in braces
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
AUTO = "auto"  # piper when it has a voice for the routine's language, else pyttsx3; resolved by pipeline.load
DEFAULT_ENGINE = AUTO
ENGINE_NAMES = ("pyttsx3", "espeak-ng", "piper")
ENGINE_CHOICES = (AUTO, *ENGINE_NAMES)  # what a routine, a step's voice or --engine may name
CHIMES = ("start", "end", "both", "none")  # `chime:` values: which holds' edges get a chime
NOISES = ("pink", "brown")


@dataclass(frozen=True)
class Voice:
    """Which engine speaks, with which voice, how fast and how loud."""

    engine: str = DEFAULT_ENGINE
    name: str | None = None
    rate: int = 150
    volume: float = 1.0
    # where the routine gives `name` (file, line, field), for a message if no voice has it;
    # not part of what the voice is, so equal voices stay equal wherever they are written
    named_at: tuple[str, int, str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Cue:
    """A line spoken inside a hold, ``offset_ms`` after the hold starts."""

    offset_ms: int
    text: str
    line: int = field(default=0, compare=False)  # where `at` is written, for warnings after synthesis


@dataclass(frozen=True)
class Step:
    """One exercise. Texts still hold their ``{side}``/``{rep}``/``{reps}`` placeholders."""

    number: int  # 1-based, as people count
    name: str
    say: str
    sides: tuple[str, ...]  # () when the step has no sides
    hold_ms: int  # 0: no hold
    reps: int
    rest_ms: int
    again: str
    release: str | None
    switch: str
    countdown: int  # already shortened to fit the hold
    cues: tuple[Cue, ...]
    pause_ms: int
    hold_line: int  # where the step's hold (or the step) is written, for messages after synthesis
    chimes: tuple[str, ...] = ()  # "start" and/or "end": chimes at the hold's edges
    remaining: tuple[int, ...] = ()  # "N seconds left" this many ms before the hold's end
    count: int = 0  # numbers counted aloud through the hold, evenly spaced
    count_reps: bool = False  # "Rep 2 of 5" before every rep
    voice: Voice | None = None  # the step's own voice (None: the routine's)
    image: Path | None = None  # a picture of the position, already checked to be a readable image
    wait: bool = False  # "Press play when you're ready." and the routine's `ready_ms` of silence before the hold


@dataclass(frozen=True)
class Sounds:
    """The user's own audio files replacing the built-in chimes (``None``: built in)."""

    start: Path | None = None
    end: Path | None = None
    # where the routine names each file (file, line, field), for a message if it does not play
    start_at: tuple[str, int, str] | None = field(default=None, compare=False, repr=False)
    end_at: tuple[str, int, str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Background:
    """Ambience under the whole track: the user's file looped, or generated noise."""

    file: Path | None = None
    noise: str | None = None  # "pink" or "brown" when there is no file
    volume_db: float = -30.0  # the bed's RMS level, dB relative to full scale
    duck_db: float = -12.0  # how far it dips under speech
    file_at: tuple[str, int, str] | None = field(default=None, compare=False, repr=False)  # as Sounds.start_at


@dataclass(frozen=True)
class Version:
    """Which version of a routine to make: one of its ``variants`` (None: as written), scaled further
    by the command line's ``--holds`` and ``--pace``."""

    variant: str | None = None
    holds: float = 1.0
    pace: float = 1.0


@dataclass(frozen=True)
class Routine:
    """A whole routine, as validated from one file."""

    source: str  # the path as the user gave it, for messages
    title: str
    description: str | None
    author: str | None
    album: str | None
    language: str
    voice: Voice
    intro: str | None
    outro: str | None
    pause_ms: int  # silence after the intro
    steps: tuple[Step, ...]
    steps_line: int | None = None  # where `steps:` is written, for messages about the whole track
    cover: Path | None = None  # an image file, already checked to exist
    sounds: Sounds = Sounds()
    background: Background | None = None
    phrases: Phrases | None = None  # the language's built-in phrases with the routine's overrides
    ready_ms: int = 5000  # the silence of a step with `wait: true`, where the page pauses
    gap_ms: int | None = None  # silence between two spoken lines (None: by the voice's rate)
    variant: str | None = None  # which version of the routine this is ("gentle"); None: as written
    variants: tuple[str, ...] = ()  # the names of the versions the file declares
    pace: float = 1.0  # the version's pace, for a --rate given on the command line


def fill(text: str, side: str | None = None, rep: int = 1, reps: int = 1) -> str:
    """Replace the placeholders of an already validated text."""
    values = {"side": side or "", "rep": str(rep), "reps": str(reps)}
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def step_label(number: int, name: str | None) -> str:
    """A step as people count and name it: ``step 3 "Shoulder knead"``."""
    if name and len(name) > 40:
        name = name[:37] + "..."
    return f'step {number} "{name}"' if name else f"step {number}"
