"""Phone-ready output: the MP3 (or one per chapter plus a playlist), its tags, and its sidecars.

Every file is written through ``files.atomic_path``; loudness is set on the
voice of the whole track (``level``), and split parts are windows of that one levelled
stream, so they play at one level. Each file is encoded once, and heard as it is encoded; it is
encoded again only where that showed a true peak over the ceiling, or the loudness off target.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from voiceguide.audio.encode import Heard, encode_mp3
from voiceguide.audio.level import (
    MAX_CUT_LU,
    MP3_GAIN_DB,
    PEAK_GUARD_DB,
    Levelled,
    analysis_steps,
    level,
)
from voiceguide.audio.loudness import FULL_SCALE, TRUE_PEAK_CEILING, TruePeak, db
from voiceguide.audio.mix import Mix
from voiceguide.audio.mp3 import Cuts
from voiceguide.errors import Problem
from voiceguide.export.cover import Cover, cover_art
from voiceguide.export.layout import (
    PLAYLIST_STAMP,
    Export,
    album,
    artist,
    chapter_pictures,
    picture_name,
    target_path,
    track_sidecars,
)
from voiceguide.export.sidecars import Header, Window, to_ms, write_sidecars
from voiceguide.export.stamp import audio_digest
from voiceguide.export.tags import Mark, TrackTags, write_tags
from voiceguide.files import atomic_path, output_folder, safe_name, write_bytes, write_text
from voiceguide.model import Routine
from voiceguide.plan.timeline import Timeline
from voiceguide.progress import SILENT, Progress, Shared

GENRE = "Speech"
NOTICED_LU = 0.5  # a voice this far short of the target is worth a warning
MAX_ENCODES = 3  # a track still off after two corrections is as close as it gets
PART_NAME = re.compile(r"\d{2,} - .+\.(mp3|lrc|vtt|srt|chapters\.json|step-\d+\.(jpg|png))")


@dataclass(frozen=True)
class Exported:
    """What ``export`` wrote (the MP3, or the playlist when split), and what it warns about."""

    path: Path
    warnings: tuple[Problem, ...] = ()


def export(
    routine: Routine,
    timeline: Timeline,
    mix: Mix,
    base: Path,
    bitrate: int,
    options: Export = Export(),
    fingerprint: str | None = None,
    progress: Progress = SILENT,
    jobs: int = 1,
) -> Exported:
    """Write ``<base>.mp3`` (or, split, ``<base>/NN - Chapter.mp3`` and ``<base>.m3u8``), with up to
    ``jobs`` encoders at once."""
    cover = cover_art(routine)
    rate = timeline.sample_rate
    if options.loudness is not None:
        progress.stage("Levelling", analysis_steps(mix))
    levelled = level(mix, options.loudness, bitrate, progress)
    if options.split:
        written, levelled = _split(
            routine, timeline, levelled, base, bitrate, options, cover, fingerprint, progress, jobs
        )
        return Exported(written, level_warnings(routine, levelled, options.loudness))
    target = target_path(base, options)
    with atomic_path(target) as partial:
        levelled = _encode(levelled, [(partial, 0, timeline.duration)], bitrate, progress, jobs)
        pictures = chapter_pictures(routine)
        marks = tuple(
            Mark(c.title, to_ms(c.start, rate), to_ms(c.end, rate), pictures.get(c.step or 0))
            for c in timeline.chapters
        )
        tags = _tags(routine, routine.title, 1, None, cover, marks, fingerprint)
        write_tags(partial, dataclasses.replace(tags, audio=audio_digest(partial)))  # untagged yet: all audio
    if options.sidecars:
        track_sidecars(routine, timeline, base, options.links)
    return Exported(target, level_warnings(routine, levelled, options.loudness))


def level_warnings(routine: Routine, levelled: Levelled, target: float | None) -> tuple[Problem, ...]:
    """What the listener should know about the levelling: a voice short of the target, a bed limited."""
    found: list[Problem] = []
    bed = routine.background
    if target is not None and levelled.aim is not None and levelled.aim + MP3_GAIN_DB < target - NOTICED_LU:
        reached = levelled.aim + MP3_GAIN_DB
        found.append(
            Problem(
                str(routine.source),
                None,
                "",
                f"the voice is levelled to {reached:.1f} LUFS, not {target:g}: louder, the limiter would take more "
                f"than {MAX_CUT_LU:g} dB off it to keep the track's true peak at most {TRUE_PEAK_CEILING:g} dBTP"
                + (" with the background's peaks under it" if bed else ""),
                fix=f"choose a quieter target, e.g. --loudness {max(-40, math.floor(reached)):d}"
                + (", or a lower background `volume` or a deeper `duck`" if bed else ""),
            )
        )
    if target is not None and levelled.aim is None and levelled.mix.speech:
        found.append(
            Problem(
                str(routine.source),
                None,
                "",
                "the voice is left at its own level: its lines are too short or too quiet to measure "
                "(loudness is measured over at least 0.4 s of speech above -70 LUFS)",
                fix="give the routine a longer line to say, e.g. an intro",
            )
        )
    peak = levelled.bed_peak
    if bed is not None and peak is not None:
        found.append(
            Problem(
                str(routine.source),
                None,
                "background.volume",
                f"the background by itself peaks at {db(peak / FULL_SCALE):+.1f} dBTP, over the track's ceiling: "
                f"the limiter holds it under {TRUE_PEAK_CEILING:g} dBTP, in the holds too",
                fix=f"lower `volume` (now {bed.volume_db:g}dB) to hear it unlimited",
            )
        )
    return tuple(found)


def _encode(
    levelled: Levelled, files: list[tuple[Path, int, int]], bitrate: int, progress: Progress, jobs: int = 1
) -> Levelled:
    """Encode each window ``(path, start, end)`` of the levelled track once, hearing the MP3 as it
    is written. In the rare case LAME raised a true peak past the ceiling, lower the limiter's
    ceiling there and encode once more. Returns the levelling the files were last encoded with.

    The voice's loudness is not measured again: the gain was solved on the analysis's per-tick
    energies, which give the finished PCM's to within 0.02 LU (the bundled routines, both engines)."""
    rate = levelled.mix.rate
    limit = TRUE_PEAK_CEILING - PEAK_GUARD_DB
    for attempt in range(1, MAX_ENCODES + 1):
        overs: list[tuple[int, float]] = []
        shared = Shared(progress)  # the encoders report from threads of their own
        windows = [(path, lo, levelled.pcm(lo, hi, shared)) for path, lo, hi in files]
        progress.stage("Encoding", sum(levelled.chunks(pcm, jobs) for _, _, pcm in windows))
        for path, lo, pcm in windows:
            heard = _Heard(10 ** (limit / 20)) if levelled.aim is not None else None
            cuts = encode_mp3(pcm, path, rate, bitrate, heard, jobs)
            if heard is not None:
                over = [(lo + sample, db(value) - limit) for sample, value in heard.overs(cuts)]
                overs += [(sample, by) for sample, by in over if levelled.limits(sample)]
        if levelled.aim is None or not overs or attempt == MAX_ENCODES:
            return levelled
        levelled = levelled.corrected(overs)
    return levelled


