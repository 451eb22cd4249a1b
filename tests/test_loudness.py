"""Loudness measurement against signals of known level, and the leveller's exactness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voiceguide.audio import decode_file
from voiceguide.loudness import encode_levelled, measure_pcm
from voiceguide.timeline import SAMPLE_RATE


def sine(dbfs: float, seconds: float = 5.0, hz: float = 1000.0) -> bytes:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (10 ** (dbfs / 20) * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


@pytest.mark.parametrize("dbfs", [-30.0, -20.0, -6.0])
def test_a_1khz_sine_reads_its_level_minus_3_lu_mono(dbfs: float) -> None:
    # EBU Tech 3341: a 1 kHz sine at X dBFS in one channel reads X - 3.01 LUFS
    found = measure_pcm([sine(dbfs)], SAMPLE_RATE)
    assert found.integrated == pytest.approx(dbfs - 3.0, abs=0.15)
    assert found.true_peak == pytest.approx(dbfs, abs=0.15)


def test_levelling_reaches_the_target_without_moving_a_sample(tmp_path: Path) -> None:
    # peaky bursts between exact silences, like speech between holds
    burst = np.frombuffer(sine(-1.0, 0.4, 440.0), dtype="<i2").copy()
    burst[::50] = 32767  # clicks that plain gain would clip
    quiet = np.zeros(SAMPLE_RATE, dtype=np.int16)
    signal = np.concatenate([quiet, burst, quiet, burst // 8, quiet]).astype("<i2")
    path = tmp_path / "x.mp3"
    filters = encode_levelled(lambda: [signal.tobytes()], path, SAMPLE_RATE, 64, -16.0)
    assert filters is not None
    decoded, _ = decode_file(path)
    assert len(decoded) == len(signal)
    level = np.abs(decoded.astype(np.int32))
    assert level[: SAMPLE_RATE - 600].max() < 40  # the silence before the first burst stays silent
    assert level[SAMPLE_RATE : SAMPLE_RATE + 200].max() > 1000  # and the burst starts on its sample


def test_a_silent_track_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "x.mp3"
    assert encode_levelled(lambda: [bytes(SAMPLE_RATE * 2)], path, SAMPLE_RATE, 64, -16.0) is None
    assert not decode_file(path)[0].any()
