"""The pipeline: load -> validate -> plan -> synthesise -> assemble -> export."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import __version__
from .audio import CHUNK_SECONDS, Samples, pcm_chunks, read_fingerprint
from .background import with_background
from .engines import auto_engine
from .export import Export, export, target_path, track_sidecars
from .files import output_folder, safe_name
from .model import AUTO, Routine, Voice
from .routine import load_routine
from .sounds import chime_clips
from .synth import Settings, Stats, synthesise
from .timeline import SAMPLE_RATE, Sound, Timeline, Utterance, schedule, script, sounds, utterances

DEFAULT_BITRATE = 64


@dataclass(frozen=True)
class Overrides:
    """Command-line settings that win over the routine file."""

    engine: str | None = None
    voice: str | None = None
    rate: int | None = None


class Progress(Protocol):
    """Where the pipeline reports how far it is (the CLI draws bars; tests pass nothing)."""

    def stage(self, label: str, total: int) -> None: ...

    def advance(self) -> None: ...


class Silent:
    def stage(self, label: str, total: int) -> None:
        pass

    def advance(self) -> None:
        pass


SILENT = Silent()
DEFAULTS = Settings()


@dataclass(frozen=True)
class Plan:
    """A routine with its exact timeline and the speech that fills it."""

    routine: Routine
    timeline: Timeline
    clips: dict[Utterance | Sound, Samples]
    stats: Stats


def load(path: str | Path, overrides: Overrides = Overrides()) -> Routine:
    """Load and validate a routine, apply command-line overrides (to every voice in it), and
    settle ``engine: auto``, so every later stage (and what plan and render print) sees real engines."""
    return resolve_auto(_overridden(load_routine(path), overrides), auto_engine)


def resolve_auto(routine: Routine, choose: Callable[[str, str | None], str]) -> Routine:
    """``routine`` with every ``auto`` engine replaced by ``choose(language, voice name)``."""

    def resolve(voice: Voice) -> Voice:
        if voice.engine != AUTO:
            return voice
        return dataclasses.replace(voice, engine=choose(routine.language, voice.name))

    steps = tuple(dataclasses.replace(s, voice=resolve(s.voice)) if s.voice else s for s in routine.steps)
    return dataclasses.replace(routine, voice=resolve(routine.voice), steps=steps)


def _overridden(routine: Routine, overrides: Overrides) -> Routine:
    """``routine`` with the command line's engine, voice and rate in every voice."""

    def override(voice: Voice) -> Voice:
        return dataclasses.replace(
            voice,
            engine=overrides.engine or voice.engine,
            name=overrides.voice or voice.name,
            rate=overrides.rate or voice.rate,
        )

    steps = tuple(dataclasses.replace(s, voice=override(s.voice)) if s.voice else s for s in routine.steps)
    return dataclasses.replace(routine, voice=override(routine.voice), steps=steps)


def plan(routine: Routine, settings: Settings = DEFAULTS, progress: Progress = SILENT) -> Plan:
    """Synthesise the routine's lines and place everything on the sample grid."""
    items = script(routine)
    lines = utterances(items)
    progress.stage("Synthesising", len(lines))
    speech, stats = synthesise(lines, routine.language, SAMPLE_RATE, settings, progress.advance)
    clips: dict[Utterance | Sound, Samples] = dict(speech.items())  # items(): dict keys are invariant
    clips.update(chime_clips(routine, sounds(items), SAMPLE_RATE).items())
    timeline = schedule(routine, items, {key: len(c) for key, c in clips.items()}, SAMPLE_RATE)
    return Plan(routine, timeline, clips, stats)


@dataclass(frozen=True)
class Rendered:
    path: Path
    plan: Plan
    encoded: bool  # False: the track on disk already had exactly this audio and these tags


def render(
    routine: Routine,
    out_dir: Path,
    bitrate: int = DEFAULT_BITRATE,
    settings: Settings = DEFAULTS,
    progress: Progress = SILENT,
    options: Export = Export(),
) -> Rendered:
    """Render ``routine`` to ``out_dir/<file stem>.mp3`` (or, split, a playlist of parts).

    Files appear only when complete. A track whose stored fingerprint matches what
    it would be made from is left as it is.
    """
    planned = plan(routine, settings, progress)
    base = output_folder(out_dir) / safe_name(Path(routine.source).stem)
    target = target_path(base, options)
    stamp = fingerprint(planned, bitrate, options)
    if not options.split and target.is_file() and read_fingerprint(target) == stamp:
        if options.sidecars:  # cheap, and puts back any that were deleted
            track_sidecars(routine, planned.timeline, base)
        return Rendered(target, planned, encoded=False)
    timeline = planned.timeline
    total = -(-timeline.duration // (timeline.sample_rate * CHUNK_SECONDS))

    def chunks() -> Iterator[bytes]:
        """The track's PCM; called once per encoding pass (loudness, split parts)."""
        progress.stage("Encoding", total)
        pcm = pcm_chunks(timeline, planned.clips)
        if routine.background:
            pcm = with_background(pcm, timeline, routine.background)
        return _counted(pcm, progress)

    return Rendered(export(routine, timeline, chunks, base, bitrate, options, stamp), planned, encoded=True)


def fingerprint(planned: Plan, bitrate: int, options: Export = Export()) -> str:
    """A digest of everything a track is made from: timeline, speech samples, tags, cover, settings."""
    routine = dataclasses.replace(planned.routine, source="")
    digest = hashlib.sha256(repr((__version__, bitrate, options, routine)).encode())
    if routine.cover is not None and routine.cover.is_file():
        digest.update(routine.cover.read_bytes())
    events = planned.timeline.events
    for event in events:
        digest.update(repr((event.start, event.duration, event.kind, event.role, event.clip)).encode())
    for clip in dict.fromkeys(e.clip for e in events if e.clip is not None):  # each sound once
        digest.update(planned.clips[clip].tobytes())
    background = planned.routine.background
    if background and background.file:  # its path is in the routine; its content may change
        stat = background.file.stat()
        digest.update(repr((stat.st_size, stat.st_mtime_ns)).encode())
    return digest.hexdigest()


def _counted(chunks: Iterable[bytes], progress: Progress) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        progress.advance()
