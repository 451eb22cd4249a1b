"""MP3 encoding with ffmpeg/LAME: only where the track sounds, heard as it is written, gapless to the sample.

The encoder is given the track with its long silences shortened (``mp3.Cuts``); the frames it
left out are spliced back in as silent frames (``mp3.splice``), and the LAME tag says exactly
how long the track is. The MP3 is heard as it is encoded: a decoding ffmpeg turns the frames
back into samples, so what LAME made of the peaks is checked without a second pass.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voiceguide.audio.ffmpeg import FFMPEG_HINT, PROTOCOLS, broken_ffmpeg_fix, failure, ffmpeg, file_url, run_ffmpeg
from voiceguide.audio.mp3 import LAME_DELAY, Cuts, exact_padding, splice
from voiceguide.errors import EncoderError
from voiceguide.files import disk_full

Heard = Callable[[npt.NDArray[np.float64]], None]  # fed decoded audio, full scale 1.0
Listen = Callable[[int], Heard]  # what hears a piece of the shortened stream that starts at that sample

PIECE_SECONDS = 30  # the least audio worth an encoder of its own
# Pieces after the first go to unnamed files an ffmpeg writes as pipe:N; Windows cannot hand a child
# a descriptor (subprocess's pass_fds), so there the track is encoded in one piece.
PASS_FDS = sys.platform != "win32"


@dataclass(frozen=True)
class Pcm:
    """What to encode: ``length`` samples of mono 16-bit PCM, which ``read(start, end)`` yields in
    chunks; digital silence outside ``sounding`` (sorted spans; None: it may sound anywhere)."""

    length: int
    read: Callable[[int, int], Iterable[bytes]]
    sounding: tuple[tuple[int, int], ...] | None = None

    @staticmethod
    def of(data: bytes) -> Pcm:
        """PCM already in memory."""
        return Pcm(len(data) // 2, lambda start, end: [data[2 * start : 2 * end]])

    def pieces(self, sample_rate: int, jobs: int) -> Pieces:
        """How it is encoded: its long silences cut, in up to ``jobs`` pieces of at least
        ``PIECE_SECONDS`` that begin at cuts (which keep room for an encoder to start in silence)."""
        if self.sounding is None:
            return Pieces(Cuts(), ())
        cuts = Cuts.plan(self.length, self.sounding)
        chosen = _piece_cuts(cuts, self.length - cuts.removed, jobs, PIECE_SECONDS * sample_rate)
        if not chosen:
            return Pieces(cuts, ())
        cuts = Cuts.plan(self.length, self.sounding, chosen)
        return Pieces(cuts, tuple(cuts.at[i] // cuts.frame_samples + 1 for i in chosen))


@dataclass(frozen=True)
class Pieces:
    """The long silences cut, and the frames of the shortened stream where pieces after the first begin."""

    cuts: Cuts
    starts: tuple[int, ...]

    def bounds(self, length: int) -> list[int]:
        """Where each piece starts in the shortened stream of a track of ``length`` samples, and where it ends."""
        return [0, *(start * self.cuts.frame_samples for start in self.starts), length - self.cuts.removed]

    def reads(self, length: int) -> list[list[tuple[int, int]]]:
        """The ranges of the track (``length`` samples) that each piece's encoder is given, in order."""
        kept = self.cuts.kept(length)
        return [list(_within(kept, a, b)) for a, b in itertools.pairwise(self.bounds(length))]


def encode_mp3(
    pcm: Pcm, path: Path, sample_rate: int, bitrate_kbps: int, listen: Listen | None = None, jobs: int = 1
) -> Cuts:
    """Encode ``pcm`` to ``path`` with ffmpeg/LAME; the LAME tag makes it gapless, to the sample.

    The encoder is given the track with its long silences shortened (the returned ``Cuts``), in
    up to ``jobs`` pieces that meet in silence, each encoded by an ffmpeg of its own at once.
    ``listen``, if given, is asked for what hears each piece (given where the piece starts in the
    shortened stream) and that is fed the MP3 as a player decodes it, while it is encoded:
    ffmpeg's ``tee`` muxer writes the same frames to the file and to a decoding ffmpeg, so
    checking what LAME made of the peaks costs no second pass over the track.
    """
    pieces = pcm.pieces(sample_rate, jobs if PASS_FDS else 1)
    cuts, starts = pieces.cuts, pieces.starts
    arguments = [
        *("-loglevel", "error", "-y"),
        *("-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0"),
        # LAME quality 5 ("good, fast"): on speech at 64 kbps, 20% faster than ffmpeg's default 3
        *("-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-compression_level", "5", "-map_metadata", "-1"),
    ]
    with contextlib.ExitStack() as stack:
        rest = [stack.enter_context(tempfile.TemporaryFile(dir=path.parent)) for _ in starts]
        bounds = pieces.bounds(pcm.length)
        encoders = [
            _Piece(
                [pcm.read(lo, hi) for lo, hi in reads],
                path if i == 0 else rest[i - 1].fileno(),
                listen(bounds[i]) if listen is not None else None,
            )
            for i, reads in enumerate(pieces.reads(pcm.length))
        ]
        if len(encoders) == 1:
            encoders[0].run(arguments)
        else:
            with ThreadPoolExecutor(len(encoders)) as pool:
                running = [pool.submit(piece.run, arguments) for piece in encoders]
                try:
                    for done in running:
                        done.result()
                finally:  # stop the others when one fails, or on Ctrl-C
                    for piece in encoders:
                        piece.stop.set()
        for piece in encoders:
            piece.check(path)
        try:
            if cuts.at or rest:
                splice(path, rest, starts, cuts, pcm.length)
            else:
                exact_padding(path, pcm.length)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EFBIG):
                raise disk_full(path) from None
            raise
    return cuts


