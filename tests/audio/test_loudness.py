"""Loudness: the in-process BS.1770-4 meter against the published filter, reference computations
and known signals (fast, synthetic), and against ffmpeg's ebur128; the level stage end to end with
every ffmpeg present (one encode, on target, nothing moved)."""

from __future__ import annotations

import itertools
import math
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from numpy.polynomial import polynomial as P

from voiceguide.audio import level as level_module
from voiceguide.audio.ffmpeg import decode_file
from voiceguide.audio.loudness import (
    FRAME,
    FULL_SCALE,
    IMPULSE,
    OVERSAMPLE,
    OVERSAMPLER,
    TAPS_PER_PHASE,
    KFilter,
    Loudness,
    Meter,
    Oversampler,
    TruePeak,
    _k_response,
    db,
    fast_length,
    gated,
    k_weighting,
    measure,
    measure_file,
    with_neighbours,
)
from voiceguide.export import track as export_module
from voiceguide.export.layout import Export
from voiceguide.pipeline import Overrides, Rendered, load, render
from voiceguide.plan.script import EventKind
from voiceguide.plan.timeline import SAMPLE_RATE

from conftest import ROUTINES, SHORT_ROUTINE, VOICE_TOLERANCE_LU, decoded, ebur128, speech_spans, voice_loudness

Wave = npt.NDArray[np.float64]


def sine(dbfs: float, seconds: float = 5.0, hz: float = 1000.0) -> Wave:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.asarray(10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t), dtype=np.float64)


AGREE = 0.1 + 0.05  # within 0.1 LU / dB of ffmpeg's ebur128, which prints one decimal


def voice_of(ffmpeg: str, done: Rendered) -> float:
    """The voice's loudness in a rendered track, as ebur128 measures it over the spoken spans."""
    timeline = done.plan.timeline
    return voice_loudness(ffmpeg, decoded(ffmpeg, done.path, timeline.sample_rate), speech_spans(timeline))


@pytest.mark.parametrize("dbfs", [-30.0, -20.0, -6.0])
def test_a_1khz_sine_reads_its_level_minus_3_lu_mono(dbfs: float) -> None:
    # EBU Tech 3341: a 1 kHz sine at X dBFS in one channel reads X - 3.01 LUFS
    meter = Meter(SAMPLE_RATE)
    meter.add(sine(dbfs))
    found = meter.result()
    assert found.integrated == pytest.approx(dbfs - 3.01, abs=0.05)
    assert found.true_peak == pytest.approx(dbfs, abs=0.05)


def test_the_gates_ignore_silence_and_quiet_passages() -> None:
    meter = Meter(SAMPLE_RATE)
    meter.add(sine(-20.0, 10.0))
    meter.add(sine(-80.0, 10.0))  # under the absolute gate
    meter.add(sine(-20.0, 10.0), at=60 * SAMPLE_RATE)  # after 30 s of skipped silence
    assert meter.result().integrated == pytest.approx(-23.01, abs=0.05)
    meter = Meter(SAMPLE_RATE)
    meter.add(sine(-20.0, 10.0))
    meter.add(sine(-36.0, 10.0))  # more than 10 LU under the first: the relative gate drops it
    assert meter.result().integrated == pytest.approx(-23.01, abs=0.1)


def test_a_peak_between_samples_is_found() -> None:
    # a sine at a quarter of the sample rate, phased so every sample misses the crest by 45 degrees
    n = np.arange(SAMPLE_RATE)
    wave = 0.5 * np.sin(np.pi / 2 * n + np.pi / 4)
    meter = Meter(SAMPLE_RATE)
    meter.add(wave)
    assert 20 * np.log10(np.abs(wave).max()) == pytest.approx(-9.03, abs=0.01)  # the sample peak
    assert meter.result().true_peak == pytest.approx(-6.02, abs=0.2)  # the interpolator ripples a little


def test_streaming_in_any_chunks_and_skipping_silence_gives_the_same_result() -> None:
    rng = np.random.default_rng(3)
    wave = np.concatenate([rng.standard_normal(70_000) * 0.1, np.zeros(90_000), rng.standard_normal(50_000) * 0.3])
    whole = Meter(SAMPLE_RATE)
    whole.add(wave)
    chunked = Meter(SAMPLE_RATE)
    for lo, hi in [(0, 1), (1, 4_000), (4_000, 70_000), (160_000, 160_007), (160_007, 210_000)]:
        chunked.add(wave[lo:hi], at=lo)  # 70_000..160_000 skipped: silence
    found, expected = chunked.result(), whole.result()
    # field by field: pytest.approx does not look inside a dataclass, it would compare exactly
    assert (found.integrated, found.true_peak) == pytest.approx((expected.integrated, expected.true_peak), abs=0.01)


