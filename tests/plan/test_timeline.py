"""The timeline is pure: these tests give utterances made-up lengths, no engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from voiceguide.errors import RoutineError
from voiceguide.model import Version, Voice
from voiceguide.plan.present import move_warnings, plan_dict, plan_lines
from voiceguide.plan.script import (
    CHIME_LEAD_MS,
    GAP_MS,
    EventKind,
    Hold,
    Line,
    Role,
    Sound,
    Utterance,
    script,
    sounds,
    utterances,
)
from voiceguide.plan.timeline import Event, Timeline, schedule, to_samples
from voiceguide.routine.build import load_routine

RATE = 22_050


def fake_length(text: str) -> int:
    """Deterministic stand-in for speech: 10 ms per character."""
    return len(text) * RATE // 100


def timeline_of(path: Path, length: Callable[[str], int] = fake_length) -> Timeline:
    routine = load_routine(path)
    items = script(routine)
    return schedule(routine, items, {u: length(u.text) for u in utterances(items)}, RATE)


def sequence(timeline: Timeline) -> list[Event]:
    return [e for e in timeline.events if not e.overlay]


STEP_WITH_EVERYTHING = """\
title: T
defaults: {pause: 2s, rest: 3s, countdown: 3}
intro: Hello.
steps:
  - name: Knead
    say: Knead your {side} shoulder, rep {rep} of {reps}.
    again: Again, {side}.
    sides: both
    reps: 2
    hold: 10s
    release: Relax.
    cues:
      - at: half
        say: Halfway.
