"""Assembly and encoding on synthetic clips: exact sample placement through a real MP3."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voiceguide.audio.encode import Pcm, encode_mp3
from voiceguide.audio.ffmpeg import CHUNK_SECONDS, Samples, decode_file
from voiceguide.audio.mix import Mix
from voiceguide.errors import EncoderError, OutputError
from voiceguide.model import Voice
from voiceguide.plan.script import EventKind, Sound, Utterance, Where, script, utterances
from voiceguide.plan.timeline import SAMPLE_RATE, Event, Timeline, schedule
from voiceguide.routine.build import load_routine
from voiceguide.speech.clips import trim

from conftest import mix_of


def tone(seconds: float, amplitude: int = 8000) -> Samples:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def test_trim_drops_zero_padding_only() -> None:
    speech = tone(0.2)
    padded = np.concatenate([np.zeros(300, np.int16), speech, np.zeros(9000, np.int16)])
    trimmed = trim(padded)
    first = int(np.flatnonzero(np.abs(speech) >= 16)[0])
    last = int(np.flatnonzero(np.abs(speech) >= 16)[-1])
    assert np.array_equal(trimmed, speech[first : last + 1])
    assert len(trim(np.zeros(100, np.int16))) == 0
    edges = np.array([0, 15, -16, 900, 16, -15, 0], np.int16)  # 16 is the quietest sample kept
    assert trim(edges).tolist() == [-16, 900, 16]


def test_the_mix_places_clips_at_exact_offsets_in_any_window(write_routine: Callable[..., Path]) -> None:
    routine = load_routine(write_routine("title: T\nsteps:\n" + "  - {say: Go., hold: 7s, countdown: 0}\n" * 4))
    items = script(routine)
    clips = {u: tone(1.3) for u in utterances(items)}
    timeline = schedule(routine, items, {u: len(c) for u, c in clips.items()})
    mix = Mix(timeline, clips)
    cuts = [0, 12_345, 10 * SAMPLE_RATE, 10 * SAMPLE_RATE + 1, 25 * SAMPLE_RATE, timeline.duration]
    pcm = np.concatenate([mix.voice(lo, hi) for lo, hi in itertools.pairwise(cuts)])
    assert len(pcm) == timeline.duration > 3 * 10 * SAMPLE_RATE
    for event in timeline.events:
        segment = pcm[event.start : event.end]
        if event.kind is EventKind.SPEECH:
            assert np.array_equal(segment, tone(1.3))
        else:
            assert not segment.any()


def test_the_mix_carries_clips_over_chunk_boundaries_and_sums_overlaps() -> None:
    """Distinct clips placed across, on and inside chunk boundaries, one longer than a chunk and
    some overlapping: read chunk by chunk, the mix equals the track summed in one array (unclipped:
    the level stage limits it)."""
    chunk = CHUNK_SECONDS * SAMPLE_RATE
    rng = np.random.default_rng(7)
    placed = [  # (start, length): across the first boundary, on it, longer than a chunk, ending on one, overlapping
        (chunk - 1000, 5000),
        (chunk, 300),
        (chunk + 4000, 2 * chunk + 10),
        (3 * chunk - 700, 700),
        (3 * chunk + 50, 900),
        (3 * chunk + 500, 2000),
    ]
    clips: dict[Utterance | Sound, Samples] = {}
    events = []
    for n, (start, length) in enumerate(placed):
        line = Utterance(f"line {n}", Voice())
        clips[line] = rng.integers(-20_000, 20_000, length).astype(np.int16)
        events.append(Event(start, length, EventKind.SPEECH, Where(), utterance=line))
    for name, level, at in (("end", 30_000, 3 * chunk + 600), ("start", -30_000, 3 * chunk + 60)):
        chime = Sound(name)  # over lines 5 and 4: the sums pass 16 bits at both ends, and must not wrap
        clips[chime] = np.full(100, level, np.int16)
        events.append(Event(at, 100, EventKind.CHIME, Where(), sound=chime))
    events.sort(key=lambda e: e.start)
    duration = 3 * chunk + 4321
    mix = Mix(Timeline("T", SAMPLE_RATE, duration, tuple(events), ()), clips)
    pcm = np.concatenate([mix.voice(lo, min(lo + chunk, duration)) for lo in range(0, duration, chunk)])
    expected = np.zeros(duration, np.int32)
    for event in events:
        assert event.clip is not None
        expected[event.start : event.end] += clips[event.clip]
    assert np.array_equal(pcm, expected)
    assert pcm.min() < -32768
    assert pcm.max() > 32767


# one line from 1000 to 1500, a long one from 2000 to 7000, a short one from 8000 to 8010
SPOKEN = [(1000, 500), (2000, 5000), (8000, 10)]


@pytest.mark.parametrize(
    ("start", "end", "speaks"),
    [
        (0, 1000, False),  # ends where the first line starts
        (0, 1001, True),
        (1499, 1600, True),
        (1500, 2000, False),  # starts where the first line ends
        (1200, 1300, True),  # inside a line
        (6000, 6001, True),  # deep inside the long line: it started more than a short line's length before
        (6999, 7000, True),
        (7000, 8000, False),
        (8009, 8010, True),
        (8010, 9000, False),
        (0, 9000, True),
    ],
)
def test_the_mix_knows_where_it_speaks(start: int, end: int, speaks: bool) -> None:
    mix = mix_of([(at, np.ones(length, np.int16)) for at, length in SPOKEN], 9000)
    assert mix.speaks(start, end) is speaks
    assert bool(mix.voice(start, end).any()) is speaks


def test_the_mix_spans_its_lines_widened_on_a_grid_and_merged() -> None:
    mix = mix_of([(at, np.ones(length, np.int16)) for at, length in [*SPOKEN, (8100, 10)]], 9000)
    # 1000-1500 widened by 300 is 700-1800, out to multiples of 64: 640-1856; 2000-7000: 1664-7360, which
    # overlaps it; 8000-8010: 7680-8320, and 8100-8110 (7744-8448) inside it
    assert mix.spans(300, 64) == [(640, 7360), (7680, 8448)]
    assert mix.spans(0, 1) == [(1000, 1500), (2000, 7000), (8000, 8010), (8100, 8110)]
    assert mix.spans(1000, 1) == [(0, 9110)]  # not before the start (nor cut at the end)
    assert mix.spans(499, 1) == [(501, 7499), (7501, 8609)]
    assert mix.spans(500, 1) == [(500, 8610)]  # spans that touch merge


def test_lines_starting_on_the_same_sample_are_summed() -> None:
    first, second = tone(0.1), tone(0.1, 3000)
    mix = mix_of([(500, first), (500, second), (100, tone(0.01))], 5000)
    assert np.array_equal(mix.voice(500, 500 + len(first)), first.astype(np.float64) + second)


def test_a_line_running_past_the_end_of_the_track_is_cut_there() -> None:
    mix = mix_of([(900, np.ones(300, np.int16))], 1000)
    assert mix.voice(950, 1100).tolist() == [1.0] * 50 + [0.0] * 100
    assert not mix.speaks(1000, 1200)
    assert mix.spans(0, 1) == [(900, 1000)]


def test_a_mix_without_lines_is_silence() -> None:
    def bed(start: int, end: int) -> npt.NDArray[np.float64]:
        return np.zeros(end - start)

    mix = mix_of([], 1000, bed)
    assert (mix.rate, mix.duration, mix.bed) == (SAMPLE_RATE, 1000, bed)  # what the level stage reads
    assert mix.voice(0, 1000).tolist() == [0.0] * 1000
    assert not mix.speaks(0, 1000)
    assert mix.spans(64, 64) == []


def test_mp3_round_trip_is_sample_exact_and_gapless(tmp_path: Path) -> None:
    signal = np.concatenate([tone(0.5), np.zeros(12_345, np.int16), tone(0.25)])
    path = tmp_path / "t.mp3"
    encode_mp3(Pcm.of(signal.tobytes()), path, SAMPLE_RATE, 64)
    decoded, rate = decode_file(path)
    assert rate == SAMPLE_RATE
    assert len(decoded) == len(signal)
    # the tone starts at sample 0, not after the encoder's delay
    assert np.abs(decoded[:200].astype(int)).max() > 1000
    gap = decoded[round(0.5 * SAMPLE_RATE) + 1500 : round(0.5 * SAMPLE_RATE) + 12_345 - 1500]
    assert np.abs(gap.astype(int)).max() < 100


@pytest.mark.usefixtures("each_ffmpeg")
@pytest.mark.parametrize("remainder", [0, 1, 20, 46, 47, 300, 575])
def test_every_length_decodes_to_the_sample(remainder: int, tmp_path: Path) -> None:
    # LAME frames hold 576 samples here; ffmpeg's own header was short for remainders 1 to 46
    signal = np.tile(tone(0.5), 4)[: 576 * 30 + remainder]
    path = tmp_path / "t.mp3"
    encode_mp3(Pcm.of(signal.tobytes()), path, SAMPLE_RATE, 64)
    assert len(decode_file(path)[0]) == len(signal)


@pytest.mark.usefixtures("each_ffmpeg")
def test_what_the_encoder_hears_is_the_mp3_aligned_with_its_pcm(tmp_path: Path) -> None:
    # the second output of the tee muxer is a stream without the Info tag: the listener drops
    # LAME's delay itself, so what it hears is what a player decodes from the file, sample for sample
    rng = np.random.default_rng(5)
    noise = (rng.standard_normal(20_000) * 3000).astype(np.int16)
    hold = np.zeros(200_000, np.int16)  # decoded blocks of pure silence are handed on without converting
    signal = np.concatenate([tone(0.3), noise, hold, tone(0.4, 20_000)])
    path = tmp_path / "odd | name [1] 'quoted' \\ back: é.mp3"
    heard: list[npt.NDArray[np.float64]] = []
    encode_mp3(Pcm.of(signal.tobytes()), path, SAMPLE_RATE, 64, lambda _start: heard.append)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the tee muxer wrote exactly that file
    decoded = decode_file(path)[0] / 32768
    stream = np.concatenate(heard)
    assert len(stream) >= len(decoded) == len(signal)
    assert np.abs(stream[: len(decoded)] - decoded).max() <= 1 / 32768  # the same audio, not shifted


@pytest.mark.usefixtures("each_ffmpeg")
def test_a_full_disk_fails_an_encode_that_is_heard(tiny_disk: Path) -> None:
    # the tee muxer must not carry on with its other output when the file cannot be written
    noise = (np.random.default_rng(2).standard_normal(60 * SAMPLE_RATE) * 3000).astype(np.int16)
    with pytest.raises(OutputError, match="the disk is full"):
        encode_mp3(Pcm.of(noise.tobytes()), tiny_disk / "t.mp3", SAMPLE_RATE, 64, lambda _start: lambda _wave: None)


def test_a_decoder_that_fails_is_an_encoder_error_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ffmpeg_exe: str
) -> None:
    from voiceguide.audio import ffmpeg as audio

    fake = tmp_path / "ffmpeg"
    fake.write_text(
        '#!/bin/sh\ncase "$*" in *"-f f32le"*) echo "Invalid data found" >&2; exit 1;; esac\n'
        f'exec "{ffmpeg_exe}" "$@"\n'
    )
    fake.chmod(0o755)
    audio.ffmpeg.cache_clear()
    monkeypatch.setenv("VOICEGUIDE_FFMPEG", str(fake))
    try:
        with pytest.raises(EncoderError, match="ffmpeg could not decode the MP3 it encoded: Invalid data found"):
            encode_mp3(
                Pcm.of(tone(2.0).tobytes()), tmp_path / "t.mp3", SAMPLE_RATE, 64, lambda _start: lambda _wave: None
            )
    finally:
        audio.ffmpeg.cache_clear()


def test_a_failing_ffmpeg_is_an_encoder_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voiceguide.audio import ffmpeg as audio

    audio.ffmpeg.cache_clear()
    monkeypatch.setenv("VOICEGUIDE_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    try:
        with pytest.raises(EncoderError, match=r"VOICEGUIDE_FFMPEG is set to .*, which is not a program"):
            encode_mp3(Pcm.of(b"\0\0"), tmp_path / "t.mp3", SAMPLE_RATE, 64)
    finally:
        audio.ffmpeg.cache_clear()
    assert not (tmp_path / "t.mp3").exists()
