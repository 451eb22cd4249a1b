"""The pipeline: load -> validate -> plan -> synthesise -> assemble -> level -> encode and export."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voiceguide import __version__
from voiceguide.audio.standards import LEVELLING, bitrates, chime_key
from voiceguide.durations import format_span
from voiceguide.errors import Problem, RoutineError
from voiceguide.export.layout import Export, playlist_is_current, target_path, track_sidecars
from voiceguide.export.sidecars import to_ms
from voiceguide.export.stamp import read_fingerprint
from voiceguide.files import atomic_path, output_folder, safe_name
from voiceguide.model import AUTO, Routine, Version, Voice
from voiceguide.plan.script import Sound, Utterance, least_ms, script, sounds, utterances
from voiceguide.plan.timeline import SAMPLE_RATE, Timeline, schedule
from voiceguide.progress import SILENT, Progress
from voiceguide.routine.build import MAX_TOTAL_MS, length_limit, load_routine
from voiceguide.routine.fields import VARIANT_ALL
from voiceguide.routine.variants import Scale
from voiceguide.speech.cache import Stored, samples_digest
from voiceguide.speech.engines import auto_engine, voice_to_download
from voiceguide.speech.synth import Settings, Stats, stored

if TYPE_CHECKING:
    from voiceguide.audio.ffmpeg import Samples

DEFAULT_BITRATE = 64
# The kbps a track can have: at SAMPLE_RATE (22,050 Hz) an MP3 is MPEG-2 layer III, whose frames hold
# 8 to 160 kbps in fixed steps (LAME rounds any other figure to one of them without a word); from 32,
# as the levelling's margins are measured from there and speech below it is muffled.
BITRATES = tuple(kbps for kbps in bitrates(SAMPLE_RATE) if kbps >= 32)


@dataclass(frozen=True)
class Overrides:
    """Command-line settings that win over the routine file (``holds`` and ``pace`` scale it)."""

    engine: str | None = None
    voice: str | None = None
    rate: int | None = None
    files_from: tuple[Path, ...] = ()  # folders a routine's files may come from, besides its own
    max_length_ms: int = MAX_TOTAL_MS  # the longest track allowed
    holds: float = 1.0
    pace: float = 1.0
    variants: tuple[str, ...] = ()  # --variant: names the routines declare, or `all`; none: as written


DEFAULTS = Settings()


@dataclass(frozen=True)
class Plan:
    """A routine with its exact timeline, the digest of every clip on it (BLAKE2b of its 16-bit
    samples) and the clips themselves; a plan measured from the cache's headers has their lengths
    and digests but no samples (``complete`` is false)."""

    routine: Routine
    timeline: Timeline
    clips: dict[Utterance | Sound, Samples]
    stats: Stats
    digests: dict[Utterance | Sound, bytes]

    @property
    def complete(self) -> bool:
        return all(key in self.clips for key in self.digests)


@dataclass(frozen=True)
class Fallback:
    """``engine: auto`` speaks ``language`` with pyttsx3 for want of an installed Piper voice;
    ``voice`` is a Piper voice for it that `voiceguide voices download` fetches."""

    language: str
    voice: str


def load(
    path: str | Path,
    overrides: Overrides = Overrides(),
    variant: str | None = None,
    fallbacks: set[Fallback] | None = None,
) -> Routine:
    """Load and validate a routine (its ``variant``, scaled by ``--holds`` and ``--pace``; refused if
    it would last longer than allowed, speech included), apply command-line overrides (to every voice
    in it), and settle ``engine: auto``, so every later stage (and what plan and render print) sees
    real engines. Where ``auto`` falls back to pyttsx3 for want of a Piper voice, that goes into
    ``fallbacks``."""

    def choose(language: str, name: str | None) -> str:
        if fallbacks is not None and (voice := voice_to_download(language, name)):
            fallbacks.add(Fallback(language, voice))
        return auto_engine(language, name)

    version = Version(variant, overrides.holds, overrides.pace)
    routine = load_routine(path, version, trusted=overrides.files_from, max_ms=overrides.max_length_ms)
    if (least := least_ms(script(routine))) > overrides.max_length_ms:
        problem = f"the track would last at least {format_span(least)}; {length_limit(overrides.max_length_ms)}"
        raise RoutineError([Problem(routine.source, routine.steps_line, "steps", problem)])
    return resolve_auto(_overridden(routine, overrides), choose)


def check_sounds(routine: Routine) -> None:
    """Refuse ``routine`` (every problem at its line) if a chime or background file it names does not
    decode to sound: ``validate`` and ``publish`` find it before anything is rendered."""
    from voiceguide.audio.sounds import sound_problems  # decodes them: numpy

    if problems := sound_problems(routine):
        raise RoutineError(problems)


def variant_names(path: str | Path, overrides: Overrides = Overrides()) -> list[str | None]:
    """The versions of the routine at ``path`` that ``--variant`` asks for, in order: ``None`` for
    the routine as written (no ``--variant``, or ``all``), and every variant it declares for ``all``."""
    names: list[str | None] = []
    wanted: list[str | None] = [*overrides.variants] or [None]
    for name in wanted:
        if name == VARIANT_ALL:
            found = [None, *load_routine(path, trusted=overrides.files_from, max_ms=overrides.max_length_ms).variants]
        else:
            found = [name]
        names += [n for n in found if n not in names]
    return names


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
            rate=Scale(pace=routine.pace).voice(Voice(rate=overrides.rate)).rate if overrides.rate else voice.rate,
        )

    steps = tuple(dataclasses.replace(s, voice=override(s.voice)) if s.voice else s for s in routine.steps)
    return dataclasses.replace(routine, voice=override(routine.voice), steps=steps)


def plan(routine: Routine, settings: Settings = DEFAULTS, progress: Progress = SILENT) -> Plan:
    """Synthesise the routine's lines and place everything on the sample grid."""
    from voiceguide.export.make import made_clips  # the heavy stages: only now is audio made

    items = script(routine)
    progress.stage("Synthesising", len(utterances(items)))
    clips, stats = made_clips(routine, items, SAMPLE_RATE, settings, progress)
    timeline = schedule(routine, items, {key: len(c) for key, c in clips.items()}, SAMPLE_RATE)
    return Plan(routine, timeline, clips, stats, {key: samples_digest(c) for key, c in clips.items()})


