"""The voice, not the mix, at the target (issue 21): real renders (espeak-ng), measured on the
decoded MP3 by an independent meter, ffmpeg's own ``ebur128`` filter, with each ffmpeg present.

The voice is measured over the spans where lines are spoken (the plan's speech events), cut
from the decoded track and joined end to end; the bed in the middle of a hold by its RMS.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner

from voiceguide.cli.app import cli
from voiceguide.pipeline import Overrides, Rendered, load, render
from voiceguide.plan.script import EventKind

from conftest import ROOT, ROUTINES, check_levelled, decoded, ebur128, speech_spans, voice_loudness

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench import routine_text

Samples = npt.NDArray[np.int16]

LOUD_BED_TOLERANCE_LU = 1.0  # the loud bed, ducked under the voice, counts in the voice's spans


def rendered(write_routine: Callable[..., Path], text: str, out: Path, name: str = "routine.yaml") -> Rendered:
    return render(load(write_routine(text, name), Overrides(engine="espeak-ng")), out)


ONE_LINE = """\
title: One line
background: {{noise: pink, volume: -30dB}}
steps:
  - say: Let your shoulders drop, and breathe slowly.
    hold: {hold}
"""

LOUD_BED = """\
title: Loud bed
background: {noise: brown, volume: -10dB}
steps:
  - say: Press your palms together, and hold.
    hold: 40s
  - say: Now let your arms hang, and rest.
    hold: 15s
"""


@pytest.mark.render
def test_one_line_over_a_quiet_bed_renders_with_the_voice_at_the_target_and_the_bed_at_its_volume(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str
) -> None:
    # the whole track's level refused this one: 30 s of bed outweighed the short line
    done = rendered(write_routine, ONE_LINE.format(hold="30s"), tmp_path)
    assert done.warnings == ()
    samples = check_levelled(each_ffmpeg, done)
    hold = next(e for e in done.plan.timeline.events if e.kind is EventKind.HOLD)
    rate = done.plan.timeline.sample_rate
    middle = samples[hold.start + 10 * rate : hold.end - 10 * rate].astype(np.float64)
    assert 20 * np.log10(np.sqrt(np.mean(middle**2)) / 32767) == pytest.approx(-30.0, abs=1.0)


BUNDLED = sorted(ROUTINES.glob("*.yaml"))


@pytest.mark.render
@pytest.mark.parametrize("routine", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_routine_has_its_voice_at_the_target(routine: Path, tmp_path: Path, each_ffmpeg: str) -> None:
    done = render(load(routine, Overrides(engine="espeak-ng")), tmp_path)
    assert done.warnings == ()
    check_levelled(each_ffmpeg, done)


@pytest.mark.render
@pytest.mark.parametrize("minutes", [10, 30])
def test_the_benchmarks_long_routines_have_their_voice_at_the_target(
    minutes: int, write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str
) -> None:
    # the 120-minute one is measured by benchmarks/bench.py; it takes minutes per ffmpeg here
    done = rendered(write_routine, routine_text(minutes), tmp_path)
    assert done.warnings == ()
    check_levelled(each_ffmpeg, done)


@pytest.mark.render
def test_a_loud_bed_is_limited_with_a_warning_and_the_voice_stays_at_the_target(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str
) -> None:
    done = rendered(write_routine, LOUD_BED, tmp_path)
    check_levelled(each_ffmpeg, done, LOUD_BED_TOLERANCE_LU)
    assert [(w.field, w.fix) for w in done.warnings] == [
        ("background.volume", "lower `volume` (now -10dB) to hear it unlimited")
    ]
    assert "the background by itself peaks at " in done.warnings[0].message


SAME_LINE = """\
title: Same line
background: {{noise: pink, volume: -25dB}}
steps:
  - say: Slowly roll your shoulders back, and breathe out.
    hold: {hold}
  - say: Slowly roll your shoulders back, and breathe out.
    hold: 5s
"""


@pytest.mark.render
def test_the_same_line_sounds_as_loud_in_a_short_and_a_long_routine(
    write_routine: Callable[..., Path], tmp_path: Path, each_ffmpeg: str
) -> None:
    # with the whole track levelled, 20 minutes of bed weighed in and the voice came out another level
    found = []
    for name, hold in (("short", "100s"), ("long", "1190s")):
        done = rendered(write_routine, SAME_LINE.format(hold=hold), tmp_path / name, f"{name}.yaml")
        timeline = done.plan.timeline
        samples = decoded(each_ffmpeg, done.path, timeline.sample_rate)
        found.append(voice_loudness(each_ffmpeg, samples, speech_spans(timeline), timeline.sample_rate))
    assert abs(found[0] - found[1]) <= 0.3


@pytest.mark.render
def test_info_reports_the_voice_as_the_independent_meter_measures_it(
    write_routine: Callable[..., Path], tmp_path: Path, runner: CliRunner, each_ffmpeg: str
) -> None:
    done = rendered(write_routine, ONE_LINE.format(hold="30s"), tmp_path)
    timeline = done.plan.timeline
    samples = decoded(each_ffmpeg, done.path, timeline.sample_rate)
    voice = voice_loudness(each_ffmpeg, samples, speech_spans(timeline), timeline.sample_rate)
    track, peak = ebur128(each_ffmpeg, done.path)
    result = runner.invoke(cli, ["info", str(done.path)])
    assert result.exit_code == 0, result.output
    said = re.search(r"Voice: (\S+) LUFS over (\d+) spoken lines", result.stdout)
    assert said is not None, result.stdout
    assert int(said[2]) == len(speech_spans(timeline))  # the line, and its countdown
    assert float(said[1]) == pytest.approx(voice, abs=0.5)
    whole = re.search(r"Track: (\S+) LUFS integrated, true peak (\S+) dBTP", result.stdout)
    assert whole is not None, result.stdout
    assert float(whole[1]) == pytest.approx(track, abs=0.5)
    assert float(whole[2]) == pytest.approx(peak, abs=0.3)
    ratio = re.search(r"Loudness-to-dialogue ratio: (\S+) LU", result.stdout)
    assert ratio is not None, result.stdout
    assert float(ratio[1]) == pytest.approx(float(whole[1]) - float(said[1]), abs=0.06)


def test_info_says_when_it_cannot_tell_where_the_voice_is(
    rendered_short: tuple[Path, object, object], tmp_path: Path, runner: CliRunner
) -> None:
    alone = tmp_path / "alone.mp3"
    alone.write_bytes(rendered_short[0].read_bytes())  # without its captions
    result = runner.invoke(cli, ["info", str(alone)])
    assert result.exit_code == 0, result.output
    assert "Voice: not measured: no captions (alone.vtt) beside the track tell where it speaks" in result.stdout


def test_a_line_too_short_to_measure_renders_at_its_own_level_with_a_warning(
    write_routine: Callable[..., Path], tmp_path: Path, runner: CliRunner
) -> None:
    path = write_routine("title: T\nsteps:\n  - say: Go.\n")  # 0.37 s of speech: under one 400 ms block
    result = runner.invoke(cli, ["render", str(path), "-o", str(tmp_path / "out"), "--engine", "espeak-ng"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "routine.mp3").is_file()
    assert "routine.yaml: the voice is left at its own level: its lines are too short or too quiet" in result.stderr
