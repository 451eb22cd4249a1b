"""The level stage, between assemble and encode: the voice brought to a target loudness, in-process.

The target is the voice's: the integrated loudness (BS.1770-4, gated) of the spoken lines,
measured over the spans where they are spoken, end to end. Chimes get the voice's gain; the
background bed keeps its absolute level. One analysis pass over the places where something
sounds (silence is skipped: the timeline knows where it is) keeps, per tick of ``TICK``
samples, the voice's K-weighted energy where lines are spoken and its true peak (4x
oversampled, only where a peak could need limiting), and the bed's peak. The gain that
reaches the target *after* limiting is then solved on those ticks, with no more passes over
the audio. The encode pass applies that gain to speech and chimes, mixes in the bed, and
multiplies by the limiter's gain curve.

The limiter covers everything that sounds: around every clip, and in the holds wherever the
bed alone could pass the ceiling. It never delays the signal: its gain curve is computed
ahead (lookahead), so every sample stays where the plan put it. Its ceiling sits
``mp3_margin`` below the true-peak ceiling, because LAME raises true peaks by a fraction of a
dB. That rise is noise, different at every peak and every encode: where the encoded MP3 still
went over, export asks for ``Levelled.corrected``, which lowers the ceiling at those ticks only.

A target the voice cannot reach without the limiter taking more than ``MAX_CUT_LU`` off its
loudness is not refused: the voice is levelled as far as that, and export warns.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voiceguide.audio.encode import Pcm
from voiceguide.audio.ffmpeg import CHUNK_SECONDS
from voiceguide.audio.loudness import (
    FRAME,
    FULL_SCALE,
    OVERSAMPLER,
    TRUE_PEAK_CEILING,
    KFilter,
    gated,
    with_neighbours,
)
from voiceguide.audio.mix import Mix
from voiceguide.progress import SILENT, Progress

Wave = npt.NDArray[np.float64]
Single = npt.NDArray[np.float32]  # per-tick data: a 2-hour track keeps over a million ticks

READ_SECONDS = 2  # the PCM is made this much at a time: each encoder's thread holds a few copies of it
TICK = 64  # samples per tick of the limiter's gain curve (2.9 ms at 22.05 kHz)
HOLD = 3  # ticks the gain is down before a peak (lookahead) and after it
SMOOTH = (1, 1)  # half-widths of the two box filters that round the curve; their sum is below HOLD
MARGIN = TICK * (2 * HOLD + 2)  # samples around every clip that the limiter may touch
# Measured once, on the bundled routines levelled to -16 LUFS (the whole track, before the voice was
# levelled on its own) and encoded by LAME 3.100 (both ffmpegs): the MP3 decodes 0.45 dB quieter
# than its PCM at every bitrate from 32 to 128 kbps (0.38 to 0.45 LU), and its true peak moved by up
# to +0.7 dB at 64 kbps (ffmpeg 7 build), by up to +0.70 dB at 48 kbps and +1.25 dB at 32 kbps
# (quantisation noise on peaks) -- margins, below.
# Piper's voice rises more (at 64 kbps up to +1.3 dB with imageio-ffmpeg 9.0.2, +0.6 with Debian's
# 5.1): a wider margin only moved the overshoot to another routine, so the rare peak that goes
# over is repaired where it is (``Levelled.corrected``) instead of making every track quieter.
MP3_GAIN_DB = -0.43


def mp3_margin(bitrate: int) -> float:
    """How far (dB) below the true-peak ceiling the PCM's peaks must stay for the MP3's to stay under it."""
    return 2.0 if bitrate < 48 else 1.5 if bitrate < 64 else 1.2


SCREEN_DB = 30.0  # ticks this far below the loudest sample so far are never limited: not oversampled
# the limiter takes at most this much off the voice's loudness (beyond what the bed makes it take):
# at -16 LUFS and 64 kbps the bundled routines need 1 LU with espeak-ng and 4 LU with Piper, whose
# peaks stand further above its loudness
MAX_CUT_LU = 6.0
FLOOR_DB = 20.0  # the search starts this far under the gain that reaches the target unlimited
TOLERANCE_LU = 0.05  # how closely the gain is solved
PEAK_GUARD_DB = 0.1  # meters may disagree this much on a true peak: the MP3's stays this far under the ceiling
REPAIR_DB = 0.5  # where the MP3 went over, the ceiling drops this much more: LAME's noise there is drawn anew


@dataclass(frozen=True)
class Ticks:
    """What the analysis keeps, per tick of the spans where the limiter may act."""

    spans: tuple[tuple[int, int], ...]  # sample ranges, multiples of TICK: around clips, and a loud bed's
    speech: Single  # K-weighted energy of the voice where lines are spoken (full scale 1.0; 0 elsewhere)
    block: npt.NDArray[np.int32]  # which 100 ms of speech (the spoken spans end to end) each tick counts in
    blocks: int  # how many whole 100 ms of speech there are
    voice_peak: Single  # true peak of the voice (16-bit scale)
    bed_peak: Single | None  # the bed's true peak (in the holds: a bound of it where that is under the ceiling)


def limiter(peaks: Single, ceiling: float | Single) -> Single:
    """Gain per tick so that ``peaks`` times it stays under ``ceiling`` (one, or one per tick), held
    around each peak and smoothed.

    Every value averaged into a tick's gain is held for ``HOLD`` ticks on both sides, so no
    tick (nor its neighbours, between which samples are interpolated) ends above what it needs.
    """
    # in place where it can be: a two-hour track has millions of ticks, and solve() calls this often
    need = np.maximum(peaks, np.float32(1e-9))
    np.divide(np.asarray(ceiling, np.float32), need, out=need)
    np.minimum(need, np.float32(1), out=need)
    if not len(need) or need.min() >= 1.0:  # nothing to limit (or no speech at all)
        return need
    window = np.lib.stride_tricks.sliding_window_view(np.pad(need, HOLD, mode="edge"), 2 * HOLD + 1)
    gain: Single = np.asarray(window.min(axis=1), dtype=np.float32)
    del need, window
    for half in SMOOTH:
        padded = np.pad(gain, half, mode="edge")
        gain = padded[: len(gain)].copy()
        for k in range(1, 2 * half + 1):
            gain += padded[k : k + len(gain)]
        gain /= np.float32(2 * half + 1)
    np.minimum(gain, np.float32(1), out=gain)
    return gain


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
        # the voice's loudness in the PCM (over the spoken spans) that makes the MP3's the target, or as
        # near as it goes cleanly; None: left as it is
        self.aim = aim
        self.ceiling = ceiling
        self._ticks = ticks
        self._curve = curve
        self._offsets: list[int] = []
        if ticks is not None:
            offset = 0
            for lo, hi in ticks.spans:
                self._offsets.append(offset)
                offset += (hi - lo) // TICK

    def corrected(self, overs: Sequence[tuple[int, float]]) -> Levelled:
        """Levelled again, with the limiter's ceiling lowered where LAME raised a true peak past the
        ceiling (``overs``: the first sample of each such stretch, and by how many dB it went over)."""
        assert self.aim is not None
        assert self._ticks is not None
        assert self._curve is not None
        ceiling = np.full(len(self._ticks.voice_peak), self.ceiling, dtype=np.float32)
        # what the limiter let through there, brought down: a ceiling above it would change nothing
        through = np.float32(self.gain) * self._ticks.voice_peak
        if self._ticks.bed_peak is not None:
            through += self._ticks.bed_peak
        through *= self._curve
        for start, over in overs:
            ticks = self._ticks_at(start - TICK, start + FRAME + TICK)
            np.minimum.at(ceiling, ticks, through[ticks] * np.float32(10 ** (-(over + REPAIR_DB) / 20)))
        return solve(self.mix, self._ticks, self.aim, ceiling)

    def limits(self, sample: int) -> bool:
        """Whether the limiter acts at ``sample`` (around clips and a loud bed, not in silence)."""
        return len(self._ticks_at(sample, sample + 1)) > 0

    @property
    def bed_peak(self) -> float | None:
        """The bed's true peak (16-bit scale) where it alone would pass the limiter's ceiling, if it does."""
        ticks = self._ticks
        if ticks is None or ticks.bed_peak is None or not np.any(ticks.bed_peak > self.ceiling):
            return None
        return float(ticks.bed_peak.max())

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
        if self._ticks is None or self._curve is None or not (self._curve < 1.0).any():
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

    def pcm(self, start: int, end: int, progress: Progress = SILENT) -> Pcm:
        """Samples ``start`` to ``end``, to encode: digital silence away from clips, unless a bed sounds."""
        sounding = None
        if self.mix.bed is None:
            spans = [(max(lo, start), min(hi, end)) for lo, hi in self.mix.spans(MARGIN, TICK)]
            sounding = tuple((lo - start, hi - start) for lo, hi in spans if lo < hi)
        return Pcm(end - start, lambda lo, hi: self._chunks(start + lo, start + hi, progress), sounding)

    def _chunks(self, start: int, end: int, progress: Progress) -> Iterator[bytes]:
        """Samples ``start`` to ``end`` as 16-bit little-endian PCM, in chunks."""
        step = self.mix.rate * READ_SECONDS
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
                yield samples.astype("<i2").tobytes()
            progress.advance()

    def chunks(self, pcm: Pcm, jobs: int = 1) -> int:
        """How many chunks encoding ``pcm`` (made by ``pcm()``) with ``jobs`` encoders reads, for progress."""
        step, pieces = self.mix.rate * READ_SECONDS, pcm.pieces(self.mix.rate, jobs)
        return sum(-(-(hi - lo) // step) for reads in pieces.reads(pcm.length) for lo, hi in reads)


def level(mix: Mix, target: float | None, bitrate: int, progress: Progress = SILENT) -> Levelled:
    """Analyse ``mix`` and find the voice gain that puts the voice in the MP3 at ``bitrate`` kbps at
    ``target`` LUFS, or as near as it goes cleanly (``Levelled.aim`` says where it settled).

    ``None`` leaves the mix as it is. A mix with no measurable speech keeps its level, under the ceiling.
    """
    if target is None:
        return Levelled(mix, 1.0)
    ceiling = 10 ** ((TRUE_PEAK_CEILING - mp3_margin(bitrate)) / 20) * FULL_SCALE
    return solve(mix, analyse(mix, progress, ceiling), target - MP3_GAIN_DB, ceiling)


def solve(mix: Mix, ticks: Ticks, aim: float, ceiling: float | Single) -> Levelled:
    """The gain, found by bisection on the ticks (limiting makes loudness grow slower than gain):
    the one that reaches ``aim``, or, if that takes more than ``MAX_CUT_LU`` off the voice in the
    limiter, the one that takes just that much (then ``aim`` is lowered to what it reaches)."""
    size = round(mix.rate / 10)

    def curve_at(gain: np.float32) -> Single:
        peaks = gain * ticks.voice_peak
        if ticks.bed_peak is not None:
            peaks += ticks.bed_peak
        return limiter(peaks, ceiling)

    def loudness(gain_db: float) -> tuple[float, Single]:
        gain = np.float32(10 ** (gain_db / 20))
        curve = curve_at(gain)
        weight = curve * curve
        weight *= gain
        weight *= gain
        return gated(_energies(ticks, weight), size), curve

    plain = gated(_energies(ticks, np.ones(len(ticks.speech), np.float32)), size)
    if plain == -math.inf:  # no lines, silent ones, or under 400 ms of them: nothing to measure, only to limit
        return Levelled(mix, 1.0, ticks, curve_at(np.float32(1)), None, ceiling)
    lo, hi = aim - plain - FLOOR_DB, aim - plain + MAX_CUT_LU
    floor = plain + lo - loudness(lo)[0]  # what the bed's own peaks take off the voice at any gain

    def cut(gain_db: float, found: float) -> float:
        """How much the limiter takes off the voice's loudness, beyond the bed's share."""
        return plain + gain_db - found - floor

    while hi - lo > 0.01:
        middle = (lo + hi) / 2
        found, _ = loudness(middle)
        clean = cut(middle, found) < MAX_CUT_LU
        if clean and abs(found - aim) <= TOLERANCE_LU / 5:
            lo = hi = middle
        elif clean and found < aim:
            lo = middle
        else:
            hi = middle
    found, curve = loudness(hi)
    return Levelled(mix, 10 ** (hi / 20), ticks, curve, found if found < aim - TOLERANCE_LU else aim, ceiling)


ENERGY_TICKS = 1 << 17


def _energies(ticks: Ticks, gain: Single) -> Wave:
    """The voice's K-weighted energy per 100 ms of speech, each tick's times ``gain``."""
    energies = np.zeros(ticks.blocks + 1)
    for lo in range(0, len(gain), ENERGY_TICKS):  # a slice at a time: bincount's weights are made float64
        hi = lo + ENERGY_TICKS
        energies += np.bincount(ticks.block[lo:hi], gain[lo:hi] * ticks.speech[lo:hi], ticks.blocks + 1)
    return energies[: ticks.blocks]


def _grid(mix: Mix) -> range:
    """Where the analysis pass starts a chunk (besides the edges of the spans)."""
    return range(0, -(-mix.duration // TICK) * TICK, mix.rate * CHUNK_SECONDS // TICK * TICK)


def analysis_steps(mix: Mix) -> int:
    """How many times ``analyse`` reports progress."""
    return len(_grid(mix))


def _speech_clock(mix: Mix) -> Callable[[npt.NDArray[np.int64]], npt.NDArray[np.int64]]:
    """How many samples of speech come before each of some samples: time with only the spoken spans."""
    starts = np.array([lo for lo, _ in mix.speech], dtype=np.int64)
    lengths = np.array([hi - lo for lo, hi in mix.speech], dtype=np.int64)
    before = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def clock(where: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        i = np.searchsorted(starts, where, side="right") - 1
        inside = np.clip(where - starts[np.maximum(i, 0)], 0, lengths[np.maximum(i, 0)]) if len(starts) else 0
        return np.asarray(np.where(i >= 0, before[np.maximum(i, 0)] + inside, 0), dtype=np.int64)

    return clock


def _bed_peaks(bed: Callable[[int, int], Wave], lo: int, hi: int, ceiling: float) -> Single:
    """The bed's peak per tick from ``lo`` to ``hi``: a bound from its samples and its neighbours',
    and the true peak (4x oversampled) where that bound passes ``ceiling``."""
    c = OVERSAMPLER.context
    wide = np.concatenate([np.zeros(max(0, c - lo)), bed(max(0, lo - c), hi + c)])
    sample = np.abs(wide[c:-c]).reshape(-1, TICK).max(axis=1)
    peak = with_neighbours(sample, wide[:c], wide[-c:]) * OVERSAMPLER.bound
    over = np.flatnonzero(peak > ceiling)
    peak[over] = OVERSAMPLER.peaks(wide, c + TICK * over, TICK)
    return peak.astype(np.float32)


def analyse(mix: Mix, progress: Progress = SILENT, ceiling: float = math.inf) -> Ticks:
    """One pass over where sound is: around clips, the voice's energy where lines are spoken and
    its true peak, with the bed's; elsewhere only the bed's peak, kept where it passes ``ceiling``."""
    rate, size = mix.rate, round(mix.rate / 10)
    k_filter = KFilter(rate)
    end = -(-mix.duration // TICK) * TICK
    spans = tuple((lo, min(hi, end)) for lo, hi in mix.spans(MARGIN, TICK))
    grid = _grid(mix)
    step = grid.step
    cuts = {0, end, *(edge for span in spans for edge in span), *grid}
    edges = sorted(c for c in cuts if c <= end)
    span_starts = [lo for lo, _ in spans]
    clock = _speech_clock(mix)
    kept: list[tuple[int, int]] = []
    # kept per tick as float32 (int32 for blocks) from the start: a long track has millions of ticks
    parts: dict[str, list[Single]] = {k: [] for k in ("speech", "voice_peak", "bed_peak")}
    blocks: list[npt.NDArray[np.int32]] = []
    loudest = 0.0
    filtered_to = -1  # where the K-weighting's state ends: it runs on only if the next piece starts there
    c = OVERSAMPLER.context
    for lo, hi in itertools.pairwise(edges):
        if lo % step == 0:
            progress.advance()
        n = (hi - lo) // TICK
        span = bisect.bisect_right(span_starts, lo) - 1
        alone = span < 0 or lo >= spans[span][1]  # no clip near: only the bed (if any) sounds
        # under the voice every bed peak adds to the voice's: there a bound would limit the voice for nothing
        bed_peak = _bed_peaks(mix.bed, lo, hi, ceiling if alone else 0.0) if mix.bed is not None else None
        if alone:
            if bed_peak is None or not (bed_peak > ceiling).any():
                continue
            speech, block, voice_peak = np.zeros(n, np.float32), np.zeros(n, np.int32), np.zeros(n, np.float32)
        else:
            wide = mix.voice(lo - c, hi + c)
            voice = wide[c:-c]
            speech, block = np.zeros(n, np.float32), np.zeros(n, np.int32)
            spoken = mix.speech_within(lo, hi)
            if spoken:
                if filtered_to != lo:
                    k_filter.reset()  # silence before, or only chimes: the filter starts at rest
                voice_k = k_filter(voice / FULL_SCALE)
                filtered_to = hi
                mask = np.zeros(hi - lo)
                for a, b in spoken:
                    mask[a - lo : b - lo] = 1.0
                speech = np.asarray((voice_k * voice_k * mask).reshape(n, TICK).sum(axis=1), dtype=np.float32)
                block = (clock(lo + TICK * np.arange(n, dtype=np.int64)) // size).astype(np.int32)
            sample_peak = np.abs(voice).reshape(n, TICK).max(axis=1)
            loudest = max(loudest, float(sample_peak.max()))
            peak = with_neighbours(sample_peak, wide[:c], wide[-c:]) * OVERSAMPLER.bound
            near = np.flatnonzero(peak > loudest * 10 ** (-SCREEN_DB / 20))
            peak[near] = OVERSAMPLER.peaks(wide, c + TICK * near, TICK)
            voice_peak = peak.astype(np.float32)
        if kept and kept[-1][1] == lo:
            kept[-1] = (kept[-1][0], hi)
        else:
            kept.append((lo, hi))
        parts["speech"].append(speech)
        parts["voice_peak"].append(voice_peak)
        blocks.append(block)
        if bed_peak is not None:
            parts["bed_peak"].append(bed_peak)

    def joined(key: str) -> Single:
        return np.concatenate(parts[key]) if parts[key] else np.zeros(0, np.float32)

    return Ticks(
        tuple(kept),
        joined("speech"),
        np.concatenate(blocks) if blocks else np.zeros(0, np.int32),
        sum(hi - lo for lo, hi in mix.speech) // size,
        joined("voice_peak"),
        joined("bed_peak") if mix.bed is not None else None,
    )
