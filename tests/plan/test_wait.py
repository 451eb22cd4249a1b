"""`wait: true`: the ready line and its silence, in the timeline, the checks, `plan`, the chapters and the audio."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from test_timeline import RATE, sequence, timeline_of

from voiceguide.errors import RoutineError
from voiceguide.export.sidecars import Window, chapters_json
from voiceguide.phrases import languages, phrases
from voiceguide.plan.present import plan_dict, plan_lines
from voiceguide.plan.script import EventKind, Role
from voiceguide.routine.build import load_routine

from conftest import assert_speech_matches

WAITING = """\
title: T
defaults: {rest: 2s, pause: 1s, ready: 4s}
steps:
  - say: Sit tall.
  - name: Kneel
    say: Onto your knees, {side} side.
    wait: true
    sides: both
    reps: 2
    hold: 3s
    countdown: 0
"""


def test_the_ready_line_and_silence_come_once_between_say_and_the_first_hold(
    write_routine: Callable[..., Path],
) -> None:
    timeline = timeline_of(write_routine(WAITING))
    kinds = [(e.kind, e.role, e.text, e.where.side, e.where.rep) for e in sequence(timeline) if e.where.step == 2]
    assert kinds[:5] == [
        (EventKind.SPEECH, Role.SAY, "Onto your knees, right side.", "right", 1),
        (EventKind.GAP, None, None, "right", 1),  # breathing room between two lines
        (EventKind.SPEECH, Role.READY, "Press play when you're ready.", "right", 1),
        (EventKind.READY, None, None, "right", 1),
        (EventKind.HOLD, None, None, "right", 1),
    ]
    ready = [e for e in timeline.events if e.kind is EventKind.READY]
    assert len(ready) == 1  # not before the second rep, nor before the left side
    assert ready[0].duration == 4 * RATE
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    assert ready[0].end == hold.start


def test_wait_in_every_language_and_overridden_by_phrases(write_routine: Callable[..., Path]) -> None:
    for language in languages():
        assert phrases(language).ready.strip()
    assert len({phrases(language).ready for language in languages()}) == len(languages())
    own_words = "title: T\nlanguage: de\nphrases: {ready: 'Bereit? Dann Play.'}\n"
    own = write_routine(WAITING.replace("title: T\n", own_words))
    assert [e.text for e in timeline_of(own).events if e.role is Role.READY] == ["Bereit? Dann Play."]
    german = write_routine(WAITING.replace("title: T\n", "title: T\nlanguage: de\n"), "de.yaml")
    assert [e.text for e in timeline_of(german).events if e.role is Role.READY] == [phrases("de").ready]


def test_without_wait_nothing_changes(write_routine: Callable[..., Path]) -> None:
    timeline = timeline_of(write_routine(WAITING.replace("    wait: true\n", "")))
    assert not [e for e in timeline.events if e.kind is EventKind.READY or e.role is Role.READY]


def test_a_wait_without_a_hold_waits_before_what_follows(write_routine: Callable[..., Path]) -> None:
    path = write_routine("title: T\nsteps:\n  - say: Fetch a ball.\n    wait: true\n  - say: Roll it.\n")
    events = sequence(timeline_of(path))
    assert [(e.kind, e.role) for e in events] == [
        (EventKind.SPEECH, Role.SAY),
        (EventKind.GAP, None),
        (EventKind.SPEECH, Role.READY),
        (EventKind.READY, None),
        (EventKind.PAUSE, None),
        (EventKind.SPEECH, Role.SAY),
        (EventKind.PAUSE, None),
    ]
    assert events[3].duration == 5 * RATE  # defaults.ready: 5s


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "title: T\nsteps:\n  - say: hi\n    wait: yes please\n",
            "routine.yaml:4: step 1 \"hi\" (steps[0]) → wait: expected true or false, got 'yes please'",
            id="wait-not-a-flag",
        ),
        pytest.param(
            "title: T\ndefaults: {ready: 500ms}\nsteps:\n  - say: hi\n    wait: true\n",
            "routine.yaml:2: defaults.ready: must be at least 1 s, got '500ms'",
            id="ready-too-short",
        ),
        pytest.param(
            "title: T\nphrases: {ready: 'Ready, {side}?'}\nsteps:\n  - say: hi\n    wait: true\n",
            "routine.yaml:2: phrases.ready: uses {side}; placeholders are only filled in a step's spoken texts",
            id="ready-with-a-placeholder",
        ),
    ],
)
def test_bad_waits(write_routine: Callable[..., Path], text: str, expected: str) -> None:
    path = write_routine(text)
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert str(caught.value).replace(str(path), "routine.yaml") == expected


def test_plan_and_chapters_mark_the_silence(write_routine: Callable[..., Path]) -> None:
    timeline = timeline_of(write_routine(WAITING))
    ready = next(e for e in timeline.events if e.kind is EventKind.READY)
    start, end = ready.start / RATE, ready.end / RATE
    document = plan_dict(timeline)
    assert [(e["kind"], e["start"], e["duration"]) for e in document["events"] if e["kind"] == "ready"] == [
        ("ready", round(start, 6), 4.0)
    ]
    assert any("ready      4.000 s  (the page pauses here" in line for line in plan_lines(timeline))
    chapters = json.loads(chapters_json(timeline, Window(0, timeline.duration)))["chapters"]
    kneel = next(c for c in chapters if c["title"] == "Kneel" and "toc" not in c)
    hidden = [c for c in chapters if c.get("toc") is False]
    assert [(c["title"], c["startTime"], c["endTime"]) for c in hidden] == [
        ("Press play when you're ready.", round(start, 3), round(end, 3)),
        ("Kneel", round(end, 3), kneel["endTime"]),
    ]
    assert [c["startTime"] for c in chapters] == sorted(c["startTime"] for c in chapters)


@pytest.mark.usefixtures("each_ffmpeg")
def test_the_mp3_holds_the_ready_line_then_silence_then_the_hold(
    write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    from voiceguide.audio.ffmpeg import decode_file
    from voiceguide.pipeline import Overrides, load, render

    done = render(load(write_routine(WAITING), Overrides(engine="espeak-ng")), tmp_path / "out")
    samples, rate = decode_file(done.path)
    timeline = done.plan.timeline
    assert rate == timeline.sample_rate
    assert_speech_matches(samples, done.plan)  # the ready line is heard in its slot; the hold starts after the silence
    ready = next(e for e in timeline.events if e.kind is EventKind.READY)
    quiet = samples[ready.start + rate // 50 : ready.end].astype(np.float64)  # past the ready line's last 20 ms
    assert np.sqrt(np.mean(quiet**2)) < 10  # digital silence, give or take MP3 coding noise (full scale: 32768)
