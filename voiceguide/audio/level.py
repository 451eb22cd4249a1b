"""The level stage, between assemble and encode: the voice brought to a target loudness, in-process.

One analysis pass over the places where something sounds (silence is skipped: the
timeline knows where it is) keeps, per tick of ``TICK`` samples, the voice's K-weighted
energy and its true peak (4x oversampled, only where a peak could need limiting). The gain
that reaches the target *after* limiting is then solved on those ticks, with no more passes
over the audio. The encode pass applies that gain to speech and chimes, mixes in the
background bed at its own absolute level, and multiplies by the limiter's gain curve.

The limiter never delays the signal: its gain curve is computed ahead (lookahead), so
every sample stays where the plan put it. Its ceiling sits ``mp3_margin`` below the
true-peak ceiling, because LAME raises true peaks by a fraction of a dB. That rise is noise,
different at every peak and every encode: where the encoded MP3 still went over, export
asks for ``Levelled.corrected``, which lowers the ceiling at those ticks only.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voiceguide.audio.ffmpeg import CHUNK_SECONDS
from voiceguide.audio.loudness import (
    FRAME,
    FULL_SCALE,
    OVERSAMPLER,
    TRUE_PEAK_CEILING,
    KFilter,
    Meter,
    gated,
    with_neighbours,
)
from voiceguide.audio.mix import Mix
from voiceguide.errors import Fault
from voiceguide.progress import SILENT, Progress

Wave = npt.NDArray[np.float64]
Single = npt.NDArray[np.float32]  # per-tick data: a 2-hour track keeps over a million ticks

TICK = 64  # samples per tick of the limiter's gain curve (2.9 ms at 22.05 kHz)
HOLD = 3  # ticks the gain is down before a peak (lookahead) and after it
SMOOTH = (1, 1)  # half-widths of the two box filters that round the curve; their sum is below HOLD
MARGIN = TICK * (2 * HOLD + 2)  # samples around every clip that the limiter may touch
# Measured once, on the bundled routines levelled to -16 LUFS and encoded by LAME 3.100 (both
# ffmpegs): the MP3 decodes 0.45 dB quieter than its PCM at every bitrate from 32 to 128 kbps
# (0.38 to 0.45 LU), and its true peak moved by up to +0.7 dB at 64 kbps (ffmpeg 7 build), by up to
# +0.70 dB at 48 kbps and +1.25 dB at 32 kbps (quantisation noise on peaks) -- margins, below.
# Piper's voice rises more (at 64 kbps up to +1.3 dB with imageio-ffmpeg 9.0.2, +0.6 with Debian's
# 5.1): a wider margin only moved the overshoot to another routine, so the rare peak that goes
# over is repaired where it is (``Levelled.corrected``) instead of making every track quieter.
MP3_GAIN_DB = -0.43


def mp3_margin(bitrate: int) -> float:
    """How far (dB) below the true-peak ceiling the PCM's peaks must stay for the MP3's to stay under it."""
    return 2.0 if bitrate < 48 else 1.5 if bitrate < 64 else 1.2


SCREEN_DB = 30.0  # ticks this far below the loudest sample so far are never limited: not oversampled
MAX_REDUCTION_DB = 24.0  # the gain goes at most this far past what reaches the target unlimited
TOLERANCE_LU = 0.05  # how closely the gain is solved
BEST_EFFORT_LU = 1.0  # a track the limiter cannot bring closer than this to the target is refused
ENCODE_AGAIN_LU = 0.3  # an encoded track this far from the target is levelled and encoded again
PEAK_GUARD_DB = 0.1  # meters may disagree this much on a true peak: the MP3's stays this far under the ceiling
REPAIR_DB = 0.5  # where the MP3 went over, the ceiling drops this much more: LAME's noise there is drawn anew


@dataclass(frozen=True)
class Ticks:
    """What the analysis keeps of the voice's surroundings, per tick of the merged spans."""

    spans: tuple[tuple[int, int], ...]  # sample ranges, multiples of TICK
    voice: Single  # K-weighted energy of the voice (full scale 1.0)
    voice_peak: Single  # true peak of the voice (16-bit scale)
    subblock: npt.NDArray[np.int32]  # which 100 ms each tick falls in
    cross: Single | None  # K-weighted voice x bed (None: no bed)
    bed: Single | None  # K-weighted energy of the bed
    bed_peak: Single | None  # an upper bound of the bed's true peak
    outside: Wave  # the bed's K-weighted energy per 100 ms outside the spans


