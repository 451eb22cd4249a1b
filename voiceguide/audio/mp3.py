"""MP3 frames and the LAME tag: a track's exact length, and long silences written as ready frames.

LAME turns digital silence into frames that carry no audio data (``part2_3_length`` 0 in every
granule), and a decoder whose state is at rest turns such frames into exact zeros. So a long
hold of silence need not be encoded: the encoder is given the track with each long silence
shortened by whole frames (``Cuts``), and ``splice`` writes the frames it left out back in as
silent frames, where the MP3 already holds silent frames. Every other frame is copied
byte for byte, so the file decodes to what the encoder made, with the holds at full length.

Two things make a place safe to splice (``splice`` checks both, frame by frame): the two frames
before it are silent, so the decoder's filter banks are at rest; and no later frame's audio
data begins before it (a frame may start its data up to ``main_data_begin`` bytes back, in the
unused room of earlier frames: LAME's bit reservoir).
"""

from __future__ import annotations

import array
import bisect
import contextlib
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anycrc
import numpy as np
import numpy.typing as npt

from voiceguide.audio.standards import LAYER3_BITRATES, MPEG_RATES
from voiceguide.errors import EncoderError
from voiceguide.files import read_at

# Samples a decoder plays before the track: LAME's delay of 576 plus the 529 of the decoder's
# filter bank (the LAME tag stores 576; players skip both)
LAME_DELAY = 1105
ENCODER_DELAY = 576
KEEP_FRAMES = 8  # frames of a long silence the encoder still gets: room for a safe place to splice