outro: Bye.
"""


def test_order_of_a_step(write_routine: Callable[..., Path]) -> None:
    timeline = timeline_of(write_routine(STEP_WITH_EVERYTHING))
    got = [(e.kind.value, e.role.value if e.role else None, e.text) for e in sequence(timeline)]
    assert got == [
        ("speech", "intro", "Hello."),
        ("pause", None, None),
        ("speech", "say", "Knead your right shoulder, rep 1 of 2."),
        ("gap", None, None),
        ("hold", None, None),
        ("speech", "release", "Relax."),
        ("rest", None, None),
        ("speech", "again", "Again, right."),
        ("gap", None, None),
        ("hold", None, None),
        ("speech", "release", "Relax."),
        ("rest", None, None),
        ("speech", "switch", "Now switch to your left side."),
        ("gap", None, None),
        ("speech", "say", "Knead your left shoulder, rep 1 of 2."),
        ("gap", None, None),
        ("hold", None, None),
        ("speech", "release", "Relax."),
        ("rest", None, None),
        ("speech", "again", "Again, left."),
        ("gap", None, None),
        ("hold", None, None),
        ("speech", "release", "Relax."),
        ("pause", None, None),
        ("speech", "outro", "Bye."),
    ]


def test_events_are_contiguous_and_total_is_their_sum(write_routine: Callable[..., Path]) -> None:
    timeline = timeline_of(write_routine(STEP_WITH_EVERYTHING))
    events = sequence(timeline)
    assert events[0].start == 0
    for before, after in pairwise(events):
        assert after.start == before.end
    assert timeline.duration == events[-1].end


def test_holds_start_where_the_gap_after_speech_ends_and_last_exactly(write_routine: Callable[..., Path]) -> None:
    timeline = timeline_of(write_routine(STEP_WITH_EVERYTHING))
    events = sequence(timeline)
    holds = [(i, e) for i, e in enumerate(events) if e.kind is EventKind.HOLD]
    assert len(holds) == 4
    for i, hold in holds:
        assert (events[i - 2].kind, events[i - 1].kind) == (EventKind.SPEECH, EventKind.GAP)
        assert events[i - 1].duration == to_samples(GAP_MS, RATE)
        assert hold.start == events[i - 1].end == events[i - 2].end + events[i - 1].duration
        assert hold.duration == 10 * RATE


def test_countdown_ends_with_the_hold(write_routine: Callable[..., Path]) -> None:
    timeline = timeline_of(write_routine(STEP_WITH_EVERYTHING))
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    countdown = [e for e in timeline.events if e.role is Role.COUNTDOWN and hold.start <= e.start < hold.end]
    assert [e.text for e in countdown] == ["three", "two", "one"]
    # each number starts on a whole second before the end, and the last one ends in time
    assert [hold.end - e.start for e in countdown] == [3 * RATE, 2 * RATE, 1 * RATE]
    assert countdown[-1].end <= hold.end


def test_long_countdown_numbers_are_moved_earlier_never_past_the_end(write_routine: Callable[..., Path]) -> None:
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 5s, countdown: 3}\n")
    slow = 30_000  # each number takes 1.36 s to say: longer than its second
    timeline = timeline_of(path, lambda text: slow if text in ("one", "two", "three") else fake_length(text))
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    numbers = [e for e in timeline.events if e.role is Role.COUNTDOWN]
    assert numbers[-1].end == hold.end
    for before, after in pairwise(numbers):
        assert before.end <= after.start
    assert hold.duration == 5 * RATE


def test_cue_sits_at_its_offset(write_routine: Callable[..., Path]) -> None:
    timeline = timeline_of(write_routine(STEP_WITH_EVERYTHING))
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    cue = next(e for e in timeline.events if e.role is Role.CUE)
    assert cue.start - hold.start == 5 * RATE
    assert cue.where == hold.where


def test_cue_that_would_run_into_the_countdown_moves_earlier(write_routine: Callable[..., Path]) -> None:
    path = write_routine(
        """\
        title: T
        steps:
          - say: Hold.
            hold: 10s
            countdown: 3
            cues: [{at: -4s, say: "A long cue."}]
        """
    )
    timeline = timeline_of(path, lambda text: 2 * RATE if text == "A long cue." else fake_length(text))
    cue = next(e for e in timeline.events if e.role is Role.CUE)
    three = next(e for e in timeline.events if e.role is Role.COUNTDOWN)
    assert cue.end == three.start


def test_overlays_that_cannot_fit_are_a_routine_error(write_routine: Callable[..., Path]) -> None:
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 2s, countdown: 0, cues: [{at: 0s, say: Long.}]}\n")
    with pytest.raises(RoutineError) as caught:
        timeline_of(path, lambda text: 3 * RATE + 7 if text == "Long." else fake_length(text))  # 3.0003 s
    (problem,) = caught.value.problems
    assert str(problem) == (
        f'{path}:3: step 1 "Hold" (steps[0]) → hold: its cues and countdown (3 s of speech) cannot all fit '
        "in the 2 s hold without overlapping\n  fix: spread the cues out, shorten them, or lengthen the hold"
    )


def test_switch_prompts_are_sides_minus_one(write_routine: Callable[..., Path]) -> None:
    path = write_routine('title: T\nsteps:\n  - {say: "Go {side}.", sides: [a, b, c], reps: 2, hold: 1s}\n')
    timeline = timeline_of(path)
    switches = [e.text for e in timeline.events if e.role is Role.SWITCH]
    assert switches == ["Now switch to your b side.", "Now switch to your c side."]
    assert sum(e.kind is EventKind.HOLD for e in timeline.events) == 6


def test_identical_lines_are_one_utterance(write_routine: Callable[..., Path]) -> None:
    routine = load_routine(write_routine(STEP_WITH_EVERYTHING))
    texts = sorted(u.text for u in utterances(script(routine)))
    assert texts.count("Relax.") == 1
    assert texts.count("three") == 1


def test_times_are_whole_samples_of_the_declared_milliseconds(write_routine: Callable[..., Path]) -> None:
    path = write_routine("title: T\ndefaults: {pause: 333ms}\nsteps:\n" + "  - {say: Go., hold: 1.001s}\n" * 3)
    timeline = timeline_of(path)
    holds = [e for e in timeline.events if e.kind is EventKind.HOLD]
    pauses = [e for e in timeline.events if e.kind is EventKind.PAUSE]
    assert {h.duration for h in holds} == {round(1.001 * RATE)}
    assert {p.duration for p in pauses} == {round(0.333 * RATE)}


def test_chapters_cover_intro_each_step_and_outro(write_routine: Callable[..., Path]) -> None:
    path = write_routine(
        "title: T\nintro: Hi.\nsteps:\n  - {name: One, say: A., hold: 1s}\n  - {say: Second step here.}\noutro: Bye.\n"
    )
    timeline = timeline_of(path)
    assert [c.title for c in timeline.chapters] == ["Introduction", "One", "Second step here", "Closing"]
    assert timeline.chapters[0].start == 0
    assert timeline.chapters[-1].end == timeline.duration
    for before, after in pairwise(timeline.chapters):
        assert before.end == after.start


def test_cues_wishing_for_the_same_moment_keep_their_written_order(write_routine: Callable[..., Path]) -> None:
    """The rule of docs/routine-format.md section 8: equal moments are spoken in the order written."""
    path = write_routine(
        """\
        title: T
        steps:
          - say: Hold.
            hold: 10s
            countdown: 0
            cues: [{at: 2s, say: First cue.}, {at: 2s, say: Second cue.}]
        """
    )
    timeline = timeline_of(path)
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    cues = [e for e in timeline.events if e.role is Role.CUE]
    assert [c.text for c in cues] == ["First cue.", "Second cue."]  # as docs/routine-format.md sections 8 and 16 say
    assert cues[1].start == hold.start + 2 * RATE  # the last written keeps the moment
    assert cues[0].end == cues[1].start


CHIMED = """\
title: T
defaults: {chime: both, pause: 0}
steps:
  - say: Hold.
    hold: 10s
    release: Relax.
  - say: Last.
    hold: 3s
