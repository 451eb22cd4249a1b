"""Background ambience for the audio stage: a looped file or generated noise, faded in and
out, and ducked under every spoken line.

Everything is computed per window of the track: the bed is one bounded loop buffer (at most
``MAX_LOOP_SECONDS`` of the user's file, or a generated noise loop) indexed by absolute sample,
and the gain envelope is built for the window from the speech events that touch it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.errors import EncoderError
from voiceguide.model import Background
from voiceguide.plan.script import EventKind
from voiceguide.plan.timeline import Timeline

Wave = npt.NDArray[np.float64]

NOISE_SECONDS = 20  # generated noise loops seamlessly (it is made periodic)
MAX_LOOP_SECONDS = 300  # of the user's file; longer files are cut, keeping memory bounded
CROSSFADE_SECONDS = 2.0  # across a file's loop point
FADE_IN_SECONDS = 3.0
FADE_OUT_SECONDS = 4.0
ATTACK_SECONDS = 0.25  # the duck is fully down by the time speech starts
RELEASE_SECONDS = 0.4  # and back up this long after it ends
LOWEST_HZ = 30.0
_SEED = 4  # the same routine always gets the same noise


class Bed:
    """The background of one track, readable at any window: the loop at its level, faded, ducked.

    Its level is absolute: ``volume`` is the bed's level in the finished track, whatever
    loudness levelling does to the voice.
    """

    def __init__(self, timeline: Timeline, background: Background) -> None:
        self.rate = timeline.sample_rate
        self.total = timeline.duration
        self.duck_db = background.duck_db
        self.loop = _loop(background, self.rate)
        self.level = 10 ** (background.volume_db / 20) * 32767 / max(_rms(self.loop), 1e-9)
        speech = sorted((e.start, e.end) for e in timeline.events if e.kind is EventKind.SPEECH)
        self.starts = np.array([s for s, _ in speech], dtype=np.int64)
        self.ends = np.array([e for _, e in speech], dtype=np.int64)

    def window(self, start: int, end: int) -> Wave:
        """The bed's samples ``start`` to ``end`` (16-bit scale, as floats)."""
        where = np.arange(start, end, dtype=np.int64)
        if not len(where):
            return np.zeros(0)
        gain = self.level * _fades(where, self.total, self.rate)
        gain *= _duck(where, self.starts, self.ends, self.duck_db, self.rate)
        return np.asarray(self.loop[where % len(self.loop)] * gain, dtype=np.float64)


def _loop(background: Background, rate: int) -> Wave:
    if background.file is None:
        return _noise(background.noise or "pink", rate)
    try:
        samples, _ = decode_file(background.file, rate, MAX_LOOP_SECONDS)
    except EncoderError as err:
        raise EncoderError(err.message, f"check the file named in `background`; {err.fix}") from None
    return _crossfaded(samples.astype(np.float64), rate)


def _noise(colour: str, rate: int) -> Wave:
    """Pink (1/f power) or brown (1/f²) noise, shaped in the frequency domain so it loops seamlessly."""
    n = NOISE_SECONDS * rate
    spectrum = np.fft.rfft(np.random.default_rng(_SEED).standard_normal(n))
    frequencies = np.maximum(np.fft.rfftfreq(n, 1 / rate), LOWEST_HZ)
    spectrum /= np.sqrt(frequencies) if colour == "pink" else frequencies
    spectrum[frequencies <= LOWEST_HZ] = 0  # nothing below hearing: it would only eat headroom
    return np.fft.irfft(spectrum, n)


def _crossfaded(wave: Wave, rate: int) -> Wave:
    """A loop whose end runs smoothly into its start: the last seconds fade into the first."""
    overlap = min(round(CROSSFADE_SECONDS * rate), len(wave) // 3)
    if overlap == 0:
        return wave if len(wave) else np.zeros(1)
    body = wave[: len(wave) - overlap].copy()
    ramp = np.linspace(0.0, 1.0, overlap)
    body[:overlap] = wave[:overlap] * np.sqrt(ramp) + wave[len(wave) - overlap :] * np.sqrt(1 - ramp)
    return body


def _fades(where: npt.NDArray[np.int64], total: int, rate: int) -> Wave:
    fade_in = max(1, min(round(FADE_IN_SECONDS * rate), total // 3))
    fade_out = max(1, min(round(FADE_OUT_SECONDS * rate), total // 3))
    return np.clip(np.minimum(where / fade_in, (total - where) / fade_out), 0.0, 1.0)


def _duck(
    where: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], duck_db: float, rate: int
) -> Wave:
    """Gain (1 = not ducked) for the samples ``where``: down under speech, with smooth ramps."""
    attack, release = round(ATTACK_SECONDS * rate), round(RELEASE_SECONDS * rate)
    lo, hi = int(where[0]), int(where[-1]) + 1
    near = np.flatnonzero((starts < hi + attack) & (ends > lo - release))
    amount = np.zeros(len(where))
    for i in near:
        rise = (where - (starts[i] - attack)) / attack
        fall = ((ends[i] + release) - where) / release
        amount = np.maximum(amount, np.clip(np.minimum(rise, fall), 0.0, 1.0))
    return np.asarray(10 ** (duck_db * amount / 20), dtype=np.float64)


def _rms(wave: Wave) -> float:
    return float(np.sqrt(np.mean(wave**2))) if len(wave) else 0.0
