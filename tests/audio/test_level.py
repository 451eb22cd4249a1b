"""The level stage on synthetic mixes: the analysis against reference computations over the
whole track, the limiter's gain curve, the solved gain measured on the PCM it makes, and the
PCM itself. Fast: no speech engine, no ffmpeg."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from voiceguide.audio.ffmpeg import CHUNK_SECONDS, Samples
from voiceguide.audio.level import (
    HOLD,
    MARGIN,
    MAX_CUT_LU,
    MP3_GAIN_DB,
    READ_SECONDS,
    REPAIR_DB,
    SCREEN_DB,
    TICK,
    TOLERANCE_LU,
    Levelled,
    Ticks,
    analyse,
    analysis_steps,
    level,
    limiter,
    mp3_margin,
)
from voiceguide.audio.loudness import FRAME, FULL_SCALE, OVERSAMPLER, TRUE_PEAK_CEILING, KFilter, Meter, TruePeak, db
from voiceguide.audio.mix import Mix
from voiceguide.model import Voice
from voiceguide.plan.script import EventKind, Sound, Utterance, Where
from voiceguide.plan.timeline import SAMPLE_RATE, Event, Timeline

from conftest import mix_of

Wave = npt.NDArray[np.float64]
Bed = Callable[[int, int], Wave]

SIZE = SAMPLE_RATE // 10  # 100 ms
CHUNK = SAMPLE_RATE * CHUNK_SECONDS
READ = SAMPLE_RATE * READ_SECONDS  # how much PCM is made at a time


def speech(seconds: float, level: float = 6000.0, seed: int = 0) -> Samples:
    """Noise in syllables (four a second): speech enough for a loudness meter."""
    n = round(seconds * SAMPLE_RATE)
    syllables = np.abs(np.sin(4 * np.pi * np.arange(n) / SAMPLE_RATE))
    noise = np.random.default_rng(seed).standard_normal(n)
    return np.asarray(np.clip(np.round(level * syllables * noise), -32768, 32767), dtype=np.int16)


def noise_bed(duration: int, level: float = 300.0) -> Bed:
    """A bed of steady noise that ends with the track (16-bit scale)."""
    wave = np.random.default_rng(99).standard_normal(duration) * level

    def bed(start: int, end: int) -> Wave:
        out = np.zeros(end - start)
        out[: max(0, min(end, duration) - start)] = wave[start : min(end, duration)]
        return out

    return bed


class Progress:
    """Counts the steps reported to it."""

    def __init__(self) -> None:
        self.count = 0

    def stage(self, label: str, total: int) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        self.count += steps


def pcm_of(levelled: Levelled, start: int, end: int) -> Samples:
    pcm = levelled.pcm(start, end)
    return np.frombuffer(b"".join(pcm.read(0, pcm.length)), dtype="<i2").astype(np.int16)


# --- the margin under the true-peak ceiling ----------------------------------------------------


@pytest.mark.parametrize(
    ("bitrate", "margin"), [(32, 2.0), (47, 2.0), (48, 1.5), (56, 1.5), (63, 1.5), (64, 1.2), (128, 1.2)]
)
def test_lower_bitrates_keep_more_room_under_the_ceiling(bitrate: int, margin: float) -> None:
    assert mp3_margin(bitrate) == margin


# --- the limiter ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.5, 20_000.0])  # peaks in any unit
def test_the_limiter_holds_and_rounds_its_gain_around_a_peak(scale: float) -> None:
    peaks = np.full(30, 0.5 * scale, np.float32)
    peaks[15] = 1.6 * scale  # over the ceiling: needs 0.625
    r = 1.0 / 1.6
    gain = limiter(peaks, scale)
    assert gain.dtype == np.float32
    # held 3 ticks each side (lookahead and release), then two 3-tick averages round the corners
    corners = [(r + 8) / 9, (r + 2) / 3, (2 * r + 1) / 3, (8 * r + 1) / 9]
    expected = [1.0] * 10 + corners + [r] * 3 + corners[::-1] + [1.0] * 9
    assert gain == pytest.approx(np.array(expected), rel=1e-6)


def test_under_the_ceiling_the_limiter_does_nothing() -> None:
    peaks = np.array([0.0, 0.2, 1.0, 0.99], np.float32)  # at the ceiling is under it
    gain = limiter(peaks, 1.0)
    assert gain.dtype == np.float32
    assert gain.tolist() == [1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("seed", range(4))
def test_the_limiter_keeps_every_tick_and_its_neighbours_under_the_ceiling(seed: int) -> None:
    rng = np.random.default_rng(seed)
    peaks = (rng.uniform(0, 1, 400) ** 4 * 40_000).astype(np.float32)  # sparse peaks over a 20_000 ceiling
    peaks[0], peaks[-1] = 35_000, 30_000  # and at both ends
    gain = limiter(peaks, 20_000.0)
    assert gain.max() <= 1.0
    for shift in (-1, 0, 1):  # samples between two ticks get a gain between theirs
        near = np.roll(gain, shift)[1:-1] * peaks[1:-1]
        assert near.max() <= 20_000.0 * (1 + 1e-6)
    assert (gain * peaks)[[0, -1]].max() <= 20_000.0 * (1 + 1e-6)
    over = np.flatnonzero(peaks > 20_000.0)
    reach = HOLD + 2  # the hold, then the two averages' reach
    far = np.array([np.abs(over - i).min() > reach for i in range(len(peaks))])
    assert (gain[far] == 1.0).all()
    assert (gain[~far] < 1.0).all()


# --- the analysis ----------------------------------------------------------------------------------


def test_progress_is_reported_once_per_chunk_of_track() -> None:
    step = CHUNK // TICK * TICK  # 10 s, on a tick
    for duration, steps in [(0, 0), (1, 1), (step, 1), (step + 1, 2), (3 * step - TICK, 3), (3 * step + 1, 4)]:
        mix = mix_of([], duration)
        assert analysis_steps(mix) == steps, duration
        progress = Progress()
        analyse(mix, progress)
        assert progress.count == steps, duration


def reference_ticks(mix: Mix, spans: list[tuple[int, int]], bed: Bed | None) -> dict[str, Wave]:
    """What the analysis should keep, from the whole track at once: the voice of each span
    K-weighted from rest (silence before it), counted where lines are spoken; each tick's 100 ms
    of speech time (the spoken samples before it); the bed's true peak."""
    voice_k = np.concatenate([KFilter(SAMPLE_RATE)(mix.voice(lo, hi) / FULL_SCALE) for lo, hi in spans])
    inside = np.concatenate([np.arange(lo, hi) for lo, hi in spans])
    spoken = np.zeros(mix.duration + CHUNK, bool)
    for lo, hi in mix.speech:
        spoken[lo:hi] = True
    before = np.concatenate([[0], np.cumsum(spoken)])
    kept: dict[str, Wave] = {
        "speech": (voice_k**2 * spoken[inside]).reshape(-1, TICK).sum(axis=1),
        "block": np.asarray(before[inside[::TICK]] // SIZE, dtype=np.float64),
    }
    if bed is not None:
        c = OVERSAMPLER.context
        whole = np.concatenate([np.zeros(c), bed(0, spans[-1][1] + c)])
        kept["bed_peak"] = OVERSAMPLER.peaks(whole, c + inside[::TICK], TICK)
    return kept


# lines placed: at the very start, across the first chunk boundary, two close enough that their spans
# merge, two apart by less than the K-filter's ring (each span starts it at rest), one ending the track
PLACES = [(0, 3_000), (CHUNK - 5_000, 12_000), (CHUNK + 8_000, 2_000), (CHUNK + 12_000, 3_000), (CHUNK + 17_000, 500)]


@pytest.mark.parametrize("with_bed", [False, True])
def test_the_analysis_keeps_the_voice_where_lines_are_spoken_and_the_bed_s_peaks(with_bed: bool) -> None:
    duration = CHUNK + 17_500
    bed = noise_bed(duration) if with_bed else None
    lines = [(at, speech(n / SAMPLE_RATE, 9000.0 if at == 0 else 6000.0, seed=at)) for at, n in PLACES]
    mix = mix_of(lines, duration, bed)
    ticks = analyse(mix)
    end = -(-duration // TICK) * TICK
    # each line widened by MARGIN (512) out to ticks, merged where they meet, the last cut at the track's end
    assert ticks.spans == ((0, 3_520), (214_976, 231_040), (231_936, 236_032), (236_928, end))
    reference = reference_ticks(mix, list(ticks.spans), bed)
    count = sum(hi - lo for lo, hi in ticks.spans) // TICK
    assert len(ticks.speech) == len(ticks.voice_peak) == len(ticks.block) == count
    assert ticks.speech.dtype == ticks.voice_peak.dtype == np.float32
    assert ticks.block.dtype == np.int32
    assert ticks.speech == pytest.approx(reference["speech"], rel=1e-5, abs=1e-12)
    assert ticks.blocks == sum(n for _, n in PLACES) // SIZE
    spoken = ticks.speech > 0  # a tick without speech may count in any block: its energy is 0
    assert ticks.block[spoken].tolist() == reference["block"][spoken].astype(int).tolist()
    if bed is None:
        assert ticks.bed_peak is None
    else:
        assert ticks.bed_peak is not None
        assert ticks.bed_peak.dtype == np.float32
        assert ticks.bed_peak == pytest.approx(reference["bed_peak"], rel=1e-5)
    # the voice's true peak per tick; far under the loudest sample (the first line's), a bound of it
    c = OVERSAMPLER.context
    track = mix.voice(-c, end + c)
    starts = np.concatenate([np.arange(lo, hi, TICK) for lo, hi in ticks.spans])
    sample = np.abs(track[c:-c][starts[:, None] + np.arange(TICK)]).max(axis=1) * OVERSAMPLER.bound
    near = sample > sample.max() / OVERSAMPLER.bound * 10 ** (-SCREEN_DB / 20)
    assert 0.5 < near.mean() < 1.0
    exact = OVERSAMPLER.peaks(track, c + starts, TICK)
    assert ticks.voice_peak[near] == pytest.approx(exact[near], rel=1e-6)
    # the rest: a bound from the tick's samples and its neighbours' (between two ticks lies what both make)
    padded = np.abs(mix.voice(-TICK, end + TICK))  # padded[s] is sample s - TICK
    around = padded[starts[:, None] + np.arange(3 * TICK)].max(axis=1) * OVERSAMPLER.bound
    assert np.all(ticks.voice_peak[~near] >= exact[~near] * (1 - 1e-6))
    assert np.all(ticks.voice_peak[~near] <= around[~near] * (1 + 1e-6))


def test_only_speech_counts_in_the_voice_and_chimes_only_in_its_peaks() -> None:
    line, chime = speech(1.0, seed=1), speech(0.5, 20_000.0, seed=2)
    said, bell = Utterance("line", Voice()), Sound("end")
    events = (
        Event(SAMPLE_RATE, len(line), EventKind.SPEECH, Where(), utterance=said),
        Event(3 * SAMPLE_RATE, len(chime), EventKind.CHIME, Where(), sound=bell),
    )
    timeline = Timeline("T", SAMPLE_RATE, 4 * SAMPLE_RATE, events, ())
    alone = analyse(mix_of([(SAMPLE_RATE, line)], 4 * SAMPLE_RATE))
    both = analyse(Mix(timeline, {said: line, bell: chime}))
    assert both.speech.sum() == pytest.approx(alone.speech.sum(), rel=1e-6)
    assert both.blocks == alone.blocks == SAMPLE_RATE // SIZE
    assert both.voice_peak.max() > 2 * alone.voice_peak.max()  # the chime's peaks are limited with the voice's


@pytest.mark.parametrize(("under", "oversampled"), [(29.5, True), (30.5, False), (45.0, False)])
def test_only_ticks_within_the_screen_of_the_loudest_sample_so_far_are_oversampled(
    under: float, oversampled: bool
) -> None:
    clip = np.zeros(20 * TICK, np.int16)
    clip[5] = 20_000  # the loudest sample so far
    # then a lone sample whose bound is `under` dB under it: oversampled, its true peak is itself
    quiet = round(20_000 * 10 ** (-under / 20) / OVERSAMPLER.bound)
    clip[10 * TICK + 7] = quiet
    ticks = analyse(mix_of([(10 * TICK, clip)], 40 * TICK))
    tick = (10 * TICK + 10 * TICK + 7 - ticks.spans[0][0]) // TICK
    assert ticks.voice_peak[tick] == pytest.approx(quiet if oversampled else quiet * OVERSAMPLER.bound, rel=1e-6)


def test_each_ticks_peak_bounds_what_lies_between_its_last_sample_and_the_next_ticks_first() -> None:
    # the crest between two ticks depends on the next tick's samples: the first tick, by its own,
    # looks too quiet to be oversampled (the loudest sample so far is 40 dB above it)
    clip = np.zeros(20 * TICK, np.int16)
    clip[5] = 30_000
    clip[10 * TICK - 3 : 10 * TICK + 4] = np.round(np.array([0.009, -0.004, -0.091, 0.721, -0.581, 0.488, 0.412]) * 300)
    mix = mix_of([(10 * TICK, clip)], 40 * TICK)
    ticks = analyse(mix)
    c = OVERSAMPLER.context
    offsets = itertools.accumulate([(end - start) // TICK for start, end in ticks.spans], initial=0)
    for (lo, hi), offset in zip(ticks.spans, offsets, strict=False):  # offsets has one more
        wide = mix.voice(lo - c, hi + c)
        exact = OVERSAMPLER.peaks(wide, c + TICK * np.arange((hi - lo) // TICK), TICK)
        assert np.all(ticks.voice_peak[offset : offset + len(exact)] >= exact.astype(np.float32) * (1 - 1e-6))


@pytest.mark.parametrize(("level", "kept"), [(300.0, False), (12_000.0, True)])
def test_a_bed_alone_is_kept_for_the_limiter_only_where_it_passes_the_ceiling(level: float, kept: bool) -> None:
    duration = 2 * CHUNK + 17
    bed = noise_bed(duration, level)
    ceiling = 10 ** (-2.2 / 20) * FULL_SCALE
    ticks = analyse(mix_of([], duration, bed), ceiling=ceiling)
    assert ticks.blocks == 0
    end = -(-duration // TICK) * TICK
    assert ticks.spans == (((0, end),) if kept else ())  # each 10 s with a tick over it, joined
    assert len(ticks.speech) == len(ticks.voice_peak) == len(ticks.block) == end // TICK * kept
    assert not ticks.speech.any()
    assert not ticks.voice_peak.any()
    assert ticks.bed_peak is not None
    if kept:
        c = OVERSAMPLER.context
        whole = np.concatenate([np.zeros(c), bed(0, end + c)])
        exact = OVERSAMPLER.peaks(whole, c + np.arange(0, end, TICK), TICK)
        over = ticks.bed_peak > ceiling  # exact there; elsewhere a bound under the ceiling
        assert 0.05 < over.mean() < 0.95
        assert ticks.bed_peak[over] == pytest.approx(exact[over], rel=1e-5)
        assert np.all(ticks.bed_peak[~over] >= exact[~over] * (1 - 1e-6))
        levelled = Levelled(mix_of([], duration, bed), 1.0, ticks, limiter(ticks.bed_peak, ceiling), None, ceiling)
        assert levelled.bed_peak == pytest.approx(exact.max(), rel=1e-5)
        assert true_peak_db(pcm_of(levelled, 0, duration)) <= db(ceiling / FULL_SCALE) + 0.01


# --- the gain ------------------------------------------------------------------------------------------

LENGTH = 30 * SAMPLE_RATE


def clicks(seconds: float, seed: int) -> Samples:
    """Quiet speech with a dozen full-scale clicks: the limiter has to work for any loudness."""
    clip = speech(seconds, 3000.0, seed=seed)
    clip[np.random.default_rng(seed).integers(0, len(clip), 12)] = 30_000
    return clip


def lines(make: Callable[[float, int], Samples]) -> list[tuple[int, Samples]]:
    return [(SAMPLE_RATE, make(4.0, 1)), (12 * SAMPLE_RATE, make(6.0, 2))]  # silence before, between, after


def echoed() -> Mix:
    """Speech with a bed that is half of it: voice and bed correlate, so their cross term counts."""
    voice = mix_of(lines(lambda s, n: speech(s, 3000.0, n)), LENGTH)
    return mix_of(lines(lambda s, n: speech(s, 3000.0, n)), LENGTH, lambda lo, hi: 0.5 * voice.voice(lo, hi))


MIXES: dict[str, Callable[[], Mix]] = {
    "speech": lambda: mix_of(lines(lambda s, n: speech(s, 3000.0, n)), LENGTH),
    "speech and a bed": lambda: mix_of(lines(lambda s, n: speech(s, 3000.0, n)), LENGTH, noise_bed(LENGTH, 1000.0)),
    "speech and its echo": echoed,
    "clicks": lambda: mix_of(lines(clicks), LENGTH),
}


def measured(levelled: Levelled, start: int = 0, end: int = LENGTH) -> tuple[Samples, Meter]:
    """The PCM, and a meter that heard the voice in it (the bed left out) where lines are spoken,
    those stretches end to end (as the target is measured)."""
    curve = levelled._curve_at(start, end)
    voice = levelled.mix.voice(start, end) * levelled.gain * (1.0 if curve is None else curve)
    meter = Meter(SAMPLE_RATE)
    for lo, hi in levelled.mix.speech_within(start, end):
        meter.add(np.round(voice[lo - start : hi - start]) / FULL_SCALE)
    return pcm_of(levelled, start, end), meter


@pytest.mark.parametrize("name", MIXES)
@pytest.mark.parametrize(("target", "bitrate"), [(-20.0, 64), (-16.0, 64), (-13.0, 48), (-13.0, 32)])
def test_the_levelled_pcm_reads_the_target_with_its_true_peak_under_the_ceiling(
    name: str, target: float, bitrate: int
) -> None:
    mix, progress = MIXES[name](), Progress()
    levelled = level(mix, target, bitrate, progress)
    assert progress.count == analysis_steps(mix)
    assert levelled.aim is not None
    assert levelled.aim == pytest.approx(target - MP3_GAIN_DB)  # the MP3 decodes 0.43 dB quieter than its PCM
    ceiling = TRUE_PEAK_CEILING - mp3_margin(bitrate)
    assert levelled.ceiling == pytest.approx(10 ** (ceiling / 20) * FULL_SCALE)
    pcm, meter = measured(levelled)
    # the gain is solved on a model of the PCM (the limiter's curve per tick, not per sample)
    assert meter.result().integrated == pytest.approx(levelled.aim, abs=TOLERANCE_LU)
    peak = true_peak_db(pcm)
    assert peak <= ceiling + 0.01  # a 16-bit rounding over, at most
    if target == -13.0:  # loud enough that the limiter holds the loudest peaks near the ceiling
        assert peak > ceiling - 0.5


def test_the_pcm_is_the_voice_times_the_gain_plus_the_bed_times_the_limiter() -> None:
    duration = 12 * SAMPLE_RATE
    bed = noise_bed(duration, 1000.0)
    mix = mix_of([(SAMPLE_RATE, clicks(3.0, 4)), (5 * SAMPLE_RATE, clicks(4.0, 5))], duration, bed)
    levelled = level(mix, -12.0, 64)
    curve = levelled._curve_at(0, duration)
    assert curve is not None
    assert curve.min() < 0.5  # it limits
    expected = np.clip(np.round((mix.voice(0, duration) * levelled.gain + bed(0, duration)) * curve), -32768, 32767)
    for start, end in [(0, duration), (SAMPLE_RATE + 5, CHUNK + 3), (CHUNK, CHUNK + 1), (duration - 7, duration)]:
        assert np.array_equal(pcm_of(levelled, start, end), expected[start:end]), (start, end)


def test_levelled_off_the_pcm_is_the_mix_rounded_and_clipped() -> None:
    loud = np.full(1000, 25_000, np.int16)
    mix = mix_of([(100, loud), (600, loud), (3000, -loud), (3500, -loud), (CHUNK + 9, loud)], CHUNK + 2000)
    levelled = level(mix, None, 64)
    assert levelled.gain == 1.0
    assert levelled.aim is None
    pcm = pcm_of(levelled, 0, CHUNK + 2000)
    assert np.array_equal(pcm, np.clip(mix.voice(0, CHUNK + 2000), -32768, 32767))
    assert pcm.max() == 32767  # the overlaps clip, not wrap
    assert pcm.min() == -32768


def test_the_pcm_comes_in_chunks_with_progress_and_is_silent_outside_where_it_says_it_sounds() -> None:
    duration = 3 * CHUNK + 500
    mix = mix_of([(CHUNK - 100, speech(1.0, seed=7)), (2 * CHUNK + 40, speech(1.0, seed=8))], duration)
    levelled = level(mix, -16.0, 64)
    whole = pcm_of(levelled, 0, duration)
    for start, end in [(0, duration), (CHUNK // 2, duration), (CHUNK + 1000, 2 * CHUNK + 3000), (7, 8), (9, 9)]:
        progress = Progress()
        pcm = levelled.pcm(start, end, progress)
        assert pcm.length == end - start
        for lo, hi in [(0, pcm.length), (3, pcm.length // 2)]:
            chunks = list(pcm.read(lo, hi))
            assert [len(c) for c in chunks] == [2 * (min(hi, at + READ) - at) for at in range(lo, hi, READ)]
            got = np.frombuffer(b"".join(chunks), dtype="<i2")
            assert np.array_equal(got, whole[start + lo : start + hi])
        assert progress.count == sum(-(-(hi - lo) // READ) for lo, hi in [(0, pcm.length), (3, pcm.length // 2)])
        assert pcm.sounding is not None
        silent = np.ones(end - start, bool)
        for lo, hi in pcm.sounding:
            assert 0 <= lo < hi <= end - start
            silent[lo:hi] = False
        assert not whole[start:end][silent].any()
        # the two lines, and the limiter's reach around them (on the grid of ticks)
        assert silent.sum() >= (end - start) - 2 * (SAMPLE_RATE + 2 * (MARGIN + TICK))
    pcm = levelled.pcm(0, duration)
    for jobs in (1, 2):
        reads = pcm.pieces(SAMPLE_RATE, jobs).reads(duration)
        assert levelled.chunks(pcm, jobs) == sum(-(-(hi - lo) // READ) for ranges in reads for lo, hi in ranges)


def test_with_a_bed_the_pcm_may_sound_anywhere() -> None:
    assert level(MIXES["speech and a bed"](), -16.0, 64).pcm(0, LENGTH).sounding is None


def test_corrected_keeps_the_aim_and_the_ceiling_where_nothing_went_over() -> None:
    levelled = level(MIXES["clicks"](), -16.0, 64)
    assert levelled.aim is not None
    again = levelled.corrected([])
    assert again.aim == pytest.approx(levelled.aim)
    assert again.gain == pytest.approx(levelled.gain)
    assert again.ceiling == pytest.approx(levelled.ceiling)
    assert again.mix is levelled.mix


def true_peak_db(pcm: Samples) -> float:
    peak = TruePeak()
    peak.add(pcm / FULL_SCALE)
    peak.flush()
    return db(peak.peak)


@pytest.mark.parametrize(("name", "target"), [("clicks", -16.0), ("speech and a bed", -13.0)])
@pytest.mark.parametrize("over", [0.3, 1.0])
@pytest.mark.parametrize("offset", [0, 5])  # the frame that went over starts on a tick, or inside one
def test_where_the_mp3_went_over_the_limiter_takes_that_much_more_off_there_only(
    name: str, target: float, over: float, offset: int
) -> None:
    mix = MIXES[name]()
    levelled = level(mix, target, 64)
    assert levelled.aim is not None
    before, _ = measured(levelled)
    loudest = TruePeak(over=0.0)  # every frame is "over": the loudest is where LAME would go over first
    loudest.add(before / FULL_SCALE)
    loudest.flush()
    start = max(loudest.overs, key=lambda found: found[1])[0] + offset
    again = levelled.corrected([(start, over)])
    after, meter = measured(again)
    around = slice(start - 8, start + FRAME + 8)
    assert true_peak_db(before[around]) - true_peak_db(after[around]) == pytest.approx(over + REPAIR_DB, abs=0.01)
    elsewhere = slice(12 * SAMPLE_RATE, LENGTH)  # the other line
    assert true_peak_db(after[elsewhere]) == pytest.approx(true_peak_db(before[elsewhere]), abs=0.01)
    assert meter.result().integrated == pytest.approx(levelled.aim, abs=0.03)
    # the ceiling comes down on the ticks from one before the frame to one after it
    assert isinstance(again.ceiling, np.ndarray)
    assert again.ceiling.dtype == np.float32
    spans = analyse(mix).spans  # ticks are numbered through the spans, one after another
    lo = max(lo for lo, _ in spans if lo <= start)
    tick = sum(hi - lo for lo, hi in spans if hi <= start) // TICK + (start - lo) // TICK
    lowered = [tick - 1, tick, tick + 1, tick + 2] if offset else [tick - 1, tick, tick + 1]
    assert np.flatnonzero(again.ceiling < np.float32(levelled.ceiling)).tolist() == lowered


def test_the_limiter_acts_in_the_spans_and_not_in_silence() -> None:
    levelled = curved([0.5] * 10)  # spans 0-256, 1024-1280, 1600-1728
    acts = [0, 255, 1024, 1279, 1600, 1727]
    assert [levelled.limits(at) for at in acts] == [True] * len(acts)
    assert [levelled.limits(at) for at in (256, 1023, 1280, 1599, 1728, 1999)] == [False] * 6
    assert not Levelled(levelled.mix, 1.0).limits(0)  # not levelled: no limiter


@pytest.mark.parametrize(
    ("start", "end", "ticks"),
    [
        (0, 1, [0]),
        (63, 65, [0, 1]),
        (-100, 10, [0]),
        (200, 1100, [3, 4, 5]),
        (256, 1024, []),
        (250, 1030, [3, 4]),
        (1100, 1700, [5, 6, 7, 8, 9]),
        (1727, 5000, [9]),
    ],
)
def test_the_ticks_under_a_stretch_of_samples(start: int, end: int, ticks: list[int]) -> None:
    found = curved([0.5] * 10)._ticks_at(start, end)
    assert found.dtype == np.int64  # indices, even when there are none
    assert found.tolist() == ticks


def steady_noise(bed: Bed | None = None) -> Mix:
    """Eight seconds of loud steady noise: the limiter holds all of it at the ceiling from about -9.7 LUFS."""
    noise = np.random.default_rng(3).standard_normal(8 * SAMPLE_RATE) * 3000
    return mix_of([(SAMPLE_RATE, np.round(noise).astype(np.int16))], 12 * SAMPLE_RATE, bed)


@pytest.mark.parametrize("with_bed", [False, True])
@pytest.mark.parametrize("target", [-8.0, -5.0])
def test_a_target_out_of_clean_reach_is_levelled_as_far_as_the_limiter_takes_max_cut_off(
    with_bed: bool, target: float
) -> None:
    mix = steady_noise(noise_bed(12 * SAMPLE_RATE, 300.0) if with_bed else None)
    levelled = level(mix, target, 64)  # never refused
    assert levelled.aim is not None
    assert levelled.aim < target - MP3_GAIN_DB - 1.0
    _, meter = measured(levelled, 0, mix.duration)
    assert meter.result().integrated == pytest.approx(levelled.aim, abs=TOLERANCE_LU)
    _, unlimited = measured(Levelled(mix, levelled.gain), 0, mix.duration)  # the same gain, no limiter
    assert unlimited.result().integrated - levelled.aim == pytest.approx(MAX_CUT_LU, abs=0.05)


def test_a_bed_that_takes_room_under_the_voice_does_not_count_against_it() -> None:
    # a bed this loud under the voice is limited at any voice gain: only what the voice adds counts
    loud = noise_bed(LENGTH, 9000.0)
    mix = mix_of(lines(lambda s, n: speech(s, 3000.0, n)), LENGTH, loud)
    levelled = level(mix, -16.0, 64)
    assert levelled.aim is not None
    _, meter = measured(levelled)
    assert meter.result().integrated == pytest.approx(levelled.aim, abs=TOLERANCE_LU)
    quiet = level(mix_of(lines(lambda s, n: speech(s, 3000.0, n)), LENGTH), -16.0, 64)
    assert levelled.aim < quiet.aim - 0.5  # the bed's peaks leave the voice less room...
    assert levelled.aim > quiet.aim - MAX_CUT_LU  # ...but what they take is not counted against it


@pytest.mark.parametrize(
    "mix",
    [
        mix_of([(SAMPLE_RATE, np.zeros(SAMPLE_RATE, np.int16))], LENGTH),  # a line of silence
        mix_of([(SAMPLE_RATE, np.zeros(SAMPLE_RATE, np.int16))], LENGTH, noise_bed(LENGTH)),  # and the bed
        mix_of([(SAMPLE_RATE, np.tile(np.array([1, -1], np.int16), SAMPLE_RATE))], LENGTH),  # under -70 LUFS
        mix_of([], LENGTH),  # no line at all
        mix_of([], LENGTH, noise_bed(LENGTH)),  # only the bed
    ],
    ids=["silence", "bed", "whisper", "no-lines", "only-bed"],
)
def test_nothing_to_level_is_left_as_it_is(mix: Mix) -> None:
    levelled = level(mix, -16.0, 64)
    assert levelled.gain == 1.0
    assert levelled.aim is None
    pcm = pcm_of(levelled, 0, LENGTH)
    bed = mix.bed(0, LENGTH) if mix.bed is not None else 0.0
    assert np.array_equal(pcm, np.round(mix.voice(0, LENGTH) + bed))


def test_a_line_too_short_to_measure_keeps_its_level_and_a_loud_bed_is_still_limited() -> None:
    mix = mix_of([(SAMPLE_RATE, speech(0.3, 3000.0, 1))], LENGTH, noise_bed(LENGTH, 12_000.0))
    levelled = level(mix, -16.0, 64)
    assert levelled.gain == 1.0
    assert levelled.aim is None  # nothing to aim at: encoded once, as it is
    assert levelled.bed_peak is not None
    assert true_peak_db(pcm_of(levelled, 0, LENGTH)) <= TRUE_PEAK_CEILING - mp3_margin(64) + 0.01


# --- the limiter's curve between tick centres -----------------------------------------------------------------


def curved(curve: list[float] | None) -> Levelled:
    """A levelled track with spans of 4, 4 and 2 ticks (0-256, 1024-1280, 1600-1728) and the limiter's ``curve``."""
    mix = mix_of([(0, np.ones(2000, np.int16))], 2000)
    spans = ((0, 256), (1024, 1280), (1600, 1728))
    zeros = np.zeros(10, np.float32)
    ticks = Ticks(spans, zeros, np.zeros(10, np.int32), 0, zeros, None)
    return Levelled(mix, 1.0, ticks, None if curve is None else np.array(curve, np.float32))


def test_the_curve_is_interpolated_between_tick_centres_and_one_outside_the_spans() -> None:
    levelled = curved([0.5, 0.6, 0.7, 0.8, 0.9, 0.8, 0.7, 0.6, 0.3, 0.4])
    whole = levelled._curve_at(0, 2000)
    assert whole is not None
    # the first tick's centre is at 31.5: flat before it, then straight to the next centre, 64 samples on
    spots = {0: 0.5, 31: 0.5, 63: 0.55 - 0.1 / 128, 95: 0.6 - 0.1 / 128, 224: 0.8, 255: 0.8, 256: 1.0}
    spots |= {1023: 1.0, 1024: 0.9, 1055: 0.9, 1087: 0.85 + 0.1 / 128, 1279: 0.6, 1280: 1.0}
    spots |= {1599: 1.0, 1600: 0.3, 1631: 0.3, 1664: 0.35 + 0.1 / 128, 1727: 0.4, 1728: 1.0, 1999: 1.0}
    for at, gain in spots.items():
        assert whole[at] == pytest.approx(gain, abs=1e-6), at
    for cuts in ([0, 100, 256, 1000, 1024, 1030, 2000], [0, 255, 257, 1279, 1281, 1650, 2000], [0, 1, 2000]):
        pieces = []
        for lo, hi in itertools.pairwise(cuts):
            piece = levelled._curve_at(lo, hi)
            pieces.append(np.ones(hi - lo) if piece is None else piece)
        assert np.array_equal(np.concatenate(pieces), whole), cuts


@pytest.mark.parametrize("curve", [None, [1.0] * 10])
def test_no_limiting_is_no_curve(curve: list[float] | None) -> None:
    assert curved(curve)._curve_at(0, 2000) is None
    assert Levelled(curved(curve).mix, 1.0)._curve_at(0, 2000) is None
