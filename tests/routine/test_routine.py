"""``load_routine``: a valid file becomes frozen data; a bad one, exact messages with lines."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from voiceguide.errors import Problem, RoutineError
from voiceguide.model import Background, Cue, Routine, Step, Voice
from voiceguide.routine.build import load_routine

from conftest import MINIMAL

WriteRoutine = Callable[..., Path]

FULL = """\
    title: Morning stretch
    author: Me
    voice:
      engine: espeak-ng
      name: en-gb
      rate: 170
      volume: 0.8
    defaults:
      pause: 1s
      rest: 2s
      countdown: 5
      again: One more time.
    intro: Welcome.
    outro: Well done.
    steps:
      - say: Stretch your {side} arm up high, and hold it there.
        sides: both
        hold: 3.5s
        reps: 2
        cues:
          - at: half
            say: Halfway.
      - name: Calf
        say: Push the wall with your {side} foot.
        sides: [front, back]
        hold: 40s
        countdown: 10
        rest: 5s
        pause: 4s
        again: Push again.
        switch: Now the {side} foot.
        release: Relax.
        cues:
          - at: -10s
            say: Ten more seconds.
          - at: 5s
            say: Breathe.
      - say: Now lie down on your back and rest a while.
    """


def test_full_routine(write_routine: WriteRoutine) -> None:
    """Every field lands in the model; defaults fill the gaps; cue offsets are resolved."""
    path = write_routine(FULL)
    assert load_routine(path) == Routine(
        source=str(path),
        title="Morning stretch",
        description=None,
        author="Me",
        album=None,
        language="en",
        voice=Voice(engine="espeak-ng", name="en-gb", rate=170, volume=0.8),
        intro="Welcome.",
        outro="Well done.",
        pause_ms=1_000,
        steps_line=16,
        steps=(
            Step(
                number=1,
                name="Stretch your arm up high",
                say="Stretch your {side} arm up high, and hold it there.",
                sides=("right", "left"),
                hold_ms=3_500,
                reps=2,
                rest_ms=2_000,
                again="One more time.",
                release=None,
                switch="Now switch to your {side} side.",
                countdown=3,  # the default 5 shortened to the 3.5 s hold
                cues=(Cue(offset_ms=1_750, text="Halfway."),),
                pause_ms=1_000,
                hold_line=18,
            ),
            Step(
                number=2,
                name="Calf",
                say="Push the wall with your {side} foot.",
                sides=("front", "back"),
                hold_ms=40_000,
                reps=1,
                rest_ms=5_000,
                again="Push again.",
                release="Relax.",
                switch="Now the {side} foot.",
                countdown=10,
                cues=(Cue(offset_ms=30_000, text="Ten more seconds."), Cue(offset_ms=5_000, text="Breathe.")),
                pause_ms=4_000,
                hold_line=26,
            ),
            Step(
                number=3,
                name="Now lie down on your",
                say="Now lie down on your back and rest a while.",
                sides=(),
                hold_ms=0,
                reps=1,
                rest_ms=2_000,
                again="One more time.",
                release=None,
                switch="Now switch to your {side} side.",
                countdown=0,
                cues=(),
                pause_ms=1_000,
                hold_line=38,
            ),
        ),
    )


def test_minimal_routine_uses_built_in_defaults(write_routine: WriteRoutine) -> None:
    """Without `voice` or `defaults`, the built-in values apply."""
    routine = load_routine(write_routine(MINIMAL))
    assert routine.voice == Voice()
    assert routine.pause_ms == 2_000
    (step,) = routine.steps
    assert (step.name, step.rest_ms, step.pause_ms, step.countdown, step.again) == (
        "Breathe in",
        3_000,
        2_000,
        0,
        "Again.",
    )


def test_routine_is_frozen(write_routine: WriteRoutine) -> None:
    """The model cannot be changed after loading."""
    routine = load_routine(write_routine(MINIMAL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        routine.title = "Other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        routine.steps[0].hold_ms = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("say", "name"),
    [
        ("Breathe in.", "Breathe in"),
        ("One two three four five six seven.", "One two three four five"),
        ("Lift {rep} times.", "Lift times"),
        ("{rep}", "Step"),
        pytest.param(
            "{rep}. Lift the bar.",
            "Lift the bar",
        ),
    ],
)
def test_step_name_defaults_to_first_words_of_say(write_routine: WriteRoutine, say: str, name: str) -> None:
    """Placeholders are dropped, five words kept, trailing punctuation trimmed."""
    path = write_routine(f"title: T\nsteps:\n  - say: '{say}'\n")
    assert load_routine(path).steps[0].name == name


@pytest.mark.parametrize(
    ("hold", "countdown", "expected"),
    [
        ("10s", None, 3),
        ("2.9s", None, 2),
        ("500ms", None, 0),
        (None, None, 0),
        ("3s", 3, 3),
        ("10s", 0, 0),
        ("30s", 20, 20),
    ],
)
def test_countdown(write_routine: WriteRoutine, hold: str | None, countdown: int | None, expected: int) -> None:
    """The default countdown (3) shrinks to whole seconds of the hold; a step's own is kept."""
    text = "title: T\nsteps:\n  - say: hi\n"
    text += f"    hold: {hold}\n" if hold else ""
    text += f"    countdown: {countdown}\n" if countdown is not None else ""
    assert load_routine(write_routine(text)).steps[0].countdown == expected


