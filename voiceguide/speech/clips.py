"""Engine output as clips: decoded to mono 16-bit samples at the track's rate, trimmed of the silence around speech."""

from __future__ import annotations

import io
import warnings

import numpy as np
import numpy.typing as npt

from voiceguide.audio.ffmpeg import FFMPEG_HINT, Samples, ffmpeg
from voiceguide.errors import EncoderError
from voiceguide.speech.engines.base import PCM, EncodedAudio

AUDIBLE = 16  # int16 amplitude (about -66 dBFS); engines pad speech with exact zeros


def decode_clip(audio: EncodedAudio, sample_rate: int) -> Samples:
    """An engine's output as mono 16-bit samples at ``sample_rate``."""
    if audio.format == PCM:
        return resample(np.frombuffer(audio.data, dtype="<i2").astype(np.int16), audio.sample_rate, sample_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pydub warns at import when ffmpeg is not on PATH
        from pydub import AudioSegment
    AudioSegment.converter = ffmpeg()
    try:
        segment = AudioSegment.from_file(io.BytesIO(audio.data), format=audio.format)
    except Exception as err:  # pydub raises bare exceptions on malformed audio
        raise EncoderError(f"could not read the speech engine's audio: {err}", FFMPEG_HINT) from None
    segment = segment.set_channels(1).set_sample_width(2).set_frame_rate(sample_rate)
    return np.frombuffer(segment.raw_data, dtype=np.int16)


def resample(samples: Samples, rate: int, target: int) -> Samples:
    """``samples`` at ``target`` Hz: once, with soxr's very-high-quality filter (16 kHz voices)."""
    if rate == target:
        return samples
    import soxr

    converted: npt.NDArray[np.float32] = soxr.resample(samples.astype(np.float32) / 32768.0, rate, target, "VHQ")
    return np.clip(np.round(converted * 32768.0), -32768, 32767).astype(np.int16)


def trim(samples: Samples) -> Samples:
    """Drop the silence an engine puts before and after speech."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= AUDIBLE)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]
