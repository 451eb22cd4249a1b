"""Chimes on real rendered audio: where they sit, how they sound, and the user's own files."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.audio.sounds import FADE_IN_MS, FADE_OUT_MS, MAX_SOUND_SECONDS, chime_clips
from voiceguide.export.layout import Export
from voiceguide.pipeline import Overrides, load, render
from voiceguide.plan.script import EventKind, Sound
from voiceguide.plan.timeline import SAMPLE_RATE, Event, Timeline

# no line directly after a hold: one after an end chime waits for it (test_breathing measures that),
# which would move the speech that chime_only subtracts
CHIMED = """\
title: Chimes
defaults: {{chime: {chime}, pause: 1s}}
{sounds}
steps:
  - say: Press your {{side}} hand.
    sides: both
    hold: 4s
  - say: Breathe.
    hold: 3s
"""
ONSET_TOLERANCE = round(0.005 * SAMPLE_RATE)  # 5 ms


def rendered(path: Path, out: Path) -> tuple[npt.NDArray[np.int32], Timeline]:
    # unlevelled: a chime changes the track's loudness, and so the voice's gain, which the
    # difference of two levelled tracks would show as voice
    done = render(load(path, Overrides(engine="espeak-ng")), out, options=Export(loudness=None))
    decoded, rate = decode_file(done.path)
    assert rate == SAMPLE_RATE
    return decoded.astype(np.int32), done.plan.timeline


def chime_only(
    write_routine: Callable[..., Path], tmp_path: Path, chime: str, sounds: str = ""
) -> tuple[npt.NDArray[np.int32], Timeline, Timeline]:
    """The chimed track minus the same track without chimes: the chimes alone (and codec noise)."""
    chimed, timeline = rendered(write_routine(CHIMED.format(chime=chime, sounds=sounds), "chimed.yaml"), tmp_path)
    plain, plain_timeline = rendered(write_routine(CHIMED.format(chime="none", sounds=""), "plain.yaml"), tmp_path)
    assert len(chimed) >= len(plain)  # longer when the last end chime runs past the end
    return chimed - np.pad(plain, (0, len(chimed) - len(plain))), timeline, plain_timeline


def onset(signal: npt.NDArray[np.int32], near: int, threshold: int = 2000) -> int:
    """First sample within 50 ms of ``near`` louder than ``threshold``."""
    lo = near - round(0.05 * SAMPLE_RATE)
    return lo + int(np.flatnonzero(np.abs(signal[lo : near + round(0.05 * SAMPLE_RATE)]) > threshold)[0])


def pitch(signal: npt.NDArray[np.int32], start: int, seconds: float = 0.2) -> float:
    segment = signal[start : start + round(seconds * SAMPLE_RATE)]
    spectrum = np.abs(np.fft.rfft(segment))
    return float(np.fft.rfftfreq(len(segment), 1 / SAMPLE_RATE)[spectrum.argmax()])


def chimes(timeline: Timeline) -> list[Event]:
    return [e for e in timeline.events if e.kind is EventKind.CHIME]


def holds(timeline: Timeline) -> list[tuple[int, int]]:
    return [(e.start, e.duration) for e in timeline.events if e.kind is EventKind.HOLD]


def test_chimes_sit_at_the_plans_times_without_moving_any_hold(
    write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    alone, timeline, plain = chime_only(write_routine, tmp_path, "both")
    assert holds(timeline) == holds(plain)
    assert timeline.duration == plain.duration + timeline.tail
    placed = chimes(timeline)
    assert [e.role for e in placed] == ["start", "end"] * 3
    for event in placed:
        assert abs(onset(alone, event.start) - event.start) <= ONSET_TOLERANCE, event
        # and nothing before it: the chime does not start early
        before = alone[event.start - round(0.05 * SAMPLE_RATE) : event.start - ONSET_TOLERANCE]
        assert np.abs(before).max() < 1000


def test_start_and_end_chimes_are_distinct_bells(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    alone, timeline, _ = chime_only(write_routine, tmp_path, "both")
    pitches = {(e.role, round(pitch(alone, e.start))) for e in chimes(timeline)}
    assert pitches == {("start", 880), ("end", 660)}


@pytest.mark.parametrize(("chime", "roles"), [("start", ["start"]), ("end", ["end"]), ("none", [])])
def test_chime_setting_picks_the_edges(
    chime: str, roles: list[str], write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    alone, timeline, _ = chime_only(write_routine, tmp_path, chime)
    assert [e.role for e in chimes(timeline)] == roles * 3
    if not roles:
        assert np.abs(alone).max() < 1000  # codec noise only


def test_an_end_chime_at_the_end_of_the_track_is_heard_in_full(
    write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    """The track runs on after its last hold until the end chime has rung out."""
    text = (
        "title: T\ndefaults: {{chime: {chime}, pause: 0}}\nsteps:\n  - say: Breathe.\n    hold: 2s\n    countdown: 0\n"
    )
    chimed, timeline = rendered(write_routine(text.format(chime="end"), "chimed.yaml"), tmp_path)
    plain, _ = rendered(write_routine(text.format(chime="none"), "plain.yaml"), tmp_path)
    bell = chime_clips(load(write_routine(text.format(chime="end"))), [Sound("end")], SAMPLE_RATE)[Sound("end")]
    (start, length), (chime,) = holds(timeline)[-1], chimes(timeline)
    assert (chime.start, chime.duration) == (start + length, len(bell))
    assert timeline.duration == chime.end
    assert timeline.tail == len(bell)
    assert len(chimed) >= chime.end  # the decoded track holds the whole chime
    alone = chimed - np.pad(plain, (0, len(chimed) - len(plain)))[: len(chimed)]
    late = slice(round(1.0 * SAMPLE_RATE), round(1.4 * SAMPLE_RATE))  # the last strike, ringing out
    heard = alone[chime.start :][late].astype(float)
    expected = bell[late].astype(float)
    assert np.sqrt(np.mean(heard**2)) > 0.5 * np.sqrt(np.mean(expected**2))


def test_built_in_chimes_fade_in_and_out() -> None:
    from voiceguide.model import Routine, Voice

    routine = Routine("r.yaml", "T", None, None, None, "en", Voice(), None, None, 0, ())
    for clip in chime_clips(routine, [Sound("start"), Sound("end")], SAMPLE_RATE).values():
        fade = FADE_IN_MS * SAMPLE_RATE // 1000
        assert clip[0] == 0
        assert clip[-1] == 0
        assert np.abs(clip[: fade // 4].astype(int)).max() < np.abs(clip.astype(int)).max() / 4


def test_a_chime_fades_out_over_its_last_40_ms(tmp_path: Path) -> None:
    """A steady tone from the user's file ends in a falling ramp, not a cut (which clicks)."""
    from voiceguide.model import Routine, Sounds, Voice

    write_tone(tmp_path / "steady.wav", 300.0, 1.0)
    sounds = Sounds(start=tmp_path / "steady.wav")
    routine = Routine("r.yaml", "T", None, None, None, "en", Voice(), None, None, 0, (), sounds=sounds)
    (clip,) = chime_clips(routine, [Sound("start")], SAMPLE_RATE).values()
    window = SAMPLE_RATE // 200  # 5 ms, a cycle and a half of the tone
    fade = FADE_OUT_MS * SAMPLE_RATE // 1000
    peaks = [int(np.abs(clip[i : i + window].astype(int)).max()) for i in range(len(clip) - fade, len(clip), window)]
    steady = int(np.abs(clip[-2 * fade : -fade].astype(int)).max())
    assert steady > 10_000
    assert peaks == sorted(peaks, reverse=True)  # falling all the way
    assert peaks[0] > 0.8 * steady
    assert peaks[len(peaks) // 2] == pytest.approx(steady / 2, rel=0.2)  # a linear ramp
    assert peaks[-1] < 0.15 * steady


def write_tone(path: Path, frequency: float, seconds: float, rate: int = 44_100) -> None:
    """A stereo 16-bit WAV at another sample rate than the track's."""
    t = np.arange(round(seconds * rate)) / rate
    mono = (12_000 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(mono, 2).tobytes())


def test_sounds_replace_the_chimes_with_the_users_files(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    write_tone(tmp_path / "low.wav", 300.0, 0.4)
    alone, timeline, plain = chime_only(write_routine, tmp_path, "both", "sounds: {start: low.wav}")
    assert holds(timeline) == holds(plain)
    for event in chimes(timeline):
        assert abs(onset(alone, event.start) - event.start) <= ONSET_TOLERANCE
        expected = 300 if event.role == "start" else 660
        assert round(pitch(alone, event.start)) == pytest.approx(expected, abs=5)
    start = next(e for e in chimes(timeline) if e.role == "start")
    assert start.duration == round(0.4 * SAMPLE_RATE)
    after = alone[start.end + round(0.03 * SAMPLE_RATE) : start.end + round(0.3 * SAMPLE_RATE)]
    assert np.abs(after).max() < 1000  # the file's length, no more


def test_a_long_sound_file_is_cut_to_five_seconds(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    write_tone(tmp_path / "long.wav", 300.0, 8.0)
    path = write_routine(
        "title: T\nsounds: {end: long.wav}\ndefaults: {chime: end}\nsteps:\n  - {say: Go., hold: 2s, pause: 7s}\n"
    )
    track, timeline = rendered(path, tmp_path)
    (chime,) = chimes(timeline)
    assert chime.duration == MAX_SOUND_SECONDS * SAMPLE_RATE
    heard = np.abs(track[chime.start : chime.end + SAMPLE_RATE])  # the pause after the hold: only the chime
    assert heard[: SAMPLE_RATE // 10].max() > 5000
    assert heard[chime.duration - SAMPLE_RATE // 400 :].max() < 1000  # faded out where it is cut, then silence
