"""Output files: safe names on every file system, and atomic replacement."""

from __future__ import annotations

from pathlib import Path

import pytest

from voiceguide.files import MAX_NAME_BYTES, atomic_path, safe_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("neck-and-back", "neck-and-back"),
        ("Shoulder knead", "Shoulder knead"),
        ("../../etc/passwd", "etc-passwd"),
        ("a/b\\c", "a-b-c"),
        ('what? "this" <is> a|b*c:d', "what- -this- -is- a-b-c-d"),
        ("CON", "_CON"),
        ("lpt1.txt", "_lpt1.txt"),
        ("trailing dots...", "trailing dots"),
        ("  spaced \t out  ", "spaced out"),
        ("..", "track"),
        ("", "track"),
        ("Entspannung für den Nacken 🙂", "Entspannung für den Nacken 🙂"),
        ("tab\tand\nnewline", "tab and newline"),
    ],
)
def test_safe_name(text: str, expected: str) -> None:
    assert safe_name(text) == expected


def test_safe_name_caps_length_on_a_character_boundary() -> None:
    name = safe_name("ü" * 300)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name == "ü" * (MAX_NAME_BYTES // 2)


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "track.mp3"
    target.write_bytes(b"old")

    def interrupted_write() -> None:
        with atomic_path(target) as partial:
            partial.write_bytes(b"half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_write()
    assert target.read_bytes() == b"old"
    with atomic_path(target) as partial:
        partial.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["track.mp3"]
