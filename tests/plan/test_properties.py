"""Properties of the loader and the timeline, over many generated routines (hypothesis).

The timeline is pure, so speech gets made-up lengths (``fake_length``) and no engine runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import string
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_loader import ROUTINES, check, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_timeline import RATE, fake_length

from voiceguide.errors import RoutineError
from voiceguide.model import Routine
from voiceguide.plan.script import EventKind, Role, script, utterances
from voiceguide.plan.timeline import Timeline, schedule, to_samples
from voiceguide.routine.build import load_routine

from conftest import DEEP, examples

FAST = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])

words = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
sentences = st.lists(words, min_size=1, max_size=4).map(lambda w: " ".join(w) + ".")
durations_ms = st.integers(100, 5_000)


@st.composite
def steps(draw: st.DrawFn) -> dict[str, Any]:
    step: dict[str, Any] = {"say": draw(sentences)}
    sides = draw(st.one_of(st.none(), st.just("both"), st.lists(words, min_size=1, max_size=3, unique_by=str.casefold)))
    if sides is not None:
        step["sides"] = sides
        step["say"] = "Now your {side} side. " + step["say"]
    if draw(st.booleans()):
        step["reps"] = draw(st.integers(1, 4))
    for field in ("again", "release"):
        if draw(st.booleans()):
            step[field] = draw(sentences) + " Rep {rep} of {reps}."
    for field in ("rest", "pause"):
        if draw(st.booleans()):
            step[field] = f"{draw(durations_ms)}ms"
    if draw(st.booleans()):
        countdown = draw(st.integers(0, 4))
        cues = draw(st.integers(0, 2))
        # room for the countdown's seconds (or the default's, up to 5) and a second for each cue;
        # speech is 10 ms a character
        hold_ms = draw(st.integers((max(countdown, 5 if cues else 0) + cues) * 1_000 + 500, 20_000))
        step["hold"] = f"{hold_ms}ms"
        if draw(st.booleans()):
            step["countdown"] = countdown
        if cues:
            # a second apart, so that they fit whatever the speech lengths
            offsets = [1_000 * i + draw(st.integers(0, 500)) for i in range(cues)]
            ats = [draw(st.sampled_from([f"{ms}ms", f"-{hold_ms - ms}ms"])) for ms in offsets]
            if cues == 1 and draw(st.booleans()):
                ats = ["half"]
            step["cues"] = [{"at": at, "say": draw(sentences)} for at in ats]
    return step


@st.composite
def routines(draw: st.DrawFn) -> dict[str, Any]:
    routine: dict[str, Any] = {"title": draw(sentences), "steps": draw(st.lists(steps(), min_size=1, max_size=4))}
    defaults = {}
    for field in ("pause", "rest"):
        if draw(st.booleans()):
            defaults[field] = f"{draw(durations_ms)}ms"
    if draw(st.booleans()):
        defaults["countdown"] = draw(st.integers(0, 5))  # shortened to fit short holds, never an error
    if defaults:
        routine["defaults"] = defaults
    for field in ("intro", "outro"):
        if draw(st.booleans()):
            routine[field] = draw(sentences)
    return routine


@contextmanager
def routine_file(content: str | bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "routine.yaml"
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        yield path


def load(document: dict[str, Any]) -> Routine:
    with routine_file(yaml.safe_dump(document, allow_unicode=True)) as path:
        return load_routine(path)


def timeline_of(routine: Routine) -> Timeline:
    items = script(routine)
    return schedule(routine, items, {u: fake_length(u.text) for u in utterances(items)}, RATE)


@FAST
@given(routines())
def test_events_are_contiguous_and_overlays_stay_inside_their_hold(document: dict[str, Any]) -> None:
    timeline = timeline_of(load(document))
    sequence = [e for e in timeline.events if not e.overlay]
    assert sequence[0].start == 0
    for before, after in pairwise(sequence):
        assert after.start == before.end
    assert sequence[-1].end == timeline.duration
    holds = [e for e in sequence if e.kind is EventKind.HOLD]
    for hold in holds:
        inside = [e for e in timeline.events if e.overlay and hold.start <= e.start < hold.end]
        assert all(e.end <= hold.end and e.where == hold.where for e in inside)
        for before, after in pairwise(inside):
            assert before.end <= after.start  # overlays never talk over each other
    in_some_hold = sum(e.overlay for e in timeline.events)
    assert in_some_hold == sum(1 for h in holds for e in timeline.events if e.overlay and h.start <= e.start < h.end)


@FAST
@given(routines())
def test_holds_last_exactly_their_declared_length(document: dict[str, Any]) -> None:
    routine = load(document)
    timeline = timeline_of(routine)
    for step in routine.steps:
        holds = [e for e in timeline.events if e.kind is EventKind.HOLD and e.where.step == step.number]
        assert len(holds) == (step.hold_ms > 0) * max(len(step.sides), 1) * step.reps
        assert {h.duration for h in holds} <= {to_samples(step.hold_ms, RATE)}


@FAST
@given(routines())
def test_switch_prompts_and_reps_are_counted_as_declared(document: dict[str, Any]) -> None:
    routine = load(document)
    timeline = timeline_of(routine)
    for step in routine.steps:
        sides = max(len(step.sides), 1)
        roles = Counter(e.role for e in timeline.events if e.where.step == step.number)
        assert roles[Role.SWITCH] == sides - 1
        assert roles[Role.SAY] == sides
        assert roles[Role.AGAIN] == sides * (step.reps - 1)
        assert roles[Role.RELEASE] == (sides * step.reps if step.release else 0)
        per_side = Counter(e.where.side for e in timeline.events if e.where.step == step.number and e.role is Role.SAY)
        assert set(per_side.values()) == {1}


def texts(value: object) -> Iterator[str]:
    """Every string inside a loaded routine."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            yield from texts(getattr(value, field.name))
    elif isinstance(value, tuple):
        for item in value:
            yield from texts(item)


