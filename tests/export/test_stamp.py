"""The fingerprint read back from a track without mutagen gives what mutagen reads, on every tag."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from mutagen import MutagenError
from mutagen.id3 import ID3

from voiceguide.audio.encode import Pcm, encode_mp3
from voiceguide.export import stamp
from voiceguide.export.cover import Cover
from voiceguide.export.stamp import AUDIO_TAG, FINGERPRINT_TAG, audio_digest, read_fingerprint
from voiceguide.export.tags import Mark, TrackTags, write_tags

SECOND = 2 * 22_050  # bytes of 16-bit mono


def by_mutagen(path: Path) -> str | None:
    """How the fingerprint was read before: every tag through mutagen (which then let a tag cut short
    raise its error; that is a track to make again)."""
    try:
        tag = ID3(path)
    except (MutagenError, OSError):
        return None
    frames, digest = tag.getall(f"TXXX:{FINGERPRINT_TAG}"), tag.getall(f"TXXX:{AUDIO_TAG}")
    if not frames or not digest or audio_digest(path, tag.size) != str(digest[0].text[0]):
        return None
    return str(frames[0].text[0])


def written(path: Path, fingerprint: str | None, chapters: int = 3, cover: int = 100) -> Path:
    """A short MP3 tagged as `export` tags a track: fingerprint and audio digest first, then the rest."""
    encode_mp3(Pcm.of(bytes(SECOND)), path, 22_050, 32)
    marks = tuple(Mark(f"Step {n}: é ✓", 100 * (n - 1), 100 * n) for n in range(1, chapters + 1))
    cover_art = Cover(b"\x89PNG\r\n\x1a\n" + bytes(cover), "image/png")
    year = datetime.date.today().year
    tags = TrackTags("T", "A", "B", 1, None, year, "Speech", "note", "en", cover_art, marks, fingerprint)
    write_tags(path, dataclasses.replace(tags, audio=audio_digest(path) if fingerprint is not None else None))
    return path


def resaved(version: int) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        ID3(path).save(v2_version=version)  # another tagger: mutagen's own frame order (by size), or ID3v2.3

    return edit


def audio_changed(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-200] ^= 0xFF
    path.write_bytes(bytes(data))


def cut_inside_tag(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:60])


def tag_removed(path: Path) -> None:
    ID3(path).delete()


@pytest.mark.parametrize(
    ("fingerprint", "edit", "ours"),
    [
        ("ab" * 32, None, True),  # as `render` stamps a track
        ("", None, False),  # mutagen writes no frame for an empty text
        ("é✓ 指纹", None, True),
        ("f" * 300, None, True),  # frame sizes past 127: syncsafe bytes differ from plain ones
        ("f" * 5000, None, False),  # past the bytes read first: mutagen reads it
        (None, None, False),  # no stamp: a split part, or a track of someone else's
        ("ab" * 32, audio_changed, True),
        ("ab" * 32, cut_inside_tag, False),
        ("ab" * 32, tag_removed, False),
        ("ab" * 32, resaved(4), False),
        ("ab" * 32, resaved(3), False),
    ],
    ids=["hex", "empty", "unicode", "long", "longer", "unstamped", "changed", "cut", "untagged", "resorted", "v2.3"],
)
def test_the_fingerprint_read_without_mutagen_is_what_mutagen_reads(
    fingerprint: str | None, edit: Callable[[Path], None] | None, ours: bool, tmp_path: Path
) -> None:
    path = written(tmp_path / "t.mp3", fingerprint)
    if edit is not None:
        edit(path)
    assert read_fingerprint(path) == by_mutagen(path)
    head = path.read_bytes()[:4096]
    assert (stamp._ours(head) is not None) == ours  # what `write_tags` writes is read without mutagen


@pytest.mark.parametrize("edit", [None, audio_changed], ids=["as written", "changed"])
def test_a_stamp_as_written_never_calls_on_mutagen(
    edit: Callable[[Path], None] | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = written(tmp_path / "t.mp3", "cd" * 32, chapters=40, cover=300_000)
    if edit is not None:
        edit(path)
    expected = by_mutagen(path)
    monkeypatch.setattr(stamp, "_by_mutagen", lambda _path: pytest.fail("mutagen read a tag voiceguide wrote"))
    assert read_fingerprint(path) == expected == (None if edit else "cd" * 32)


def test_no_file_and_no_tag_have_no_fingerprint(tmp_path: Path) -> None:
    assert read_fingerprint(tmp_path / "missing.mp3") is None
    (tmp_path / "plain.mp3").write_bytes(b"\xff\xfb" + bytes(500))
    assert read_fingerprint(tmp_path / "plain.mp3") is None
