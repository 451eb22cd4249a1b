"""`voiceguide new`: a commented starter routine that validates, passes the schema and renders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.cli.app import cli
from voiceguide.model import Version
from voiceguide.phrases import languages, phrases
from voiceguide.pipeline import Overrides, load, render
from voiceguide.plan.present import plan_dict
from voiceguide.routine.build import load_routine
from voiceguide.routine.reference import SCHEMA_PATH, routine_json_schema


@pytest.mark.parametrize("language", languages())
def test_new_writes_a_routine_that_validates_and_passes_the_schema(
    language: str, tmp_path: Path, runner: CliRunner
) -> None:
    path = tmp_path / "start.yaml"
    result = runner.invoke(cli, ["new", str(path), "--language", language])
    assert result.exit_code == 0, result.output
    assert f"Wrote {path}" in result.output
    text = path.read_text(encoding="utf-8")
    assert list(Draft202012Validator(routine_json_schema()).iter_errors(yaml.safe_load(text))) == []
    routine = load_routine(path)
    assert routine.language == language
    assert routine.intro
    assert routine.outro
    (step,) = routine.steps
    assert step.sides == phrases(language).both
    assert step.hold_ms == 12_000
    assert step.countdown == 3
    assert len(step.cues) == 1
    assert text.count("\n#") >= 5, "the starter explains itself in comments"


def test_the_starters_variants_work_once_uncommented(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "start.yaml"
    assert runner.invoke(cli, ["new", str(path)]).exit_code == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    first = lines.index("# variants:")
    path.write_text("\n".join([*lines[:first], *(line[2:] for line in lines[first:])]) + "\n", encoding="utf-8")
    assert load_routine(path).variants == ("gentle", "quick")
    gentle, quick = (load_routine(path, Version(name)) for name in ("gentle", "quick"))
    assert (gentle.steps[0].hold_ms, quick.steps[0].hold_ms) == (18_000, 6000)  # the 12 s hold, x1.5 and x0.5
    assert (gentle.title, quick.steps[0].reps) == ("My routine (gentle)", 1)


def test_new_routine_renders_as_written(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "morning.yaml"
    assert runner.invoke(cli, ["new", str(path), "--title", "Morning"]).exit_code == 0
    done = render(load(path, Overrides(engine="espeak-ng")), tmp_path / "out")
    document = plan_dict(done.plan.timeline)
    holds = [e for e in document["events"] if e["kind"] == "hold"]
    assert [(h["side"], h["duration"]) for h in holds] == [("right", 12.0), ("left", 12.0)]
    spoken = [e["text"] for e in document["events"] if e["kind"] == "speech"]
    assert spoken.count("Breathe slowly.") == 2
    assert spoken.count("three") == 2
    assert "Now switch to your left side." in spoken
    samples, rate = decode_file(done.path)
    assert abs(len(samples) / rate - document["duration"]) < 0.05
    assert document["title"] == "Morning"


@pytest.mark.render
@pytest.mark.parametrize("language", languages())
def test_new_then_render_warns_about_nothing(language: str, tmp_path: Path, runner: CliRunner) -> None:
    """A newcomer's first two commands, with the engine and voice a routine gets by default."""
    path = tmp_path / "start.yaml"
    assert runner.invoke(cli, ["new", str(path), "--language", language]).exit_code == 0
    result = runner.invoke(cli, ["render", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr, result.stderr
    assert (tmp_path / "out" / "start.mp3").is_file()


def test_new_never_overwrites_without_force(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("title: Mine\n", encoding="utf-8")
    result = runner.invoke(cli, ["new", str(path)])
    assert result.exit_code == 1
    assert f"Error: {path} already exists" in result.output
    assert "--force" in result.output
    assert path.read_text(encoding="utf-8") == "title: Mine\n"
    assert runner.invoke(cli, ["new", str(path), "--force", "--language", "de"]).exit_code == 0
    assert load_routine(path).language == "de"


def test_new_defaults_to_routine_yaml_in_the_current_folder(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["new"]).exit_code == 0
    assert load_routine(tmp_path / "routine.yaml").title == "My routine"


def test_new_quotes_a_title_that_yaml_would_misread(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "odd.yaml"
    title = 'Back: part #2 {side} "calm"'
    assert runner.invoke(cli, ["new", str(path), "--title", title]).exit_code == 0
    assert load_routine(path).title == title


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_new_refuses_a_title_a_routine_cannot_have(title: str, tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["new", str(tmp_path / "t.yaml"), "--title", title])
    assert result.exit_code == 2
    assert "Invalid value for '--title'" in result.output
    assert not (tmp_path / "t.yaml").exists()


def test_new_points_an_editor_at_the_schema_inside_a_checkout(tmp_path: Path, runner: CliRunner) -> None:
    schema = tmp_path / SCHEMA_PATH
    schema.parent.mkdir()
    schema.write_text("{}", encoding="utf-8")
    inside = tmp_path / "routines" / "mine" / "a.yaml"
    assert runner.invoke(cli, ["new", str(inside)]).exit_code == 0
    first = inside.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schema/routine.schema.json"
    assert (inside.parent / first.split("=", 1)[1]).resolve() == schema.resolve()


def test_new_writes_no_modeline_where_there_is_no_schema(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "a.yaml"
    assert runner.invoke(cli, ["new", str(path)]).exit_code == 0
    assert "yaml-language-server" not in path.read_text(encoding="utf-8")
