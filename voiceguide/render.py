"""The pipeline: load -> validate -> plan -> synthesise -> assemble -> export."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .audio import Samples
from .export import Export, export
from .files import output_folder, safe_name
from .model import Routine
from .routine import load_routine
from .synth import synthesise
from .timeline import SAMPLE_RATE, Timeline, Utterance, schedule, script, utterances

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
    clips: dict[Utterance, Samples]


def load(path: str | Path, overrides: Overrides = Overrides()) -> Routine:
    """Load and validate a routine, then apply command-line overrides."""
    routine = load_routine(path)
    voice = routine.voice
    changed = dataclasses.replace(
        voice,
        engine=overrides.engine or voice.engine,
        name=overrides.voice or voice.name,
        rate=overrides.rate or voice.rate,
    )
    return dataclasses.replace(routine, voice=changed)


def plan(routine: Routine) -> Plan:
    """Synthesise the routine's lines and place everything on the sample grid."""
    items = script(routine)
    clips = synthesise(utterances(items), routine.language, SAMPLE_RATE)
    timeline = schedule(routine, items, {u: len(c) for u, c in clips.items()}, SAMPLE_RATE)
    return Plan(routine, timeline, clips)


def render(
    routine: Routine,
    out_dir: Path,
    bitrate: int = DEFAULT_BITRATE,
    stem: str | None = None,
    options: Export = Export(),
) -> tuple[Path, Plan]:
    """Render ``routine`` to ``out_dir/<stem>.mp3`` (or a playlist of parts); files appear only when complete."""
    planned = plan(routine)
    base = output_folder(out_dir) / safe_name(stem or Path(routine.source).stem)
    return export(routine, planned.timeline, planned.clips, base, bitrate, options), planned