@pytest.mark.parametrize(
    ("at", "offset_ms"),
    [("half", 5_000), ("0", 0), ("2.5s", 2_500), ("9.999s", 9_999), ("-10s", 0), ("-1s", 9_000), ("-0.5s", 9_500)],
)
def test_cue_offsets(write_routine: WriteRoutine, at: str, offset_ms: int) -> None:
    """`half`, offsets from the start, and negative offsets from the end of a 10 s hold."""
    path = write_routine(f"title: T\nsteps:\n  - say: hi\n    hold: 10s\n    cues:\n      - at: {at}\n        say: x\n")
    assert load_routine(path).steps[0].cues == (Cue(offset_ms=offset_ms, text="x"),)


BILLION_LAUGHS = (
    "lol0: &lol0 lol\n"
    + "".join(f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 10)}]\n" for i in range(1, 10))
    + "title: T\nsteps:\n  - say: hi\n"
)


def expanding_to(values: int) -> str:
    """A valid routine whose YAML expands (aliases and all) to ``values`` values, 20,000 or 20,001:
    4 steps aliased from one with 998 aliased cues (19,988 values), 5 for the document and the
    title, and 4 plus the numbers listed for ``phrases``."""
    numbers = ", ".join(["one", "two", "three", "four"][: values - 19_997])
    cues = "[&c {at: 1s, say: x}" + ", *c" * 997 + "]"
    return (
        f"title: T\nphrases: {{numbers: [{numbers}]}}\nsteps:\n"
        f"  - &s {{say: hi, hold: 10s, cues: {cues}}}\n  - *s\n  - *s\n  - *s\n"
    )


