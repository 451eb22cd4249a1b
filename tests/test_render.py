"""End to end on real speech: render, decode the MP3, and hold it to the plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from voiceguide.audio import decode_file
from voiceguide.cli import cli
from voiceguide.durations import format_clock
from voiceguide.model import ENGINE_NAMES
from voiceguide.render import Overrides, load, render

from conftest import ROUTINES

SILENT = 330  # peak below about -40 dBFS
MARGIN_SECONDS = 0.025  # an MP3 frame smears a little energy across an edge


def samples_at(seconds: float, rate: int) -> int:
    return round(seconds * rate)


def assert_audio_matches_plan(mp3: Path, plan: dict[str, Any]) -> None:
    """The decoded MP3 against a ``plan --json`` document: length, silent holds, speech where planned."""
    decoded, rate = decode_file(mp3)
    assert rate == plan["sample_rate"]
    assert abs(len(decoded) / rate - plan["duration"]) <= 0.010
    level = np.abs(decoded.astype(np.int32))
    margin = samples_at(MARGIN_SECONDS, rate)
    events = plan["events"]
    overlays = [e for e in events if e["role"] in ("countdown", "cue")]
    for hold in (e for e in events if e["kind"] == "hold"):
        start, length = samples_at(hold["start"], rate), samples_at(hold["duration"], rate)
        quiet = np.ones(length, dtype=bool)
        quiet[:margin] = False
        for overlay in overlays:
            lo = samples_at(overlay["start"], rate) - start
            if 0 <= lo < length:
                quiet[max(0, lo - margin) : lo + samples_at(overlay["duration"], rate) + margin] = False
        assert level[start : start + length][quiet].max() < SILENT, f"noise in the hold at {hold['start']} s"
        # the voice stops right where the hold starts
        assert level[start - samples_at(0.1, rate) : start].max() > 3 * SILENT
    for speech in (e for e in events if e["kind"] == "speech"):
        start = samples_at(speech["start"], rate)
        segment = level[start : start + samples_at(speech["duration"], rate)]
        assert segment.max() > 10 * SILENT, f"no voice for {speech['text']!r} at {speech['start']} s"


def plan_json(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["plan", "--json", *args])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_each_engine_renders_audio_that_matches_the_plan(
    engine: str, short_routine: Path, tmp_path: Path, runner: CliRunner
) -> None:
    plan = plan_json(runner, str(short_routine), "--engine", engine)
    result = runner.invoke(cli, ["render", str(short_routine), "-o", str(tmp_path), "--engine", engine])
    assert result.exit_code == 0, result.output
    assert_audio_matches_plan(tmp_path / "short.mp3", plan)
    holds = [e for e in plan["events"] if e["kind"] == "hold"]
    assert [h["duration"] for h in holds] == [4.0, 4.0, 4.0, 4.0, 2.5]


@pytest.mark.parametrize("routine", sorted(ROUTINES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bundled_routine_renders_as_planned(routine: Path, tmp_path: Path, runner: CliRunner) -> None:
    plan = plan_json(runner, str(routine))
    result = runner.invoke(cli, ["render", str(routine), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"({format_clock(plan['duration'])}," in result.output  # render placed what plan printed
    assert_audio_matches_plan(tmp_path / f"{routine.stem}.mp3", plan)


def test_render_returns_the_timeline_it_encoded(short_routine: Path, tmp_path: Path) -> None:
    done = render(load(short_routine, Overrides(engine="espeak-ng")), tmp_path / "out")
    decoded, _ = decode_file(done.path)
    assert len(decoded) == done.plan.timeline.duration
    assert sorted(p.name for p in done.path.parent.iterdir()) == [  # no temporary litter
        "short.chapters.json",
        "short.lrc",
        "short.mp3",
        "short.vtt",
    ]


def test_an_unchanged_track_is_not_encoded_again_but_any_change_is(
    short_routine: Path, tmp_path: Path, write_routine: Callable[..., Path]
) -> None:
    out = tmp_path / "out"
    first = render(load(short_routine, Overrides(engine="espeak-ng")), out)
    written = first.path.read_bytes()
    again = render(load(short_routine, Overrides(engine="espeak-ng")), out)
    assert (first.encoded, again.encoded) == (True, False)
    assert again.path.read_bytes() == written
    slower = render(load(short_routine, Overrides(engine="espeak-ng", rate=120)), out)
    assert slower.encoded
    retitled = write_routine(short_routine.read_text().replace("Short check", "Short check 2"), "short.yaml")
    assert render(load(retitled, Overrides(engine="espeak-ng", rate=120)), out).encoded
