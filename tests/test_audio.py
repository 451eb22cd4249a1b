"""Assembly and encoding on synthetic clips: exact sample placement through a real MP3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voiceguide.audio import Samples, decode_file, encode_mp3, pcm_chunks, read_fingerprint, trim, write_tags
from voiceguide.errors import EncoderError
from voiceguide.routine import load_routine
from voiceguide.timeline import SAMPLE_RATE, Kind, schedule, script, utterances


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


def test_pcm_chunks_place_clips_at_exact_offsets_across_chunk_boundaries(write_routine: Callable[..., Path]) -> None:
    routine = load_routine(write_routine("title: T\nsteps:\n" + "  - {say: Go., hold: 7s, countdown: 0}\n" * 4))
    items = script(routine)
    clips = {u: tone(1.3) for u in utterances(items)}
    timeline = schedule(routine, items, {u: len(c) for u, c in clips.items()})
    pcm = np.frombuffer(b"".join(pcm_chunks(timeline, clips)), dtype="<i2")
    assert len(pcm) == timeline.duration > 3 * 10 * SAMPLE_RATE  # spans several chunks
    for event in timeline.events:
        segment = pcm[event.start : event.end]
        if event.kind is Kind.SPEECH:
            assert np.array_equal(segment, tone(1.3))
        else:
            assert not segment.any()


def test_mp3_round_trip_is_sample_exact_and_gapless(tmp_path: Path) -> None:
    signal = np.concatenate([tone(0.5), np.zeros(12_345, np.int16), tone(0.25)])
    path = tmp_path / "t.mp3"
    encode_mp3([signal.tobytes()], path, SAMPLE_RATE, 64)
    decoded, rate = decode_file(path)
    assert rate == SAMPLE_RATE
    assert len(decoded) == len(signal)
    # the tone starts at sample 0, not after the encoder's delay
    assert np.abs(decoded[:200].astype(int)).max() > 1000
    gap = decoded[round(0.5 * SAMPLE_RATE) + 1500 : round(0.5 * SAMPLE_RATE) + 12_345 - 1500]
    assert np.abs(gap.astype(int)).max() < 100


def test_tags_are_written(tmp_path: Path, write_routine: Callable[..., Path]) -> None:
    from mutagen.id3 import ID3

    routine = load_routine(
        write_routine("title: Neck\nauthor: Ana\nalbum: Series\ndescription: Gentle.\nsteps:\n  - say: Go.\n")
    )
    path = tmp_path / "t.mp3"
    encode_mp3([tone(0.3).tobytes()], path, SAMPLE_RATE, 64)
    write_tags(path, routine, "f00d")
    tags = ID3(path)
    assert (tags.version, str(tags["TIT2"]), str(tags["TPE1"]), str(tags["TALB"])) == (
        (2, 4, 0),
        "Neck",
        "Ana",
        "Series",
    )
    assert str(tags.getall("COMM")[0]) == "Gentle."
    assert read_fingerprint(path) == "f00d"


def test_a_failing_ffmpeg_is_an_encoder_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voiceguide import audio

    audio.ffmpeg.cache_clear()
    monkeypatch.setenv("VOICEGUIDE_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    try:
        with pytest.raises(EncoderError, match="could not start ffmpeg"):
            encode_mp3([b"\0\0"], tmp_path / "t.mp3", SAMPLE_RATE, 64)
    finally:
        audio.ffmpeg.cache_clear()
    assert not (tmp_path / "t.mp3").exists()
