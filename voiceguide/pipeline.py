"""The pipeline: load -> validate -> plan -> synthesise -> assemble -> level -> encode and export."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from voiceguide import __version__
from voiceguide.audio.background import Bed
from voiceguide.audio.ffmpeg import Samples
from voiceguide.audio.level import LEVELLING
from voiceguide.audio.mix import Mix
from voiceguide.audio.sounds import chime_clips
from voiceguide.errors import Problem, RoutineError
from voiceguide.export.handout import Sheet, write_handout
from voiceguide.export.sidecars import to_ms
from voiceguide.export.tags import read_fingerprint
from voiceguide.export.track import Export, export, playlist_is_current, target_path, track_sidecars
from voiceguide.files import atomic_path, output_folder, safe_name
from voiceguide.model import AUTO, Routine, Voice
from voiceguide.plan.timeline import SAMPLE_RATE, Sound, Timeline, Utterance, schedule, script, sounds, utterances
from voiceguide.progress import SILENT, Progress
from voiceguide.routine.build import load_routine
from voiceguide.speech.engines import auto_engine
from voiceguide.speech.synth import Settings, Stats, synthesise

DEFAULT_BITRATE = 64


@dataclass(frozen=True)
class Overrides:
    """Command-line settings that win over the routine file."""

    engine: str | None = None
    voice: str | None = None
    rate: int | None = None


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
    speech, stats = synthesise(lines, routine.language, SAMPLE_RATE, settings, progress)
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
    reuse: Path | None = None,
) -> Rendered:
    """Render ``routine`` to ``out_dir/<file stem>.mp3`` (or, split, a playlist of parts).

    Files appear only when complete. A track whose stored fingerprint matches what
    it would be made from is left as it is; so is ``reuse``, an MP3 made elsewhere
    (by another ``publish``), copied instead of encoded when its fingerprint matches.
    """
    planned = plan(routine, settings, progress)
    base = output_folder(out_dir) / track_name(routine.source)
    target = target_path(base, options)
    stamp = fingerprint(planned, bitrate, options)
    if not options.split and reuse is not None:
        _copy_if_current(reuse, target, stamp)
    if not options.split and target.is_file() and read_fingerprint(target) == stamp:
        if options.sidecars:  # cheap, and puts back any that were deleted
            track_sidecars(routine, planned.timeline, base, options.links)
        return Rendered(target, planned, encoded=False)
    if options.split and playlist_is_current(target, stamp):
        return Rendered(target, planned, encoded=False)
    timeline = planned.timeline
    bed = Bed(timeline, routine.background).window if routine.background else None
    mix = Mix(timeline, planned.clips, bed)
    written = export(routine, timeline, mix, base, bitrate, options, stamp, progress)
    return Rendered(written.path, planned, encoded=True, warnings=written.warnings)


def handout(
    routine: Routine,
    out_dir: Path,
    url: str | None = None,
    paper: str = "a4",
    settings: Settings = DEFAULTS,
    progress: Progress = SILENT,
) -> Path:
    """Write ``out_dir/<file stem>.pdf``, the routine's handout; its speech is synthesised (cached)
    so the sheet gives the track's true length."""
    planned = plan(routine, settings, progress)
    name = track_name(routine.source)
    timeline = planned.timeline
    sheet = Sheet(to_ms(timeline.duration, timeline.sample_rate), f"{name}.mp3", url, paper)
    return write_handout(routine, sheet, output_folder(out_dir) / f"{name}.pdf")


def _copy_if_current(source: Path, target: Path, stamp: str) -> None:
    """Copy ``source`` over ``target`` when it carries ``stamp`` and ``target`` does not (else leave both)."""
    try:
        if source.resolve() == target.resolve() or read_fingerprint(source) != stamp:
            return
        if target.is_file() and read_fingerprint(target) == stamp:
            return
        with atomic_path(target) as partial:
            shutil.copyfile(source, partial)
    except OSError:
        return  # it is only a shortcut: the track is encoded instead


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
    """A digest of everything a track is made from: timeline, speech samples, tags, pictures, settings."""
    routine = dataclasses.replace(planned.routine, source="")
    digest = hashlib.sha256(repr((__version__, LEVELLING, bitrate, options, routine)).encode())
    images = (routine.cover, *(step.image for step in routine.steps))  # named in it; their content may change
    for image in images:
        if image is not None and image.is_file():
            digest.update(_file_digest(image))
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