def load_or_refuse(content: str | bytes) -> None:
    """The loader's whole contract: a ``Routine`` or a ``RoutineError``, never anything else."""
    with routine_file(content) as path:
        try:
            routine = load_routine(path)
        except RoutineError as err:
            problems = err.problems
        else:
            for text in texts(routine):
                text.encode("utf-8")  # engines and tag writers can take every text (no lone surrogates)
            return
    assert problems
    assert all(p.message for p in problems)


@FAST
@given(st.text())
def test_loader_survives_any_text(text: str) -> None:
    load_or_refuse(text)


@FAST
@given(st.binary())
def test_loader_survives_any_bytes(data: bytes) -> None:
    load_or_refuse(data)


yaml_noise = st.sampled_from(
    [
        "\n",
        "\t",
        " ",
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "&a ",
        "*a",
        "!!python/object:os.system",
        "!x ",
        "'",
        '"',
        "\\ud83d",
        "#",
        "|",
        ">",
        "? ",
        "<<: *a",
        "\x00",
        "\ufeff",
        "{side}",
        "{sied}",
        "-1s",
        "1e999",
        ".nan",
    ]
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routines(), st.data())
def test_loader_survives_mutated_routines(document: dict[str, Any], data: st.DataObject) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 10)))
        text = text[:start] + data.draw(st.one_of(yaml_noise, st.text(max_size=5))) + text[end:]
    load_or_refuse(text)


any_character = st.characters(exclude_categories=["Cc"]) | st.sampled_from(["\ud83d", "\ude42", "🙂"])


@FAST
@given(st.text(any_character, min_size=1), st.text(any_character, min_size=1))
def test_loader_survives_json_style_escapes(title: str, say: str) -> None:
    """JSON is YAML: ``json.dumps`` writes 🙂 as two escaped halves and a lone half as one."""
    load_or_refuse(f"title: {json.dumps(title)}\nsteps:\n  - say: {json.dumps(say)}\n")


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ROUTINES), st.randoms(use_true_random=False))
def test_validate_survives_fuzzed_bundled_routines(path: Path, rng: random.Random) -> None:
    """tests/fuzz_loader.py's mutations, briefly: exit 0 or 2 with a message, never a traceback or a hang."""
    with tempfile.TemporaryDirectory() as folder:
        assert check(mutate(rng, path.read_bytes()), Path(folder)) is None


def test_ci_runs_are_derandomised(request: pytest.FixtureRequest) -> None:
    """CI=true loads the ``ci`` profile (tests/conftest.py): the same examples every run, so a failure reproduces;
    ``--hypothesis-profile deep`` runs each property test DEEP times as long, randomised."""
    chosen = (
        request.config.getoption("--hypothesis-profile")
        or os.environ.get("HYPOTHESIS_PROFILE")
        or ("ci" if os.environ.get("CI") == "true" else "dev")
    )
    assert settings.get_current_profile_name() == chosen
    assert settings.default.derandomize == (chosen == "ci")
    assert FAST.derandomize == (chosen == "ci")  # the tests' own settings keep it
    assert FAST.max_examples == (DEEP if chosen == "deep" else 1) * 60
