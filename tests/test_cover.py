"""Generated covers: square PNGs whose title is drawn, whatever its length."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from voiceguide.cover import BACKGROUND, SIZE, title_card


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


def test_a_longer_title_gets_smaller_type() -> None:
    def ink_height(title: str) -> int:
        pixels = np.asarray(Image.open(io.BytesIO(title_card(title, None))).convert("RGB")).astype(int)
        rows = np.nonzero((np.abs(pixels - np.array(BACKGROUND)).sum(axis=2) > 200).any(axis=1))[0]
        return int(rows.max() - rows.min())

    assert ink_height("Neck") < ink_height("Neck and shoulders, a long routine for the whole back")
