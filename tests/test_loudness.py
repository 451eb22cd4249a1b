"""Loudness: the in-process BS.1770-4 meter against known signals and ffmpeg's ebur128, and the
level stage end to end with every ffmpeg present (one encode, on target, nothing moved)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voiceguide import export as export_module
from voiceguide import level as level_module
from voiceguide.audio import decode_file
from voiceguide.export import Export
from voiceguide.loudness import FRAME, FULL_SCALE, Meter, TruePeak, fast_length, measure_file
from voiceguide.render import Overrides, load, render
from voiceguide.timeline import SAMPLE_RATE, Kind

from conftest import ROUTINES, SHORT_ROUTINE

Wave = npt.NDArray[np.float64]


def sine(dbfs: float, seconds: float = 5.0, hz: float = 1000.0) -> Wave:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.asarray(10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t), dtype=np.float64)


AGREE = 0.1 + 0.05  # within 0.1 LU / dB of ffmpeg's ebur128, which prints one decimal


def ebur128(ffmpeg: str, path: Path) -> tuple[float, float]:
    """Integrated loudness and true peak of ``path`` as that ffmpeg's ebur128 filter reads them."""
    done = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stderr[done.stderr.rfind("Summary:") :]
    found = re.search(r"I:\s+(\S+) LUFS.*Peak:\s+(\S+) dBFS", summary, re.S)
    assert found is not None, summary
    return float(found[1]), float(found[2])


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


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real speech, untouched by levelling: SHORT_ROUTINE rendered with --loudness off."""
    folder = tmp_path_factory.mktemp("speech")
    (folder / "short.yaml").write_text(SHORT_ROUTINE, encoding="utf-8")
    options = Export(loudness=None, sidecars=False)
    return render(load(folder / "short.yaml", Overrides(engine="espeak-ng")), folder, options=options).path


def test_the_meter_agrees_with_ffmpegs_ebur128_on_real_speech(speech: Path, each_ffmpeg: str) -> None:
    integrated, true_peak = ebur128(each_ffmpeg, speech)
    ours = measure_file(speech)
    assert ours.integrated == pytest.approx(integrated, abs=AGREE)
    assert ours.true_peak == pytest.approx(true_peak, abs=AGREE)


def count_encodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every MP3 the export stage encodes (the encoder still runs)."""
    encoded: list[Path] = []
    real = export_module.encode_mp3

    def counting(chunks: object, path: Path, *args: object) -> None:
        encoded.append(path)
        real(chunks, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(export_module, "encode_mp3", counting)
    return encoded


def test_a_default_render_is_on_target_encoded_once_and_moves_nothing(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_routine(SHORT_ROUTINE, "short.yaml")
    encoded = count_encodes(monkeypatch)
    done = render(load(source, Overrides(engine="espeak-ng")), tmp_path / "on", options=Export(sidecars=False))
    assert len(encoded) == 1
    integrated, true_peak = ebur128(each_ffmpeg, done.path)
    assert integrated == pytest.approx(-16.0, abs=0.5)
    assert true_peak <= -1.0
    ours = measure_file(done.path)
    assert ours.integrated == pytest.approx(integrated, abs=AGREE)
    assert ours.true_peak == pytest.approx(true_peak, abs=AGREE)
    levelled = decode_file(done.path)[0].astype(np.float64)
    timeline = done.plan.timeline
    assert len(levelled) == timeline.duration  # to the sample
    plain_render = render(load(source, Overrides(engine="espeak-ng")), tmp_path / "off", options=Export(None, False))
    plain = decode_file(plain_render.path)[0].astype(np.float64)
    for event in (e for e in timeline.events if e.kind is Kind.SPEECH):
        # every line lies exactly where it lies in the untouched track: the best alignment is no shift
        lo, hi = event.start, event.end
        window = plain[lo:hi]
        shifts = range(-200, 201)
        scores = [
            float(np.dot(window, levelled[lo + s : hi + s])) if lo + s >= 0 and hi + s <= len(levelled) else -np.inf
            for s in shifts
        ]
        assert shifts[int(np.argmax(scores))] == 0, f"{event.text!r} moved"
    for event in (e for e in timeline.events if e.kind is Kind.HOLD):
        speech_inside = [e for e in timeline.events if e.kind is Kind.SPEECH and event.start <= e.start < event.end]
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


def test_the_background_keeps_its_own_level_after_levelling(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str
) -> None:
    source = write_routine(BED, "bed.yaml")
    levels = []
    for loudness in (-16.0, None):
        done = render(load(source, Overrides(engine="espeak-ng")), tmp_path / str(loudness), options=Export(loudness))
        decoded = decode_file(done.path)[0].astype(np.float64)
        hold = next(e for e in done.plan.timeline.events if e.kind is Kind.HOLD)
        bed = decoded[hold.start + SAMPLE_RATE : hold.end - SAMPLE_RATE]  # away from the ducks
        levels.append(20 * np.log10(np.sqrt(np.mean(bed**2)) / 32767))
    assert levels == pytest.approx([-30.0, -30.0], abs=1.0)
    assert ebur128(each_ffmpeg, tmp_path / "-16.0" / "bed.mp3")[0] == pytest.approx(-16.0, abs=0.5)


def test_where_lame_raised_a_peak_past_the_ceiling_the_track_is_repaired_and_encoded_again(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with no margin the PCM's peaks sit at -1.0 dBTP, and LAME's noise lifts some of them over it
    monkeypatch.setattr(level_module, "mp3_margin", lambda _bitrate: 0.0)
    source = write_routine(SHORT_ROUTINE, "short.yaml")
    encoded = count_encodes(monkeypatch)
    done = render(load(source, Overrides(engine="espeak-ng")), tmp_path, options=Export(sidecars=False))
    assert len(encoded) == 2
    integrated, true_peak = ebur128(each_ffmpeg, done.path)
    assert true_peak <= -1.0
    assert integrated == pytest.approx(-16.0, abs=0.5)
    assert len(decode_file(done.path)[0]) == done.plan.timeline.duration


BUNDLED = sorted(ROUTINES.glob("*.yaml"))


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
    integrated, true_peak = ebur128(each_ffmpeg, done.path)
    assert integrated == pytest.approx(-16.0, abs=0.5)
    assert true_peak <= -1.0
    assert len(decode_file(done.path)[0]) == done.plan.timeline.duration


def test_split_parts_are_levelled_as_one_track_and_each_encoded_once(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_routine(SHORT_ROUTINE, "short.yaml")
    encoded = count_encodes(monkeypatch)
    done = render(load(source, Overrides(engine="espeak-ng")), tmp_path, options=Export(split=True, sidecars=False))
    chapters = done.plan.timeline.chapters
    parts = sorted((tmp_path / "short").glob("*.mp3"))
    assert len(encoded) == len(parts) == len(chapters)
    meter = Meter(SAMPLE_RATE)
    for part, chapter in zip(parts, chapters, strict=True):
        samples = decode_file(part)[0]
        assert len(samples) == chapter.end - chapter.start
        meter.add(samples / FULL_SCALE)
        integrated, true_peak = ebur128(each_ffmpeg, part)
        ours = measure_file(part)
        assert true_peak <= -1.0
        assert ours.true_peak == pytest.approx(true_peak, abs=AGREE)
        assert max(ours.integrated, -70.0) == pytest.approx(integrated, abs=AGREE)  # ffmpeg's floor: -70
    assert meter.result().integrated == pytest.approx(-16.0, abs=0.5)  # together they are the levelled track
