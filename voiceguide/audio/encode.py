"""MP3 encoding with ffmpeg/LAME, heard as it is written, and exact gapless padding in the LAME tag."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voiceguide.audio.ffmpeg import FFMPEG_HINT, PROTOCOLS, broken_ffmpeg_fix, failure, ffmpeg, file_url, run_ffmpeg
from voiceguide.errors import EncoderError
from voiceguide.files import disk_full

Heard = Callable[[npt.NDArray[np.float64]], None]  # fed decoded audio, full scale 1.0


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
        output = [*(arg for key, value in mp3.items() for arg in (f"-{key}", value)), "-f", "mp3", file_url(path)]
    else:
        # onfail=abort: without it ffmpeg 5.1 carries on when one output fails (a full disk) and exits 0
        options = ":".join(f"{key}={value}" for key, value in {**mp3, "onfail": "abort"}.items())
        output = ["-map", "0:a", "-f", "tee", f"[f=mp3:{options}]file:{_tee_escape(path)}|[f=mp3:{options}]pipe:1"]
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
    """``path``, absolute, as one output of ffmpeg's ``tee`` muxer, whose list treats ``|``, ``[``, quotes
    and backslashes specially: every character but a plain one is escaped with a backslash."""
    return "".join(c if c.isalnum() or c in "/._-" else "\\" + c for c in os.path.abspath(path))


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
                    *(ffmpeg(), "-hide_banner", "-loglevel", "error", *PROTOCOLS),
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