def measured(routine: Routine, settings: Settings = DEFAULTS) -> Plan | None:
    """The plan as far as the cache's headers give it, with no audio decoded or made (enough to tell
    whether a track is current); ``None`` unless every line and chime is cached (``plan`` keeps the
    chimes it makes there)."""
    items = script(routine)
    found = stored(utterances(items), routine.language, SAMPLE_RATE, settings)
    if found is None or settings.cache is None:
        return None
    speech, stats = found
    entries: dict[Utterance | Sound, Stored] = dict(speech.items())
    for sound in sounds(items):
        if (chime := settings.cache.stored(chime_key(routine, sound, SAMPLE_RATE))) is None:
            return None
        entries[sound] = chime
    timeline = schedule(routine, items, {key: entry.length for key, entry in entries.items()}, SAMPLE_RATE)
    return Plan(routine, timeline, {}, stats, {key: entry.digest for key, entry in entries.items()})


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
    it would be made from is left as it is (telling that decodes no speech: the cache's headers
    give each line's length and digest); so is ``reuse``, an MP3 made elsewhere (by another
    ``publish``), copied instead of encoded when its fingerprint matches.
    """
    planned = measured(routine, settings) or plan(routine, settings, progress)
    base = output_folder(out_dir) / track_name(routine.source, routine.variant)
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
    if not planned.complete:  # decode the speech now; a damaged entry is spoken again, so stamp what is encoded
        planned = plan(routine, settings, progress)
        stamp = fingerprint(planned, bitrate, options)
    from voiceguide.export.make import make_track  # the heavy stages: only now is a track made

    written = make_track(
        routine, planned.timeline, planned.clips, base, bitrate, options, stamp, progress, settings.jobs
    )
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
    so the sheet gives the track's true length (from the cache's headers when every line is there)."""
    from voiceguide.export.handout import Sheet, write_handout

    planned = measured(routine, settings) or plan(routine, settings, progress)
    name = track_name(routine.source, routine.variant)
    timeline = planned.timeline
    sheet = Sheet(to_ms(timeline.duration, timeline.sample_rate), f"{name}.mp3", url, paper)
    return write_handout(routine, sheet, output_folder(out_dir) / f"{name}.pdf")


def _copy_if_current(source: Path, target: Path, stamp: str) -> None:
    """Copy ``source`` over ``target`` when it carries ``stamp`` and ``target`` does not (else leave both)."""
    try:
        if not source.is_file() or source.resolve() == target.resolve() or read_fingerprint(source) != stamp:
            return
        if target.is_file() and read_fingerprint(target) == stamp:
            return
        with atomic_path(target) as partial:
            shutil.copyfile(source, partial)
    except OSError:
        return  # it is only a shortcut: the track is encoded instead


def track_name(source: str | Path, variant: str | None = None) -> str:
    """The name (without extension) of the track rendered from routine file ``source``, in ``variant``."""
    return safe_name(f"{Path(source).stem} ({variant})" if variant else Path(source).stem)


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
    """A digest of everything a track is made from: timeline, clips (by their digests), tags, pictures, settings."""
    routine = dataclasses.replace(planned.routine, source="")
    # where the sidecars' links point is not in the MP3: a track published under another URL is the same track
    audio_options = dataclasses.replace(options, links="")
    digest = hashlib.sha256(repr((__version__, LEVELLING, bitrate, audio_options, routine)).encode())
    images = (routine.cover, *(step.image for step in routine.steps))  # named in it; their content may change
    for image in images:
        if image is not None and image.is_file():
            digest.update(_file_digest(image))
    events = planned.timeline.events
    for event in events:
        digest.update(repr((event.start, event.duration, event.kind, event.role, event.clip)).encode())
    for clip in dict.fromkeys(e.clip for e in events if e.clip is not None):  # each sound once
        digest.update(planned.digests[clip])
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