"""


def test_chimes_sit_on_the_hold_edges_and_move_nothing(write_routine: Callable[..., Path]) -> None:
    chimed = load_routine(write_routine(CHIMED))
    plain = load_routine(write_routine(CHIMED.replace("both", "none"), "plain.yaml"))
    items = script(chimed)
    assert sounds(items) == {Sound("start"), Sound("end")}
    lengths: dict[Utterance | Sound, int] = {u: fake_length(u.text) for u in utterances(items)}
    lengths |= {Sound("start"): RATE, Sound("end"): 2 * RATE}
    timeline = schedule(chimed, items, lengths, RATE)
    holds = [e for e in timeline.events if e.kind is EventKind.HOLD]
    # the only change chimes make: a line after an end chime waits for its attack to pass
    lead = to_samples(CHIME_LEAD_MS, RATE)
    release = next(e for e in timeline.events if e.role is Role.RELEASE)
    assert release.start == holds[0].end + lead
    unchimed = [e for e in timeline.events if e.kind is not EventKind.CHIME]
    moved = [dataclasses.replace(e, start=e.start - lead * (e.start >= release.start)) for e in unchimed]
    plain_events = [e for e in timeline_of(Path(plain.source)).events if e.kind is not EventKind.GAP]
    assert [e for e in moved if e.kind is not EventKind.GAP] == plain_events
    chimes = [(e.role, e.start, e.duration) for e in timeline.events if e.kind is EventKind.CHIME]
    assert chimes == [
        (Role.START, holds[0].start, RATE),
        (Role.END, holds[0].end, 2 * RATE),
        (Role.START, holds[1].start, RATE),
        (Role.END, holds[1].end, 2 * RATE),  # the track ends with this hold: it runs on for the chime
    ]
    assert timeline.duration == holds[1].end + 2 * RATE
    assert timeline.tail == 2 * RATE
    assert timeline.chapters[-1].end == timeline.duration
    assert plan_dict(timeline)["tail"] == 2.0
    assert "tail       2.000 s  (the track runs on so the last chime ends)" in "\n".join(plan_lines(timeline))


def test_remaining_is_spoken_that_long_before_the_end(write_routine: Callable[..., Path]) -> None:
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 45s, remaining: [30s, 10s], countdown: 0}\n")
    timeline = timeline_of(path)
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    left = [(e.text, hold.end - e.start) for e in timeline.events if e.role is Role.REMAINING]
    assert left == [("Thirty seconds left.", 30 * RATE), ("Ten seconds left.", 10 * RATE)]


def test_remaining_says_minutes_as_people_do_and_phrases_can_reword_them(write_routine: Callable[..., Path]) -> None:
    text = "title: T\nsteps:\n  - {say: Hold., hold: 3m, remaining: [2m, 90s, 1m, 45s], countdown: 0}\n"
    lines = [e.text for e in timeline_of(write_routine(text)).events if e.role is Role.REMAINING]
    assert lines == [
        "Two minutes left.",
        "One and a half minutes left.",
        "One minute left.",
        "Forty-five seconds left.",
    ]
    own = text.replace("title: T\n", 'title: T\nphrases: {remaining_minutes: "{n} more minutes."}\n')
    lines = [e.text for e in timeline_of(write_routine(own, "own.yaml")).events if e.role is Role.REMAINING]
    assert lines[0] == "Two more minutes."


def test_count_spreads_numbers_through_the_hold_and_never_overruns(write_routine: Callable[..., Path]) -> None:
    path = write_routine("title: T\nlanguage: de\nsteps:\n  - {say: Atmen., hold: 20s, count: 5}\n")
    timeline = timeline_of(path, lambda text: 5 * RATE if text == "fünf" else fake_length(text))
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    numbers = [e for e in timeline.events if e.role is Role.COUNT]
    assert [e.text for e in numbers] == ["eins", "zwei", "drei", "vier", "fünf"]
    assert numbers[-1].end == hold.end
    for before, after in pairwise(numbers):
        assert before.end <= after.start
    fast = timeline_of(path)
    hold = next(e for e in fast.events if e.kind is EventKind.HOLD)
    assert [e.start - hold.start for e in fast.events if e.role is Role.COUNT] == [n * 4 * RATE for n in range(5)]
    assert not [e for e in fast.events if e.role is Role.COUNTDOWN]


def test_count_reps_announces_every_rep_in_the_language(write_routine: Callable[..., Path]) -> None:
    path = write_routine(
        'title: T\nlanguage: fr\nsteps:\n  - {say: "Main {side}.", sides: both, reps: 2, hold: 2s, count_reps: true}\n'
    )
    timeline = timeline_of(path)
    got = [e.text for e in sequence(timeline) if e.kind is EventKind.SPEECH]
    assert got == [
        "Répétition un sur deux.",
        "Main droite.",
        "Répétition deux sur deux.",
        "Encore une fois.",
        "Maintenant, changez de côté, à gauche.",
        "Répétition un sur deux.",
        "Main gauche.",
        "Répétition deux sur deux.",
        "Encore une fois.",
    ]


def test_a_step_voice_speaks_only_that_step(write_routine: Callable[..., Path]) -> None:
    path = write_routine(
        "title: T\nvoice: {rate: 150}\nintro: Hi.\nsteps:\n  - {say: One., hold: 2s}\n"
        "  - {say: Two., hold: 2s, release: Up., voice: {rate: 100}}\n  - {say: Three.}\noutro: Bye.\n"
    )
    routine = load_routine(path)
    rates = {e.text: e.utterance.voice.rate for e in timeline_of(path).events if e.utterance}
    assert rates == {
        "Hi.": 150,
        "One.": 150,
        "two": 100,
        "one": 100,
        "Two.": 100,
        "Up.": 100,
        "Three.": 150,
        "Bye.": 150,
    }
    assert routine.voice.rate == 150


def test_a_routine_overrides_built_in_phrases(write_routine: Callable[..., Path]) -> None:
    path = write_routine(
        """\
        title: T
        language: de
        phrases:
          sides: [rechte, linke]
          remaining: "Noch {n} Sekunden, gleich geschafft."
          rep: "Runde {rep} von {reps}."
          numbers: [eins, zwo]
        defaults: {switch: "Jetzt die {side} Seite.", count_reps: true, remaining: [10s], countdown: 2}
        steps:
          - {say: "Die {side} Schulter.", sides: both, reps: 2, hold: 12s}
        """
    )
    texts = [e.text for e in timeline_of(path).events if e.utterance][:6]
    assert texts == [
        "Runde eins von zwo.",
        "Die rechte Schulter.",
        "Noch zehn Sekunden, gleich geschafft.",
        "zwo",
        "eins",
        "Runde zwo von zwo.",
    ]
    assert "Jetzt die linke Seite." in [e.text for e in timeline_of(path).events]


def moves_of(timeline: Timeline) -> list[tuple[str, str, float, float]]:
    """(field, text, asked, given) of each moved line, in seconds from the hold's start."""
    return [(m.field, m.text, m.asked / RATE, m.given / RATE) for m in timeline.moves]