BAD = [
    # --- YAML itself
    pytest.param(
        """\
        title: T
          bad: indent
        steps: []
        """,
        "routine.yaml:2: YAML syntax error: this line is indented more than the field above it, "
        "so YAML cannot tell where it belongs\n"
        "      2 |   bad: indent\n"
        "        |   ^\n"
        "  fix: indent it by the same number of spaces as the field above it",
        id="yaml-syntax",
    ),
    pytest.param(
        "title: T\nsteps:\n\t- say: hi\n",
        "routine.yaml:3: YAML syntax error: a tab is used here; YAML lines are indented with spaces, never tabs\n"
        "      3 | →- say: hi\n"
        "        | ^\n"
        "  fix: replace the tab with spaces (2 for each level), lined up with the lines above",
        id="yaml-tab",
    ),
    pytest.param(
        """\
        title: T
        steps:
          - say: hi
        ---
        title: U
        """,
        "routine.yaml:4: YAML syntax error: a routine file holds one routine, but `---` starts a second one\n"
        "      4 | ---\n"
        "        | ^\n"
        "  fix: put each routine in a file of its own (or delete the `---` line)",
        id="yaml-two-documents",
    ),
    pytest.param(
        """\
        - say: hi
        - say: ho
        """,
        "routine.yaml:1: expected a group of fields (`title: ...`, `steps: ...`) at the top level, got a list",
        id="top-level-list",
    ),
    pytest.param(
        "just text\n",
        "routine.yaml:1: expected a group of fields (`title: ...`, `steps: ...`) at the top level, got 'just text'",
        id="top-level-text",
    ),
    pytest.param(
        "", "routine.yaml:1: the file is empty; a routine needs at least `title` and `steps`", id="empty-file"
    ),
    pytest.param(
        "  \n\n   \n",
        "routine.yaml:1: the file is empty; a routine needs at least `title` and `steps`",
        id="whitespace-only",
    ),
    pytest.param(
        "# nothing yet\n",
        "routine.yaml:1: the file is empty; a routine needs at least `title` and `steps`",
        id="comment-only",
    ),
    # --- required fields
    pytest.param(
        "description: nothing else\n",
        "routine.yaml:1: steps: is required (at least one step)\n"
        "routine.yaml:1: title: is required (the track's title)",
        id="missing-title-and-steps",
    ),
    pytest.param("title: T\nsteps: []\n", "routine.yaml:2: steps: needs at least 1 item, got none", id="steps-empty"),
    pytest.param(
        "title: T\nsteps:\n  - hold: 5s\n",
        "routine.yaml:3: step 1 (steps[0]) → say: is required (the instruction to speak)",
        id="step-without-say",
    ),
    # --- wrong types and values
    pytest.param(
        "title: [a, b]\nsteps:\n  - say: hi\n", "routine.yaml:1: title: expected text, got a list", id="title-list"
    ),
    pytest.param(
        "title: ''\nsteps:\n  - say: hi\n",
        "routine.yaml:1: title: expected text, got an empty string",
        id="title-empty",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    reps: three\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → reps: expected a whole number from 1 to 100, got 'three'",
        id="reps-text",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    reps: 0\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → reps: expected a whole number from 1 to 100, got '0'",
        id="reps-0",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    reps: 101\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → reps: expected a whole number from 1 to 100, got '101'",
        id="reps-101",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    reps: 2.5\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → reps: expected a whole number from 1 to 100, got '2.5'",
        id="reps-fraction",
    ),
    pytest.param(
        "title: T\nvoice:\n  volume: 2\nsteps:\n  - say: hi\n",
        "routine.yaml:3: voice.volume: expected a number from 0.1 to 1.0, got '2'",
        id="volume-2",
    ),
    pytest.param(
        "title: T\nvoice:\n  rate: fast\nsteps:\n  - say: hi\n",
        "routine.yaml:3: voice.rate: expected a whole number from 60 to 450, got 'fast'; it is words per minute: "
        "150 is the usual pace, `rate: 120` slower, `rate: 180` faster",
        id="rate-text",
    ),
    pytest.param(
        "title: T\nvoice: [a]\nsteps:\n  - say: hi\n",
        "routine.yaml:2: voice: expected a group of fields (`key: value` lines), got a list",
        id="voice-list",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: forever\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → hold: expected a duration like 30s, 1m30s, 500ms or '
        "1:30, got 'forever'",
        id="hold-forever",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 0\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → hold: must be more than 0, got '0'",
        id="hold-0",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: -5s\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → hold: must be more than 0, got '-5s'",
        id="hold-negative",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold:\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → hold: expected a duration like 30s, 1m30s, 500ms or 1:30, '
        "got nothing",
        id="hold-empty",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 5h\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → hold: must be at most 4h, got '5h'",
        id="hold-over-4h",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 1e999999999\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → hold: expected a duration like 30s, 1m30s, 500ms or '
        "1:30, got '1e999999999'",
        id="hold-huge-exponent",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    rest: -1s\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → rest: must be at least 0 s, got '-1s'",
        id="rest-negative",
    ),
    pytest.param(
        "title: T\ndefaults:\n  rest: -1s\nsteps:\n  - say: hi\n",
        "routine.yaml:3: defaults.rest: must be at least 0 s, got '-1s'",
        id="default-rest-negative",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    sides: []\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → sides: expected at least one side label, got an empty list',
        id="sides-empty",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    sides: [left, left]\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → sides: lists a side twice: ['left', 'left']",
        id="sides-duplicate",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    sides: [Left, left]\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → sides: lists a side twice: ['Left', 'left']",
        id="sides-duplicate-by-case",
    ),
    pytest.param(
        'title: T\nsteps:\n  - say: Press your knee.\n    sides: ""\n',
        'routine.yaml:4: step 1 "Press your knee" (steps[0]) → sides: expected text, got an empty string',
        id="sides-empty-string",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Press your knee.\n    sides: [right, ' ']\n",
        'routine.yaml:4: step 1 "Press your knee" (steps[0]) → sides: expected text, got an empty string',
        id="sides-blank-label",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: Press your knee.\n    sides: [right, '--']\n",
        'routine.yaml:4: step 1 "Press your knee" (steps[0]) → sides: '
        "expected text with at least one letter or digit, got '--'",
        id="sides-label-without-letters",
    ),
    pytest.param(
        "title: T\nphrases:\n  sides: [Left, left]\nsteps:\n  - say: hi {side}\n    sides: both\n",
        "routine.yaml:3: phrases.sides: lists a side twice: ['Left', 'left']",
        id="phrases-sides-duplicate",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: '...'\n",
        "routine.yaml:3: step 1 (steps[0]) → say: expected text with at least one letter or digit, got '...'",
        id="say-only-dots",
    ),
    pytest.param(
        "title: '!?'\nsteps:\n  - say: hi\n",
        "routine.yaml:1: title: expected text with at least one letter or digit, got '!?'",
        id="title-only-punctuation",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 10s\n    cues:\n      - at: 1s\n        say: '\u3000\u00a0'\n",
        'routine.yaml:7: step 1 "hi" (steps[0]) → cues[0].say: expected text, got an empty string',
        id="cue-unicode-whitespace",
    ),
    pytest.param(
        "title: T\nintro: '- - -'\nsteps:\n  - say: hi\n",
        "routine.yaml:2: intro: expected text with at least one letter or digit, got '- - -'",
        id="intro-dashes",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    release: '.'\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → release: expected text with at least one letter or digit, got '.'",
        id="release-dot",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    sides: {a: 1}\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → sides: expected `both`, one side label, or a list of side '
        "labels like [right, left], got a group of fields",
        id="sides-mapping",
    ),
    pytest.param(
        "title: T\nvoice:\n  engine: espeak\nsteps:\n  - say: hi\n",
        "routine.yaml:3: voice.engine: expected one of [auto, pyttsx3, espeak-ng, piper], got 'espeak'; "
        "did you mean 'espeak-ng'?",
        id="engine-unknown",
    ),
    pytest.param(
        "title: T\nlanguage: xx\nsteps:\n  - say: hi\n",
        "routine.yaml:2: language: expected one of [de, en, es, fr, it, nl, pt], got 'xx'",
        id="language-unknown",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 10s\n    cues: x\n",
        "routine.yaml:5: step 1 \"hi\" (steps[0]) → cues: expected a list of groups of fields, got 'x'",
        id="cues-not-a-list",
    ),
    # --- unknown and duplicate keys
    pytest.param(
        "title: T\nautor: Me\nsteps:\n  - say: hi\n",
        "routine.yaml:2: autor: unknown field 'autor'; did you mean 'author'?",
        id="unknown-top-level",
    ),
    pytest.param(
        "title: T\nzzz: x\nsteps:\n  - say: hi\n",
        "routine.yaml:2: zzz: unknown field 'zzz'; expected one of "
        "[title, description, author, album, cover, language, voice, defaults, intro, outro, steps, "
        "sounds, background, variants, phrases]",
        id="unknown-top-level-no-match",
    ),
    pytest.param(  # a paragraph pasted where a field name belongs (a colon in the text made it a key)
        "title: T\nsteps:\n  - say: hi\n    " + "Breathe out slowly " * 10 + "and rest: 2s\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → Breathe out slowly Breathe out slowly B…: '
        "unknown field 'Breathe out slowly Breathe out slowly B…'; expected one of "
        "[name, say, sides, hold, reps, rest, again, release, switch, countdown, cues, pause, chime, remaining, "
        "count_reps, count, image, wait, voice]",
        id="unknown-long-key-cut-short",
    ),
    pytest.param(
        "title: T\nvoice:\n  rte: 100\nsteps:\n  - say: hi\n",
        "routine.yaml:3: voice.rte: unknown field 'rte'; did you mean 'rate'?",
        id="unknown-voice",
    ),
    pytest.param(
        "title: T\ndefaults:\n  pasue: 1s\nsteps:\n  - say: hi\n",
        "routine.yaml:3: defaults.pasue: unknown field 'pasue'; did you mean 'pause'?",
        id="unknown-defaults",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hodl: 5s\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → hodl: unknown field 'hodl'; did you mean 'hold'?",
        id="unknown-step",
    ),
    pytest.param(
        """\
        title: T
        steps:
          - say: hi
            hold: 10s
            cues:
              - at: 1s
                sya: x
        """,
        "routine.yaml:7: step 1 \"hi\" (steps[0]) → cues[0].sya: unknown field 'sya'; did you mean 'say'?",
        id="unknown-cue",
    ),
    pytest.param(
        "title: T\n[a]: 1\nsteps:\n  - say: hi\n",
        "routine.yaml:2: keys must be plain words like `hold`",
        id="key-not-a-word",
    ),
    pytest.param(
        "title: T\ntitle: U\nsteps:\n  - say: hi\n",
        "routine.yaml:2: title: appears twice (first on line 1); keep one",
        id="duplicate-top-level",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    say: ho\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → say: appears twice (first on line 3); did you forget `- ` to '
        "start a new step?\n  fix: start the step on line 4 with `- `, lined up with the `- ` of the step above it",
        id="duplicate-in-step",
    ),
    # --- placeholders
    pytest.param(
        "title: T\nsteps:\n  - say: hi {sied}\n    sides: both\n",
        'routine.yaml:3: step 1 "hi" (steps[0]) → say: unknown placeholder {sied}; did you mean {side}?',
        id="placeholder-typo-side",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    reps: 2\n    again: again {repz}\n",
        'routine.yaml:5: step 1 "hi" (steps[0]) → again: unknown placeholder {repz}; did you mean {rep}?',
        id="placeholder-typo-rep",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi {zzz}\n",
        'routine.yaml:3: step 1 "hi" (steps[0]) → say: unknown placeholder {zzz}; placeholders available '
        "here: {rep}, {reps}",
        id="placeholder-unknown",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi {side}\n",
        'routine.yaml:3: step 1 "hi" (steps[0]) → say: uses {side}, but this step has no `sides`',
        id="side-without-sides",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 10s\n    cues:\n      - at: 1s\n        say: x {side}\n",
        'routine.yaml:7: step 1 "hi" (steps[0]) → cues[0].say: uses {side}, but this step has no `sides`',
        id="side-in-cue-without-sides",
    ),
    pytest.param(
        "title: T\nintro: rep {rep}\nsteps:\n  - say: hi\n",
        "routine.yaml:2: intro: uses {rep}; placeholders are only filled in a step's spoken texts",
        id="rep-in-intro",
    ),
    pytest.param(
        "title: T\noutro: bye {side}\nsteps:\n  - say: hi\n",
        "routine.yaml:2: outro: uses {side}; placeholders are only filled in a step's spoken texts",
        id="side-in-outro",
    ),
    # --- countdowns and cues against the hold
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 3s\n    countdown: 5\n",
        'routine.yaml:5: step 1 "hi" (steps[0]) → countdown: a countdown of 5 needs a hold of at least 5 s; '
        "this hold is 3 s",
        id="countdown-longer-than-hold",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    countdown: 3\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → countdown: a countdown of 3 needs a hold of at least 3 s; '
        "this step has no `hold`",
        id="countdown-without-hold",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    cues:\n      - at: 1s\n        say: x\n",
        'routine.yaml:5: step 1 "hi" (steps[0]) → cues: cues are spoken inside a hold; add `hold`',
        id="cues-without-hold",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 10s\n    cues:\n      - at: 20s\n        say: x\n",
        'routine.yaml:6: step 1 "hi" (steps[0]) → cues[0].at: falls outside its 10 s hold; '
        "use a time from 0 s to just under 10 s, or a negative time counted back from the end",
        id="cue-after-hold",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 10s\n    cues:\n      - at: -20s\n        say: x\n",
        'routine.yaml:6: step 1 "hi" (steps[0]) → cues[0].at: falls outside its 10 s hold; '
        "use a time from 0 s to just under 10 s, or a negative time counted back from the end",
        id="cue-before-hold",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 10s\n    cues:\n      - at: forever\n        say: x\n",
        'routine.yaml:6: step 1 "hi" (steps[0]) → cues[0].at: expected `half`, a duration like 10s, or -10s '
        "(counted back from the end), got 'forever'",
        id="cue-at-forever",
    ),
    # --- unsafe or oversized documents
    pytest.param(
        'title: T\nsteps:\n  - say: !!python/object/apply:os.system ["echo hi"]\n',
        "routine.yaml:3: YAML tag '!!python/object/apply:os.system' is not allowed: "
        "a routine holds plain text, numbers, lists and groups of fields",
        id="python-tag",
    ),
    pytest.param(
        BILLION_LAUGHS,
        "routine.yaml:6: the limit is 20,000 values; this file passes it on this line "
        "(its YAML aliases, *name, repeat large parts of it)",
        id="alias-bomb",
    ),
    pytest.param(
        "title: T\nsteps:\n" + "  - say: hi\n" * 10_000,
        "routine.yaml:6668: the limit is 20,000 values; this file passes it on this line",
        id="many-values-without-aliases",
    ),
    pytest.param(
        "title: T\nsteps: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "routine.yaml:2: the limit is 32 lists and mappings inside each other; this file nests 33 here",
        id="deep-flow",
    ),
    pytest.param(
        "title: T\nsteps:\n" + "".join(" " * i + "- x:\n" for i in range(0, 200, 2)),
        "routine.yaml:18: the limit is 32 lists and mappings inside each other; this file nests 33 here",
        id="deep-block",
    ),
    pytest.param(
        "a0: &a0 [x]\n"
        + "".join(f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]\n" for i in range(1, 5))
        + "title: T\nsteps:\n  - say: hi\n",
        "routine.yaml:5: the limit is 32 lists and mappings inside each other; this file nests 42 here",
        id="deep-through-aliases",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    reps: " + "9" * 5_000 + "\n",
        'routine.yaml:4: step 1 "hi" (steps[0]) → reps: '
        "expected a whole number from 1 to 100, got '" + "9" * 37 + "...'",
        id="huge-integer",
    ),
    pytest.param(
        "title: T\nsteps:\n  - &a {say: hi}\n  - <<: *a\n    hold: 1s\n",
        "routine.yaml:4: YAML merge keys (<<) are not supported; write the fields out in full",
        id="merge-key",
    ),
    pytest.param(
        expanding_to(20_001),
        "routine.yaml:7: the limit is 20,000 values; this file passes it on this line "
        "(its YAML aliases, *name, repeat large parts of it)",
        id="values-one-over",
    ),
    # --- each limit one past its edge (test_limits_at_their_edges_are_accepted: at the edge)
    pytest.param(
        "title: T\nsteps:\n  - {name: " + "n" * 201 + ", say: hi}\n",
        'routine.yaml:3: step 1 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn..." (steps[0]) → name: '
        "text is 201 characters long; keep it to 200 at most "
        "(split a long instruction into several steps)",
        id="name-201-characters",
    ),
    pytest.param(
        "title: T\nsteps:\n  - {say: hi, hold: 30s, countdown: 21}\n",
        "routine.yaml:3: step 1 \"hi\" (steps[0]) → countdown: expected a whole number from 0 to 20, got '21'",
        id="countdown-21",
    ),
    pytest.param(
        "title: T\nvoice: {rate: 451}\nsteps:\n  - {say: hi}\n",
        "routine.yaml:2: voice.rate: expected a whole number from 60 to 450, got '451'",
        id="rate-451",
    ),
    pytest.param(
        "title: T\nvoice: {rate: 59}\nsteps:\n  - {say: hi}\n",
        "routine.yaml:2: voice.rate: expected a whole number from 60 to 450, got '59'",
        id="rate-59",
    ),
    pytest.param(
        "title: T\nsteps: &steps\n  - say: hi\n  - *steps\n",
        "routine.yaml:4: a YAML alias refers to itself (*steps is inside &steps, line 2)",
        id="recursive-alias",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: " + "a" * 1_000_000 + "\n",
        "routine.yaml: the limit is 1,000,000 bytes (1 MB); this file has 1,000,026",
        id="file-over-1mb",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: " + "a" * 3_000 + "\n",
        'routine.yaml:3: step 1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." (steps[0]) → say: '
        "text is 3,000 characters long; keep it to 2,000 at most "
        "(split a long instruction into several steps)",
        id="say-too-long",
    ),
    pytest.param(
        "title: T\nsteps:\n" + "  - say: hi\n" * 501,
        "routine.yaml:3: steps: has 501 items; the limit is 500",
        id="too-many-steps",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    reps: 100\n    hold: 3h\n",
        "routine.yaml:3: steps: holds, rests and pauses alone last 300h4m59s; "
        "the limit for one track is 4h (split it into several routines, or allow more with --max-length)",
        id="total-over-4h",
    ),
    # --- absurd sizes, rejected while loading (before any synthesis)
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    reps: 100000\n",
        "routine.yaml:4: step 1 \"hi\" (steps[0]) → reps: expected a whole number from 1 to 100, got '100000'",
        id="reps-100000",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: " + "a" * 999_000 + "\n",
        'routine.yaml:3: step 1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." (steps[0]) → say: '
        "text is 999,000 characters long; keep it to 2,000 at most "
        "(split a long instruction into several steps)",
        id="say-1mb",
    ),
    pytest.param(
        "title: T\nsteps:\n" + "  - {say: hi, hold: 30m}\n" * 9,
        "routine.yaml:3: steps: holds, rests and pauses alone last 4h30m18s; "
        "the limit for one track is 4h (split it into several routines, or allow more with --max-length)",
        id="total-over-4h-in-steps",
    ),
    pytest.param(
        "title: T\ndefaults: {pause: 1h}\nsteps:\n" + "  - say: hi\n" * 5,
        "routine.yaml:4: steps: holds, rests and pauses alone last 5h; "
        "the limit for one track is 4h (split it into several routines, or allow more with --max-length)",
        id="total-over-4h-in-pauses",
    ),
    pytest.param(
        "title: T\nsteps:\n  - {say: 'hi {side}', sides: [a, b, c, d, e, f, g, h, i, j], reps: 100, hold: 15s}\n",
        "routine.yaml:3: steps: holds, rests and pauses alone last 4h59m59s; "
        "the limit for one track is 4h (split it into several routines, or allow more with --max-length)",
        id="total-over-4h-sides-times-reps",
    ),
    # --- every kind of tag is refused, wherever it is
    pytest.param(
        "title: !!python/name:os.system T\nsteps:\n  - say: hi\n",
        "routine.yaml:1: YAML tag '!!python/name:os.system' is not allowed: "
        "a routine holds plain text, numbers, lists and groups of fields",
        id="python-name-tag",
    ),
    pytest.param(
        "title: T\nsteps:\n  - !!python/object/new:subprocess.Popen [[ls]]\n",
        "routine.yaml:3: YAML tag '!!python/object/new:subprocess.Popen' is not allowed: "
        "a routine holds plain text, numbers, lists and groups of fields",
        id="python-object-new-tag",
    ),
    pytest.param(
        "title: T\n? !!python/object/apply:os.system [ls]\n: 1\nsteps:\n  - say: hi\n",
        "routine.yaml:2: YAML tag '!!python/object/apply:os.system' is not allowed: "
        "a routine holds plain text, numbers, lists and groups of fields",
        id="python-tag-as-key",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: !shell rm -rf ~\n",
        "routine.yaml:3: YAML tag '!shell' is not allowed: a routine holds plain text, numbers, lists and "
        "groups of fields",
        id="local-tag",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: !!binary aGVsbG8=\n",
        "routine.yaml:3: YAML tag '!!binary' is not allowed: a routine holds plain text, numbers, lists and "
        "groups of fields",
        id="binary-tag",
    ),
    # --- duplicate keys at every level (never silently last-wins)
    pytest.param(
        "title: T\n'title': U\nsteps:\n  - say: hi\n",
        "routine.yaml:2: title: appears twice (first on line 1); keep one",
        id="duplicate-quoted-key",
    ),
    pytest.param(
        "title: T\nvoice:\n  rate: 120\n  rate: 200\nsteps:\n  - say: hi\n",
        "routine.yaml:4: voice.rate: appears twice (first on line 3); keep one",
        id="duplicate-in-voice",
    ),
    pytest.param(
        "title: T\nsteps:\n  - say: hi\n    hold: 10s\n    cues:\n      - {at: 1s, say: a, at: 2s}\n",
        'routine.yaml:6: step 1 "hi" (steps[0]) → cues[0].at: appears twice (first on line 6); keep one',
        id="duplicate-in-cue",
    ),
    pytest.param(
        'title: "\\ud83d"\nsteps:\n  - say: hi\n',
        "routine.yaml:1: has a \\u escape that is half of a character (a lone surrogate); write the character itself",
        id="lone-surrogate-escape",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_routine(write_routine: WriteRoutine, text: str, expected: str) -> None:
    """Each bad input gives exactly this message (the path shown as ``routine.yaml``)."""
    path = write_routine(text)
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert str(caught.value).replace(str(path), "routine.yaml") == expected


def test_total_over_4h_is_refused(write_routine: WriteRoutine) -> None:
    """The four-hour limit holds whatever the wording of its message."""
    path = write_routine("title: T\nsteps:\n  - say: hi\n    reps: 100\n    hold: 3h\n")
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    ((line, field, message),) = [(p.line, p.field, p.message) for p in caught.value.problems]
    assert (line, field) == (3, "steps")
    assert "the limit for one track is" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"title: T\nsteps:\n  - say: caf\xe9\n", "routine.yaml:3: is not UTF-8 text (byte 0xe9); save it as UTF-8"),
        (b"title: T\x00\nsteps:\n  - say: hi\n", "routine.yaml: is a binary file, not a YAML routine"),
    ],
    ids=["not-utf8", "binary"],
)
def test_bad_bytes(tmp_path: Path, data: bytes, expected: str) -> None:
    """Files that are not UTF-8 text are refused before YAML sees them."""
    path = tmp_path / "routine.yaml"
    path.write_bytes(data)
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert str(caught.value).replace(str(path), "routine.yaml") == expected


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path: Path, encoding: str) -> None:
    """Windows editors save "Unicode" as UTF-16 with a byte order mark; YAML allows it."""
    path = tmp_path / "routine.yaml"
    path.write_bytes(("\ufeff" + MINIMAL.replace("Test", "Café")).encode(encoding))
    assert load_routine(path).title == "Café"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (MINIMAL.encode("utf-16-le"), "routine.yaml: is a binary file, not a YAML routine"),
        (b"\xff\xfe" + b"t\x00\x00\xd8", "routine.yaml: starts like UTF-16 text but is not; save it as UTF-8"),
        (b"\xff\xfet\x00\x00\x00", "routine.yaml: is a binary file, not a YAML routine"),
    ],
    ids=["utf16-without-bom", "broken-utf16", "utf16-with-nul"],
)
def test_bad_wide_text(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "routine.yaml"
    path.write_bytes(data)
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert str(caught.value).replace(str(path), "routine.yaml") == expected


def test_named_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    """Opening a FIFO for reading would wait for a writer forever; it is refused at once."""
    path = tmp_path / "routine.yaml"
    os.mkfifo(path)
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert caught.value.problems == (
        Problem(str(path), None, "", "is not a regular file (a pipe, socket or device); name a .yaml file"),
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_endless_device_is_refused() -> None:
    """/dev/zero never ends; it is refused before anything is read."""
    with pytest.raises(RoutineError) as caught:
        load_routine("/dev/zero")
    assert caught.value.problems == (
        Problem("/dev/zero", None, "", "is not a regular file (a pipe, socket or device); name a .yaml file"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "title: T\nsteps:\n" + "- a\n" * 249_000,
        "title: T\nsteps: [" + "a," * 499_000 + "]\n",
        "title: T\nsteps: " + "[" * 499_000 + "]" * 499_000 + "\n",
    ],
    ids=["many-lines", "long-flow-list", "deep"],
)
def test_limits_are_enforced_while_parsing(
    write_routine: WriteRoutine, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """A 1 MB file over a limit is refused from the parser's events: no node is ever built."""

    def no_nodes(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("nodes were built before the limits were checked")

    monkeypatch.setattr(yaml, "compose", no_nodes)
    path = write_routine(text)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(RoutineError, match="the limit is"):
        load_routine(path)


def test_json_style_surrogate_escapes_become_one_character(write_routine: WriteRoutine) -> None:
    """``"\\ud83d\\ude42"`` is how JSON writes 🙂; PyYAML alone leaves two halves no engine can encode."""
    path = write_routine('title: "Smile \\ud83d\\ude42"\nsteps:\n  - say: hi\n')
    assert load_routine(path).title == "Smile 🙂"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    """A UTF-8 byte order mark (as some editors write) is not part of the title."""
    path = tmp_path / "routine.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_routine(path).title == "Test"


def test_directory(tmp_path: Path) -> None:
    """A folder is not a routine."""
    with pytest.raises(RoutineError) as caught:
        load_routine(tmp_path)
    assert caught.value.problems == (
        Problem(str(tmp_path), None, "", "is a folder, not a routine file; name the .yaml file inside it"),
    )


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert caught.value.problems == (Problem(str(path), None, "", "no such file"),)


def test_unreadable_file(write_routine: WriteRoutine) -> None:
    """A file without read permission."""
    path = write_routine(MINIMAL)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user can read files whatever their permissions (root)")
        with pytest.raises(RoutineError) as caught:
            load_routine(path)
    finally:
        path.chmod(0o644)
    assert caught.value.problems == (
        Problem(str(path), None, "", "cannot be read (permission denied); check the file's permissions"),
    )


def test_all_problems_reported_together(write_routine: WriteRoutine) -> None:
    """Problems in different parts of one file all come back at once, sorted by line."""
    path = write_routine(
        """\
        title: [x]
        voice:
          rate: fast
        steps:
          - say: hi
            hold: forever
          - say: ho {zz}
        """
    )
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (1, "title"),
        (3, "voice.rate"),
        (6, "steps[0].hold"),
        (7, "steps[1].say"),
    ]


def test_yaml_error_points_at_the_unclosed_bracket(write_routine: WriteRoutine) -> None:
    """An unclosed `[` is reported where it opens, not at the end of the file (line 4)."""
    path = write_routine("title: T\nsteps:\n  - say: [unclosed\n")
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    (problem,) = caught.value.problems
    assert problem.line == 3
    assert "this `[` is not closed" in problem.message
    assert problem.fix.startswith("end it with `]`")


def test_inherited_side_placeholder_is_reported_per_step_that_cannot_fill_it(write_routine: WriteRoutine) -> None:
    """`defaults.again` with {side} is fine; each step without sides that inherits it is named."""
    path = write_routine(
        """\
        title: T
        defaults:
          again: Again, {side}.
        steps:
          - say: hi
            reps: 2
          - say: ho
            reps: 2
          - say: "Go {side}."
            sides: both
            reps: 2
        """
    )
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(5, "steps[0].again"), (7, "steps[1].again")]


SOUND_DESIGN = """\
    title: T
    defaults: {chime: end, remaining: [30s, 10s], count_reps: true}
    voice: {engine: espeak-ng, name: en-gb, rate: 160}
    steps:
      - say: Hold.
        hold: 20s
        reps: 2
      - say: Breathe.
        hold: 40s
        count: 8
        chime: both
        remaining: [20s]
        count_reps: false
        voice: {rate: 110, volume: 0.7}
      - say: Rest.
        chime: start
    """


def test_sound_design_fields_land_in_the_model(write_routine: WriteRoutine) -> None:
    """Defaults are inherited; a step's own values win; a step voice fills its gaps from the routine's."""
    first, second, third = load_routine(write_routine(SOUND_DESIGN)).steps
    assert (first.chimes, first.remaining, first.count_reps, first.count, first.countdown, first.voice) == (
        ("end",),
        (10_000,),  # 30 s does not fit in the 20 s hold
        True,
        0,
        3,
        None,
    )
    assert (second.chimes, second.remaining, second.count_reps, second.count, second.countdown) == (
        ("start", "end"),
        (20_000,),
        False,
        8,
        0,  # counting replaces the countdown
    )
    assert second.voice == Voice(engine="espeak-ng", name="en-gb", rate=110, volume=0.7)
    assert (third.chimes, third.count_reps) == ((), False)  # no hold, no chime; one rep, no rep count


def test_sounds_are_found_next_to_the_routine(write_routine: WriteRoutine, tmp_path: Path) -> None:
    (tmp_path / "bell.wav").write_bytes(b"RIFF")
    routine = load_routine(write_routine("title: T\nsounds: {start: bell.wav}\nsteps:\n  - say: hi\n"))
    assert (routine.sounds.start, routine.sounds.end) == (tmp_path / "bell.wav", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "title: T\ndefaults: {chime: ding}\nsteps:\n  - say: hi\n",
            "routine.yaml:2: defaults.chime: expected one of [start, end, both, none], got 'ding'",
            id="chime-unknown",
        ),
        pytest.param(
            "title: T\nsteps:\n  - say: hi\n    hold: 5s\n    count: 6\n",
            'routine.yaml:5: step 1 "hi" (steps[0]) → count: counting to 6 needs a hold of at least 6 s; this '
            "hold is 5 s",
            id="count-too-long",
        ),
        pytest.param(
            "title: T\nsteps:\n  - say: hi\n    hold: 5s\n    count: 5\n    countdown: 2\n",
            'routine.yaml:6: step 1 "hi" (steps[0]) → countdown: use either `count` or `countdown`',
            id="count-and-countdown",
        ),
        pytest.param(
            "title: T\nsteps:\n  - say: hi\n    hold: 5s\n    count: 61\n",
            "routine.yaml:5: step 1 \"hi\" (steps[0]) → count: expected a whole number from 1 to 60, got '61'",
            id="count-over-60",
        ),
        pytest.param(
            "title: T\ndefaults: {remaining: [1.5s]}\nsteps:\n  - say: hi\n",
            "routine.yaml:2: defaults.remaining[0]: expected whole seconds like 30s or 1m, got '1.5s'",
            id="remaining-not-whole",
        ),
        pytest.param(
            "title: T\nsteps:\n  - say: hi\n    remaining: [1s]\n",
            "routine.yaml:4: step 1 \"hi\" (steps[0]) → remaining[0]: expected whole seconds like 30s or 1m, got '1s'",
            id="remaining-under-2s",
        ),
        pytest.param(
            "title: T\ndefaults: {count_reps: yes please}\nsteps:\n  - say: hi\n",
            "routine.yaml:2: defaults.count_reps: expected true or false, got 'yes please'",
            id="count-reps-not-a-flag",
        ),
        pytest.param(
            "title: T\nsounds: {start: nowhere.wav, ding: x.wav}\nsteps:\n  - say: hi\n",
            "routine.yaml:2: sounds.ding: unknown field 'ding'; expected one of [start, end]\n"
            "routine.yaml:2: sounds.start: no such audio file 'nowhere.wav' (a path from the routine's folder)",
            id="sounds-missing",
        ),
        pytest.param(
            "title: T\nbackground: {noise: pink, file: rain.mp3}\nsteps:\n  - say: hi\n",
            "routine.yaml:2: background: give either `file` or `noise` (pink or brown)",
            id="background-file-and-noise",
        ),
        pytest.param(
            "title: T\nbackground: {volume: -20dB}\nsteps:\n  - say: hi\n",
            "routine.yaml:2: background: give either `file` or `noise` (pink or brown)",
            id="background-neither",
        ),
        pytest.param(
            "title: T\nbackground: {noise: white, volume: loud, duck: 6dB}\nsteps:\n  - say: hi\n",
            "routine.yaml:2: background.duck: expected a level in dB from -60dB to 0dB, like -20dB, got '6dB'\n"
            "routine.yaml:2: background.noise: expected one of [pink, brown], got 'white'\n"
            "routine.yaml:2: background.volume: expected a level in dB from -60dB to 0dB, like -20dB, got 'loud'",
            id="background-bad-values",
        ),
        pytest.param(
            "title: T\nbackground:\n  file: rain.mp3\nsteps:\n  - say: hi\n",
            "routine.yaml:3: background.file: no such audio file 'rain.mp3' (a path from the routine's folder)",
            id="background-missing-file",
        ),
        pytest.param(
            'title: T\nphrases: {remaining: "Almost there.", rep: "Round {rep}, {side}."}\nsteps:\n  - say: hi\n',
            "routine.yaml:2: phrases.remaining: must say where the numbers go: add {n}\n"
            "routine.yaml:2: phrases.rep: uses {side}; placeholders are only filled in a step's spoken texts\n"
            "routine.yaml:2: phrases.rep: must say where the numbers go: add {reps}",
            id="phrases-placeholders",
        ),
        pytest.param(
            'title: T\nphrases: {remaining_minutes: "Minutes left.", remaining_minute: "{n} minute."}\n'
            "steps:\n  - say: hi\n",
            "routine.yaml:2: phrases.remaining_minute: unknown placeholder {n}; placeholders available here: none\n"
            "routine.yaml:2: phrases.remaining_minutes: must say where the numbers go: add {n}",
            id="phrases-minute-placeholders",
        ),
        pytest.param(
            "title: T\nphrases: {sides: [port]}\nsteps:\n  - say: hi\n",
            "routine.yaml:2: phrases.sides: needs at least 2 items, got none",
            id="phrases-one-side",
        ),
        pytest.param(
            "title: T\nsteps:\n  - say: hi\n    voice: {rat: 100}\n",
            "routine.yaml:4: step 1 \"hi\" (steps[0]) → voice.rat: unknown field 'rat'; did you mean 'rate'?",
            id="step-voice-typo",
        ),
    ],
)
def test_bad_sound_design(write_routine: WriteRoutine, text: str, expected: str) -> None:
    path = write_routine(text)
    with pytest.raises(RoutineError) as caught:
        load_routine(path)
    assert str(caught.value).replace(str(path), "routine.yaml") == expected