def smooth(n: int) -> bool:
    for factor in (2, 3, 5):
        while n % factor == 0:
            n //= factor
    return n == 1


@pytest.mark.parametrize("size", [1, 2, 7, 97, 4_096, 4_097, 8_191, 224_595, 262_145])
def test_the_fft_length_is_the_next_with_no_prime_factor_above_5(size: int) -> None:
    length = fast_length(size)
    assert length >= size
    assert smooth(length)
    assert not any(smooth(n) for n in range(size, length))


# The K-weighting as BS.1770-4 publishes it for 48 kHz (table 1 and table 2): high shelf, then RLB high-pass.
PUBLISHED_48K = np.array(
    [
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ]
)
SHELF_HZ, HIGHPASS_HZ = 1681.974450955533, 38.13547087602444  # the frequencies those coefficients are warped at


def rerated(section: Wave, hz: float, rate: int) -> Wave:
    """A 48 kHz biquad moved to ``rate`` by undoing its bilinear transform (prewarped at ``hz``) and
    redoing it: z^-1 at 48 kHz is a first-order all-pass of z^-1 at ``rate``, substituted into both
    polynomials. Independent of how ``k_weighting`` computes its coefficients."""
    c = math.tan(math.pi * hz / 48_000) / math.tan(math.pi * hz / rate)
    n, d = np.array([1 - c, 1 + c]), np.array([1 + c, 1 - c])  # z48^-1 = n(z^-1) / d(z^-1)

    def substituted(coefficients: Wave) -> Wave:
        return np.asarray(
            sum(x * P.polymul(P.polypow(n, k), P.polypow(d, 2 - k)) for k, x in enumerate(coefficients)),
            dtype=np.float64,
        )

    b, a = substituted(section[:3]), substituted(section[3:])
    return np.concatenate([b / a[0], a / a[0]])