@pytest.mark.parametrize(
    ("cues", "expected"),
    [
        # two cues at 0: written order, the second waits for the first (0.06 s of fake speech)
        ("[{at: 0s, say: First.}, {at: 0s, say: Second}]", [("First.", 0.0), ("Second", 0.06)]),
        # three at the same later moment: the first written moves earlier, the last keeps its time
        (
            "[{at: 5s, say: One.}, {at: 5s, say: Two.}, {at: 5s, say: Six.}]",
            [("One.", 4.92), ("Two.", 4.96), ("Six.", 5.0)],
        ),
        # a cue at 0 and one just after it: the one at 0 keeps its place, the next one waits
        ("[{at: 0s, say: A long line.}, {at: 0.05s, say: B.}]", [("A long line.", 0.0), ("B.", 0.12)]),
    ],
)
def test_cue_timing_rule(write_routine: Callable[..., Path], cues: str, expected: list[tuple[str, float]]) -> None:
    """Cues at 0 or at equal moments are spoken in the order written, never refused for lack of room."""
    path = write_routine(f"title: T\nsteps:\n  - {{say: Hold., hold: 10s, countdown: 0, cues: {cues}}}\n")
    timeline = timeline_of(path)
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    got = [(e.text, round((e.start - hold.start) / RATE, 3)) for e in timeline.events if e.role is Role.CUE]
    assert got == expected


