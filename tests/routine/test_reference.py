"""The JSON Schema and the docs' field tables, generated from the one declaration, agree with `validate`."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from voiceguide.errors import RoutineError
from voiceguide.model import Voice
from voiceguide.routine.build import load_routine
from voiceguide.routine.fields import DefaultsSchema, RoutineSchema, StepSchema, VoiceSchema
from voiceguide.routine.reference import (
    DOCS_PATH,
    PACKAGED_PATH,
    SCHEMA_PATH,
    SCHEMAS,
    format_reference,
    routine_json_schema,
    schema_text,
    table_names,
)
from voiceguide.routine.reference import update_tables as regenerate
from voiceguide.routine.schema import NO_DEFAULT, block_name

from conftest import ROOT, ROUTINES

BUNDLED = sorted(ROUTINES.glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../schema/routine.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(routine_json_schema())


def schema_errors(validator: Draft202012Validator, text: str) -> list[str]:
    return [error.message for error in validator.iter_errors(yaml.safe_load(text))]


def test_schema_is_valid_under_the_draft_2020_12_meta_schema() -> None:
    schema = routine_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_committed_schema_is_current() -> None:
    committed = (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == schema_text(), f"{SCHEMA_PATH} is stale: run `python -m voiceguide.routine.reference`"


def test_docs_field_tables_are_current() -> None:
    docs = (ROOT / DOCS_PATH).read_text(encoding="utf-8")
    assert docs == regenerate(docs), f"{DOCS_PATH} field tables are stale: run `python -m voiceguide.routine.reference`"
    assert sorted(table_names(docs)) == sorted(block_name(schema) for schema in SCHEMAS), "a block has no table"


def test_every_field_is_described_everywhere() -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, props in node.get("properties", {}).items():
                assert props.get("description"), f"{path}.{key} has no description"
                assert "](" not in props["description"], f"{path}.{key}: a Markdown link reached the editor"
            for key, child in node.items():
                walk(child, f"{path}.{key}")

    schema = routine_json_schema()
    walk(schema, "")
    for block in [schema, *schema["$defs"].values()]:
        assert block["additionalProperties"] is False


def test_declared_defaults_are_what_a_routine_without_them_gets(tmp_path: Path) -> None:
    """`default` in the declaration (and so in the schema and the docs) matches the loader."""
    path = tmp_path / "bare.yaml"
    path.write_text("title: T\nsteps:\n  - say: Breathe {side}.\n    sides: both\n    hold: 10s\n", encoding="utf-8")
    routine = load_routine(path)
    step = routine.steps[0]
    assert routine.language == RoutineSchema.language.default
    assert (Voice().engine, Voice().rate, Voice().volume) == (
        VoiceSchema.engine.default,
        VoiceSchema.rate.default,
        VoiceSchema.volume.default,
    )
    assert routine.pause_ms == step.pause_ms == 2000
    assert DefaultsSchema.pause.default == "2s"
    assert step.rest_ms == 3000
    assert DefaultsSchema.rest.default == "3s"
    assert step.countdown == DefaultsSchema.countdown.default
    assert step.chimes == ()
    assert DefaultsSchema.chime.default == "none"
    assert step.remaining == ()
    assert DefaultsSchema.remaining.default == []
    assert step.count_reps is DefaultsSchema.count_reps.default
    assert step.reps == StepSchema.reps.default
    assert StepSchema.hold.default is NO_DEFAULT


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_routines_pass_the_schema_and_point_at_it(path: Path, validator: Draft202012Validator) -> None:
    text = path.read_text(encoding="utf-8")
    assert schema_errors(validator, text) == []
    load_routine(path)  # and `validate`
    first = text.splitlines()[0]
    assert first == MODELINE
    assert (path.parent / first.split("$schema=")[1]).resolve() == (ROOT / SCHEMA_PATH).resolve()


GOOD = """\
title: Fine
language: DE
voice: {engine: eSpeak-NG, rate: 140, volume: 0.5}
defaults: {pause: 1m 30s, rest: 0, countdown: 0, remaining: [30s, 1m], chime: Both, count_reps: true}
background: {noise: pink, volume: -20 dB, duck: -60}
phrases: {sides: [rechte, linke], remaining: "Noch {n}.", rep: "{rep}/{reps}", numbers: [eins]}
steps:
  - say: Press {side}.
    sides: upper
    hold: 2.5
    cues: [{at: half, say: Gut.}, {at: -1s, say: Fast.}, {at: 500ms, say: Los.}]
  - say: Both.
    sides: [links, rechts]
    hold: "1:30"
    count: 10
    voice: {rate: 100}
