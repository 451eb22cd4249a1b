"""Did-you-mean suggestions for mistyped words (field names, voices, engines)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def closest(word: str, options: Sequence[str]) -> str | None:
    """The option ``word`` was most likely meant to be, if any is close."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, options: Sequence[str]) -> str:
    """``"; did you mean 'hold'?"`` when ``word`` is close to one of ``options``, else ``""``."""
    match = closest(word, options)
    return f"; did you mean {match!r}?" if match else ""