@dataclass(frozen=True)
class Cuts:
    """Where a track's long silences are shortened for the encoder: each cut removes ``frames``
    whole frames of samples at ``at`` (a sample of the shortened stream)."""

    at: tuple[int, ...] = ()
    frames: tuple[int, ...] = ()
    frame_samples: int = 576

    @staticmethod
    def plan(
        length: int, sounding: Sequence[tuple[int, int]], wide: Collection[int] = (), frame_samples: int = 576
    ) -> Cuts:
        """The cuts for a track of ``length`` samples that is digital silence outside ``sounding``
        (sorted, not overlapping): every gap longer than ``KEEP_FRAMES`` frames is cut in its middle;
        the cuts numbered in ``wide`` keep twice as many, room for a new encoder to start there."""
        at: list[int] = []
        frames: list[int] = []
        removed, end = 0, 0
        for lo, hi in [*sounding, (length, length)]:
            gap = lo - end
            keep = KEEP_FRAMES * (2 if len(at) in wide else 1)
            if gap // frame_samples > KEEP_FRAMES:
                count = max(0, gap // frame_samples - keep)
                at.append(end - removed + (gap - count * frame_samples) // 2)
                frames.append(count)
                removed += count * frame_samples
            end = max(end, hi)
        return Cuts(tuple(at), tuple(frames), frame_samples)

    @property
    def removed(self) -> int:
        """Samples the cuts remove in all."""
        return sum(self.frames) * self.frame_samples

    def kept(self, length: int) -> list[tuple[int, int]]:
        """The sample ranges of the track (``length`` samples) that the shortened stream holds, in order."""
        ranges, start, shift = [], 0, 0
        for at, frames in zip(self.at, self.frames, strict=True):
            ranges.append((start, at + shift))
            shift += frames * self.frame_samples
            start = at + shift
        return [*ranges, (start, length)]

    def track(self, sample: int) -> int:
        """Where a sample of the shortened stream is in the track."""
        return sample + sum(self.frames[: bisect.bisect_right(self.at, sample)]) * self.frame_samples


@dataclass(frozen=True)
class _Format:
    """What every frame of one encode shares."""

    mpeg1: bool
    mono: bool
    bitrate: int  # kbps
    rate: int

    @property
    def samples(self) -> int:
        return 1152 if self.mpeg1 else 576

    @property
    def side(self) -> int:
        """Bytes of side information after the 4-byte header (no CRC: LAME writes none)."""
        return (17 if self.mono else 32) if self.mpeg1 else (9 if self.mono else 17)

    def size(self, padded: int) -> int:
        return (144 if self.mpeg1 else 72) * self.bitrate * 1000 // self.rate + padded

    def padded(self, first: int, count: int) -> npt.NDArray[np.int64]:
        """Whether frames ``first`` to ``first + count`` take the padding byte, so the file keeps its
        exact bitrate (players seek a CBR file by byte position)."""
        spare = (144 if self.mpeg1 else 72) * self.bitrate * 1000 % self.rate
        index = np.arange(first, first + count + 1, dtype=np.int64) * spare // self.rate
        return np.diff(index)


def _format(header: int) -> _Format | None:
    """The frame format an MPEG audio layer III header declares, or None for anything else."""
    version, layer = (header >> 19) & 3, (header >> 17) & 3
    bitrate, rate = (header >> 12) & 15, (header >> 10) & 3
    if header >> 21 != 0x7FF or version == 1 or layer != 1 or bitrate in (0, 15) or rate == 3:
        return None
    return _Format(
        version == 3, (header >> 6) & 3 == 3, LAYER3_BITRATES[version == 3][bitrate], MPEG_RATES[version][rate]
    )


def _silent_and_reach(frame: bytes, form: _Format) -> tuple[bool, int]:
    """Whether a frame (its first bytes: header and side information) carries no audio data, and
    how far back its data begins."""
    side = int.from_bytes(frame[4 : 4 + form.side], "big")
    bits = 8 * form.side
    reach = side >> (bits - (9 if form.mpeg1 else 8))
    channels = 1 if form.mono else 2
    if form.mpeg1:  # main_data_begin, private bits, scfsi, then 59 bits per granule and channel
        first, each, count = 9 + (5 if form.mono else 3) + 4 * channels, 59, 2 * channels
    else:  # main_data_begin, private bits, then 63 bits per channel (one granule)
        first, each, count = 8 + channels, 63, channels
    silent = all((side >> (bits - first - k * each - 12)) & 0xFFF == 0 for k in range(count))
    return silent, reach


def _tag_offsets(head: bytes | bytearray, form: _Format) -> tuple[int, int] | None:
    """Where the Xing/Info header and the LAME tag start in the first frame, if it has both."""
    xing = 4 + form.side
    if bytes(head[xing : xing + 4]) not in (b"Xing", b"Info"):
        return None
    flags = int.from_bytes(head[xing + 4 : xing + 8], "big")
    if flags & 3 != 3:  # frames and bytes: needed for gapless playback and for us
        return None
    lame = xing + 8 + sum(size for bit, size in ((1, 4), (2, 4), (4, 100), (8, 4)) if flags & bit)
    return (xing, lame) if lame + 36 <= len(head) else None


def exact_padding(path: Path, samples: int) -> None:
    """Make the MP3's LAME tag say it holds exactly ``samples``.

    ffmpeg writes the trailing padding from its libmp3lame wrapper's frame count, which
    is short by ``47 - samples % 576`` when that is positive (LAME's 576-sample delay is
    529 the decoder skips plus 47): such a track decoded up to 47 samples long. The padding
    follows from the frame count, the delay and the samples we sent.
    """
    with path.open("r+b") as file:
        head = bytearray(file.read(_LAME_HEAD))
        form = _format(int.from_bytes(head[:4], "big")) if len(head) == _LAME_HEAD else None
        offsets = _tag_offsets(head, form) if form else None
        if form is None or offsets is None:
            return
        xing, lame = offsets
        frames = int.from_bytes(head[xing + 8 : xing + 12], "big")
        if _set_padding(head, lame, frames * form.samples - samples):
            file.seek(0)
            file.write(head[: lame + 36])


_LAME_HEAD = 4 + 32 + 120 + 36  # frame header, the longest side info, Xing fields, LAME tag


def _set_padding(head: bytearray, lame: int, total: int) -> bool:
    """Write the padding that makes ``total`` samples (after the delay) play, and the tag's CRC
    (over the first 190 bytes, its own field zeroed, as ffmpeg computes it). False if it cannot be said."""
    delay = head[lame + 21] << 4 | head[lame + 22] >> 4
    padding = total - delay
    if not 0 <= padding < 1 << 12:
        return False
    head[lame + 22 : lame + 24] = bytes([(head[lame + 22] & 0xF0) | padding >> 8, padding & 0xFF])
    head[lame + 34 : lame + 36] = b"\0\0"
    head[lame + 34 : lame + 36] = Crc16.of(bytes(head[:190])).to_bytes(2, "big")
    return True


def splice(path: Path, pieces: Sequence[BinaryIO], starts: Sequence[int], cuts: Cuts, samples: int) -> None:
    """Rewrite the MP3 at ``path`` as the whole track of ``samples``.

    The stream the encoder was given (the track shortened by ``cuts``) was encoded in pieces,
    each from a frame of silence (``starts``: the first frame of each piece but the first) by
    an encoder of its own: ``path`` holds the first piece, with its LAME tag, and ``pieces`` the
    frames of the others. The pieces are joined, the frames the cuts left out are spliced back in
    as silent frames, and the Xing header (frames, bytes, seek table) and the LAME tag (padding,
    music length and CRC) are made to match.
    """
    with contextlib.ExitStack() as stack:
        copy = stack.enter_context(tempfile.TemporaryFile(dir=path.parent))  # no name: none left behind
        with path.open("rb") as first:
            shutil.copyfileobj(first, copy)
        frames = _Frames([_Source(file) for file in [copy, *pieces]], starts, cuts)
        with path.open("w+b") as out:
            frames.write(out, samples)


class _Source:
    """An encoder's output, read by position: nothing of it is mapped or held in memory."""

    def __init__(self, file: BinaryIO) -> None:
        file.flush()
        self.fd, self.size = file.fileno(), os.fstat(file.fileno()).st_size
        if not self.size:
            raise _broken("an encoder wrote nothing")

    def read(self, at: int, count: int) -> bytes:
        return read_at(self.fd, count, at)

    def blocks(self, start: int, end: int, size: int = 1 << 20) -> Iterator[bytes]:
        for at in range(start, end, size):
            yield self.read(at, min(size, end - at))


class _Table:
    """Frames as three compact columns (a long track has a hundred thousand): piece, byte offset, size."""

    def __init__(self) -> None:
        self.pieces, self.offsets, self.sizes = array.array("q"), array.array("q"), array.array("q")

    def __len__(self) -> int:
        return len(self.pieces)

    def __getitem__(self, k: int) -> tuple[int, int, int]:
        return self.pieces[k], self.offsets[k], self.sizes[k]

    def append(self, piece: int, offset: int, size: int) -> None:
        self.pieces.append(piece)
        self.offsets.append(offset)
        self.sizes.append(size)

    def extend(self, other: _Table) -> None:
        self.pieces.extend(other.pieces)
        self.offsets.extend(other.offsets)
        self.sizes.extend(other.sizes)

    def cut(self, count: int) -> None:
        """Keep the first ``count`` frames."""
        del self.pieces[count:], self.offsets[count:], self.sizes[count:]


class _Frames:
    """The frames of the whole track: runs of the pieces' frames, and runs of silent ones between."""

    def __init__(self, sources: Sequence[_Source], starts: Sequence[int], cuts: Cuts) -> None:
        first = sources[0].read(0, _LAME_HEAD)
        tagged = _format(int.from_bytes(first[:4], "big"))  # at a low bitrate, a larger frame than the rest
        offsets = _tag_offsets(first, tagged) if tagged else None
        if tagged is None or offsets is None or tagged.samples != cuts.frame_samples:
            raise _broken("its first frame has no LAME tag")
        self.head = sources[0].read(0, tagged.size((first[2] >> 1) & 1))
        form = _format(int.from_bytes(sources[0].read(len(self.head), 4), "big"))
        if form is None or form.samples != tagged.samples:
            raise _broken("it has no frames after its LAME tag")
        self.form, self.offsets, self.sources = form, offsets, sources
        # (piece, byte offset, size) of each frame of the shortened stream, the pieces joined at their starts
        self.frames = _Table()
        for piece in range(len(sources)):
            found = self._index(piece, len(self.head) if piece == 0 else 0)
            if piece:  # the frames before its start are the earlier piece's; both are silent there
                self.frames.cut(starts[piece - 1])
                if len(self.frames) != starts[piece - 1] or not self._joinable(len(self.frames), found):
                    raise _broken(f"its pieces do not meet in silence (frame {starts[piece - 1]})")
            self.frames.extend(found)
        self.places = [self._place(at) for at in cuts.at]
        self.cuts = cuts

    def _index(self, piece: int, at: int) -> _Table:
        """Where each frame of an encoder's output starts, and its size (LAME writes CBR: all of one format)."""
        source, found, block, offset = self.sources[piece], _Table(), b"", at
        while at + 4 <= source.size:
            if at + 4 > offset + len(block):
                offset, block = at, source.read(at, 1 << 20)
            header = block[at - offset : at - offset + 4]
            if _format(int.from_bytes(header, "big")) != self.form:
                raise _broken(f"a frame at byte {at} is not like the first")
            size = self.form.size((header[2] >> 1) & 1)
            found.append(piece, at, size)
            at += size
        if at != source.size:
            raise _broken("its frames do not fill the file")
        return found

    def _joinable(self, count: int, found: _Table) -> bool:
        """Whether a piece whose frames are ``found`` can follow the first ``count`` frames."""
        return count >= 2 and len(found) >= 2 and all(self._silent(k)[0] for k in (count - 2, count - 1))

    def _silent(self, k: int) -> tuple[bool, int]:
        piece, at, _ = self.frames[k]
        return _silent_and_reach(self.sources[piece].read(at, 4 + self.form.side), self.form)

    def _place(self, at: int) -> int:
        """The frame before which a cut at sample ``at`` of the shortened stream is spliced: the
        nearest safe one (see the module's docstring)."""
        near = (at + LAME_DELAY) // self.form.samples
        for place in sorted(range(near - KEEP_FRAMES // 2 + 2, near + KEEP_FRAMES // 2), key=lambda p: abs(p - near)):
            if 2 <= place < len(self.frames) and self._safe(place):
                return place
        raise _broken(f"it holds no silent frames where the track is silent (near frame {near})")

    def _safe(self, place: int) -> bool:
        if not all(self._silent(k)[0] for k in (place - 2, place - 1)):
            return False
        room = 0  # bytes of data from ``place`` on, where the next frame with audio data may begin its own
        for k in range(place, len(self.frames)):
            if self.frames.pieces[k] != self.frames.pieces[place]:
                return True  # the next piece's frames begin their data in that piece
            silent, reach = self._silent(k)
            if not silent:
                return reach <= room
            room += self.frames.sizes[k] - 4 - self.form.side
        return True

    def _runs(self) -> Iterator[tuple[int, int, int] | tuple[None, int, int]]:
        """The whole track's frames in runs: (piece, first frame, end frame) of the pieces' frames,
        (None, model frame, count) of silent ones."""
        stops = sorted({*self.places, *(k for k in range(1, len(self.frames)) if self._new_piece(k))})
        inserted = dict(zip(self.places, self.cuts.frames, strict=True))
        previous = 0
        for stop in [*stops, len(self.frames)]:
            if stop > previous:
                yield self.frames.pieces[previous], previous, stop
            if stop in inserted:
                yield None, stop - 1, inserted[stop]
            previous = stop

    def _new_piece(self, k: int) -> bool:
        return self.frames.pieces[k] != self.frames.pieces[k - 1]

    def write(self, out: BinaryIO, samples: int) -> None:
        form, head = self.form, bytearray(self.head)
        out.write(head)
        total_frames = len(self.frames) + sum(self.cuts.frames)
        marks = [percent * total_frames // 100 for percent in range(100)]  # the seek table's frames
        found: list[int] = []  # where each of them starts
        crc, count, written = Crc16(), 0, len(head)
        for piece, a, b in self._runs():
            if piece is None:
                pattern = form.padded(count, b)
                sizes, blocks = pattern + form.size(0), self._silence(a, pattern)
            else:
                sizes = np.array(self.frames.sizes[a:b], dtype=np.int64)
                _, start, _ = self.frames[a]
                _, last, size = self.frames[b - 1]
                blocks = self.sources[piece].blocks(start, last + size)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) + written
            while len(found) < 100 and marks[len(found)] < count + len(sizes):
                found.append(int(starts[marks[len(found)] - count]))
            for block in blocks:
                crc.update(block)
                out.write(block)
            count += len(sizes)
            written += int(sizes.sum())
        xing, lame = self.offsets
        head[xing + 8 : xing + 12] = count.to_bytes(4, "big")
        head[xing + 12 : xing + 16] = written.to_bytes(4, "big")
        if int.from_bytes(head[xing + 4 : xing + 8], "big") & 4:  # the seek table: each percent, in 256ths
            head[xing + 16 : xing + 116] = bytes(min(255, 256 * start // written) for start in found)
        head[lame + 28 : lame + 32] = written.to_bytes(4, "big")
        head[lame + 32 : lame + 34] = crc.value.to_bytes(2, "big")
        if not _set_padding(head, lame, count * form.samples - samples):
            raise _broken("its length cannot be written in the LAME tag")
        out.seek(0)
        out.write(head)

    def _silence(self, model: int, pattern: npt.NDArray[np.int64]) -> Iterator[bytes]:
        """Silent frames like frame ``model`` (silent) but reading no data, padded as ``pattern`` says."""
        piece, at, _ = self.frames[model]
        header = bytearray(self.sources[piece].read(at, 4 + self.form.side))
        header[4] = 0  # main_data_begin: they read nothing
        if self.form.mpeg1:
            header[5] &= 0x7F  # its ninth bit
        frames = []
        for padded in (0, 1):
            header[2] = (header[2] & ~2) | padded << 1
            frames.append(bytes(header) + bytes(self.form.size(padded) - len(header)))
        for lo in range(0, len(pattern), 4096):
            yield b"".join(frames[p] for p in pattern[lo : lo + 4096].tolist())


def _broken(why: str) -> EncoderError:
    from voiceguide.audio.ffmpeg import broken_ffmpeg_fix

    return EncoderError(f"ffmpeg's MP3 could not be made whole: {why}", broken_ffmpeg_fix())


_ARC = anycrc.Model("CRC16-ARC")  # polynomial 0x8005, reflected, initial 0: the LAME tag's CRCs


class Crc16:
    """CRC-16/ARC of a stream fed in pieces."""

    def __init__(self) -> None:
        self.value = 0

    @staticmethod
    def of(data: bytes | memoryview) -> int:
        return int(_ARC.calc(data))

    def update(self, data: bytes | memoryview) -> None:
        self.value = int(_ARC.calc(data, self.value))
