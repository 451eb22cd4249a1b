"""The pipeline: load -> validate -> plan -> synthesise -> assemble -> level -> encode and export."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import __version__
from .audio import Mix, Samples, read_fingerprint
from .background import Bed
from .engines import auto_engine
from .errors import Problem, RoutineError
from .export import Export, export, target_path, track_sidecars
from .files import output_folder, safe_name
from .level import LEVELLING
from .model import AUTO, Routine, Voice
from .routine import load_routine
from .sidecars import write_text
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
            named_at=None if overrides.voice else voice.named_at,
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
    warnings: tuple[Problem, ...] = ()  # about the levelling (said when the track is encoded)


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
    base = output_folder(out_dir) / track_name(routine.source)
    target = target_path(base, options)
    stamp = fingerprint(planned, bitrate, options)
    if not options.split and target.is_file() and read_fingerprint(target) == stamp:
        if options.sidecars:  # cheap, and puts back any that were deleted
            track_sidecars(routine, planned.timeline, base)
        return Rendered(target, planned, encoded=False)
    if options.split and _playlist_is_current(target, stamp):
        return Rendered(target, planned, encoded=False)
    timeline = planned.timeline
    bed = Bed(timeline, routine.background).window if routine.background else None
    mix = Mix(timeline, planned.clips, bed)
    written = export(routine, timeline, mix, base, bitrate, options, stamp, progress)
    if options.split:
        _stamp_playlist(written.path, stamp)
    return Rendered(written.path, planned, encoded=True, warnings=written.warnings)


PLAYLIST_STAMP = "#VOICEGUIDE-FINGERPRINT:"  # an M3U comment: players skip it


def _stamp_playlist(playlist: Path, stamp: str) -> None:
    """Record in a split render's playlist what its parts were made from."""
    lines = playlist.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith(PLAYLIST_STAMP)]
    write_text(playlist, "\n".join([*kept[:2], PLAYLIST_STAMP + stamp, *kept[2:]]) + "\n")


def _playlist_is_current(playlist: Path, stamp: str) -> bool:
    """Whether a split render's playlist carries ``stamp`` and every part it lists is still there."""
    try:
        lines = playlist.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    parts = [playlist.parent / line for line in lines if line and not line.startswith("#")]
    return PLAYLIST_STAMP + stamp in lines and bool(parts) and all(part.is_file() for part in parts)


def track_name(source: str | Path) -> str:
    """The name (without extension) of the track rendered from routine file ``source``."""
    return safe_name(Path(source).stem)


def distinct_tracks(paths: Iterable[Path]) -> list[Path]:
    """``paths`` with repeats of one file dropped; refused if two files would write one track.

    Names are compared as a FAT card or a Mac compares them (ignoring case), so no
    track of a batch ever replaces another.
    """
    kept: dict[str, Path] = {}
    problems: list[Problem] = []
    for path in paths:
        name = track_name(path)
        first = kept.setdefault(name.casefold(), path)
        if first is not path and first.resolve() != path.resolve():
            message = f"would be written to the same track as {first} ({name!r}); rename one of the two files"
            problems.append(Problem(str(path), None, "", message))
    if problems:
        raise RoutineError(problems)
    return list(kept.values())


def fingerprint(planned: Plan, bitrate: int, options: Export = Export()) -> str:
    """A digest of everything a track is made from: timeline, speech samples, tags, cover, settings."""
    routine = dataclasses.replace(planned.routine, source="")
    digest = hashlib.sha256(repr((__version__, LEVELLING, bitrate, options, routine)).encode())
    if routine.cover is not None and routine.cover.is_file():
        digest.update(_file_digest(routine.cover))
    events = planned.timeline.events
    for event in events:
        digest.update(repr((event.start, event.duration, event.kind, event.role, event.clip)).encode())
    for clip in dict.fromkeys(e.clip for e in events if e.clip is not None):  # each sound once
        digest.update(planned.clips[clip].tobytes())
    background = planned.routine.background
    if background and background.file:  # its path is in the routine; its content may change
        digest.update(_file_digest(background.file))
    return digest.hexdigest()


def _file_digest(path: Path) -> bytes:
    """SHA-256 of a file's content, read in blocks (a background recording may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()
