"""Audio in and out: decode engine output, assemble the track, encode and tag the MP3.

The only module that touches pydub, ffmpeg and mutagen. The track is built from
absolute sample offsets and streamed to one ffmpeg process in bounded chunks, so
no time is lost to per-segment rounding and memory does not grow with length.
"""

from __future__ import annotations

import bisect
import io
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .engines import PCM, EncodedAudio
from .errors import EncoderError, OutputError
from .timeline import Kind, Sound, Timeline, Utterance

Samples = npt.NDArray[np.int16]
Heard = Callable[[npt.NDArray[np.float64]], None]  # fed decoded audio, full scale 1.0

AUDIBLE = 16  # int16 amplitude (about -66 dBFS); engines pad speech with exact zeros
CHUNK_SECONDS = 10
FFMPEG_HINT = "reinstall with `pip install imageio-ffmpeg`, or install ffmpeg (`sudo apt-get install ffmpeg`)"


@cache
def ffmpeg() -> str:
    """$VOICEGUIDE_FFMPEG if set, else the system ffmpeg, else the imageio-ffmpeg wheel's binary."""
    chosen = os.environ.get("VOICEGUIDE_FFMPEG")
    if chosen:
        fix = "point VOICEGUIDE_FFMPEG at an ffmpeg binary, or unset it to use the one voiceguide finds"
        if shutil.which(chosen) is None:
            raise EncoderError(f"VOICEGUIDE_FFMPEG is set to {chosen!r}, which is not a program", fix)
        try:  # a wrong program here would otherwise fail later with advice about installing ffmpeg
            answer = subprocess.run([chosen, "-version"], capture_output=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            answer = b""
        if not answer.startswith(b"ffmpeg version"):
            raise EncoderError(f"VOICEGUIDE_FFMPEG is set to {chosen!r}, which does not answer like ffmpeg", fix)
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


def broken_ffmpeg_fix() -> str:
    """The fix when an ffmpeg that runs fails at its job: name it, and how to use another."""
    return f"voiceguide ran {ffmpeg()}; point VOICEGUIDE_FFMPEG at another ffmpeg (4.4 or newer), or {FFMPEG_HINT}"


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


class Mix:
    """The assembled track, readable at any window: every clip (speech, chimes) at its
    sample offset, and the background bed beside it (kept apart, because levelling
    changes the voice's gain and not the bed's)."""

    def __init__(
        self,
        timeline: Timeline,
        clips: Mapping[Utterance | Sound, Samples],
        bed: Callable[[int, int], npt.NDArray[np.float64]] | None = None,
    ) -> None:
        self.rate = timeline.sample_rate
        self.duration = timeline.duration
        self.bed = bed
        placed = sorted(
            ((e.start, clips[e.clip]) for e in timeline.events if e.clip is not None and e.duration),
            key=lambda pair: pair[0],
        )
        self._starts = np.array([start for start, _ in placed], dtype=np.int64)
        self._clips = [clip[: self.duration - start] for start, clip in placed]
        self._longest = max((len(c) for c in self._clips), default=0)
        self.speech = _merged(  # where lines are spoken: what the voice's loudness is measured over
            (e.start, min(e.start + e.duration, self.duration))
            for e in timeline.events
            if e.kind is Kind.SPEECH and e.duration and e.start < self.duration
        )
        self._speech_starts = [lo for lo, _ in self.speech]

    def _near(self, start: int, end: int) -> range:
        lo = int(np.searchsorted(self._starts, start - self._longest, side="right"))
        return range(max(0, lo - 1), int(np.searchsorted(self._starts, end, side="left")))

    def voice(self, start: int, end: int) -> npt.NDArray[np.float64]:
        """Speech and chimes from sample ``start`` to ``end`` (16-bit scale, as floats; zeros outside the track)."""
        out = np.zeros(end - start)
        for i in self._near(start, end):
            offset, clip = int(self._starts[i]), self._clips[i]
            lo, hi = max(start, offset), min(end, offset + len(clip))
            if lo < hi:
                out[lo - start : hi - start] += clip[lo - offset : hi - offset]
        return out

    def speaks(self, start: int, end: int) -> bool:
        """Whether any clip sounds between ``start`` and ``end``."""
        return any(
            int(self._starts[i]) < end and int(self._starts[i]) + len(self._clips[i]) > start
            for i in self._near(start, end)
        )

    def speech_within(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``speech`` (where lines are spoken) between samples ``start`` and ``end``."""
        found = []
        for i in range(max(0, bisect.bisect_right(self._speech_starts, start) - 1), len(self.speech)):
            lo, hi = self.speech[i]
            if lo >= end:
                break
            if hi > start:
                found.append((max(lo, start), min(hi, end)))
        return found

    def spans(self, margin: int, grid: int) -> list[tuple[int, int]]:
        """Where clips sound, widened by ``margin`` and merged, with both ends on multiples of ``grid``."""
        spans: list[tuple[int, int]] = []
        for start, clip in zip(self._starts.tolist(), self._clips, strict=True):
            lo = max(0, start - margin) // grid * grid
            hi = -(-(start + len(clip) + margin) // grid) * grid
            if spans and lo <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
            else:
                spans.append((lo, hi))
        return spans


def _merged(spans: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """``spans`` sorted, with those that overlap or touch joined."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def run_ffmpeg(
    arguments: Sequence[str], chunks: Iterable[bytes] | None = None, stdout: int | None = None
) -> tuple[int, str]:
    """Run ffmpeg, streaming ``chunks`` to its stdin (and its stdout to the file descriptor
    ``stdout``, if given); return its exit code and messages.

    ffmpeg is killed, never left running, if we are interrupted.
    """
    try:
        process = subprocess.Popen(
            [ffmpeg(), "-hide_banner", *arguments],
            stdin=subprocess.PIPE if chunks is not None else subprocess.DEVNULL,
            stdout=stdout,
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
    chunks: Iterable[bytes], path: Path, sample_rate: int, bitrate_kbps: int, heard: Heard | None = None
) -> None:
    """Encode mono 16-bit PCM to ``path`` with ffmpeg/LAME; its Info header makes it gapless, to the sample.

    ``heard``, if given, is fed the MP3 as a player decodes it, while it is being encoded:
    ffmpeg's ``tee`` muxer writes the same frames to the file and to a decoding ffmpeg, so
    checking what LAME made of the peaks costs no second pass over the track.
    """
    counted = [0]

    def counting() -> Iterator[bytes]:
        for chunk in chunks:
            counted[0] += len(chunk)
            yield chunk

    mp3 = {"id3v2_version": "0", "write_id3v1": "0"}
    if heard is None:
        output = [*(arg for key, value in mp3.items() for arg in (f"-{key}", value)), "-f", "mp3", str(path)]
    else:
        # onfail=abort: without it ffmpeg 5.1 carries on when one output fails (a full disk) and exits 0
        options = ":".join(f"{key}={value}" for key, value in {**mp3, "onfail": "abort"}.items())
        output = ["-map", "0:a", "-f", "tee", f"[f=mp3:{options}]{_tee_escape(path)}|[f=mp3:{options}]pipe:1"]
    listener = _Listener(heard) if heard is not None else None
    try:
        code, message = run_ffmpeg(
            [
                *("-loglevel", "error", "-y"),
                *("-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0"),
                # LAME quality 5 ("good, fast"): on speech at 64 kbps, 20% faster than ffmpeg's default 3
                *("-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-compression_level", "5", "-map_metadata", "-1"),
                *output,
            ],
            counting(),
            listener.pipe if listener is not None else None,
        )
    except BaseException:
        if listener is not None:
            listener.close(interrupted=True)
        raise
    if listener is not None:
        listener.close(interrupted=False)
    if code != 0 and ("No space left" in message or "File too large" in message or code == -signal.SIGXFSZ):
        raise disk_full(path)
    if listener is not None:
        listener.check()  # a decoder that failed first leaves the encoder a broken pipe: say why
    if code != 0:
        raise EncoderError(f"ffmpeg could not encode the MP3: {failure(code, message)}", broken_ffmpeg_fix())
    exact_padding(path, counted[0] // 2)


def _tee_escape(path: Path) -> str:
    """``path`` as one output of ffmpeg's ``tee`` muxer, whose list treats ``|``, ``[``, quotes and
    backslashes specially: every character but a plain one is escaped with a backslash."""
    return "".join(c if c.isalnum() or c in "/._-" else "\\" + c for c in str(path))


# Samples a decoder plays before the track when the MP3 has no Info tag (a stream, not a file):
# LAME's delay of 576 plus the 529 of the decoder's filter bank, as ffmpeg's libmp3lame declares
LAME_DELAY = 1105
HEARD_BLOCK = 1 << 18  # bytes of decoded audio read at once


class _Listener:
    """A decoding ffmpeg whose audio, aligned with the PCM sent to the encoder, goes to ``heard``;
    the encoder writes its MP3 frames to ``pipe``."""

    def __init__(self, heard: Heard) -> None:
        read, self.pipe = os.pipe()
        self._messages = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by close(); not a pipe: read at the end
        try:
            self._decoder = subprocess.Popen(
                [
                    *(ffmpeg(), "-hide_banner", "-loglevel", "error"),
                    *("-f", "mp3", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "pipe:1"),
                ],
                stdin=read,
                stdout=subprocess.PIPE,
                stderr=self._messages,
            )
        except OSError as err:
            os.close(self.pipe)
            self._messages.close()
            raise EncoderError(f"could not start ffmpeg: {err}", FFMPEG_HINT) from None
        finally:
            os.close(read)
        self._heard = heard
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        self._code, self._message = 0, ""

    def _listen(self) -> None:
        assert self._decoder.stdout is not None
        left, skip = b"", 4 * LAME_DELAY
        silence = np.zeros(HEARD_BLOCK // 4 + 1)  # most of a track: handed on without converting
        try:
            while block := self._decoder.stdout.read(HEARD_BLOCK):
                dropped = min(skip, len(block))
                block, skip = left + block[dropped:], skip - dropped
                whole = len(block) - len(block) % 4
                left, block = block[whole:], block[:whole]
                if block.count(0) == whole:
                    self._heard(silence[: whole // 4])
                else:
                    self._heard(np.frombuffer(block, dtype="<f4").astype(np.float64))
        except BaseException as err:  # raised again in the caller's thread, by check()
            self._errors.append(err)
            self._decoder.kill()

    def close(self, interrupted: bool) -> None:
        """Wait for the decoder to finish the stream (once the encoder has exited), or stop it."""
        if interrupted:
            self._decoder.kill()
        os.close(self.pipe)  # the encoder's copy is closed already: the decoder sees the end
        self._thread.join()
        self._code = self._decoder.wait()
        with self._messages:
            self._messages.seek(0)
            self._message = self._messages.read().decode("utf-8", "replace").strip()

    def check(self) -> None:
        """Raise what went wrong while decoding, if anything did."""
        if self._errors:
            raise self._errors[0]
        if self._code != 0:
            raise EncoderError(
                f"ffmpeg could not decode the MP3 it encoded: {failure(self._code, self._message)}",
                broken_ffmpeg_fix(),
            )


def exact_padding(path: Path, samples: int) -> None:
    """Make the MP3's LAME tag say it holds exactly ``samples``.

    ffmpeg writes the trailing padding from its libmp3lame wrapper's frame count, which
    is short by ``47 - samples % 576`` when that is positive (LAME's 576-sample delay is
    529 the decoder skips plus 47): such a track decoded up to 47 samples long. The padding
    follows from the frame count, the delay and the samples we sent; the tag's CRC (over the
    first 190 bytes, its own field zeroed, as ffmpeg computes it) is updated with it.
    """
    with path.open("r+b") as file:
        head = bytearray(file.read(_LAME_HEAD))
        header = int.from_bytes(head[:4], "big")
        if len(head) < _LAME_HEAD or header >> 21 != 0x7FF:
            return
        mpeg1, mono = (header >> 19) & 3 == 3, (header >> 6) & 3 == 3
        xing = 4 + ((17 if mono else 32) if mpeg1 else (9 if mono else 17))
        flags = int.from_bytes(head[xing + 4 : xing + 8], "big")
        if bytes(head[xing : xing + 4]) not in (b"Xing", b"Info") or not flags & 1:
            return
        frames = int.from_bytes(head[xing + 8 : xing + 12], "big")
        lame = xing + 8 + sum(size for bit, size in ((1, 4), (2, 4), (4, 100), (8, 4)) if flags & bit)
        delay = head[lame + 21] << 4 | head[lame + 22] >> 4
        padding = frames * (1152 if mpeg1 else 576) - delay - samples
        if not 0 <= padding < 1 << 12 or lame + 36 > _LAME_HEAD:
            return
        head[lame + 22 : lame + 24] = bytes([(head[lame + 22] & 0xF0) | padding >> 8, padding & 0xFF])
        head[lame + 34 : lame + 36] = b"\0\0"
        head[lame + 34 : lame + 36] = _crc16(head[:190]).to_bytes(2, "big")
        file.seek(0)
        file.write(head[: lame + 36])


_LAME_HEAD = 4 + 32 + 120 + 36  # frame header, the longest side info, Xing fields, LAME tag


def _crc16(data: bytes | bytearray) -> int:
    """CRC-16 (polynomial 0x8005, reflected, initial 0), as the LAME tag's CRC field uses."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


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


def rate_of(path: Path) -> int:
    """The sample rate of an audio file, read from its header."""
    from mutagen import File as MutagenFile
    from mutagen import MutagenError

    try:
        info = MutagenFile(path)
    except MutagenError:  # e.g. a .mp3 name on something that is not MPEG audio
        info = None
    if info is None:
        raise EncoderError(
            f"{path} is not an audio file voiceguide can read",
            "give the path of an audio file (MP3, WAV, OGG, ...)",
        )
    return int(info.info.sample_rate)


def decode_stream(path: Path, rate: int, max_seconds: int | None = None) -> Iterator[Samples]:
    """Decode any audio file to mono 16-bit samples at ``rate``, in chunks of a few seconds."""
    source = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path)]
    if max_seconds is not None:
        source += ["-t", str(max_seconds)]
    try:
        process = subprocess.Popen(
            [*source, "-f", "s16le", "-ac", "1", "-ar", str(rate), "pipe:1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as err:
        raise EncoderError(f"could not start ffmpeg: {err}", FFMPEG_HINT) from None
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        size = 2 * rate * CHUNK_SECONDS
        left = b""
        while block := process.stdout.read(size):
            block = left + block
            whole = len(block) - len(block) % 2
            left = block[whole:]
            yield np.frombuffer(block[:whole], dtype="<i2")
        message = process.stderr.read().decode("utf-8", "replace").strip()
        if process.wait() != 0:
            raise EncoderError(
                f"ffmpeg could not decode {path}: {message}",
                f"check that {path.name} plays in a media player; if it does not, convert it to MP3 or WAV",
            )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def decode_file(path: Path, sample_rate: int | None = None, max_seconds: int | None = None) -> tuple[Samples, int]:
    """Decode any audio file to mono 16-bit samples (resampled to ``sample_rate`` and cut
    after ``max_seconds`` if given); returns them with their sample rate."""
    rate = sample_rate if sample_rate is not None else rate_of(path)
    chunks = list(decode_stream(path, rate, max_seconds))
    return (np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)), rate