def biquads(sections: Wave, wave: Wave) -> Wave:
    """``wave`` through second-order sections (rows of b0 b1 b2 a0 a1 a2), by the textbook recursion."""
    signal = wave.tolist()
    for b0, b1, b2, a0, a1, a2 in sections.tolist():
        x1 = x2 = y1 = y2 = 0.0
        out = []
        for x in signal:
            y = (b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0
            out.append(y)
            x1, x2, y1, y2 = x, x1, y, y1
        signal = out
    return np.array(signal)


def test_the_k_weighting_at_48khz_is_the_published_one() -> None:
    assert k_weighting(48_000) == pytest.approx(PUBLISHED_48K, abs=1e-13)


@pytest.mark.parametrize("rate", [44_100, SAMPLE_RATE, 16_000, 96_000])
def test_the_k_weighting_at_other_rates_is_the_published_filter_moved_there(rate: int) -> None:
    shelf, highpass = k_weighting(rate)
    assert shelf == pytest.approx(rerated(PUBLISHED_48K[0], SHELF_HZ, rate), abs=1e-13)
    moved = rerated(PUBLISHED_48K[1], HIGHPASS_HZ, rate)
    assert highpass[3:] == pytest.approx(moved[3:], abs=1e-13)
    # the numerator stays [1, -2, 1] at every rate, as in libebur128: the moved one's shape, its gain within 0.1 dB
    assert highpass[:3].tolist() == [1.0, -2.0, 1.0]
    assert moved[:3] / moved[0] == pytest.approx([1.0, -2.0, 1.0], abs=1e-12)
    assert 20 * math.log10(moved[0]) == pytest.approx(0.0, abs=0.1)


def test_the_impulse_response_kept_is_the_filters_and_what_is_cut_off_is_negligible() -> None:
    impulse = np.zeros(2 * IMPULSE)
    impulse[0] = 1.0
    full = biquads(PUBLISHED_48K, impulse)
    response = _k_response.__wrapped__(48_000)  # computed here, not the cached one
    assert len(response) == IMPULSE
    assert response == pytest.approx(full[:IMPULSE], abs=1e-12)
    assert np.abs(full[IMPULSE:]).max() < 1e-9


@pytest.fixture(scope="module")
def noise_48k() -> Wave:
    """1.23 s of white noise at 48 kHz, and its K-weighting by the recursion with the published coefficients."""
    return np.random.default_rng(14).standard_normal(59_040) * 0.1


@pytest.fixture(scope="module")
def weighted_48k(noise_48k: Wave) -> Wave:
    return biquads(PUBLISHED_48K, noise_48k)


# chunk lengths: one piece; ragged pieces, one of a sample, one of 11,500 (its FFT has an odd length, 5^6)
CHUNKINGS = [[59_040], [1, 4_799, 4_800, 4_098, 17, 11_500, 3_000, 30_825]]


@pytest.mark.parametrize("lengths", CHUNKINGS)
def test_the_k_filter_streams_in_any_chunks(lengths: list[int], noise_48k: Wave, weighted_48k: Wave) -> None:
    weighting = KFilter(48_000)
    cuts = np.cumsum([0, *lengths])
    out = np.concatenate([weighting(noise_48k[lo:hi]) for lo, hi in itertools.pairwise(cuts)])
    assert out == pytest.approx(weighted_48k, abs=1e-9)  # the impulse response is cut where it is under 1e-9
    weighting.reset()  # at rest again: as new
    assert weighting(noise_48k[:5_000]) == pytest.approx(weighted_48k[:5_000], abs=1e-9)


@pytest.mark.parametrize("lengths", CHUNKINGS)
@pytest.mark.parametrize("placed", [False, True])
def test_the_meters_energies_are_the_k_weighted_squares_per_100_ms(
    lengths: list[int], placed: bool, noise_48k: Wave, weighted_48k: Wave
) -> None:
    meter = Meter(48_000)
    cuts = np.cumsum([0, *lengths])
    for lo, hi in itertools.pairwise(cuts):
        meter.add(noise_48k[lo:hi], at=int(lo) if placed else None)  # `at` where the last one ended: no gap
    blocks = len(noise_48k) // 4_800
    expected = (weighted_48k[: blocks * 4_800] ** 2).reshape(blocks, 4_800).sum(axis=1)
    assert meter.energies() == pytest.approx(expected, rel=1e-8)
    assert meter.result().integrated == pytest.approx(gated(expected, 4_800), abs=1e-8)


@pytest.fixture
def oversampler() -> Oversampler:
    """An interpolator built by the test (the module's own is built once, at import)."""
    return Oversampler()


def test_the_interpolator_is_a_kaiser_windowed_sinc_cut_at_the_inputs_nyquist(oversampler: Oversampler) -> None:
    n = OVERSAMPLE * TAPS_PER_PHASE + 1
    offsets = np.arange(n) - (n - 1) / 2  # in output samples from the middle tap
    window = np.i0(7.0 * np.sqrt(1 - (2 * offsets / (n - 1)) ** 2)) / np.i0(7.0)  # Kaiser, beta 7
    ideal = np.sinc(offsets / OVERSAMPLE) * window
    assert oversampler.taps == pytest.approx(ideal * OVERSAMPLE / ideal.sum(), abs=1e-15)
    assert np.array_equal(oversampler.taps, oversampler.taps[::-1])  # linear phase: nothing moves
    assert oversampler.taps.sum() == pytest.approx(OVERSAMPLE, abs=1e-12)  # unity gain at DC
    on_samples = np.zeros(TAPS_PER_PHASE + 1)
    on_samples[TAPS_PER_PHASE // 2] = 1.0
    assert oversampler.taps[::OVERSAMPLE] == pytest.approx(on_samples, abs=1e-4)  # phase 0 is the input
    assert oversampler.half == TAPS_PER_PHASE // 2


def reference_between(oversampler: Oversampler, wave: Wave) -> Wave:
    """``wave`` 4x oversampled by plain convolution (zeros stuffed between samples, filtered),
    with the input samples themselves on phase 0."""
    stuffed = np.zeros(OVERSAMPLE * len(wave))
    stuffed[::OVERSAMPLE] = wave
    middle = (len(oversampler.taps) - 1) // 2
    out = np.convolve(stuffed, oversampler.taps)[middle : middle + len(stuffed)]
    out[::OVERSAMPLE] = wave
    return out


@pytest.mark.parametrize("size", [1, 3, FRAME])
def test_peaks_are_each_frames_oversampled_peak(size: int, oversampler: Oversampler) -> None:
    wave = np.random.default_rng(size).standard_normal(3_000) * 0.3
    c = oversampler.context
    starts = np.arange(c, len(wave) - c - size, size)  # exactly `context` samples to spare at both ends
    between = np.abs(reference_between(oversampler, wave))
    expected = [between[OVERSAMPLE * s : OVERSAMPLE * (s + size)].max() for s in starts.tolist()]
    assert oversampler.peaks(wave, starts, size) == pytest.approx(expected, rel=1e-12)
    assert oversampler.peaks(wave, starts[:0], size).shape == (0,)


@pytest.mark.parametrize("cycle", [50.0, 20.0, 8.0, 4.0, 10 / 3])  # samples per cycle: up to 0.3 of the rate
@pytest.mark.parametrize("crest", [0.25, 0.5, 0.75])
def test_a_sines_crest_between_samples_is_found(cycle: float, crest: float, oversampler: Oversampler) -> None:
    n = np.arange(400)
    wave = 0.5 * np.cos(2 * np.pi * (n - 200 - crest) / cycle)
    assert np.abs(wave[200:202]).max() < 0.5  # no sample on the crest
    found = oversampler.peaks(wave, np.array([200]), 1)[0]
    assert 20 * math.log10(found / 0.5) == pytest.approx(0.0, abs=0.01)


def test_the_bound_is_how_far_an_interpolated_sample_can_exceed_the_samples(oversampler: Oversampler) -> None:
    taps = oversampler.taps[2::OVERSAMPLE]  # halfway between samples: the phase with the most to add up
    wave = np.zeros(40)
    # the value between samples 20 and 21 weighs sample 20 + half - j by taps[j]: give each the sign of its tap
    wave[20 + oversampler.half - np.arange(len(taps))] = np.sign(taps)
    assert oversampler.peaks(wave, np.array([20]), 1)[0] == pytest.approx(oversampler.bound, rel=1e-12)  # reached
    assert oversampler.bound == pytest.approx(np.abs(taps).sum(), rel=1e-12)
    rng = np.random.default_rng(1)
    waves = rng.choice([-1.0, 1.0], (300, 40)) * rng.uniform(0.1, 1.0, (300, 40))
    for wave in waves:  # and never passed
        assert oversampler.peaks(wave, np.arange(10, 30), 1).max() <= oversampler.bound * np.abs(wave).max()


def true_peak(wave: Wave) -> float:
    """The true peak of ``wave`` with silence before and after it, by the reference interpolation."""
    silence = np.zeros(OVERSAMPLER.context)
    return float(np.abs(reference_between(OVERSAMPLER, np.concatenate([silence, wave, silence]))).max())


@pytest.mark.parametrize(("gap", "exact"), [(1, False), (100, False), (4_799, True), (9_600, True), (24_017, True)])
@pytest.mark.parametrize("start", [4_800, 7_777])
def test_skipping_ahead_is_the_same_as_adding_silence(gap: int, exact: bool, start: int, noise_48k: Wave) -> None:
    first, second = noise_48k[:start], noise_48k[start : start + 20_000]
    skipped, filled = Meter(48_000), Meter(48_000)
    skipped.add(first)
    skipped.add(second, at=start + gap)
    filled.add(np.concatenate([first, np.zeros(gap), second]))
    assert len(skipped.energies()) == len(filled.energies())
    # a gap shorter than the filter's impulse response cuts its ring-out short: 1e-5 of an energy, 1e-4 dB
    assert skipped.energies() == pytest.approx(filled.energies(), rel=1e-8 if exact else 1e-4, abs=1e-15)
    assert skipped.result().integrated == pytest.approx(filled.result().integrated, abs=1e-8 if exact else 1e-4)
    assert skipped.peak == pytest.approx(true_peak(np.concatenate([first, np.zeros(gap), second])), rel=1e-12)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_the_true_peak_is_the_oversampled_peak_wherever_the_crest_falls(where: str) -> None:
    rng = np.random.default_rng(5)
    for length in range(1_000, 1_000 + FRAME + 8):  # every length modulo a frame, and past it
        wave = rng.standard_normal(length) * 0.05
        crest = {"first": 1, "middle": length // 2, "last": length - 1}[where]
        wave[crest - 1 : crest + 1] = 0.6  # two equal samples: the crest lies between them, over 0.6
        meter = Meter(SAMPLE_RATE)
        meter.add(wave)
        assert meter.result().true_peak == pytest.approx(20 * math.log10(true_peak(wave)), abs=1e-9), length
        assert meter.peak > 0.65


def test_skipping_to_the_end_adds_silence() -> None:
    meter = Meter(SAMPLE_RATE)
    meter.add(sine(-20.0, 1.0))
    meter.add(np.zeros(0), at=5 * SAMPLE_RATE + 1)
    filled = Meter(SAMPLE_RATE)
    filled.add(np.concatenate([sine(-20.0, 1.0), np.zeros(4 * SAMPLE_RATE + 1)]))
    assert len(meter.energies()) == 50
    assert meter.energies() == pytest.approx(filled.energies(), rel=1e-9, abs=1e-15)
    assert meter.result().integrated == pytest.approx(filled.result().integrated, abs=1e-9)


def test_a_meter_without_true_peak_measures_the_loudness_alone() -> None:
    wave = sine(-20.0, 2.0)
    plain, peaking = Meter(SAMPLE_RATE, true_peak=False), Meter(SAMPLE_RATE)
    plain.add(wave)
    peaking.add(wave)
    assert plain.result() == Loudness(peaking.result().integrated, -math.inf)
    assert peaking.result().true_peak == pytest.approx(-20.0, abs=0.05)


def reference_gated(energies: list[float], size: int) -> float:
    """BS.1770-4's gating, written out: 400 ms blocks every 100 ms, absolute then relative gate."""
    blocks = [sum(energies[j : j + 4]) / (4 * size) for j in range(len(energies) - 3)]
    loud = [z for z in blocks if z > 0 and -0.691 + 10 * math.log10(z) > -70.0]
    if not loud:
        return -math.inf
    relative = -0.691 + 10 * math.log10(sum(loud) / len(loud)) - 10.0
    kept = [z for z in loud if -0.691 + 10 * math.log10(z) > relative]
    return -0.691 + 10 * math.log10(sum(kept) / len(kept))


@pytest.mark.filterwarnings("error")  # silent blocks (log of zero) raise no numpy warning
@pytest.mark.parametrize("seed", range(6))
def test_the_gates_are_bs1770s(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = 2205
    # 100 ms energies from silence up to full scale, in runs, so that both gates have something to drop
    levels = np.repeat(rng.choice([-math.inf, -90.0, -45.0, -30.0, -20.0, -12.0, -3.0], 12), rng.integers(1, 9, 12))
    energies = size * 10 ** (levels / 10) * rng.uniform(0.5, 2.0, len(levels))
    assert gated(energies, size) == pytest.approx(reference_gated(energies.tolist(), size), abs=1e-9)


def lufs(loudness: float) -> float:
    """The mean square of a block that reads ``loudness``."""
    return float(10 ** ((loudness + 0.691) / 10))


@pytest.mark.parametrize(
    ("energies", "expected"),
    [
        ([], -math.inf),
        ([1.0, 1.0, 1.0], -math.inf),  # less than one 400 ms block
        ([0.0, 0.0, 0.0, 0.0, 0.0], -math.inf),
        ([1e-9] * 6, -math.inf),  # under the absolute gate
        ([lufs(-70.5)] * 4, -math.inf),  # just under it
        ([lufs(-69.5)] * 4, -69.5),  # just over it
        ([1.0] * 4, -0.691),
        ([4.0, 0.0, 0.0, 0.0], -0.691),
        ([2.0] * 5, -0.691 + 10 * math.log10(2.0)),
    ],
)
def test_the_shortest_and_quietest_tracks(energies: list[float], expected: float) -> None:
    assert gated(np.array(energies), 1) == pytest.approx(expected, abs=1e-9)


def consecutive(near: float, count: int) -> Wave:
    """The ``count`` floats on either side of ``near``, in order."""
    return np.asarray((np.array([near]).view(np.int64) + np.arange(-count, count)).view(np.float64))


def test_a_block_exactly_on_the_absolute_gate_is_dropped() -> None:
    # BS.1770-4 keeps the blocks *above* -70 LUFS: find a mean square that reads -70.0 exactly, as gated computes it
    candidates = consecutive(lufs(-70.0), 3_000)
    with np.errstate(divide="ignore"):
        on = candidates[-0.691 + 10 * np.log10(candidates) == -70.0]
    assert on.size
    assert gated(np.array([4 * on[0], 0.0, 0.0, 0.0]), 1) == -math.inf  # one 400 ms block, mean square on[0]


def test_a_block_exactly_on_the_relative_gate_is_dropped() -> None:
    # blocks of mean squares 1 and q: the relative gate is 10 LU under their mean; find a q that reads exactly that
    candidates = consecutive(0.05 / 0.95, 2_000)  # q = (1 + q) / 2 / 10 exactly at 0.05 / 0.95
    relative = np.array([-0.691 + 10 * math.log10(float(np.array([1.0, q]).mean())) - 10 for q in candidates])
    on = candidates[-0.691 + 10 * np.log10(candidates) == relative]
    assert on.size
    energies = np.array([4.0, 0.0, 0.0, 0.0, 4 * on[0]])  # two 400 ms blocks: 1, then on[0]
    assert gated(energies, 1) == pytest.approx(-0.691, abs=1e-12)
    assert gated(energies * [1, 1, 1, 1, 1.001], 1) < -3.0  # a hair louder, it counts


@pytest.mark.parametrize(("amplitude", "expected"), [(0.0, -math.inf), (1.0, 0.0), (0.5, -6.0206), (2.0, 6.0206)])
def test_decibels(amplitude: float, expected: float) -> None:
    assert db(amplitude) == pytest.approx(expected, abs=1e-4)


def test_measure_reads_16_bit_chunks_and_counts_their_samples() -> None:
    samples = np.round(sine(-12.0, 1.5) * FULL_SCALE).astype(np.int16)
    chunks = [samples[:1_000], samples[1_000:1_001], samples[1_001:]]
    found, count = measure(iter(chunks), SAMPLE_RATE)
    meter = Meter(SAMPLE_RATE)
    meter.add(samples / FULL_SCALE)
    assert count == len(samples)
    assert found.integrated == pytest.approx(meter.result().integrated, abs=1e-9)
    assert found.true_peak == pytest.approx(meter.result().true_peak, abs=1e-9)


def test_measure_file_reads_a_wav(tmp_path: Path) -> None:
    samples = np.round(sine(-12.0, 1.5, hz=997.0) * FULL_SCALE).astype(np.int16)
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    found, whole = measure_file(path), measure(iter([samples]), SAMPLE_RATE)[0]
    assert found.integrated == pytest.approx(whole.integrated, abs=1e-9)
    assert found.true_peak == pytest.approx(whole.true_peak, abs=1e-9)
    assert found.integrated == pytest.approx(-15.01, abs=0.05)


@pytest.mark.parametrize(
    ("peaks", "before", "after", "bounds"),
    [
        ([1.0, 2.0, 3.0], [-9.0, 0.5], [0.1, -5.0], [9.0, 3.0, 5.0]),
        ([4.0, 0.0, 0.0, 1.0], [0.0], [0.0], [4.0, 4.0, 1.0, 1.0]),
        ([0.5], [-0.25], [0.75], [0.75]),
    ],
)
def test_a_frames_bound_takes_in_its_neighbours_and_the_samples_beside_the_ends(
    peaks: list[float], before: list[float], after: list[float], bounds: list[float]
) -> None:
    found = with_neighbours(np.array(peaks), np.array(before), np.array(after))
    assert found.tolist() == bounds


def every_frame_oversampled(wave: Wave) -> float:
    """The true peak with nothing skipped: every frame of ``wave`` (silence around it) oversampled."""
    c = OVERSAMPLER.context
    count = -(-len(wave) // FRAME)
    padded = np.concatenate([np.zeros(c), wave, np.zeros(count * FRAME - len(wave) + c)])
    return float(OVERSAMPLER.peaks(padded, c + FRAME * np.arange(count), FRAME).max())


JUNCTION = np.zeros(640)
# found by a random search: the crest lies between a frame's last sample and the next frame's first,
# and the frame before the junction (by its own samples) looked too quiet to hold it
JUNCTION[189:196] = [0.009, -0.004, -0.091, 0.721, -0.581, 0.488, 0.412]


def sparse(seed: int) -> Wave:
    rng = np.random.default_rng(seed)
    wave = np.zeros(20 * FRAME)
    wave[rng.integers(0, len(wave), 12)] = rng.uniform(-1, 1, 12)
    return wave


@pytest.mark.parametrize("wave", [JUNCTION, *(sparse(seed) for seed in range(40))])
def test_the_true_peak_search_skips_no_frame_that_could_hold_the_peak(wave: Wave) -> None:
    exact = every_frame_oversampled(wave)
    peak = TruePeak(over=exact * 0.999)
    for lo in range(0, len(wave), 50):  # frames straddle the chunks
        peak.add(wave[lo : lo + 50])
    peak.flush()
    assert peak.peak == pytest.approx(exact, rel=1e-12)
    assert peak.overs  # the frame that holds it went over
    meter = Meter(SAMPLE_RATE)
    meter.add(wave)
    assert meter.result().true_peak == pytest.approx(20 * np.log10(exact), abs=1e-9)


def test_a_true_peak_stream_keeps_where_it_went_over() -> None:
    rng = np.random.default_rng(8)
    wave = rng.standard_normal(100_000) * 0.05
    wave[[321, 54_399, 99_000]] = [0.95, 0.9, 0.7]  # 54_399: the last sample of a frame
    wave[10_000:50_000] = 0.0  # digital silence, skipped without losing count
    peak = TruePeak(over=0.8)
    for lo in range(0, len(wave), 7_777):  # any chunks
        peak.add(wave[lo : lo + 7_777])
    peak.flush()
    assert len(peak.overs) == 2  # the 0.7 stays under
    for (start, _), at in zip(peak.overs, [321, 54_399], strict=True):
        assert start % FRAME == 0  # frames of FRAME samples from the stream's first
        assert start <= at < start + FRAME  # the one that holds the sample
    assert [value for _, value in peak.overs] == pytest.approx([0.95, 0.9], abs=1e-9)
    assert peak.peak == pytest.approx(0.95)


@pytest.mark.parametrize(("over", "went_over"), [(0.5, False), (0.4999, True)])
def test_a_peak_at_the_limit_is_not_over_it(over: float, went_over: bool) -> None:
    wave = np.zeros(1_000)
    wave[500] = 0.5  # a lone sample: its true peak is itself
    peak = TruePeak(over=over)
    peak.add(wave)
    peak.flush()
    assert peak.peak == 0.5
    assert peak.overs == ([(448, 0.5)] if went_over else [])


def test_after_a_flush_a_true_peak_stream_counts_afresh() -> None:
    wave = np.zeros(1_000)
    wave[300] = 0.9
    peak = TruePeak(over=0.8)
    for _ in range(2):  # two streams, each flushed: the same frame in each
        peak.add(wave)
        peak.flush()
    assert peak.overs == [(256, 0.9), (256, 0.9)]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real speech, untouched by levelling: SHORT_ROUTINE rendered with --loudness off."""
    folder = tmp_path_factory.mktemp("speech")
    (folder / "short.yaml").write_text(SHORT_ROUTINE, encoding="utf-8")
    options = Export(loudness=None, sidecars=False)
    return render(load(folder / "short.yaml", Overrides(engine="espeak-ng")), folder, options=options).path


@pytest.mark.render
def test_the_meter_agrees_with_ffmpegs_ebur128_on_real_speech(speech: Path, each_ffmpeg: str) -> None:
    integrated, true_peak = ebur128(each_ffmpeg, speech)
    ours = measure_file(speech)
    assert ours.integrated == pytest.approx(integrated, abs=AGREE)
    assert ours.true_peak == pytest.approx(true_peak, abs=AGREE)


@pytest.mark.render
def test_a_default_render_is_on_target_encoded_once_and_moves_nothing(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str, encodes: list[bool]
) -> None:
    source = write_routine(SHORT_ROUTINE, "short.yaml")
    done = render(load(source, Overrides(engine="espeak-ng")), tmp_path / "on", options=Export(sidecars=False))
    assert len(encodes) == 1
    integrated, true_peak = ebur128(each_ffmpeg, done.path)
    assert voice_of(each_ffmpeg, done) == pytest.approx(-16.0, abs=VOICE_TOLERANCE_LU)
    assert true_peak <= -1.0
    ours = measure_file(done.path)
    assert ours.integrated == pytest.approx(integrated, abs=AGREE)
    assert ours.true_peak == pytest.approx(true_peak, abs=AGREE)
    levelled = decode_file(done.path)[0].astype(np.float64)
    timeline = done.plan.timeline
    assert len(levelled) == timeline.duration  # to the sample
    plain_render = render(load(source, Overrides(engine="espeak-ng")), tmp_path / "off", options=Export(None, False))
    plain = decode_file(plain_render.path)[0].astype(np.float64)
    for event in (e for e in timeline.events if e.kind is EventKind.SPEECH):
        # every line lies exactly where it lies in the untouched track: the best alignment is no shift
        lo, hi = event.start, event.end
        window = plain[lo:hi]
        shifts = range(-200, 201)
        scores = [
            float(np.dot(window, levelled[lo + s : hi + s])) if lo + s >= 0 and hi + s <= len(levelled) else -np.inf
            for s in shifts
        ]
        assert shifts[int(np.argmax(scores))] == 0, f"{event.text!r} moved"
    for event in (e for e in timeline.events if e.kind is EventKind.HOLD):
        speech_inside = [
            e for e in timeline.events if e.kind is EventKind.SPEECH and event.start <= e.start < event.end
        ]
        if not speech_inside:
            assert np.abs(levelled[event.start + 600 : event.end - 600]).max() < 40  # still silence


BED = """\
title: Bed
background: {noise: pink, volume: -30dB, duck: -12dB}
intro: Settle in, breathe slowly, and let your shoulders drop.
steps:
  - say: Press your hand flat on the table, and hold it there.
    hold: 8s
    countdown: 0
    release: And relax, letting the hand rest.
outro: Well done. That is the end of this short routine.
"""


@pytest.mark.render
def test_the_background_keeps_its_own_level_after_levelling(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str
) -> None:
    source = write_routine(BED, "bed.yaml")
    levels = []
    for loudness in (-16.0, None):
        done = render(load(source, Overrides(engine="espeak-ng")), tmp_path / str(loudness), options=Export(loudness))
        decoded = decode_file(done.path)[0].astype(np.float64)
        hold = next(e for e in done.plan.timeline.events if e.kind is EventKind.HOLD)
        bed = decoded[hold.start + SAMPLE_RATE : hold.end - SAMPLE_RATE]  # away from the ducks
        levels.append(20 * np.log10(np.sqrt(np.mean(bed**2)) / 32767))
        if loudness is not None:
            assert voice_of(each_ffmpeg, done) == pytest.approx(loudness, abs=VOICE_TOLERANCE_LU)
    assert levels == pytest.approx([-30.0, -30.0], abs=1.0)


@pytest.mark.render
def test_where_lame_raised_a_peak_past_the_ceiling_the_track_is_repaired_and_encoded_again(
    write_routine: Callable[..., Path],
    tmp_path: Path,
    each_ffmpeg: str,
    encodes: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # with no margin the PCM's peaks sit at -1.0 dBTP, and LAME's noise lifts some of them over it
    monkeypatch.setattr(level_module, "mp3_margin", lambda _bitrate: 0.0)
    # the track this was measured on: one correction repairs it (with gaps between its lines, LAME's
    # noise lands elsewhere and two are needed, within MAX_ENCODES; that is the loop's budget, not this case)
    source = write_routine(SHORT_ROUTINE.replace("defaults: {", "defaults: {gap: 0, "), "short.yaml")
    done = render(load(source, Overrides(engine="espeak-ng")), tmp_path, options=Export(sidecars=False))
    assert 2 <= len(encodes) <= export_module.MAX_ENCODES
    assert ebur128(each_ffmpeg, done.path)[1] <= -1.0
    assert voice_of(each_ffmpeg, done) == pytest.approx(-16.0, abs=VOICE_TOLERANCE_LU)
    assert len(decode_file(done.path)[0]) == done.plan.timeline.duration


BUNDLED = sorted(ROUTINES.glob("*.yaml"))


@pytest.mark.render
@pytest.mark.parametrize(
    ("routine", "bitrate"),
    [(routine, 64) for routine in BUNDLED] + [(ROUTINES / "neck-and-back.yaml", 32)],
    ids=lambda value: value.stem if isinstance(value, Path) else f"{value}k",
)
def test_every_bundled_routine_in_its_default_voice_meets_the_targets(
    routine: Path, bitrate: int, tmp_path: Path, each_ffmpeg: str
) -> None:
    # what a user gets: the default engine (Piper for English, whose sharp transients LAME lifts
    # most), two with a background bed, at the default bitrate and at the lowest --bitrate allows
    done = render(load(routine), tmp_path, bitrate, options=Export(sidecars=False))
    assert done.warnings == ()
    assert voice_of(each_ffmpeg, done) == pytest.approx(-16.0, abs=VOICE_TOLERANCE_LU)
    assert ebur128(each_ffmpeg, done.path)[1] <= -1.0
    assert len(decode_file(done.path)[0]) == done.plan.timeline.duration


@pytest.mark.render
def test_split_parts_are_levelled_as_one_track_and_each_encoded_once(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str, encodes: list[bool]
) -> None:
    source = write_routine(SHORT_ROUTINE, "short.yaml")
    done = render(load(source, Overrides(engine="espeak-ng")), tmp_path, options=Export(split=True, sidecars=False))
    chapters = done.plan.timeline.chapters
    parts = sorted((tmp_path / "short").glob("*.mp3"))
    assert len(encodes) == len(parts) == len(chapters)
    joined = []
    for part, chapter in zip(parts, chapters, strict=True):
        samples = decode_file(part)[0]
        assert len(samples) == chapter.end - chapter.start
        joined.append(samples)
        integrated, true_peak = ebur128(each_ffmpeg, part)
        ours = measure_file(part)
        assert true_peak <= -1.0
        assert ours.true_peak == pytest.approx(true_peak, abs=AGREE)
        assert max(ours.integrated, -70.0) == pytest.approx(integrated, abs=AGREE)  # ffmpeg's floor: -70
    # together they are the levelled track: the voice across them at the target
    voice = voice_loudness(each_ffmpeg, np.concatenate(joined), speech_spans(done.plan.timeline))
    assert voice == pytest.approx(-16.0, abs=VOICE_TOLERANCE_LU)
