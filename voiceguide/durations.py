"""Parse the duration notations a routine may use, and format times for people.

Inside voiceguide every time is an integer (milliseconds in the routine model,
samples in the timeline); this module is one of the two edges where text
becomes integers.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_UNITS = re.compile(
    rf"^(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>{_NUMBER})ms)?$",
)
_CLOCK = re.compile(r"^(\d+):([0-5]\d)(?::([0-5]\d))?(\.\d+)?$")
_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_UNIT_SPACE = re.compile(r"(?<=[a-z])\s+(?=\d)|(?<=\d)\s+(?=[a-z])")

DURATION_HINT = "a duration like 30s, 1m30s, 500ms or 1:30"
DURATION_EXAMPLES = ("30s", "1m30s", "500ms", "1:30")


def duration_pattern(*, signed: bool = False) -> str:
    """The text forms ``parse_duration`` reads, as a regular expression for JSON Schema.

    Written with the features ECMAScript and Python share, so editors and the
    tests read it alike. ``signed`` allows a leading ``-`` (cue offsets).
    """
    number = r"(?:\d+(?:\.\d+)?|\.\d+)"
    hours, minutes = number + r"\s*[hH]", number + r"\s*[mM](?![sS])"
    seconds, millis = number + r"\s*[sS]", number + r"\s*[mM][sS]"
    then = r"(?:\s+(?=\d))?"  # a space may stand between a unit and the next number
    units = "|".join(
        parts[0] + "".join(f"(?:{then}{later})?" for later in parts[1:])
        for parts in ((hours, minutes, seconds, millis), (minutes, seconds, millis), (seconds, millis), (millis,))
    )
    clock = r"\d+:[0-5]\d(?::[0-5]\d)?(?:\.\d+)?"
    sign = "[+-]?" if signed else r"\+?"
    return rf"^\s*{sign}(?:{number}|{clock}|{units})\s*$"


def parse_duration(value: str | int | float) -> int:
    """Return ``value`` in whole milliseconds; raise ``ValueError`` if unreadable.

    Numbers are seconds. Text may be ``45s``, ``1m``, ``1m30s``, ``1.5m``,
    ``500ms``, ``2h``, ``1:30`` (m:ss) or ``1:02:03`` (h:mm:ss), with an optional
    leading ``-`` (used for offsets counted back from the end of a hold).
    """
    if isinstance(value, bool):
        raise ValueError(value)
    text = str(value).strip().lower()
    text = _UNIT_SPACE.sub("", text)  # "1m 30s" and "45 s" are fine; "1 30" stays ambiguous
    sign = -1 if text.startswith("-") else 1
    if text[:1] in ("+", "-"):
        text = text[1:]
    if len(text) > 24:  # longer than any real duration, and past Decimal's exact range
        raise ValueError(value)
    if re.fullmatch(_NUMBER, text):
        return sign * _round_ms(Decimal(text) * 1000)
    if clock := _CLOCK.match(text):
        first, second, third, fraction = clock.groups()
        if third is None:
            total = Decimal(first) * 60 + Decimal(second)
        else:
            total = Decimal(first) * 3600 + Decimal(second) * 60 + Decimal(third)
        return sign * _round_ms((total + Decimal(fraction or 0)) * 1000)
    units = _UNITS.match(text)
    if units is None or not any(units.groupdict().values()):
        raise ValueError(value)
    total_ms = Decimal(0)
    for unit, part in units.groupdict().items():
        if part:
            total_ms += Decimal(part) * _UNIT_MS[unit]
    return sign * _round_ms(total_ms)


_UNIT_WORDS = re.compile(r"(hours?|hrs?|minutes?|mins?|milliseconds?|msecs?|seconds?|secs?)\b\.?", re.IGNORECASE)
_SHORT_UNITS = (("mil", "ms"), ("ms", "ms"), ("mi", "m"), ("h", "h"), ("se", "s"))  # first match wins


def duration_in_words(text: str) -> str | None:
    """``30 sec`` -> ``30s``, ``1.5 minutes`` -> ``1.5m``: the form ``parse_duration`` reads, for a
    duration written with unit words; ``None`` if that does not make one either."""

    def short(match: re.Match[str]) -> str:
        return next(unit for prefix, unit in _SHORT_UNITS if match[1].lower().startswith(prefix))

    written = _UNIT_WORDS.sub(short, text.strip())
    if written == text.strip():
        return None
    written = re.sub(r"(?<=\d)\s+(?=[hms])|,?\s+(?:and\s+)?(?=\d)", "", written)
    try:
        parse_duration(written)
    except ValueError:
        return None
    return written


def _round_ms(ms: Decimal) -> int:
    return int(ms.to_integral_value(rounding=ROUND_HALF_UP))


def format_clock(seconds: float) -> str:
    """``75.5`` -> ``1:15.500``; hours appear only when needed."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}.{ms:03d}"
    return f"{minutes}:{secs:02d}.{ms:03d}"


def format_span(ms: int) -> str:
    """A compact duration for messages: ``1500`` -> ``1.5 s``, ``90000`` -> ``1m30s``, ``5400000`` -> ``1h30m``."""
    if ms < 60_000:
        return f"{ms / 1000:g} s"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{rest / 1000:g}s" if rest else ""]
    return "".join(parts)
