"""Chimes for the audio stage: soft bells made in code, or the user's own sound files.

Every chime starts and ends with a short fade, so it never clicks, and peaks well
below full scale, so the voice stays the loudest thing on the track.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voiceguide.audio.background import MAX_LOOP_SECONDS
from voiceguide.audio.ffmpeg import Samples, decode_file, unplayable
from voiceguide.audio.standards import chime_file
from voiceguide.errors import EncoderError, Problem
from voiceguide.model import Routine
from voiceguide.plan.script import Sound

CHIME_PEAK = 0.3  # of full scale (about -10 dBFS)
FADE_IN_MS = 5
FADE_OUT_MS = 40
MAX_SOUND_SECONDS = 5  # a longer file of the user's is cut (with a fade) to this
# A bell's partials: (ratio to the fundamental, amplitude, decay time in seconds).
_PARTIALS = ((1.0, 1.0, 0.45), (2.0, 0.45, 0.3), (2.76, 0.3, 0.2), (5.4, 0.12, 0.1))

Wave = npt.NDArray[np.float64]


def chime_clips(routine: Routine, needed: Iterable[Sound], sample_rate: int) -> dict[Sound, Samples]:
    """Audio for each chime: the routine's own file for it, else the built-in bell."""
    clips: dict[Sound, Samples] = {}
    for sound in needed:
        path = chime_file(routine, sound)
        clips[sound] = _from_file(path, sample_rate) if path else _bell(sound.name, sample_rate)
    return clips


def sound_problems(routine: Routine) -> list[Problem]:
    """Every chime or background file of ``routine`` that does not decode to sound, as far as a render
    reads it (the first few seconds of a chime, the first minutes of a background), at its line."""
    named = [(routine.sounds.start, routine.sounds.start_at, MAX_SOUND_SECONDS)]
    named.append((routine.sounds.end, routine.sounds.end_at, MAX_SOUND_SECONDS))
    if routine.background is not None:
        named.append((routine.background.file, routine.background.file_at, MAX_LOOP_SECONDS))
    problems = []
    for path, at, seconds in named:
        if path is not None and (wrong := unplayable(path, seconds)) is not None:
            source, line, field = at or (routine.source, None, "")
            problems.append(Problem(source, line, field, wrong[0], fix=wrong[1]))
    return problems


def _strike(frequency: float, seconds: float, sample_rate: int) -> Wave:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = np.zeros_like(t)
    for ratio, amplitude, decay in _PARTIALS:
        wave += amplitude * np.exp(-t / decay) * np.sin(2 * np.pi * frequency * ratio * t)
    return wave


def _bell(name: str, sample_rate: int) -> Samples:
    """``start``: one bright strike (A5); ``end``: two lower strikes, falling (E5 then A4)."""
    if name == "start":
        wave = _strike(880.0, 1.2, sample_rate)
    else:
        wave = _strike(659.25, 1.6, sample_rate)
        second = _strike(440.0, 1.35, sample_rate)
        wave[len(wave) - len(second) :] += second
    return _finish(wave / np.abs(wave).max() * CHIME_PEAK * 32767, sample_rate)


def _from_file(path: Path, sample_rate: int) -> Samples:
    try:
        samples, _ = decode_file(path, sample_rate, MAX_SOUND_SECONDS)
    except EncoderError as err:
        raise EncoderError(err.message, f"check the file named in `sounds`; {err.fix}") from None
    return _finish(samples.astype(np.float64), sample_rate)


def _finish(wave: Wave, sample_rate: int) -> Samples:
    """Fade in and out (no clicks) and convert to 16-bit samples."""
    fade_in = min(len(wave), FADE_IN_MS * sample_rate // 1000)
    fade_out = min(len(wave), FADE_OUT_MS * sample_rate // 1000)
    wave = wave.copy()
    wave[:fade_in] *= np.linspace(0.0, 1.0, fade_in, endpoint=False)
    wave[len(wave) - fade_out :] *= np.linspace(1.0, 0.0, fade_out)
    return np.clip(np.round(wave), -32768, 32767).astype(np.int16)