def limiter(peaks: Single, ceiling: float | Single) -> Single:
    """Gain per tick so that ``peaks`` times it stays under ``ceiling`` (one, or one per tick), held
    around each peak and smoothed.

    Every value averaged into a tick's gain is held for ``HOLD`` ticks on both sides, so no
    tick (nor its neighbours, between which samples are interpolated) ends above what it needs.
    """
    need = np.minimum(np.float32(1), np.asarray(ceiling, np.float32) / np.maximum(peaks, np.float32(1e-9)))
    if not len(need) or need.min() >= 1.0:  # nothing to limit (or no speech at all)
        return need
    gain = np.lib.stride_tricks.sliding_window_view(np.pad(need, HOLD, mode="edge"), 2 * HOLD + 1).min(axis=1)
    for half in SMOOTH:
        padded = np.pad(gain, half, mode="edge")
        gain = sum(padded[k : k + len(need)] for k in range(2 * half + 1)) / np.float32(2 * half + 1)
    return np.asarray(np.minimum(gain, np.float32(1)), dtype=np.float32)


class Levelled:
    """The finished track's PCM, for any window: voice times ``gain``, plus the bed, times the limiter."""

    def __init__(
        self,
        mix: Mix,
        gain: float,
        ticks: Ticks | None = None,
        curve: Single | None = None,
        aim: float | None = None,
        ceiling: float | Single = 0.0,
    ) -> None:
        self.mix = mix
        self.gain = gain
        self.aim = aim  # the PCM's loudness that makes the MP3's the target; None: left as it is
        self.ceiling = ceiling
        self._ticks = ticks
        self._curve = curve
        self._offsets: list[int] = []
        if ticks is not None:
            offset = 0
            for lo, hi in ticks.spans:
                self._offsets.append(offset)
                offset += (hi - lo) // TICK

    def corrected(self, measured: float, overs: Sequence[tuple[int, float]] = ()) -> Levelled:
        """Levelled again: aiming as far past the aim as the finished PCM ``measured`` fell short,
        and with the limiter's ceiling lowered where LAME raised a true peak past the ceiling
        (``overs``: the first sample of each such stretch, and by how many dB it went over)."""
        assert self.aim is not None
        assert self._ticks is not None
        assert self._curve is not None
        ceiling = np.full(len(self._ticks.voice), self.ceiling, dtype=np.float32)
        # what the limiter let through there, brought down: a ceiling above it would change nothing
        through = np.float32(self.gain) * self._ticks.voice_peak
        if self._ticks.bed_peak is not None:
            through += self._ticks.bed_peak
        through *= self._curve
        for start, over in overs:
            ticks = self._ticks_at(start - TICK, start + FRAME + TICK)
            np.minimum.at(ceiling, ticks, through[ticks] * np.float32(10 ** (-(over + REPAIR_DB) / 20)))
        return solve(self.mix, self._ticks, 2 * self.aim - measured, ceiling)

    def limits(self, sample: int) -> bool:
        """Whether the limiter acts at ``sample`` (it does around speech and chimes, not in silence)."""
        return len(self._ticks_at(sample, sample + 1)) > 0

    def _ticks_at(self, start: int, end: int) -> npt.NDArray[np.int64]:
        """The indices of the ticks that samples ``start`` to ``end`` fall in."""
        found: list[int] = []
        if self._ticks is not None:
            for (lo, hi), offset in zip(self._ticks.spans, self._offsets, strict=True):
                if lo < end and hi > start:
                    found += range(offset + (max(lo, start) - lo) // TICK, offset + (min(hi, end) - 1 - lo) // TICK + 1)
        return np.array(found, dtype=np.int64)

    def _curve_at(self, start: int, end: int) -> Wave | None:
        """The limiter's gain for samples ``start`` to ``end``, interpolated between tick centres."""
        if self._ticks is None or self._curve is None or self._curve.min() >= 1.0:
            return None
        out = np.ones(end - start)
        where = np.arange(start, end)
        for (lo, hi), offset in zip(self._ticks.spans, self._offsets, strict=True):
            if lo < end and hi > start:
                count = (hi - lo) // TICK
                centres = lo + TICK * np.arange(count) + (TICK - 1) / 2
                a, b = max(lo, start) - start, min(hi, end) - start
                out[a:b] = np.interp(where[a:b], centres, self._curve[offset : offset + count])
        return out

    def pcm(self, start: int, end: int, meter: Meter | None = None, progress: Progress = SILENT) -> Iterator[bytes]:
        """Samples ``start`` to ``end`` as 16-bit little-endian PCM, in chunks; ``meter`` hears them."""
        step = self.mix.rate * CHUNK_SECONDS
        for lo in range(start, end, step):
            hi = min(end, lo + step)
            bed = self.mix.bed
            if bed is None and not self.mix.speaks(lo, hi):
                yield bytes(2 * (hi - lo))  # silence: nothing to do
            else:
                wave = self.mix.voice(lo, hi) * self.gain
                if bed is not None:
                    wave += bed(lo, hi)
                curve = self._curve_at(lo, hi)
                if curve is not None:
                    wave *= curve
                samples = np.clip(np.round(wave), -32768, 32767)
                if meter is not None:
                    meter.add(samples / FULL_SCALE, lo)
                yield samples.astype("<i2").tobytes()
            progress.advance()

    def chunks(self, start: int, end: int) -> int:
        """How many chunks ``pcm(start, end)`` yields."""
        return -(-(end - start) // (self.mix.rate * CHUNK_SECONDS))


def level(mix: Mix, target: float | None, bitrate: int, progress: Progress = SILENT) -> Levelled:
    """Analyse ``mix`` and find the voice gain that puts the MP3 at ``bitrate`` kbps at ``target`` LUFS.

    ``None`` leaves the mix as it is. A mix with no speech is left as it is too.
    """
    if target is None:
        return Levelled(mix, 1.0)
    ticks = analyse(mix, progress)
    ceiling = 10 ** ((TRUE_PEAK_CEILING - mp3_margin(bitrate)) / 20) * FULL_SCALE
    return solve(mix, ticks, target - MP3_GAIN_DB, ceiling)


def solve(mix: Mix, ticks: Ticks, aim: float, ceiling: float | Single) -> Levelled:
    """The gain (found by bisection on the ticks: limiting makes loudness grow slower than gain)."""
    target = aim + MP3_GAIN_DB

    def loudness(gain_db: float) -> tuple[float, Single]:
        gain = np.float32(10 ** (gain_db / 20))
        peaks = gain * ticks.voice_peak
        if ticks.bed_peak is not None:
            peaks += ticks.bed_peak
        curve = limiter(peaks, ceiling)
        energy = gain * gain * ticks.voice
        if ticks.cross is not None and ticks.bed is not None:
            energy += 2 * gain * ticks.cross + ticks.bed
        weights = curve * curve * energy
        total = ticks.outside + np.bincount(ticks.subblock, weights, len(ticks.outside) + 1)[: len(ticks.outside)]
        return gated(total, round(mix.rate / 10)), curve

    plain, _ = loudness(0.0)
    if not ticks.voice.any() or plain == -math.inf:
        return Levelled(mix, 1.0)  # nothing to level (silence, or only the bed)
    lo, hi = aim - plain - 12.0, aim - plain + MAX_REDUCTION_DB
    top, curve = loudness(hi)
    if top < aim - BEST_EFFORT_LU:
        raise _unreachable(target, top + MP3_GAIN_DB, ticks.bed is not None)  # as the MP3 will read
    # a few words limit little and saturate early: settle a little short rather than crush them
    aim = min(aim, top - 0.3)
    while hi - lo > 0.01:
        middle = (lo + hi) / 2
        found, curve = loudness(middle)
        if abs(found - aim) <= TOLERANCE_LU / 5:
            lo = hi = middle
        elif found < aim:
            lo = middle
        else:
            hi = middle
    _, curve = loudness(hi)
    return Levelled(mix, 10 ** (hi / 20), ticks, curve, aim, ceiling)


def _unreachable(target: float, best: float, bed: bool) -> Fault:
    return Fault(
        f"could not reach {target:g} LUFS with true peak at most {TRUE_PEAK_CEILING:g} dBTP "
        f"without limiting the voice by {MAX_REDUCTION_DB:g} dB or more (best: {best:.1f} LUFS)",
        "choose a quieter target with --loudness, e.g. --loudness -18, or --loudness off"
        + (" (the background keeps its own `volume`: a loud one leaves the voice less room)" if bed else ""),
    )


def _grid(mix: Mix) -> range:
    """Where the analysis pass starts a chunk (besides the edges of the spans)."""
    return range(0, -(-mix.duration // TICK) * TICK, mix.rate * CHUNK_SECONDS // TICK * TICK)


def analysis_steps(mix: Mix) -> int:
    """How many times ``analyse`` reports progress."""
    return len(_grid(mix))


def analyse(mix: Mix, progress: Progress = SILENT) -> Ticks:
    """One pass over where sound is: the voice per tick around clips, the bed's energy elsewhere."""
    rate, size = mix.rate, round(mix.rate / 10)
    voice_filter, bed_filter = KFilter(rate), KFilter(rate)
    end = -(-mix.duration // TICK) * TICK
    spans = tuple((lo, min(hi, end)) for lo, hi in mix.spans(MARGIN, TICK))
    grid = _grid(mix)
    step = grid.step
    cuts = {0, end, *(edge for span in spans for edge in span), *grid}
    edges = sorted(c for c in cuts if c <= end)
    span_starts = [lo for lo, _ in spans]
    outside = np.zeros(mix.duration // size)
    # kept per tick as float32 (int32 for sub-blocks) from the start: a long track has millions of ticks
    parts: dict[str, list[Single]] = {k: [] for k in ("voice", "cross", "bed", "voice_peak", "bed_peak")}
    subblocks: list[npt.NDArray[np.int32]] = []
    loudest = 0.0
    c = OVERSAMPLER.context
    for lo, hi in itertools.pairwise(edges):
        if lo % step == 0:
            progress.advance()
        bed = mix.bed(lo, hi) if mix.bed is not None else None
        bed_k = np.zeros(hi - lo)
        if bed is not None:
            bed_k = bed_filter(bed / FULL_SCALE)
        span = bisect.bisect_right(span_starts, lo) - 1
        if span < 0 or lo >= spans[span][1]:  # no clip near: only the bed (if any) sounds
            if bed is not None:
                where = np.arange(lo, hi) // size
                keep = where < len(outside)
                outside += np.bincount(where[keep], (bed_k * bed_k)[keep], len(outside))[: len(outside)]
            continue
        if lo == spans[span][0]:
            voice_filter.reset()  # silence before: the filter starts at rest
        wide = mix.voice(lo - c, hi + c)
        voice = wide[c:-c]
        voice_k = voice_filter(voice / FULL_SCALE)
        n = (hi - lo) // TICK

        def per_tick(wave: Wave, n: int = n) -> Single:
            return np.asarray(wave.reshape(n, TICK).sum(axis=1), dtype=np.float32)

        parts["voice"].append(per_tick(voice_k * voice_k))
        if bed is not None:
            parts["cross"].append(per_tick(voice_k * bed_k))
            parts["bed"].append(per_tick(bed_k * bed_k))
            parts["bed_peak"].append((np.abs(bed).reshape(n, TICK).max(axis=1) * OVERSAMPLER.bound).astype(np.float32))
        subblocks.append(((lo + TICK * np.arange(n)) // size).astype(np.int32))
        sample_peak = np.abs(voice).reshape(n, TICK).max(axis=1)
        loudest = max(loudest, float(sample_peak.max()))
        peak = with_neighbours(sample_peak, wide[:c], wide[-c:]) * OVERSAMPLER.bound
        near = np.flatnonzero(peak > loudest * 10 ** (-SCREEN_DB / 20))
        peak[near] = OVERSAMPLER.peaks(wide, c + TICK * near, TICK)
        parts["voice_peak"].append(peak.astype(np.float32))

    def joined(key: str) -> Single:
        return np.concatenate(parts[key]) if parts[key] else np.zeros(0, np.float32)

    subblock = np.concatenate(subblocks) if subblocks else np.zeros(0, np.int32)
    has_bed = mix.bed is not None
    return Ticks(
        spans,
        joined("voice"),
        joined("voice_peak"),
        subblock,
        joined("cross") if has_bed else None,
        joined("bed") if has_bed else None,
        joined("bed_peak") if has_bed else None,
        outside,
    )
