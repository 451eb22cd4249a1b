"""Background ambience on real rendered audio: present in the holds, ducked under speech, faded."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voiceguide.audio.background import Bed
from voiceguide.audio.ffmpeg import decode_file
from voiceguide.export.layout import Export
from voiceguide.model import Background
from voiceguide.pipeline import DEFAULT_BITRATE, Overrides, load, render
from voiceguide.plan.script import EventKind
from voiceguide.plan.timeline import SAMPLE_RATE, Timeline

from conftest import check_levelled

ROUTINE = """\
title: Ambience
intro: Settle in comfortably, let your shoulders drop, and breathe slowly in and out through your nose.
defaults: {{pause: 2s}}
{background}
steps:
  - say: Press your {{side}} hand firmly into the table, keep your elbow soft, and hold it there.
    sides: both
    hold: 9s
    release: Relax.
outro: Done.
"""
RATE = SAMPLE_RATE
Audio = npt.NDArray[np.float64]


def render_pair(
    write_routine: Callable[..., Path], tmp_path: Path, background: str, bitrate: int = 128
) -> tuple[Audio, Audio, Timeline]:
    """The track with the background, the same track without it, and the plan (no loudness change)."""
    tracks = []
    for name, text in (
        ("with", ROUTINE.format(background=f"background: {background}")),
        ("without", ROUTINE.format(background="")),
    ):
        routine = load(write_routine(text, f"{name}.yaml"), Overrides(engine="espeak-ng"))
        # the mix itself: loudness normalisation would give the two tracks different gains
        done = render(routine, tmp_path, bitrate, options=Export(loudness=None, sidecars=False))
        tracks.append(decode_file(done.path)[0].astype(np.float64))
    assert len(tracks[0]) == len(tracks[1]) == done.plan.timeline.duration
    return tracks[0], tracks[1], done.plan.timeline


def dbfs(samples: Audio) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) / 32767))


def regions(timeline: Timeline) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The steady middle of long lines (3 s or more, half a second in from each end: far from the
    duck's ramps), and samples of holds well away from any speech and from the fades."""
    speech = np.zeros(timeline.duration, dtype=bool)
    quiet = np.zeros(timeline.duration, dtype=bool)
    for event in timeline.events:
        if event.kind is EventKind.HOLD:
            quiet[event.start : event.end] = True
    for event in timeline.events:
        if event.kind is EventKind.SPEECH:
            if event.duration >= 3 * RATE:
                speech[event.start + RATE // 2 : event.end - RATE // 2] = True
            quiet[max(0, event.start - RATE // 2) : event.end + RATE * 6 // 10] = False
    assert speech.sum() >= 5 * RATE
    return speech, quiet


@pytest.mark.parametrize(("noise", "volume", "duck"), [("pink", -20, -12), ("brown", -26, -6)])
def test_generated_noise_sits_in_the_holds_and_ducks_under_speech(
    noise: str, volume: int, duck: int, write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    """Ducked by the depth asked, within 1 dB (measured: 12.4 dB for 12, 6.3 dB for 6)."""
    mixed, plain, timeline = render_pair(
        write_routine, tmp_path, f"{{noise: {noise}, volume: {volume}dB, duck: {duck}dB}}"
    )
    bed = mixed - plain
    speech, quiet = regions(timeline)
    in_holds = dbfs(mixed[quiet])  # the holds hold nothing else
    under_speech = dbfs(bed[speech])
    assert in_holds == pytest.approx(volume, abs=1.5)
    assert under_speech - in_holds == pytest.approx(duck, abs=1)
    assert dbfs(plain[speech]) - under_speech >= 9  # the voice stays well above the bed
    # faded in from silence and out to silence
    assert dbfs(bed[: RATE // 50]) < -45
    assert dbfs(bed[-RATE // 50 :]) < -45


def write_wav(path: Path, samples: npt.NDArray[np.int16], rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())


def test_a_file_loops_smoothly_under_the_whole_track(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    rate = 44_100  # not the track's rate: it is resampled
    t = np.arange(round(1.5 * rate)) / rate  # much shorter than a hold: it must loop
    noise = np.random.default_rng(1).standard_normal(len(t))
    (tmp_path / "rain.wav").parent.mkdir(exist_ok=True)
    write_wav(tmp_path / "rain.wav", (4000 * np.sin(2 * np.pi * 330 * t) + 2000 * noise).astype(np.int16), rate)
    mixed, _, timeline = render_pair(write_routine, tmp_path, "{file: rain.wav, volume: -24dB}", DEFAULT_BITRATE)
    _, quiet = regions(timeline)
    assert dbfs(mixed[quiet]) == pytest.approx(-24, abs=1.5)
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    inside = mixed[hold.start + RATE : hold.start + 11 * RATE // 2]  # several loop points, before the countdown
    spectrum = np.abs(np.fft.rfft(inside))
    assert np.fft.rfftfreq(len(inside), 1 / RATE)[spectrum.argmax()] == pytest.approx(330, abs=2)
    windows = [dbfs(inside[i : i + RATE // 10]) for i in range(0, len(inside) - RATE // 10, RATE // 10)]
    assert max(windows) - min(windows) < 4  # no gap or jump where the loop wraps


def test_a_file_loops_without_a_click_or_a_dropout_at_any_loop_point(tmp_path: Path) -> None:
    """The bed alone, sample by sample: a tone whose file ends a quarter cycle early. Cut and
    looped as is, each loop point would jump; crossfaded, the tone runs on at a steady level."""
    frequency, seconds = 330.25, 1.5  # the file ends mid-cycle; its last third is crossfaded into its start
    tone = 8000 * np.sin(2 * np.pi * frequency * np.arange(round(seconds * RATE)) / RATE)
    write_wav(tmp_path / "tone.wav", tone.astype(np.int16), RATE)
    timeline = Timeline("T", RATE, 12 * RATE, (), ())
    bed = Bed(timeline, Background(tmp_path / "tone.wav")).window(0, timeline.duration)
    middle = bed[4 * RATE : 8 * RATE].astype(np.float64)  # away from the fades in and out; four loop points
    amplitude = np.sqrt(2) * 10 ** (-30 / 20) * 32767  # a sine at the default -30 dB RMS
    window = RATE // 200  # 5 ms
    peaks = np.abs(middle[: len(middle) // window * window]).reshape(-1, window).max(axis=1)
    assert peaks.min() > 0.9 * amplitude  # no dropout, no dip where the crossfade runs
    assert peaks.max() < 1.1 * amplitude
    steepest = 2 * np.pi * frequency / RATE * amplitude  # a sine's largest step from one sample to the next
    assert np.abs(np.diff(middle)).max() < 1.1 * steepest + 2  # no jump anywhere (rounding: 1 each side)


def test_a_track_with_background_still_meets_the_loudness_target(
    write_routine: Callable[..., Path], tmp_path: Path, ffmpeg_exe: str
) -> None:
    # the target is the voice's; the bed keeps its absolute level under it
    text = ROUTINE.format(background="background: {noise: brown, volume: -26dB, duck: -12dB}")
    done = render(load(write_routine(text, "loud.yaml"), Overrides(engine="espeak-ng")), tmp_path)
    assert done.warnings == ()
    check_levelled(ffmpeg_exe, done)
