"""Duration notations in, milliseconds out; times formatted for people."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceguide.durations import duration_in_words, duration_pattern, format_clock, format_span, parse_duration

from conftest import examples


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [
        # numbers are seconds
        (30, 30_000),
        (0, 0),
        (0.5, 500),
        (-5, -5_000),
        ("90", 90_000),
        ("0.5", 500),
        # units, alone and combined
        ("45s", 45_000),
        (".5s", 500),
        ("1m", 60_000),
        ("1m30s", 90_000),
        ("1.5m", 90_000),
        ("500ms", 500),
        ("1s500ms", 1_500),
        ("2h", 7_200_000),
        ("1.5h", 5_400_000),
        ("1h30m", 5_400_000),
        ("1h1m1s1ms", 3_661_001),
        # clock notation: m:ss and h:mm:ss
        ("1:30", 90_000),
        ("12:00", 720_000),
        ("1:02:03", 3_723_000),
        ("1:30.5", 90_500),
        ("1:02:03.25", 3_723_250),
        # signs
        ("-10s", -10_000),
        ("-1:30", -90_000),
        ("+5s", 5_000),
        ("-0", 0),
        # whitespace and case
        ("  45s  ", 45_000),
        ("\t45s\n", 45_000),
        ("45 s", 45_000),
        ("1m 30s", 90_000),
        (" -10s", -10_000),
        ("1M30S", 90_000),
        # rounding to whole milliseconds, half up
        (1.2345, 1_235),
        (1.0005, 1_001),
        ("1.2345s", 1_235),
        ("0.0005", 1),
        ("0.0004", 0),
        ("2.5ms", 3),
    ],
)
def test_parse_duration(value: str | float, expected_ms: int) -> None:
    """Every documented notation becomes whole milliseconds."""
    assert parse_duration(value) == expected_ms


@pytest.mark.parametrize(
    "value",
    [
        "forever",
        "",
        "   ",
        "-",
        "1x",
        "m",
        "s",
        "ms",
        "h",
        "s1",
        "1s1m",
        "1m30",
        "1,5s",
        "1:60",
        "1:00:60",
        "1::30",
        "1:30:",
        "inf",
        "nan",
        True,
        False,
        pytest.param(
            "1 30",
        ),
        pytest.param(
            "--5s",
        ),
        pytest.param(
            "+-5s",
        ),
    ],
)
def test_parse_duration_rejects(value: str | bool) -> None:
    """Unreadable text (and booleans, which are ints in Python) raise ValueError."""
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the message is just the input
        parse_duration(value)
    assert caught.value.args == (value,)  # the caller names the input in its message


@pytest.mark.parametrize(
    "value",
    ["1e999999999", "99999999999999999999999999999999h", float("inf"), 1e308, "0" * 21 + "1.5s", "1" * 25],
)
def test_huge_inputs_are_a_value_error_naming_them(value: str | float) -> None:
    """Huge inputs (past 24 characters, or written with an exponent) raise ValueError; no other exception escapes."""
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the message is just the input
        parse_duration(value)
    assert caught.value.args == (value,)


def test_the_longest_accepted_duration_is_24_characters() -> None:
    assert parse_duration("0" * 20 + "1.5s") == 1_500
    assert parse_duration("-" + "0" * 20 + "1.5s") == -1_500  # the sign does not count
    assert parse_duration(" " + "0" * 20 + "1.5s ") == 1_500  # nor do surrounding spaces


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0:00.000"),
        (5, "0:05.000"),
        (75.5, "1:15.500"),
        (59.9999, "1:00.000"),
        (3600, "1:00:00.000"),
        (3661.25, "1:01:01.250"),
    ],
)
def test_format_clock(seconds: float, expected: str) -> None:
    """m:ss.mmm, with hours only when needed."""
    assert format_clock(seconds) == expected


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (0, "0 s"),
        (100, "0.1 s"),
        (1_500, "1.5 s"),
        (10_000, "10 s"),
        (59_999, "59.999 s"),
        (60_000, "1m"),
        (61_500, "1m1.5s"),
        (90_000, "1m30s"),
        pytest.param(3_600_000, "1h"),
        pytest.param(5_400_000, "1h30m"),
        pytest.param(14_400_000, "4h"),
    ],
)
def test_format_span(ms: int, expected: str) -> None:
    """Compact spans for messages."""
    assert format_span(ms) == expected


def _parses(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


@settings(max_examples=examples(3000), deadline=None)
@given(st.text(alphabet="0123456789.:hmsHMS +-", max_size=20))
def test_duration_pattern_reads_what_the_parser_reads(text: str) -> None:
    """The JSON Schema's pattern for durations accepts exactly the texts `parse_duration` accepts."""
    assert bool(re.search(duration_pattern(signed=True), text)) == _parses(text)
    unsigned = _parses(text) and not text.strip().startswith("-")
    assert bool(re.search(duration_pattern(), text)) == unsigned


@pytest.mark.parametrize("text", ["30", "1m 30s", "45 s", "1 m 30 s", "1h2m3s4ms", ".5", "1:02:03.5", "-10s", "500MS"])
def test_duration_pattern_accepts_the_documented_forms(text: str) -> None:
    assert re.search(duration_pattern(signed=True), text)


@pytest.mark.parametrize("text", ["1m30", "1 30", "2 seconds", "1 min", "--5s", "1e3", "1:75", "", "s"])
def test_duration_pattern_refuses_what_the_docs_refuse(text: str) -> None:
    assert not re.search(duration_pattern(signed=True), text)


@pytest.mark.parametrize(
    ("text", "suggested"),
    [
        ("30 sec", "30s"),
        ("20 secs", "20s"),
        ("10sec", "10s"),
        ("1 min", "1m"),
        ("1.5 minutes", "1.5m"),
        ("1 minute 30 seconds", "1m30s"),
        ("1 min, 30 sec", "1m30s"),
        ("2 hours", "2h"),
        ("500 milliseconds", "500ms"),
        ("30s", None),  # already a duration
        ("thirty seconds", None),  # a number in words is not guessed
        ("30 parsecs", None),
    ],
)
def test_a_duration_in_words_suggests_the_form_that_works(text: str, suggested: str | None) -> None:
    assert duration_in_words(text) == suggested
