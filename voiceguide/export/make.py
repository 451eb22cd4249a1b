"""The heavy stages, imported only when a track or its clips must really be made: every line
spoken (or decoded from the speech cache), the chimes built, the track mixed with its background
and handed to ``export``. Telling whether a track is current imports none of it, so an unchanged
render pays for no numpy, Pillow or mutagen.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from voiceguide.audio.background import Bed
from voiceguide.audio.ffmpeg import Samples
from voiceguide.audio.mix import Mix
from voiceguide.audio.sounds import chime_clips
from voiceguide.audio.standards import chime_key
from voiceguide.errors import OutputError
from voiceguide.export.layout import Export
from voiceguide.export.track import Exported, export
from voiceguide.model import Routine
from voiceguide.plan.script import Item, Sound, Utterance, sounds, utterances
from voiceguide.plan.timeline import Timeline
from voiceguide.progress import Progress
from voiceguide.speech.cache import samples_digest
from voiceguide.speech.synth import Settings, Stats, synthesise


def made_clips(
    routine: Routine, items: tuple[Item, ...], sample_rate: int, settings: Settings, progress: Progress
) -> tuple[dict[Utterance | Sound, Samples], Stats]:
    """The audio of every line and chime of the script ``items``. Each chime is kept in the speech
    cache too (under ``chime_key``), so a later render reads its length and digest from there."""
    speech, stats = synthesise(utterances(items), routine.language, sample_rate, settings, progress)
    clips: dict[Utterance | Sound, Samples] = dict(speech.items())  # items(): dict keys are invariant
    for sound, clip in chime_clips(routine, sounds(items), sample_rate).items():
        clips[sound] = clip
        if (store := settings.cache) is not None:
            key = chime_key(routine, sound, sample_rate)
            kept = store.stored(key)
            if kept is None or kept.digest != samples_digest(clip):
                with contextlib.suppress(OutputError):  # only a speed-up: a read-only cache still plays
                    store.put(key, clip)
    return clips, stats


def make_track(
    routine: Routine,
    timeline: Timeline,
    clips: dict[Utterance | Sound, Samples],
    base: Path,
    bitrate: int,
    options: Export,
    fingerprint: str,
    progress: Progress,
    jobs: int,
) -> Exported:
    """Mix ``clips`` on ``timeline`` with the routine's background, then level, encode, tag and write it."""
    bed = Bed(timeline, routine.background).window if routine.background else None
    return export(routine, timeline, Mix(timeline, clips, bed), base, bitrate, options, fingerprint, progress, jobs)
