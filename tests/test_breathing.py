"""Issue 24 on real espeak-ng speech, measured in the decoded MP3: a gap between lines, a chime
heard before the count, times said as people say them, and versions of one routine."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import feedparser
import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner
from test_render import SILENT, assert_audio_matches_plan, planned_as_rendered

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.cli.app import cli
from voiceguide.export.info import inspect
from voiceguide.export.layout import track_sidecars
from voiceguide.pipeline import Overrides, Plan, load, plan
from voiceguide.plan.present import plan_lines
from voiceguide.plan.script import EventKind, Role, Sound
from voiceguide.plan.timeline import Event

from conftest import own_clip

ESPEAK = ("--engine", "espeak-ng")
LISTENER_MS = 10  # a difference in timing no listener hears
GAP_SECONDS = 0.4  # between two lines at the default 150 words a minute, as docs/routine-format.md says
LEAD_SECONDS = 0.5  # lines wait this long after a chime, as docs/routine-format.md says

BREATHING = """\
title: Breathing room
intro: Sit tall.
defaults: {pause: 0, rest: 0, countdown: 0}
steps:
  - say: Squeeze your {side} shoulder and count with me.
    sides: both
    reps: 2
    count_reps: true
    hold: 6s
    count: 5
    chime: start
    release: And relax.
  - say: Hold it.
    hold: 3s
    chime: end
    release: Let go.
    pause: 2s  # the end chime rings on under "Let go.": no gap to hear after it