class _Heard:
    """Hears each piece of an encode with a true-peak meter of its own, kept with where the piece starts."""

    def __init__(self, over: float) -> None:
        self.over = over
        self.pieces: list[tuple[int, TruePeak]] = []

    def __call__(self, start: int) -> Heard:
        peak = TruePeak(over=self.over)
        self.pieces.append((start, peak))
        return peak.add

    def overs(self, cuts: Cuts) -> list[tuple[int, float]]:
        """Where (a sample of the track) the MP3's true peak went over, and how high (full scale 1.0)."""
        found = []
        for start, peak in self.pieces:
            peak.flush()
            found += [(cuts.track(start + at), value) for at, value in peak.overs]
        return found


def _split(
    routine: Routine,
    timeline: Timeline,
    levelled: Levelled,
    base: Path,
    bitrate: int,
    options: Export,
    cover: Cover,
    fingerprint: str | None,
    progress: Progress,
    jobs: int,
) -> tuple[Path, Levelled]:
    """One gapless MP3 per chapter, cut at its exact sample, plus a relative-path playlist (which
    carries ``fingerprint``, what the parts were made from)."""
    rate = timeline.sample_rate
    folder = output_folder(base.parent / base.name)
    count = len(timeline.chapters)
    entries = ["#EXTM3U", f"#PLAYLIST:{routine.title}"]
    if fingerprint is not None:
        entries.append(PLAYLIST_STAMP + fingerprint)
    written: set[Path] = set()
    stems = [safe_name(f"{n:0{max(2, len(str(count)))}d} - {c.title}") for n, c in enumerate(timeline.chapters, 1)]
    with ExitStack() as stack:  # every part appears only once all are encoded
        partials = [stack.enter_context(atomic_path(folder / f"{stem}.mp3")) for stem in stems]
        windows = [(p, c.start, c.end) for p, c in zip(partials, timeline.chapters, strict=True)]
        levelled = _encode(levelled, windows, bitrate, progress, jobs)
        pictures = chapter_pictures(routine)
        for number, (partial, chapter) in enumerate(zip(partials, timeline.chapters, strict=True), start=1):
            marks = (Mark(chapter.title, 0, to_ms(chapter.end - chapter.start, rate), pictures.get(chapter.step or 0)),)
            write_tags(partial, _tags(routine, chapter.title, number, count, cover, marks, None))
    links = options.links and options.links + urllib.parse.quote(folder.name) + "/"  # the parts' folder online
    for stem, chapter in zip(stems, timeline.chapters, strict=True):
        target = folder / f"{stem}.mp3"
        written.add(target)
        if options.sidecars:
            header = Header(chapter.title, artist(routine), album(routine))
            images = {}
            if chapter.step in pictures:  # the step's picture beside its part, as the whole track has it
                name = picture_name(stem, routine.steps[chapter.step - 1])
                written.add(write_bytes(folder / name, pictures[chapter.step].data))
                images[chapter.step] = links + urllib.parse.quote(name)
            written.update(write_sidecars(timeline, Window(chapter.start, chapter.end), header, folder / stem, images))
        seconds = to_ms(chapter.end - chapter.start, rate) / 1000
        entries += [f"#EXTINF:{seconds:.3f},{artist(routine)} - {chapter.title}", f"{folder.name}/{target.name}"]
    _remove_stale_parts(folder, written)
    return write_text(target_path(base, options), "\n".join(entries) + "\n"), levelled


def _remove_stale_parts(folder: Path, written: set[Path]) -> None:
    """Delete parts an earlier render left behind (a step renamed or removed): on a phone
    they would still show up in the album. Only files named like our parts are touched."""
    for path in folder.iterdir():
        if PART_NAME.fullmatch(path.name) and path not in written:
            path.unlink(missing_ok=True)


def _tags(
    routine: Routine,
    title: str,
    track: int,
    tracks: int | None,
    cover: Cover,
    marks: tuple[Mark, ...],
    fingerprint: str | None,
) -> TrackTags:
    return TrackTags(
        title=title,
        artist=artist(routine),
        album=album(routine),
        track=track,
        tracks=tracks,
        year=datetime.date.today().year,
        genre=GENRE,
        comment=routine.description,
        language=routine.language,
        cover=cover,
        chapters=marks,
        fingerprint=fingerprint,
    )
