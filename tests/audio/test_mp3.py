"""The encoder spared the silence: cuts, pieces side by side, and the silence spliced back in as ready frames."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voiceguide.audio import encode as encode_module
from voiceguide.audio.encode import Pcm, _piece_cuts, _within, encode_mp3
from voiceguide.audio.mp3 import KEEP_FRAMES, Crc16, Cuts
from voiceguide.errors import EncoderError, OutputError

from conftest import Samples

RATE = 22_050
FRAME = 576


def crc16(data: bytes) -> int:
    """CRC-16/ARC by its definition, a bit at a time."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@pytest.mark.parametrize("size", [0, 1, 2, 13, 255, 256, 257, 2047, 2048, 2049, 70_001])
def test_the_crc_is_crc16_arc_for_any_length_and_any_pieces(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert Crc16.of(data) == crc16(data)
    crc = Crc16()
    for lo, hi in [(0, size // 3), (size // 3, size // 3 + 1), (size // 3 + 1, size)]:
        crc.update(data[lo:hi])
    assert crc.value == crc16(data)


@pytest.mark.parametrize(
    ("length", "sounding", "frames"),
    [
        (100 * FRAME, [], (100 - KEEP_FRAMES,)),  # all silence: one cut
        (100 * FRAME, [(0, 100 * FRAME)], ()),  # all sound: none
        # a gap of 8 frames and a bit is kept whole; one of 9 loses one frame
        (40 * FRAME, [(0, 10 * FRAME), (18 * FRAME + 100, 40 * FRAME)], ()),
        (40 * FRAME, [(0, 10 * FRAME), (19 * FRAME, 40 * FRAME)], (1,)),
        # silence before, between and after the sounds
        (300 * FRAME + 7, [(50 * FRAME, 60 * FRAME), (160 * FRAME + 3, 170 * FRAME)], (42, 92, 122)),
    ],
)
def test_cuts_take_whole_frames_from_the_middle_of_every_long_silence(
    length: int, sounding: list[tuple[int, int]], frames: tuple[int, ...]
) -> None:
    cuts = Cuts.plan(length, sounding)
    assert cuts.frames == frames
    kept = cuts.kept(length)
    assert len(kept) == len(frames) + 1
    assert sum(hi - lo for lo, hi in kept) == length - cuts.removed
    for lo, hi in sounding:  # every sound is kept
        assert any(a <= lo and hi <= b for a, b in kept)
    shortened = 0
    for lo, hi in kept:  # and each kept sample is found where it was in the track
        assert [cuts.track(shortened), cuts.track(shortened + hi - lo - 1)] == [lo, hi - 1]
        shortened += hi - lo
    ends = [0, *(x for span in sounding for x in span), length]
    for i, (at, count) in enumerate(zip(cuts.at, cuts.frames, strict=True)):
        before, after = kept[i], kept[i + 1]
        assert at == sum(hi - lo for lo, hi in kept[: i + 1])  # the cut is where the two kept ranges meet
        assert after[0] - before[1] == count * FRAME
        silence = next((a, b) for a, b in zip(ends[0::2], ends[1::2], strict=False) if a <= before[1] < b)
        assert abs((before[1] - silence[0]) - (silence[1] - after[0])) <= FRAME  # in its middle


def test_pieces_begin_at_cuts_near_equal_shares_and_never_too_short() -> None:
    cuts = Cuts((100 * FRAME + 7, 400 * FRAME, 700 * FRAME), (50, 50, 50))
    length = 1000 * FRAME
    assert _piece_cuts(cuts, length, 1, 10 * FRAME) == []
    assert _piece_cuts(cuts, length, 2, 10 * FRAME) == [1]
    assert _piece_cuts(cuts, length, 3, 10 * FRAME) == [1, 2]
    assert _piece_cuts(cuts, length, 8, 10 * FRAME) == [0, 1, 2]
    assert _piece_cuts(cuts, length, 2, 700 * FRAME) == []  # halves under the least: one piece
    assert _piece_cuts(Cuts(), length, 2, 10 * FRAME) == []  # no silence to meet in
    kept = [(0, 10), (20, 30), (35, 40)]
    assert list(_within(kept, 5, 22)) == [(5, 10), (20, 30), (35, 37)]
    assert list(_within(kept, 10, 20)) == [(20, 30)]


def test_a_piece_begins_a_frame_after_its_cut_which_keeps_twice_the_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encode_module, "PIECE_SECONDS", 5)
    sounding = ((10 * RATE, 20 * RATE), (60 * RATE, 70 * RATE), (110 * RATE, 120 * RATE))
    pcm = Pcm(130 * RATE, lambda lo, hi: [bytes(2 * (hi - lo))], sounding)
    narrow, wide = Cuts.plan(pcm.length, sounding), pcm.pieces(RATE, 2)
    assert len(wide.starts) == 1
    changed = [i for i, (a, b) in enumerate(zip(narrow.frames, wide.cuts.frames, strict=True)) if a != b]
    assert len(changed) == 1
    assert narrow.frames[changed[0]] - wide.cuts.frames[changed[0]] == KEEP_FRAMES
    assert wide.starts == (wide.cuts.at[changed[0]] // FRAME + 1,)
    first, second = wide.reads(pcm.length)
    assert first[-1][1] == second[0][0] == wide.cuts.track(wide.starts[0] * FRAME)  # they meet there


def bursts(length: int, where: list[tuple[int, int]], seed: int = 1) -> Samples:
    """Silence, with low-passed noise bursts (speech-like: most energy under 4 kHz) at ``where``."""
    rng = np.random.default_rng(seed)
    out = np.zeros(length)
    for lo, hi in where:
        noise = rng.standard_normal(hi - lo + 8)
        out[lo:hi] = np.convolve(noise, np.ones(4) / 4, mode="same")[4 : 4 + hi - lo] * 6000
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def sparse(samples: Samples, where: list[tuple[int, int]]) -> Pcm:
    data = samples.tobytes()
    return Pcm(len(samples), lambda lo, hi: [data[2 * lo : 2 * hi]], tuple(where))


def lag(decoded: Samples, original: Samples, lo: int, hi: int, reach: int = 40) -> int:
    """The shift (samples) that best lines the decoded burst up with the original."""
    seen = decoded[lo - reach : hi + reach].astype(float)
    wanted = original[lo:hi].astype(float)
    scores = [float(np.dot(seen[reach + k : reach + k + hi - lo], wanted)) for k in range(-reach, reach + 1)]
    return int(np.argmax(scores)) - reach


WHERE = [(3 * RATE, 5 * RATE + 17), (40 * RATE + 300, 41 * RATE), (41 * RATE + 9000, 43 * RATE), (88 * RATE, 90 * RATE)]
LENGTH = 90 * RATE + 123  # sound at its very end; silence at the start


@pytest.mark.parametrize(
    ("jobs", "bitrate", "windows"),
    [(1, 64, False), (2, 64, False), (3, 64, False), (2, 32, False), (2, 160, False), (2, 64, True)],
)
def test_a_spliced_track_decodes_to_the_sample_in_every_decoder(
    jobs: int,
    bitrate: int,
    windows: bool,
    tmp_path: Path,
    each_decoder: Callable[[Path], Samples],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Also as on Windows, which has neither pread nor descriptors to hand ffmpeg: one piece, spliced."""
    monkeypatch.setattr(encode_module, "PIECE_SECONDS", 1)  # so the bursts make up to three pieces
    if windows:
        monkeypatch.setattr(encode_module, "PASS_FDS", False)
        monkeypatch.delattr(os, "pread")
        jobs_used = 1
    else:
        jobs_used = jobs
    original = bursts(LENGTH, WHERE)
    path = tmp_path / "t.mp3"
    heard: list[int] = []
    cuts = encode_mp3(sparse(original, WHERE), path, RATE, bitrate, lambda start: lambda _w: heard.append(start), jobs)
    assert cuts.removed > 80 * RATE  # the encoder was given the bursts, and a little silence around them
    assert len(set(heard)) == jobs_used  # that many pieces, each heard
    out = each_decoder(path)
    assert len(out) == LENGTH
    edges = [0, *(x for span in WHERE for x in span), LENGTH]
    for lo, hi in zip(edges[0::2], edges[1::2], strict=False):  # the silences: exact zeros, 2 frames from sound
        assert not out[lo + 2 * FRAME if lo else 0 : max(lo, hi - 2 * FRAME)].any(), (lo, hi)
    for lo, hi in WHERE:
        assert lag(out, original, lo, hi) == 0
        error = out[lo:hi].astype(float) - original[lo:hi]
        snr = 10 * np.log10(np.sum(original[lo:hi].astype(float) ** 2) / np.sum(error**2))
        assert snr > (6 if bitrate < 64 else 12)  # LAME on this noise: about 17 dB at 64 kbps, spliced or not


def test_the_xing_header_and_lame_tag_describe_the_spliced_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encode_module, "PIECE_SECONDS", 1)
    path = tmp_path / "t.mp3"
    encode_mp3(sparse(bursts(LENGTH, WHERE), WHERE), path, RATE, 64, None, 2)
    data = path.read_bytes()
    xing = 4 + 9  # MPEG-2 mono: 9 bytes of side information
    assert data[xing : xing + 4] == b"Info"
    flags = int.from_bytes(data[xing + 4 : xing + 8], "big")
    assert flags & 7 == 7  # frames, bytes, seek table
    starts = frame_starts(data)
    frames, size = int.from_bytes(data[xing + 8 : xing + 12], "big"), int.from_bytes(data[xing + 12 : xing + 16], "big")
    assert (frames, size) == (len(starts) - 1, len(data))  # every frame after the tag's, every byte
    # the silence keeps the bitrate (players seek a CBR file by byte position): 64 kbps to a few bytes
    assert abs(len(data) - starts[1] - frames * 72 * 64_000 / RATE) < 16
    toc = data[xing + 16 : xing + 116]
    assert list(toc) == [min(255, 256 * starts[1 + p * frames // 100] // len(data)) for p in range(100)]
    lame = xing + 8 + 4 + 4 + 100 + (4 if flags & 8 else 0)
    assert int.from_bytes(data[lame + 28 : lame + 32], "big") == len(data)  # music length
    assert int.from_bytes(data[lame + 32 : lame + 34], "big") == crc16(data[starts[1] :])  # music CRC
    unset = data[: lame + 34] + b"\0\0" + data[lame + 36 : 190]  # the tag's own CRC: over 190 bytes, itself zeroed
    assert int.from_bytes(data[lame + 34 : lame + 36], "big") == crc16(unset)
    delay, padding = data[lame + 21] << 4 | data[lame + 22] >> 4, (data[lame + 22] & 15) << 8 | data[lame + 23]
    assert delay + LENGTH + padding == frames * FRAME


def frame_starts(data: bytes) -> list[int]:
    """Where each frame begins (MPEG-2 layer III, 64 kbps, 22.05 kHz: 208 bytes, 209 padded)."""
    starts, at = [], 0
    while at < len(data):
        assert data[at] == 0xFF, at
        assert data[at + 1] & 0xE0 == 0xE0, at
        starts.append(at)
        at += 208 + (data[at + 2] >> 1 & 1)
    assert at == len(data)
    return starts


def test_a_sound_where_the_track_was_said_to_be_silent_is_refused(tmp_path: Path) -> None:
    original = bursts(LENGTH, WHERE)
    with pytest.raises(EncoderError, match="no silent frames where the track is silent") as caught:
        encode_mp3(sparse(original, WHERE[:1]), tmp_path / "t.mp3", RATE, 64)  # three bursts left unsaid
    assert "VOICEGUIDE_FFMPEG" in caught.value.fix


def test_a_disk_that_fills_while_the_silence_is_spliced_in_is_a_full_disk(tiny_disk: Path) -> None:
    # the shortened stream fits in 64 kB; the whole track (90 s at 64 kbps, 720 kB) does not
    with pytest.raises(OutputError, match="the disk is full"):
        encode_mp3(sparse(bursts(LENGTH, WHERE[:1]), WHERE[:1]), tiny_disk / "t.mp3", RATE, 64)
