"""End to end on real speech: render, decode the MP3, and hold it to the plan."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.cli.app import cli
from voiceguide.durations import format_clock
from voiceguide.model import ENGINE_NAMES
from voiceguide.pipeline import DEFAULT_BITRATE, Overrides, Plan, fingerprint, load, plan, render
from voiceguide.plan.present import plan_dict
from voiceguide.speech.cache import SpeechCache, default_folder
from voiceguide.speech.synth import Settings

from conftest import DECODERS, ROUTINES, assert_speech_matches

SILENT = 330  # peak below about -40 dBFS
MARGIN_SECONDS = 0.025  # an MP3 frame smears a little energy across an edge


def samples_at(seconds: float, rate: int) -> int:
    return round(seconds * rate)


def assert_audio_matches_plan(mp3: Path, planned: Plan, background: bool = False) -> None:
    """The decoded MP3 against its plan: length, silent holds, and each line's own speech in its
    slot, sample-aligned, its voice stopping where the plan says (``assert_speech_matches``).

    With a background, holds carry a steady bed instead of silence (away from the speech it
    ducks under); its absolute level depends on loudness normalisation, so only its
    steadiness from hold to hold is checked here (test_background measures the mix)."""
    plan = plan_dict(planned.timeline)
    decoded, rate = decode_file(mp3)
    assert rate == plan["sample_rate"]
    assert abs(len(decoded) / rate - plan["duration"]) <= 0.010
    level = np.abs(decoded.astype(np.int32))
    margin = samples_at(MARGIN_SECONDS, rate)
    before, after = (samples_at(0.3, rate), samples_at(0.45, rate)) if background else (margin, margin)
    beds: list[float] = []
    events = plan["events"]
    overlays = [e for e in events if e["role"] in ("countdown", "cue", "remaining", "count", "start", "end")]
    for hold in (e for e in events if e["kind"] == "hold"):
        start, length = samples_at(hold["start"], rate), samples_at(hold["duration"], rate)
        quiet = np.ones(length, dtype=bool)
        quiet[:after] = False
        quiet[length - before :] = False
        for overlay in overlays:
            lo = samples_at(overlay["start"], rate) - start
            if 0 <= lo < length:
                quiet[max(0, lo - before) : lo + samples_at(overlay["duration"], rate) + after] = False
        if not background:
            assert level[start : start + length][quiet].max() < SILENT, f"noise in the hold at {hold['start']} s"
        elif quiet.sum() >= rate // 2:  # long enough for a steady level
            bed = decoded[start : start + length][quiet].astype(np.float64)
            beds.append(20 * np.log10(np.sqrt(np.mean(bed**2)) / 32767))
        # the voice stops right where the gap before the hold starts: well above the holds' silence in the
        # last 100 ms before it, and silent through the gap (2x, not more: Piper's "...and hold." ends in a
        # soft "d" release, peak 765, after a 50 ms closure.)
        gap = next(
            (e for e in events if e["kind"] == "gap" and samples_at(e["start"] + e["duration"], rate) == start), None
        )
        voice_end = samples_at(gap["start"], rate) if gap else start
        assert level[voice_end - samples_at(0.1, rate) : voice_end].max() > 2 * SILENT
        if not background and start - voice_end > 2 * margin:
            assert level[voice_end + margin : start].max() < SILENT, f"noise in the gap before {hold['start']} s"
    if background:
        assert beds, "no hold long enough to measure the background"
        assert min(beds) > -60, "the background is missing from a hold"
        assert max(beds) - min(beds) <= 4, f"the background is not steady: {beds}"
    assert_speech_matches(decoded, planned)


def planned_as_rendered(path: Path, overrides: Overrides | None = None) -> Plan:
    """The plan (timeline and clips) the CLI's ``render`` made for ``path``: its lines come from the speech cache."""
    return plan(load(path, overrides or Overrides()), Settings(cache=SpeechCache(default_folder())))


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
    assert_audio_matches_plan(tmp_path / "short.mp3", planned_as_rendered(short_routine, Overrides(engine=engine)))
    holds = [e for e in plan["events"] if e["kind"] == "hold"]
    assert [h["duration"] for h in holds] == [4.0, 4.0, 4.0, 4.0, 2.5]


