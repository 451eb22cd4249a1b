"""ID3 chapters past what one table of contents can count."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from mutagen.id3 import ID3, CTOCFlags
from test_export import probed_chapters

from voiceguide.audio.encode import Pcm, encode_mp3
from voiceguide.export.cover import Cover
from voiceguide.export.info import inspect
from voiceguide.export.tags import TOC_ENTRIES, Mark, TrackTags, write_tags

CHAPTER_MS = 1000  # longer than a moved start a listener would notice, so a moved chapter cannot overlap the next


def tagged(path: Path, count: int) -> Path:
    """A silent MP3 with ``count`` chapters of CHAPTER_MS each, end to end."""
    encode_mp3(Pcm.of(bytes(2 * 22_050 * count * CHAPTER_MS // 1000 + 2)), path, 22_050, 32)
    marks = tuple(Mark(f"Step {n}", CHAPTER_MS * (n - 1), CHAPTER_MS * n) for n in range(1, count + 1))
    cover = Cover(b"\x89PNG\r\n\x1a\n", "image/png")
    year = datetime.date.today().year
    write_tags(path, TrackTags("T", "A", "B", 1, None, year, "Speech", None, "en", cover, marks))
    return path


@pytest.mark.parametrize("count", [1, TOC_ENTRIES, TOC_ENTRIES + 1, 600])
def test_every_chapter_is_listed_in_order_however_many(count: int, tmp_path: Path, ffmpeg_exe: str) -> None:
    path = tagged(tmp_path / "t.mp3", count)
    seconds = CHAPTER_MS / 1000
    expected = [((n - 1) * seconds, n * seconds, f"Step {n}") for n in range(1, count + 1)]
    assert probed_chapters(ffmpeg_exe, path) == expected
    info = inspect(path)  # what `voiceguide info` reads: the table of contents, unfolded
    assert info.has_toc
    assert [(m.start_ms / 1000, m.end_ms / 1000, m.title) for m in info.chapters] == expected
    tocs = ID3(path).getall("CTOC")
    assert [toc.element_id for toc in tocs if toc.flags & CTOCFlags.TOP_LEVEL] == ["toc"]
    assert all(toc.flags & CTOCFlags.ORDERED for toc in tocs)
    assert all(len(toc.child_element_ids) <= TOC_ENTRIES for toc in tocs)
    assert len(tocs) == (1 if count <= TOC_ENTRIES else 1 + -(-count // TOC_ENTRIES))