"""


def test_forms_validate_accepts_pass_the_schema(
    write_routine: Callable[..., Path], validator: Draft202012Validator
) -> None:
    load_routine(write_routine(GOOD))
    assert schema_errors(validator, GOOD) == []


BASE = "title: Bad\nsteps:\n  - say: Breathe.\n    hold: 30s\n"
BAD = [
    ("unknown top-level key", BASE + "colour: blue\n", "unknown field 'colour'"),
    ("unknown step key", "title: Bad\nsteps:\n  - say: Breathe.\n    hodl: 30s\n", "unknown field 'hodl'"),
    ("unknown cue key", BASE + "    cues: [{at: 1s, say: Now., when: 2s}]\n", "unknown field 'when'"),
    ("missing title", "steps:\n  - say: Breathe.\n", "title: is required"),
    ("missing cue at", BASE + "    cues: [{say: Now.}]\n", "at: is required"),
    ("steps not a list", "title: Bad\nsteps: yes\n", "expected a list of groups of fields"),
    ("step not a mapping", "title: Bad\nsteps: [Breathe.]\n", "expected a group of fields"),
    ("reps as a word", BASE + "    reps: many\n", "expected a whole number"),
    ("flag as a word", BASE + "    count_reps: maybe\n", "expected true or false"),
    ("voice as text", BASE + "voice: fast\n", "voice: expected a group of fields"),
    ("title as a list", "title: [a, b]\nsteps:\n  - say: Breathe.\n", "title: expected text"),
    ("unknown choice", BASE + "    chime: loud\n", "expected one of [start, end, both, none]"),
    ("number without unit", BASE.replace("30s", "1m30"), "expected a duration"),
    ("words for a duration", BASE + "defaults: {rest: 3 seconds}\n", "expected a duration"),
    ("negative rest", BASE + "    rest: -3s\n", "must be at least 0 s"),
    ("level without number", BASE + "background: {noise: pink, volume: loud}\n", "expected a level in dB"),
    ("empty say", "title: Bad\nsteps:\n  - say: ''\n", "expected text, got an empty string"),
    ("blank title", "title: '   '\nsteps:\n  - say: Breathe.\n", "expected text, got an empty string"),
    ("empty intro", BASE + "intro: ''\n", "expected text, got an empty string"),
    ("no steps", "title: Bad\nsteps: []\n", "needs at least 1 item"),
    ("zero reps", BASE + "    reps: 0\n", "from 1 to 100"),
    ("too fast", BASE + "voice: {rate: 500}\n", "from 60 to 450"),
    ("silent voice", BASE + "voice: {volume: 0}\n", "from 0.1 to 1.0"),
    ("long countdown", BASE + "    countdown: 21\n", "from 0 to 20"),
    ("background too loud", BASE + "background: {noise: pink, volume: 6dB}\n", "-60dB to 0dB"),
    ("background too quiet", BASE + "background: {noise: brown, duck: -61dB}\n", "-60dB to 0dB"),
    ("hold too long", BASE.replace("30s", "20000"), "must be at most 4h"),  # a text's range: `validate` only
    ("zero hold", BASE.replace("30s", "0"), "must be more than 0"),
    ("short remaining", BASE + "    remaining: [1]\n", "whole seconds"),
    ("title too long", f"title: {'x' * 201}\nsteps:\n  - say: Breathe.\n", "keep it to 200"),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD, ids=[case for case, _, _ in BAD])
def test_shape_errors_fail_the_schema_and_validate(
    case: str, text: str, message: str, write_routine: Callable[..., Path], validator: Draft202012Validator
) -> None:
    assert schema_errors(validator, text), f"the schema accepts: {case}"
    with pytest.raises(RoutineError) as caught:
        load_routine(write_routine(text))
    assert message in str(caught.value)


def test_schema_command_prints_the_committed_schema(runner: Any) -> None:
    from voiceguide.cli.app import cli

    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads((ROOT / SCHEMA_PATH).read_text(encoding="utf-8"))


def test_docs_table_shows_a_declared_field() -> None:
    """Regenerating really rewrites a stale table from the declaration."""
    stale = textwrap.dedent("""\
        Before.
        <!-- fields: cue -->
        | stale | table |
        <!-- end fields -->
        After.
        """)
    fresh = regenerate(stale)
    assert fresh.startswith("Before.\n<!-- fields: cue -->\n| Field | What it is | Values | Default |")
    assert "| `at` | **Required.** When the cue starts" in fresh
    assert "stale" not in fresh
    assert fresh.endswith("<!-- end fields -->\nAfter.\n")


def test_the_package_carries_the_docs_as_they_are() -> None:
    """`voiceguide docs` prints the installed copy; it is the docs page, byte for byte."""
    docs = (ROOT / DOCS_PATH).read_text(encoding="utf-8")
    assert (ROOT / PACKAGED_PATH).read_text(encoding="utf-8") == docs, "run `python -m voiceguide.routine.reference`"
    assert format_reference() == docs