outro: Well done.
"""


@pytest.fixture(scope="module")
def breathing(tmp_path_factory: pytest.TempPathFactory) -> tuple[npt.NDArray[np.float64], Plan]:
    """BREATHING rendered through the CLI with espeak-ng: the decoded track and its plan."""
    folder = tmp_path_factory.mktemp("breathing")
    path = folder / "breathing.yaml"
    path.write_text(BREATHING, encoding="utf-8")
    result = CliRunner().invoke(cli, ["render", str(path), "-o", str(folder), *ESPEAK])
    assert result.exit_code == 0, result.output
    planned = planned_as_rendered(path, Overrides(engine="espeak-ng"))
    assert_audio_matches_plan(folder / "breathing.mp3", planned)
    decoded, _ = decode_file(folder / "breathing.mp3")
    return decoded.astype(np.float64), planned


def quiet_around(heard: npt.NDArray[np.float64], at: int) -> tuple[int, int]:
    """The run of silence (under -40 dBFS) in the decoded track that contains sample ``at``."""
    loud = np.flatnonzero(np.abs(heard) >= SILENT)
    before, after = loud[loud < at], loud[loud >= at]
    return int(before[-1]) + 1, int(after[0])


def onset(heard: npt.NDArray[np.float64], clip: npt.NDArray[np.float64], near: int, rate: int) -> int:
    """Where ``clip`` starts in the decoded track, searched 50 ms either side of ``near``."""
    first = max(0, near - rate // 20)
    window = heard[first : near + rate // 20 + len(clip)]
    scores = np.correlate(window, clip, "valid") / np.sqrt(
        np.convolve(window**2, np.ones(len(clip)), "valid") * np.dot(clip, clip) + 1e-9
    )
    return first + int(np.argmax(scores))


def test_consecutive_lines_are_heard_with_a_gap_between_them(
    breathing: tuple[npt.NDArray[np.float64], Plan],
) -> None:
    heard, planned = breathing
    timeline = planned.timeline
    rate = timeline.sample_rate
    gap = round(GAP_SECONDS * rate)
    sequence = [e for e in timeline.events if not e.overlay]
    pairs: dict[str, int] = {}
    for before, between, after in zip(sequence, sequence[1:], sequence[2:], strict=False):
        if before.kind is not EventKind.SPEECH or between.kind is not EventKind.GAP:
            continue
        assert between.start == before.end  # the plan says it: the gap is an event of its own
        assert after.start == between.end
        end, start = quiet_around(heard, between.start + between.duration // 2)
        kind = f"{before.role} -> {after.role or after.kind}"
        pairs[kind] = min(pairs.get(kind, start - end), start - end)
        assert between.duration == gap, kind
        assert start - end >= gap - LISTENER_MS * rate // 1000, f"{kind} at {before.end / rate:.3f} s"
    assert set(pairs) == {  # every kind of pair the routine has
        "intro -> rep",
        "rep -> say",
        "say -> hold",
        "release -> rep",
        "rep -> again",
        "again -> hold",
        "release -> switch",
        "switch -> rep",
        "release -> say",
    }


def test_a_line_after_an_end_chime_waits_for_its_attack(breathing: tuple[npt.NDArray[np.float64], Plan]) -> None:
    heard, planned = breathing
    timeline = planned.timeline
    rate = timeline.sample_rate
    chime = next(e for e in timeline.events if e.role is Role.END)
    release = next(e for e in timeline.events if e.text == "Let go.")
    assert release.utterance is not None
    heard_at = onset(heard, own_clip(release.utterance, "en", rate), release.start, rate)
    assert heard_at - chime.start >= round(LEAD_SECONDS * rate) - 1


def test_the_start_chime_is_heard_before_the_count_which_stays_even(
    breathing: tuple[npt.NDArray[np.float64], Plan],
) -> None:
    heard, planned = breathing
    timeline = planned.timeline
    rate = timeline.sample_rate
    holds = [e for e in timeline.events if e.kind is EventKind.HOLD and e.where.step == 1]
    assert len(holds) == 4
    for hold in holds:
        bell = planned.clips[Sound("start")].astype(np.float64)
        chime_onset = onset(heard, bell, hold.start, rate)
        assert chime_onset == hold.start  # the chime sounds where the hold starts
        assert np.abs(heard[hold.start - rate // 10 : hold.start - rate // 100]).max() < SILENT  # after silence
        counts = [e for e in timeline.events if e.role is Role.COUNT and hold.start <= e.start < hold.end]
        onsets = [onset(heard, own_clip(e.utterance, "en", rate), e.start, rate) for e in counts if e.utterance]
        assert [n - e.start for n, e in zip(onsets, counts, strict=True)] == [0] * 5  # heard where planned
        assert onsets[0] - chime_onset >= round(LEAD_SECONDS * rate) - 1
        spacing = [after - before for before, after in pairwise(onsets)]
        assert max(spacing) - min(spacing) <= LISTENER_MS * rate // 1000


TIMES_LEFT = """\
title: Times left
language: {language}
steps:
  - say: {say}
    hold: 3m
    countdown: 0
    remaining: [2m, 90s, 1m]
"""


@pytest.mark.parametrize(
    ("language", "say", "expected"),
    [
        ("en", "Hold.", ["Two minutes left.", "One and a half minutes left.", "One minute left."]),
        ("de", "Halten.", ["Noch zwei Minuten.", "Noch eineinhalb Minuten.", "Noch eine Minute."]),
    ],
)
def test_times_left_are_said_in_minutes_in_the_plan_and_the_captions(
    language: str, say: str, expected: list[str], write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_routine(TIMES_LEFT.format(language=language, say=say))
    planned = plan(load(path, Overrides(engine="espeak-ng")))
    text = "\n".join(plan_lines(planned.timeline))
    assert [line.split("remaining")[1].strip() for line in text.splitlines() if " remaining " in line] == expected
    assert "Sekunden" not in text
    assert "seconds" not in text
    track_sidecars(planned.routine, planned.timeline, tmp_path / "times")
    captions = (tmp_path / "times.vtt").read_text(encoding="utf-8")
    assert [line for line in captions.splitlines() if line in expected] == expected


VERSIONS = """\
title: Versions
defaults: {rest: 2s, pause: 1s, countdown: 0}
variants:
  quick: {reps: 1, name: Quick}
steps:
  - say: Press.
    reps: 2
    hold: 3s
    release: Relax.
  - say: Breathe out.
    hold: 2500ms
    release: Rest.