def test_every_moved_line_is_reported_once(write_routine: Callable[..., Path]) -> None:
    """The issue's case: a cue at 15 s and "Thirty seconds left" both want 15 s of a 45 s hold."""
    path = write_routine(
        """\
        title: T
        steps:
          - say: Hold.
            reps: 2
            hold: 45s
            remaining: [30s]
            cues: [{at: 15s, say: Breathe out slowly.}, {at: 30s, say: Fine.}]
        """
    )
    timeline = timeline_of(path)
    (move,) = timeline.moves  # the same move in rep 2 is not repeated
    assert (move.field, move.text, move.line, move.step.number) == ("cues[0]", "Breathe out slowly.", 7, 1)
    assert (move.asked, move.given) == (15 * RATE, 15 * RATE - fake_length("Breathe out slowly."))
    assert move.because == "Thirty seconds left."


def test_lines_in_place_are_not_reported(write_routine: Callable[..., Path]) -> None:
    assert timeline_of(write_routine(STEP_WITH_EVERYTHING)).moves == ()


EVERY_LINE = """\
title: Every line
intro: Hi.
steps:
  - say: "Press {side}, {rep} of {reps}."
    again: "Again {side}, {rep} of {reps}."
    switch: "Switch to {side}, {rep} of {reps}."
    release: "Relax {side}, {rep} of {reps}."
    sides: both
    reps: 2
    rest: 1s
    count_reps: true
    voice: {rate: 90}
    hold: 10s
    countdown: 2
    remaining: [4s]
    chime: start
    cues: [{at: 1s, say: "Cue {side}, {rep} of {reps}."}]
  - say: Plain.
    hold: 10s
    count: 3
outro: Bye.
"""


