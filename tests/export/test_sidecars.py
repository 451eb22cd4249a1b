"""Sidecar text formats, on a hand-made timeline (no engine)."""

from __future__ import annotations

import json

import pytest

from voiceguide.export.sidecars import Header, Window, chapters_json, lrc, srt, to_ms, vtt
from voiceguide.model import Voice
from voiceguide.plan.script import EventKind, Role, Utterance, Where
from voiceguide.plan.timeline import Chapter, Event, Timeline

RATE = 22_050


def speech(start_s: float, length_s: float, text: str) -> Event:
    return Event(
        round(start_s * RATE), round(length_s * RATE), EventKind.SPEECH, Where(1), Role.SAY, Utterance(text, Voice())
    )


TIMELINE = Timeline(
    title="T",
    sample_rate=RATE,
    duration=3700 * RATE,
    events=(
        speech(0, 2, "Sit <tall> & breathe."),
        Event(2 * RATE, 3600 * RATE, EventKind.HOLD, Where(1)),
        speech(3601.5, 1.25, "Done."),
    ),
    chapters=(Chapter("Intro", 0, 2 * RATE, None), Chapter("Long hold", 2 * RATE, 3700 * RATE, 1)),
)


@pytest.mark.parametrize(
    ("samples", "ms"),
    [(0, 0), (1, 0), (11, 0), (12, 1), (RATE, 1000), (RATE * 3600 + 11, 3_600_000), (RATE * 3600 + 12, 3_600_001)],
)
def test_to_ms_rounds_to_the_nearest_millisecond(samples: int, ms: int) -> None:
    assert to_ms(samples, RATE) == ms


def test_lrc_has_header_tags_and_minutes_past_an_hour() -> None:
    assert lrc(TIMELINE, Window(0, TIMELINE.duration), Header("T", "Ana", "Series")).splitlines() == [
        "[ti:T]",
        "[ar:Ana]",
        "[al:Series]",
        "[length:61:40]",
        "[00:00.00]Sit <tall> & breathe.",
        "[60:01.50]Done.",
    ]


def test_vtt_escapes_markup_and_uses_hours() -> None:
    assert vtt(TIMELINE, Window(0, TIMELINE.duration)) == (
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nSit &lt;tall&gt; &amp; breathe.\n\n"
        "2\n01:00:01.500 --> 01:00:02.750\nDone.\n"
    )


def test_srt_numbers_the_same_cues_with_a_comma_before_the_milliseconds() -> None:
    assert srt(TIMELINE, Window(0, TIMELINE.duration)) == (
        "1\n00:00:00,000 --> 00:00:02,000\nSit <tall> & breathe.\n\n2\n01:00:01,500 --> 01:00:02,750\nDone.\n"
    )
    assert srt(TIMELINE, Window(3 * RATE, 3600 * RATE)) == ""  # a window without speech: no cues


def test_a_window_holds_only_its_part_with_times_from_its_start() -> None:
    window = Window(2 * RATE, 3700 * RATE)
    assert vtt(TIMELINE, window).splitlines()[2:4] == ["1", "00:59:59.500 --> 01:00:00.750"]
    assert json.loads(chapters_json(TIMELINE, window)) == {
        "version": "1.2.0",
        "chapters": [{"startTime": 0.0, "endTime": 3698.0, "title": "Long hold"}],
    }