outro: Done.
"""


def rendered(runner: CliRunner, path: Path, out: Path, *options: str) -> tuple[Path, Plan]:
    """``path`` rendered by the CLI with ``options``: the one new MP3 in ``out``, and its plan."""
    before = set(out.glob("*.mp3"))
    result = runner.invoke(cli, ["render", str(path), "-o", str(out), *ESPEAK, *options])
    assert result.exit_code == 0, result.output
    (mp3,) = set(out.glob("*.mp3")) - before
    values = dict(zip(options[::2], options[1::2], strict=True))
    overrides = Overrides(
        engine="espeak-ng", holds=float(values.get("--holds", 1)), pace=float(values.get("--pace", 1))
    )
    planned = plan(load(path, overrides, values.get("--variant")))
    assert_audio_matches_plan(mp3, planned)
    return mp3, planned


def heard_lines(mp3: Path, planned: Plan) -> list[tuple[Event, int]]:
    """Each line of the sequence with the sample where the decoded track speaks it."""
    heard = decode_file(mp3)[0].astype(np.float64)
    rate = planned.timeline.sample_rate
    lines = [e for e in planned.timeline.events if e.kind is EventKind.SPEECH and not e.overlay and e.utterance]
    return [(e, onset(heard, own_clip(e.utterance, "en", rate), e.start, rate)) for e in lines if e.utterance]


def silences(mp3: Path, planned: Plan, kind: EventKind) -> list[int]:
    """The silence of each ``kind`` event, measured in the decoded track: from where the line before it
    stops (its onset plus its length) to where the line after it is heard, less any gap on the way."""
    events = planned.timeline.events
    lines = heard_lines(mp3, planned)
    found = []
    for (before, heard_before), (after, heard_after) in pairwise(lines):
        between = [e for e in events if not e.overlay and before.end <= e.start < after.start]
        if any(e.kind is kind for e in between):
            gaps = sum(e.duration for e in between if e.kind is EventKind.GAP)
            found.append(heard_after - heard_before - before.duration - gaps)
    return found


def test_holds_pace_and_a_variant_are_heard_in_the_audio(
    write_routine: Callable[..., Path], tmp_path: Path, runner: CliRunner
) -> None:
    path = write_routine(VERSIONS, "versions.yaml")
    out = tmp_path / "out"
    out.mkdir()
    written, written_plan = rendered(runner, path, out)
    half, half_plan = rendered(runner, path, out, "--holds", "0.5")
    slow, slow_plan = rendered(runner, path, out, "--pace", "0.8")
    quick, quick_plan = rendered(runner, path, out, "--variant", "quick")
    rate = written_plan.timeline.sample_rate

    holds = silences(written, written_plan, EventKind.HOLD)
    assert holds == [3 * rate, 3 * rate, 5 * rate // 2]  # to the sample, in the MP3 as written
    halved = silences(half, half_plan, EventKind.HOLD)
    assert all(abs(h - w / 2) <= 1 for h, w in zip(halved, holds, strict=True)), (halved, holds)

    rests = silences(written, written_plan, EventKind.REST) + silences(written, written_plan, EventKind.PAUSE)
    slower = silences(slow, slow_plan, EventKind.REST) + silences(slow, slow_plan, EventKind.PAUSE)
    assert rests == [2 * rate, 1 * rate, 1 * rate]
    assert all(abs(s - r / 0.8) <= 1 for s, r in zip(slower, rests, strict=True)), (slower, rests)
    assert silences(slow, slow_plan, EventKind.HOLD) == holds  # pace leaves the holds alone
    assert slow_plan.routine.voice.rate == 120  # and slows the voice by the same factor

    assert len([e for e in quick_plan.timeline.events if e.kind is EventKind.HOLD and e.where.step == 1]) == 1
    assert len([e for e in written_plan.timeline.events if e.kind is EventKind.HOLD and e.where.step == 1]) == 2

    assert sorted(p.name for p in out.glob("*.mp3")) == [
        "versions (Quick).mp3",
        "versions (holds 0.5x).mp3",
        "versions (pace 0.8x).mp3",
        "versions.mp3",
    ]
    titles = {mp3.name: dict(inspect(mp3).tags)["Title"] for mp3 in (written, half, slow, quick)}
    assert titles == {
        "versions.mp3": "Versions",
        "versions (holds 0.5x).mp3": "Versions (holds 0.5x)",
        "versions (pace 0.8x).mp3": "Versions (pace 0.8x)",
        "versions (Quick).mp3": "Versions (Quick)",
    }
    assert "[ti:Versions (Quick)]" in (out / "versions (Quick).lrc").read_text(encoding="utf-8")
    chapters = json.loads((out / "versions (Quick).chapters.json").read_text(encoding="utf-8"))["chapters"]
    assert chapters[-1]["endTime"] == pytest.approx(quick_plan.timeline.duration / rate, abs=0.001)


def test_publish_puts_every_variant_side_by_side(
    write_routine: Callable[..., Path], tmp_path: Path, runner: CliRunner
) -> None:
    path = write_routine(VERSIONS, "versions.yaml")
    site = tmp_path / "site"
    args = ["publish", str(path), "-o", str(site), "--base-url", "http://example.com/", *ESPEAK, "--variant", "all"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (site / "tracks").glob("*/*/*.mp3")) == ["versions (Quick).mp3", "versions.mp3"]
    feed = feedparser.parse(str(site / "feed.xml"))
    assert sorted(item.title for item in feed.entries) == ["Versions", "Versions (Quick)"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--variant", "quick"],
            'routine.yaml:7: step 1 "Press" (steps[0]) → countdown: a countdown of 3 needs a hold of at least 3 s; '
            "this hold is 2 s with `holds: 0.5` of variant 'quick'; raise the holds factor of variant 'quick', "
            "or lower `countdown` to 2\n"
            'routine.yaml:8: step 1 "Press" (steps[0]) → cues[0].at: falls outside its 2 s hold with `holds: 0.5` '
            "of variant 'quick'; raise the holds factor of variant 'quick', or use `half` or a time from 0 s to just "
            "under 2 s, or a negative time counted back from the end",
        ),
        (
            ["--holds", "0.25"],
            'routine.yaml:7: step 1 "Press" (steps[0]) → countdown: a countdown of 3 needs a hold of at least 3 s; '
            "this hold is 1 s with --holds 0.25; raise the holds factor of --holds, or lower `countdown` to 1\n"
            'routine.yaml:8: step 1 "Press" (steps[0]) → cues[0].at: falls outside its 1 s hold with --holds 0.25; '
            "raise the holds factor of --holds, or use `half` or a time from 0 s to just under 1 s, or a negative "
            "time counted back from the end",
        ),
        (["--variant", "quik"], "routine.yaml:3: variants: has no variant 'quik'; did you mean 'quick'?"),
    ],
)
def test_a_version_whose_holds_are_too_short_is_refused_at_the_line(
    options: list[str], message: str, write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    text = """\
        title: T
        variants:
          quick: {holds: 0.5}
        steps:
          - say: Press.
            hold: 4s
            countdown: 3
            cues: [{at: -3s, say: Now.}]
        """
    path = write_routine(text)
    for command in (["plan", *ESPEAK], ["render", "-o", str(tmp_path / "out"), *ESPEAK]):
        result = runner.invoke(cli, [command[0], str(path), *command[1:], *options])
        assert result.exit_code == 2, result.output
        lines = result.stderr.replace(str(path), "routine.yaml").splitlines()
        assert lines[: len(message.splitlines())] == message.splitlines()
        assert lines[-2].startswith("Error: ")  # then the line that points at `voiceguide docs`
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    if options[0] == "--variant" and options[1] == "quick":  # validate checks every variant a routine declares
        result = runner.invoke(cli, ["validate", str(path)])
        assert result.exit_code == 2, result.output