@pytest.mark.parametrize("routine", sorted(ROUTINES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bundled_routine_renders_as_planned(routine: Path, tmp_path: Path, runner: CliRunner) -> None:
    """With the default voice; and every ffmpeg here and mpg123 decode it to the plan's length, to the sample."""
    plan = plan_json(runner, str(routine))
    result = runner.invoke(cli, ["render", str(routine), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"({format_clock(plan['duration'])}," in result.output  # render placed what plan printed
    planned = planned_as_rendered(routine)
    track = tmp_path / f"{routine.stem}.mp3"
    lengths = {name: len(decode(track)) for name, decode in DECODERS.items()}
    assert lengths == dict.fromkeys(DECODERS, planned.timeline.duration)
    assert_audio_matches_plan(track, planned, background=planned.routine.background is not None)


def test_render_returns_the_timeline_it_encoded(short_routine: Path, tmp_path: Path) -> None:
    done = render(load(short_routine, Overrides(engine="espeak-ng")), tmp_path / "out")
    decoded, _ = decode_file(done.path)
    assert len(decoded) == done.plan.timeline.duration
    assert sorted(p.name for p in done.path.parent.iterdir()) == [  # no temporary litter
        "short.chapters.json",
        "short.lrc",
        "short.mp3",
        "short.srt",
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


def test_the_german_example_speaks_german_built_in_phrases_with_a_german_voice(runner: CliRunner) -> None:
    from voiceguide.speech.synth import resolve_voices

    routine = load(ROUTINES / "nacken-de.yaml", Overrides(engine="espeak-ng"))
    assert [v.id for v in resolve_voices([routine.voice], routine.language).values()] == ["de"]
    plan = plan_json(runner, str(ROUTINES / "nacken-de.yaml"), "--engine", "espeak-ng")
    spoken = {(e["role"], e["text"]) for e in plan["events"] if e["role"] in ("countdown", "switch")}
    assert spoken == {
        ("countdown", "drei"),
        ("countdown", "zwei"),
        ("countdown", "eins"),
        ("switch", "Jetzt die Seite wechseln, nach links."),
    }


TIME_CUES = """\
title: Time cues
defaults: {pause: 1s, rest: 1s, chime: both}
steps:
  - say: Press.
    reps: 2
    count_reps: true
    hold: 14s
    remaining: [10s]
  - say: Breathe with me.
    hold: 6s
    count: 6
  - say: Breathe with me.
    hold: 3s
    voice: {rate: 90}
  - say: Breathe with me.
"""


def test_time_cues_and_a_step_voice_are_heard_where_planned(
    write_routine: Callable[..., Path], tmp_path: Path, runner: CliRunner
) -> None:
    path = write_routine(TIME_CUES, "cues.yaml")
    plan = plan_json(runner, str(path), "--engine", "espeak-ng")
    result = runner.invoke(cli, ["render", str(path), "-o", str(tmp_path), "--engine", "espeak-ng"])
    assert result.exit_code == 0, result.output
    assert_audio_matches_plan(tmp_path / "cues.mp3", planned_as_rendered(path, Overrides(engine="espeak-ng")))
    spoken = [(e["role"], e["text"]) for e in plan["events"] if e["role"] in ("rep", "remaining", "count")]
    assert spoken == [
        ("rep", "Rep one of two."),
        ("remaining", "Ten seconds left."),
        ("rep", "Rep two of two."),
        ("remaining", "Ten seconds left."),
        *[("count", n) for n in ("one", "two", "three", "four", "five", "six")],
    ]
    counts = [e for e in plan["events"] if e["role"] == "count"]
    hold = next(e for e in plan["events"] if e["kind"] == "hold" and e["step"] == 2)
    assert counts[0]["start"] - hold["start"] == pytest.approx(0.5, abs=1e-4)  # after the start chime's attack
    every = (6 - 0.5) / 6  # then evenly through the rest of the 6 s hold
    assert all(after["start"] - before["start"] == pytest.approx(every, abs=1e-3) for before, after in pairwise(counts))
    assert counts[-1]["start"] + counts[-1]["duration"] <= next(
        e["start"] + e["duration"] for e in plan["events"] if e["kind"] == "hold" and e["step"] == 2
    )
    # the slower voice of step 3 only: the same words take longer there than in steps 2 and 4
    lengths = [e["duration"] for e in plan["events"] if e["text"] == "Breathe with me."]
    assert lengths[0] == lengths[2] < lengths[1] * 0.8


def test_fingerprint_follows_the_background_files_content(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    """A background file is known by its content: an edit that keeps its size and time still
    re-renders, and a touch that changes only its time does not."""
    bed = tmp_path / "bed.wav"
    bed.write_bytes(b"A" * 4096)
    path = write_routine("title: T\nbackground: {file: bed.wav}\nsteps:\n  - say: Hello.\n")
    planned = plan(load(path, Overrides(engine="espeak-ng")))
    first = fingerprint(planned, DEFAULT_BITRATE)
    before = bed.stat()
    bed.write_bytes(b"B" * 4096)
    os.utime(bed, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert bed.stat().st_size == before.st_size
    assert fingerprint(planned, DEFAULT_BITRATE) != first
    bed.write_bytes(b"A" * 4096)
    os.utime(bed, ns=(0, 0))
    assert fingerprint(planned, DEFAULT_BITRATE) == first


def test_a_track_levelled_another_way_is_rendered_again(short_routine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tracks levelled on the whole mix (before the voice was levelled on its own) are not up to date."""
    from voiceguide import pipeline as render_module

    planned = plan(load(short_routine, Overrides(engine="espeak-ng")))
    first = fingerprint(planned, DEFAULT_BITRATE)
    monkeypatch.setattr(render_module, "LEVELLING", "mix")
    assert fingerprint(planned, DEFAULT_BITRATE) != first