def _piece_cuts(cuts: Cuts, length: int, jobs: int, least: int) -> list[int]:
    """Which cuts pieces after the first begin at (the shortened stream is ``length`` samples): as
    near as there are to equal shares, none under ``least`` samples."""
    count = max(1, min(jobs, length // max(1, least)))
    chosen: list[int] = []
    for share in range(1, count):
        aim = share * length // count
        later = [i for i in range(len(cuts.at)) if not chosen or i > chosen[-1]]
        if not later:
            break
        best = min(later, key=lambda i: abs(cuts.at[i] - aim))
        if cuts.at[best] - (cuts.at[chosen[-1]] if chosen else 0) >= least:
            chosen.append(best)
    while chosen and length - cuts.at[chosen[-1]] < least:
        chosen.pop()
    return chosen


def _within(kept: list[tuple[int, int]], start: int, end: int) -> Iterator[tuple[int, int]]:
    """The track's ranges that samples ``start`` to ``end`` of the shortened stream (``kept``, in order) come from."""
    at = 0
    for lo, hi in kept:
        a, b = max(start, at), min(end, at + hi - lo)
        if a < b:
            yield lo + a - at, lo + b - at
        at += hi - lo


class _Piece:
    """One encoder's share: its PCM, where its MP3 goes (the file, or the descriptor of an
    unnamed one: frames only), and what hears it."""

    def __init__(self, reads: list[Iterable[bytes]], output: Path | int, heard: Heard | None) -> None:
        self.reads, self.output, self.heard = reads, output, heard
        self.stop = threading.Event()
        self.code, self.message = 0, ""
        self.listener: _Listener | None = None

    def _chunks(self) -> Iterator[bytes]:
        for read in self.reads:
            for chunk in read:
                if self.stop.is_set():
                    raise EncoderError("stopped", "")  # run_ffmpeg kills the encoder
                yield chunk

    def run(self, arguments: list[str]) -> None:
        mp3 = {"id3v2_version": "0", "write_id3v1": "0"}
        if isinstance(self.output, int):
            fds, plain, teed = [self.output], f"pipe:{self.output}", f"pipe:{self.output}"
        else:
            fds, plain, teed = [], file_url(self.output), f"file:{_tee_escape(self.output)}"
        if self.heard is None:
            output = [*(arg for key, value in mp3.items() for arg in (f"-{key}", value)), "-f", "mp3", plain]
        else:
            # onfail=abort: without it ffmpeg 5.1 carries on when one output fails (a full disk) and exits 0
            options = ":".join(f"{key}={value}" for key, value in {**mp3, "onfail": "abort"}.items())
            output = ["-map", "0:a", "-f", "tee", f"[f=mp3:{options}]{teed}|[f=mp3:{options}]pipe:1"]
        self.listener = _Listener(self.heard) if self.heard is not None else None
        try:
            self.code, self.message = run_ffmpeg(
                [*arguments, *output],
                self._chunks(),
                self.listener.pipe if self.listener is not None else None,
                fds,
            )
        except BaseException:
            if self.listener is not None:
                self.listener.close(interrupted=True)
            raise
        if self.listener is not None:
            self.listener.close(interrupted=False)

    def check(self, path: Path) -> None:
        """Raise what went wrong, if anything did."""
        code, message = self.code, self.message
        too_large = -getattr(signal, "SIGXFSZ", 0)  # Windows has no SIGXFSZ
        if code != 0 and ("No space left" in message or "File too large" in message or code == too_large):
            raise disk_full(path)
        if self.listener is not None:
            self.listener.check()  # a decoder that failed first leaves the encoder a broken pipe: say why
        if code != 0:
            raise EncoderError(f"ffmpeg could not encode the MP3: {failure(code, message)}", broken_ffmpeg_fix())


def _tee_escape(path: Path) -> str:
    """``path``, absolute, as one output of ffmpeg's ``tee`` muxer, whose list treats ``|``, ``[``, quotes
    and backslashes specially: every character but a plain one is escaped with a backslash."""
    return "".join(c if c.isalnum() or c in "/._-" else "\\" + c for c in os.path.abspath(path))


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