@pytest.mark.parametrize(
    ("background", "expected"),
    [
        ("{noise: brown}", Background(noise="brown", volume_db=-30.0, duck_db=-12.0)),
        ("{noise: pink, volume: -20dB, duck: -15 dB}", Background(noise="pink", volume_db=-20.0, duck_db=-15.0)),
        ("{noise: pink, volume: -25.5}", Background(noise="pink", volume_db=-25.5, duck_db=-12.0)),
    ],
)
def test_background(write_routine: WriteRoutine, background: str, expected: Background) -> None:
    routine = load_routine(write_routine(f"title: T\nbackground: {background}\nsteps:\n  - say: hi\n"))
    assert routine.background == expected


def test_limits_at_their_edges_are_accepted(write_routine: WriteRoutine) -> None:
    """The largest (and smallest) values the limits allow load: docs/security.md's table, to the edge."""
    edge = load_routine(write_routine(expanding_to(20_000)))
    assert (len(edge.steps), len(edge.steps[0].cues)) == (4, 998)
    routine = load_routine(
        write_routine(
            "title: " + "t" * 200 + "\nvoice: {rate: 450}\nsteps:\n"
            "  - {name: " + "n" * 200 + ", say: hi, hold: 30s, countdown: 20, voice: {rate: 60}}\n"
        )
    )
    step = routine.steps[0]
    assert (len(routine.title), len(step.name), step.countdown) == (200, 200, 20)
    assert (routine.voice.rate, step.voice.rate if step.voice else None) == (450, 60)
