"""Audio in and out: decode engine output, assemble the track, encode and tag the MP3.

The only module that touches pydub, ffmpeg and mutagen. The track is built from
absolute sample offsets and streamed to one ffmpeg process in bounded chunks, so
no time is lost to per-segment rounding and memory does not grow with length.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .engines import PCM, EncodedAudio
from .errors import EncoderError, OutputError
from .timeline import Sound, Timeline, Utterance

Samples = npt.NDArray[np.int16]

AUDIBLE = 16  # int16 amplitude (about -66 dBFS); engines pad speech with exact zeros
CHUNK_SECONDS = 10
FFMPEG_HINT = "reinstall with `pip install imageio-ffmpeg`, or install ffmpeg (`sudo apt-get install ffmpeg`)"


@cache
def ffmpeg() -> str:
    """$VOICEGUIDE_FFMPEG if set, else the system ffmpeg, else the imageio-ffmpeg wheel's binary."""
    chosen = os.environ.get("VOICEGUIDE_FFMPEG")
    if chosen:
        if shutil.which(chosen) is None:
            raise EncoderError(
                f"VOICEGUIDE_FFMPEG is set to {chosen!r}, which is not a program",
                "point VOICEGUIDE_FFMPEG at an ffmpeg binary, or unset it to use the one voiceguide finds",
            )
        return chosen
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise EncoderError("ffmpeg is not installed", FFMPEG_HINT) from None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as err:
        raise EncoderError(f"ffmpeg is not usable: {err}", FFMPEG_HINT) from None


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


def pcm_chunks(timeline: Timeline, clips: Mapping[Utterance | Sound, Samples]) -> Iterator[bytes]:
    """The whole track as 16-bit little-endian PCM, in chunks of a few seconds."""
    speech = [e for e in timeline.events if e.clip is not None]
    chunk = timeline.sample_rate * CHUNK_SECONDS
    upcoming = 0
    active: list[tuple[int, Samples]] = []
    for start in range(0, timeline.duration, chunk):
        end = min(start + chunk, timeline.duration)
        while upcoming < len(speech) and speech[upcoming].start < end:
            event = speech[upcoming]
            assert event.clip is not None
            active.append((event.start, clips[event.clip]))
            upcoming += 1
        buffer = np.zeros(end - start, dtype=np.int32)
        for offset, clip in active:
            lo, hi = max(start, offset), min(end, offset + len(clip))
            if lo < hi:
                buffer[lo - start : hi - start] += clip[lo - offset : hi - offset]
        active = [(offset, clip) for offset, clip in active if offset + len(clip) > end]
        yield np.clip(buffer, -32768, 32767).astype("<i2").tobytes()


def run_ffmpeg(arguments: Sequence[str], chunks: Iterable[bytes] | None = None) -> tuple[int, str]:
    """Run ffmpeg, streaming ``chunks`` to its stdin; return its exit code and messages.

    ffmpeg is killed, never left running, if we are interrupted.
    """
    try:
        process = subprocess.Popen(
            [ffmpeg(), "-hide_banner", *arguments],
            stdin=subprocess.PIPE if chunks is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as err:
        raise EncoderError(f"could not start ffmpeg: {err}", FFMPEG_HINT) from None
    assert process.stderr is not None
    try:
        if chunks is not None:
            assert process.stdin is not None
            try:
                for chunk in chunks:
                    process.stdin.write(chunk)
                process.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg stopped early; its exit status and message follow
        message = process.stderr.read().decode("utf-8", "replace").strip()
        return process.wait(), message
    except BaseException:
        process.kill()
        process.wait()
        raise


def failure(code: int, message: str) -> str:
    """What went wrong in a failed ffmpeg run, in a few words."""
    if code < 0:
        return f"it was stopped by signal {signal.Signals(-code).name}"
    return message.splitlines()[-1] if message else "no message"


def encode_mp3(
    chunks: Iterable[bytes], path: Path, sample_rate: int, bitrate_kbps: int, filters: str | None = None
) -> None:
    """Encode mono PCM to ``path`` with ffmpeg/LAME, whose Info header makes it gapless.

    ``filters`` is an ffmpeg audio filter chain; the output keeps ``sample_rate`` whatever it does.
    """
    code, message = run_ffmpeg(
        [
            *("-loglevel", "error", "-y"),
            *("-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0"),
            *(("-af", filters, "-ar", str(sample_rate)) if filters else ()),
            # LAME quality 5 ("good, fast"): on speech at 64 kbps, 20% faster than ffmpeg's default 3
            *("-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-compression_level", "5", "-map_metadata", "-1"),
            *("-id3v2_version", "0", "-write_id3v1", "0", "-f", "mp3", str(path)),
        ],
        chunks,
    )
    if code != 0:
        if "No space left" in message or "File too large" in message or code == -signal.SIGXFSZ:
            raise disk_full(path)
        raise EncoderError(f"ffmpeg could not encode the MP3: {failure(code, message)}", FFMPEG_HINT)


def disk_full(path: Path) -> OutputError:
    """No room for the file being written (a full disk, or a file size limit)."""
    return OutputError(
        f"no room to write the MP3 in {path.parent}: the disk is full",
        "free some space (or choose another folder with -o) and render again",
    )


FINGERPRINT_TAG = "voiceguide fingerprint"


def read_fingerprint(path: Path) -> str | None:
    """The fingerprint voiceguide stored in a track it wrote, if any."""
    from mutagen.id3 import ID3, ID3NoHeaderError

    try:
        frames = ID3(path).getall(f"TXXX:{FINGERPRINT_TAG}")
    except (ID3NoHeaderError, OSError):
        return None
    return str(frames[0].text[0]) if frames else None


def decode_file(path: Path, sample_rate: int | None = None, max_seconds: int | None = None) -> tuple[Samples, int]:
    """Decode any audio file to mono 16-bit samples (resampled to ``sample_rate`` and cut
    after ``max_seconds`` if given); returns them with their sample rate."""
    from mutagen import File as MutagenFile
    from mutagen import MutagenError

    rate = sample_rate
    if rate is None:
        try:
            info = MutagenFile(path)
        except MutagenError:  # e.g. a .mp3 name on something that is not MPEG audio
            info = None
        if info is None:
            raise EncoderError(f"{path} is not an audio file voiceguide can read", "render it again")
        rate = int(info.info.sample_rate)
    source = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", str(path)]
    if max_seconds is not None:
        source += ["-t", str(max_seconds)]
    done = subprocess.run([*source, "-f", "s16le", "-ac", "1", "-ar", str(rate), "pipe:1"], capture_output=True)
    if done.returncode != 0:
        raise EncoderError(f"ffmpeg could not decode {path}: {done.stderr.decode().strip()}", FFMPEG_HINT)
    return np.frombuffer(done.stdout, dtype=np.int16), rate
