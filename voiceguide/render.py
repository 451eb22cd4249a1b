"""The pipeline: load -> validate -> plan -> synthesise -> assemble -> export."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .audio import Samples, encode_mp3, pcm_chunks, write_tags
from .background import with_background
from .files import atomic_path, output_folder, safe_name
from .model import Routine, Voice
from .routine import load_routine
from .sounds import chime_clips
from .synth import synthesise
from .timeline import SAMPLE_RATE, Sound, Timeline, Utterance, schedule, script, sounds, utterances

DEFAULT_BITRATE = 64


@dataclass(frozen=True)
class Overrides:
    """Command-line settings that win over the routine file."""

    engine: str | None = None
    voice: str | None = None
    rate: int | None = None


@dataclass(frozen=True)
class Plan:
    """A routine with its exact timeline and the speech that fills it."""

    routine: Routine
    timeline: Timeline
    clips: dict[Utterance | Sound, Samples]


def load(path: str | Path, overrides: Overrides = Overrides()) -> Routine:
    """Load and validate a routine, then apply command-line overrides (to every voice in it)."""
    routine = load_routine(path)

    def override(voice: Voice) -> Voice:
        return dataclasses.replace(
            voice,
            engine=overrides.engine or voice.engine,
            name=overrides.voice or voice.name,
            rate=overrides.rate or voice.rate,
        )

    steps = tuple(dataclasses.replace(s, voice=override(s.voice)) if s.voice else s for s in routine.steps)
    return dataclasses.replace(routine, voice=override(routine.voice), steps=steps)


def plan(routine: Routine) -> Plan:
    """Synthesise the routine's lines and place everything on the sample grid."""
    items = script(routine)
    clips: dict[Utterance | Sound, Samples] = dict(synthesise(utterances(items), routine.language, SAMPLE_RATE).items())
    clips.update(chime_clips(routine, sounds(items), SAMPLE_RATE).items())
    timeline = schedule(routine, items, {key: len(c) for key, c in clips.items()}, SAMPLE_RATE)
    return Plan(routine, timeline, clips)


def render(
    routine: Routine, out_dir: Path, bitrate: int = DEFAULT_BITRATE, stem: str | None = None
) -> tuple[Path, Plan]:
    """Render ``routine`` to ``out_dir/<stem>.mp3``; the file appears only when complete."""
    planned = plan(routine)
    folder = output_folder(out_dir)
    target = folder / f"{safe_name(stem or Path(routine.source).stem)}.mp3"
    with atomic_path(target) as partial:
        chunks = pcm_chunks(planned.timeline, planned.clips)
        if routine.background:
            chunks = with_background(chunks, planned.timeline, routine.background)
        encode_mp3(chunks, partial, SAMPLE_RATE, bitrate)
        write_tags(partial, routine)
    return target, planned