def test_script_speaks_every_line_with_its_placeholders_voice_role_and_place(
    write_routine: Callable[..., Path],
) -> None:
    """The whole script of a step that uses everything, line by line: text, role, where, voice and offset."""
    routine = load_routine(write_routine(EVERY_LINE))
    step_voice = routine.steps[0].voice
    assert step_voice is not None
    assert step_voice != routine.voice
    found: list[tuple[str, ...]] = []

    def whose(voice: Voice | None) -> str:
        return {step_voice: "step", routine.voice: "routine"}.get(voice, repr(voice))

    for item in script(routine):
        if isinstance(item, Line):
            found.append((item.role.value, item.utterance.text, whose(item.utterance.voice), str(item.where)))
        elif isinstance(item, Hold):
            found.append(("hold", str(item.ms), str(item.where)))
            for o in item.overlays:
                found.append((f"  {o.role.value}", o.utterance.text, whose(o.utterance.voice), str(o.at_ms)))
        else:
            found.append((item.kind.value, str(item.ms), str(item.where)))

    def rep(side: str, n: int) -> list[tuple[str, ...]]:
        where = f"Where(step=1, side='{side}', rep={n})"
        first = ("say", f"Press {side}, {n} of 2.") if n == 1 else ("again", f"Again {side}, {n} of 2.")
        return [
            ("rep", f"Rep {['one', 'two'][n - 1]} of two.", "step", where),
            ("gap", "667", where),  # 0.4 s at 150 words a minute: 0.667 s at 90
            (*first, "step", where),
            ("gap", "667", where),
            ("hold", "10000", where),
            ("  cue", f"Cue {side}, {n} of 2.", "step", "1000"),
            ("  remaining", "Four seconds left.", "step", "6000"),
            ("  countdown", "two", "step", "8000"),
            ("  countdown", "one", "step", "9000"),
            ("release", f"Relax {side}, {n} of 2.", "step", where),
        ]

    assert found == [
        ("intro", "Hi.", "routine", "Where(step=None, side=None, rep=None)"),
        ("pause", "2000", "Where(step=None, side=None, rep=None)"),
        *rep("right", 1),
        ("rest", "1000", "Where(step=1, side='right', rep=1)"),
        *rep("right", 2),
        ("rest", "1000", "Where(step=1, side='right', rep=2)"),
        ("switch", "Switch to left, 1 of 2.", "step", "Where(step=1, side='left', rep=1)"),
        ("gap", "667", "Where(step=1, side='left', rep=1)"),
        *rep("left", 1),
        ("rest", "1000", "Where(step=1, side='left', rep=1)"),
        *rep("left", 2),
        ("pause", "2000", "Where(step=1, side=None, rep=None)"),
        ("say", "Plain.", "routine", "Where(step=2, side=None, rep=1)"),
        ("gap", "400", "Where(step=2, side=None, rep=1)"),
        ("hold", "10000", "Where(step=2, side=None, rep=1)"),
        ("  count", "one", "routine", "0"),
        ("  count", "two", "routine", "3333"),
        ("  count", "three", "routine", "6666"),
        ("pause", "2000", "Where(step=2, side=None, rep=None)"),
        ("outro", "Bye.", "routine", "Where(step=None, side=None, rep=None)"),
    ]


