"""Generated covers: square PNGs whose title is drawn, whatever its length."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from voiceguide.export.cover import BACKGROUND, INK, SIZE, title_card


@pytest.mark.parametrize(
    ("title", "byline"),
    [
        ("Neck", None),
        ("Desk Break for Neck and Shoulders", "voiceguide"),
        ("A " + "very " * 60 + "long title", "Jane Smith, physiotherapist " * 5),
        ("Nacken & Rücken — sanft lösen", "Überall"),
    ],
)
def test_title_card_is_a_square_png_with_the_title_drawn(title: str, byline: str | None) -> None:
    image = Image.open(io.BytesIO(title_card(title, byline)))
    assert (image.format, image.size) == ("PNG", (SIZE, SIZE))
    pixels = np.asarray(image.convert("RGB")).astype(int)
    ink = np.abs(pixels - np.array(BACKGROUND)).sum(axis=2) > 200
    assert ink.mean() > 0.01  # text is there
    columns = np.nonzero(ink.any(axis=0))[0]
    assert columns.min() >= 60  # and stays inside the margins
    assert columns.max() <= SIZE - 60


def title_lines(title: str) -> list[int]:
    """The height in pixels of each line of title type on the card (the byline and accent excluded)."""
    pixels = np.asarray(Image.open(io.BytesIO(title_card(title, None))).convert("RGB")).astype(int)
    rows = np.flatnonzero((np.abs(pixels - np.array(INK)).sum(axis=2) < 150).any(axis=1))
    return [len(run) for run in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)]


def test_a_longer_title_gets_smaller_type() -> None:
    # titles of one word repeated: every line has the same glyphs, so its height is in proportion to the type size
    cards = [title_lines(" ".join(["Neck"] * words)) for words in (1, 10, 15, 20, 30)]
    assert all(len(set(lines)) == 1 and len(lines) <= 5 for lines in cards)
    heights = [lines[0] for lines in cards]
    assert heights[0] == heights[1]  # ten words still fit in five lines of the largest type
    assert heights[1] > heights[2] > heights[3] > heights[4]
    assert heights[4] < heights[0] / 2