def test_schedule_labels_every_event_and_names_the_timeline(write_routine: Callable[..., Path]) -> None:
    routine = load_routine(write_routine(EVERY_LINE))
    items = script(routine)
    lengths: dict[Utterance | Sound, int] = {u: fake_length(u.text) for u in utterances(items)}
    lengths[Sound("start")] = RATE // 2
    timeline = schedule(routine, items, lengths, RATE)
    assert timeline.title == "Every line"
    assert timeline.seconds(RATE * 3 // 2) == 1.5
    holds = {e.start: e for e in timeline.events if e.kind is EventKind.HOLD}
    for event in timeline.events:
        if event.overlay and event.kind is not EventKind.CHIME:
            assert event.kind is EventKind.SPEECH
        if event.kind is EventKind.CHIME:
            assert event.where == holds[event.start].where
    assert [c.step for c in timeline.chapters] == [None, 1, 2, None]


@pytest.mark.parametrize(
    ("ms", "rate", "samples"),
    [(1, 1499, 1), (1, 1500, 2), (1, 1501, 2), (3, 22_050, 66), (1000, 22_050, 22_050), (0, 22_050, 0)],
)
def test_to_samples_rounds_half_up(ms: int, rate: int, samples: int) -> None:
    assert to_samples(ms, rate) == samples


def overlays_of(path: Path, length: Callable[[str], int]) -> dict[str, tuple[float, float]]:
    """Each overlay's text and its (start, end) in seconds from the start of the (only) hold."""
    timeline = timeline_of(path, length)
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    return {
        str(e.text): ((e.start - hold.start) / RATE, (e.end - hold.start) / RATE) for e in timeline.events if e.overlay
    }


def test_a_cue_may_touch_a_countdown_number_on_either_side(write_routine: Callable[..., Path]) -> None:
    path = write_routine(
        "title: T\nsteps:\n  - {say: Go., hold: 10s, countdown: 3,"
        " cues: [{at: 7.5s, say: After three.}, {at: 6.5s, say: Before three.}]}\n"
    )
    placed = overlays_of(path, lambda _: RATE // 2)
    assert placed["three"] == (7.0, 7.5)
    assert placed["After three."] == (7.5, 8.0)  # starts as "three" ends, ends as "two" starts: not moved
    assert placed["Before three."] == (6.5, 7.0)  # ends as "three" starts: not moved


def test_a_cue_moved_before_one_number_keeps_moving_past_the_earlier_ones(write_routine: Callable[..., Path]) -> None:
    path = write_routine("title: T\nsteps:\n  - {say: Go., hold: 10s, countdown: 3, cues: [{at: 9.2s, say: Late.}]}\n")
    placed = overlays_of(path, lambda text: RATE // 2 if text == "Late." else RATE * 9 // 10)
    assert placed["Late."] == (6.5, 7.0)  # not into "two" (8 to 8.9 s) after clearing "one"


def test_the_cue_wishing_for_the_later_moment_keeps_it_whatever_the_written_order(
    write_routine: Callable[..., Path],
) -> None:
    path = write_routine(
        "title: T\nsteps:\n  - {say: Go., hold: 10s, countdown: 0,"
        " cues: [{at: 5.5s, say: Later.}, {at: 5s, say: Earlier and long.}]}\n"
    )
    placed = overlays_of(path, lambda text: 2 * RATE if text == "Earlier and long." else RATE)
    assert placed["Later."] == (5.5, 6.5)
    assert placed["Earlier and long."] == (3.5, 5.5)


@pytest.mark.parametrize(
    ("step", "seconds", "field", "text"),
    [
        ("{say: Go., hold: 10s, countdown: 3}", {"one": 1.5}, "countdown", "one"),  # too long to end by the end
        ("{say: Go., hold: 10s, countdown: 2, remaining: [2s]}", {}, "remaining", "Two seconds left."),  # on "two"
        ("{say: Go., hold: 4s, countdown: 0, count: 2}", {"one": 1.0, "two": 2.5}, "count", "two"),
    ],
)
def test_a_moved_number_or_reminder_is_reported_at_the_hold_in_its_file(
    step: str, seconds: dict[str, float], field: str, text: str, write_routine: Callable[..., Path]
) -> None:
    path = write_routine(f"title: T\nsteps:\n  - {step}\n")
    timeline = timeline_of(path, lambda said: round(RATE * seconds.get(said, 0.1)))
    (move,) = timeline.moves
    assert (move.source, move.line, move.field, move.text) == (str(path), 3, field, text)


def test_lines_pushed_past_the_start_wait_their_turn_each_reported_with_what_was_in_its_way(
    write_routine: Callable[..., Path],
) -> None:
    cues = "[{at: 0s, say: A.}, {at: 1s, say: B.}, {at: 1s, say: C.}, {at: 1s, say: D.}]"
    path = write_routine(f"title: T\nsteps:\n  - {{say: Go., hold: 10s, countdown: 0, cues: {cues}}}\n")
    timeline = timeline_of(path, lambda _: RATE)
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    assert [(e.text, e.start - hold.start) for e in timeline.events if e.overlay] == [
        ("A.", 0),  # from the hold's very first sample
        ("B.", RATE),
        ("C.", 2 * RATE),
        ("D.", 3 * RATE),
    ]
    # "A." ends exactly where C and D wished to start: not in their way
    assert [(m.field, m.asked, m.given, m.because) for m in timeline.moves] == [
        ("cues[2]", RATE, 2 * RATE, "B."),
        ("cues[3]", RATE, 3 * RATE, "B."),
    ]


@pytest.mark.parametrize(
    ("countdown", "seconds", "expected"),
    [
        # "B." follows "A." into "three" (7 to 7.5 s), so it starts after it, touching "two" (8 s)
        (3, {"A.": 6.8, "B.": 0.5}, {"A.": 0.0, "B.": 7.5}),
        # "B." follows "A." and ends with the hold's last sample
        (0, {"A.": 6.0, "B.": 4.0}, {"A.": 0.0, "B.": 6.0}),
    ],
    ids=["past-a-number", "to-the-very-end"],
)
def test_lines_pushed_past_the_start_clear_the_numbers_and_may_end_with_the_hold(
    countdown: int, seconds: dict[str, float], expected: dict[str, float], write_routine: Callable[..., Path]
) -> None:
    cues = "[{at: 0s, say: A.}, {at: 0s, say: B.}]"
    path = write_routine(f"title: T\nsteps:\n  - {{say: Go., hold: 10s, countdown: {countdown}, cues: {cues}}}\n")
    placed = overlays_of(path, lambda text: round(RATE * seconds.get(text, 0.5)))
    assert {text: start for text, (start, _) in placed.items() if text in expected} == expected


@pytest.mark.parametrize(
    ("settings", "version", "ms"),
    [
        ("", Version(), 400),  # 0.4 s at the default rate of 150
        ("voice: {rate: 100}\n", Version(), 600),  # a slower voice, a longer gap
        ("defaults: {gap: 0}\n", Version(), 0),  # back to back: no gap events at all
        ("defaults: {gap: 1s}\n", Version(), 1000),
        ("defaults: {gap: 1s}\n", Version(pace=0.8), 1250),  # --pace lengthens a written gap
        ("", Version(pace=0.8), 500),  # and the default one, through the slower voice
    ],
)
def test_the_gap_between_lines_is_the_routines_or_follows_the_rate(
    settings: str, version: Version, ms: int, write_routine: Callable[..., Path]
) -> None:
    text = f"title: T\n{settings}steps:\n  - {{say: Hold., hold: 2s, release: Relax., pause: 0}}\noutro: Bye.\n"
    routine = load_routine(write_routine(text), version)
    items = script(routine)
    timeline = schedule(routine, items, {u: fake_length(u.text) for u in utterances(items)}, RATE)
    kinds = [e.kind for e in timeline.events if not e.overlay]
    gaps = [e.duration for e in timeline.events if e.kind is EventKind.GAP]
    assert gaps == ([to_samples(ms, RATE)] * 2 if ms else [])  # say | hold, release | outro
    assert kinds == [
        k
        for k in (EventKind.SPEECH, EventKind.GAP, EventKind.HOLD, EventKind.SPEECH, EventKind.GAP, EventKind.SPEECH)
        if ms or k is not EventKind.GAP
    ]


def test_a_cue_at_the_start_of_a_chimed_hold_waits_for_the_chime(write_routine: Callable[..., Path]) -> None:
    text = "title: T\nsteps:\n  - {say: Hold., hold: 5s, chime: start, cues: [{at: 0, say: Breathe.}]}\n"
    routine = load_routine(write_routine(text))
    items = script(routine)
    lengths: dict[Utterance | Sound, int] = {u: fake_length(u.text) for u in utterances(items)}
    timeline = schedule(routine, items, lengths | {Sound("start"): RATE}, RATE)
    hold = next(e for e in timeline.events if e.kind is EventKind.HOLD)
    cue = next(e for e in timeline.events if e.role is Role.CUE)
    assert cue.start - hold.start == to_samples(CHIME_LEAD_MS, RATE)
    (move,) = timeline.moves
    assert move.chime
    (warning,) = move_warnings(timeline)
    assert warning.endswith(
        "is spoken 0.5 s into the hold, not at 0.0 s as asked (0.5 s later, so that the start chime is heard first)"
    )


@pytest.mark.parametrize(
    ("overlap", "warned"),
    [
        (0.01, None),
        (0.049, None),
        (0.06, "5.94 s into the hold, not at 6.00 s as asked (0.06 s earlier"),
        (0.3, "5.7 s into the hold, not at 6.0 s as asked (0.3 s earlier"),
    ],
)
def test_only_a_move_a_listener_can_hear_is_reported_with_its_size(
    write_routine: Callable[..., Path], overlap: float, warned: str | None
) -> None:
    """A cue at 6 s that runs into "three" at 7 s by ``overlap`` seconds moves that much earlier."""
    path = write_routine("title: T\nsteps:\n  - {say: Hold., hold: 10s, cues: [{at: 6s, say: Breathe.}]}\n")

    def length(text: str) -> int:
        return round((1 + overlap) * RATE) if text == "Breathe." else fake_length(text)

    timeline = timeline_of(path, length)
    assert moves_of(timeline) == [("cues[0]", "Breathe.", 6.0, pytest.approx(6 - overlap, abs=1 / RATE))]
    warnings = move_warnings(timeline)
    if warned is None:
        assert warnings == []
    else:
        (warning,) = warnings
        assert f'"Breathe." is spoken {warned}, to make room for "three")' in warning
