"""Findings of the outside review: long keys explained in linear time, text that is only text."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from voiceguide.cli.app import cli
from voiceguide.errors import RoutineError
from voiceguide.export.cover import cover_art
from voiceguide.files import safe_name
from voiceguide.routine import source as yamlsource
from voiceguide.routine.build import load_routine
from voiceguide.routine.source import MAX_EXPLAINED, SHOWN_LINE

WriteRoutine = Callable[..., Path]
MB = 1_000_000 - 1_000  # just under the file limit, with room for the rest of the routine


class _Patterns:
    """``re`` for yamlsource, noting the longest text any pattern searched or matched."""

    def __init__(self) -> None:
        self.longest = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def search(self, pattern: str, string: str, *args: Any) -> re.Match[str] | None:
        self.longest = max(self.longest, len(string))
        return re.search(pattern, string, *args)

    def match(self, pattern: str, string: str, *args: Any) -> re.Match[str] | None:
        self.longest = max(self.longest, len(string))
        return re.match(pattern, string, *args)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("title: T\n" + "k" * MB + ":v\nsteps:\n  - say: hi\n", id="1MB-glued-key"),
        pytest.param("title: T\n" + "k-" * (MB // 2) + "\nsteps:\n  - say: hi\n", id="1MB-line"),
        pytest.param("title: T\nsteps:\n  - say: hi\n    " + "k" * MB + "\n", id="1MB-key-in-step"),
        pytest.param("title: T\nsteps:\n  - say: x #" + "c" * MB + "\n", id="1MB-comment"),
        pytest.param("title: T\nsteps:\n  - say: 'x\n" + "q" * MB + "\n", id="1MB-open-quote"),
    ],
)
def test_a_1_mb_key_or_line_is_explained_from_a_capped_part_of_it(
    text: str, write_routine: WriteRoutine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The explainer once ran a quadratic pattern over the whole line (a 100 KB key: 44 s). Now no
    pattern sees more than MAX_EXPLAINED characters of a line, and a message shows at most SHOWN_LINE
    of it: asserted on the inputs themselves, not on the clock of a shared machine."""
    patterns = _Patterns()
    monkeypatch.setattr(yamlsource, "re", patterns)
    with pytest.raises(RoutineError) as caught:
        load_routine(write_routine(text))
    assert patterns.longest <= MAX_EXPLAINED
    assert all(len(line) < SHOWN_LINE + 200 for p in caught.value.problems for line in str(p).splitlines())


def test_a_glued_key_is_still_explained(write_routine: WriteRoutine) -> None:
    with pytest.raises(RoutineError) as caught:
        load_routine(write_routine("title: T\nsteps:\n  - say: hi\n    hold:10s\n    reps: 2\n"))
    assert "`hold:10s` needs a space after the colon" in str(caught.value.problems[0])


def test_a_long_line_is_shown_around_the_caret(write_routine: WriteRoutine) -> None:
    line = "    " + "x" * 300 + ": y: z"
    with pytest.raises(RoutineError) as caught:
        load_routine(write_routine("title: T\nsteps:\n  - say: hi\n" + line + "\n"))
    shown = str(caught.value.problems[0]).splitlines()
    row = next(i for i, text in enumerate(shown) if text.startswith("      4 | "))
    assert shown[row].endswith("…") or shown[row].startswith("      4 | …")
    assert len(shown[row]) <= len("      4 | ") + SHOWN_LINE + 2


HIDDEN_FIX = (
    "; delete it, or retype the text "
    "(such characters come with text copied from other programs, and would show or act differently)"
)


@pytest.mark.parametrize(
    ("routine", "message"),
    [
        pytest.param(
            'title: "Good\\0Evil"\nsteps:\n  - say: hi\n',
            "routine.yaml:1: title: text contains a control character (U+0000) after 'Good'",
            id="nul-title",
        ),
        pytest.param(
            'title: T\nauthor: "A\\x01B"\nsteps:\n  - say: hi\n',
            "routine.yaml:2: author: text contains a control character (U+0001) after 'A'",
            id="control-author",
        ),
        pytest.param(
            'title: T\nsteps:\n  - say: "\\e[2J Breathe."\n',
            'routine.yaml:3: step 1 "�[2J Breathe" (steps[0]) → say: text contains a control character (U+001B) '
            "at its start",
            id="terminal-escape",
        ),
        pytest.param(
            'title: T\nsteps:\n  - name: "Neck \\u202egnp.exe"\n    say: hi\n',
            'routine.yaml:3: step 1 "Neck �gnp.exe" (steps[0]) → name: text contains an invisible character '
            "(U+202E RIGHT-TO-LEFT OVERRIDE) after 'Neck '",
            id="bidi-override",
        ),
        pytest.param(
            'title: T\nsteps:\n  - say: hi\n    sides: ["le\\u200bft", right]\n',
            'routine.yaml:4: step 1 "hi" (steps[0]) → sides: text contains an invisible character '
            "(U+200B ZERO WIDTH SPACE) after 'le'",
            id="zero-width-label",
        ),
        pytest.param(
            'title: T\nsteps:\n  - say: hi\n    hold: 20s\n    cues: [{at: 5s, say: "a\\x7fb"}]\n',
            'routine.yaml:5: step 1 "hi" (steps[0]) → cues[0].say: text contains a control character (U+007F) '
            "after 'a'",
            id="delete-in-cue",
        ),
        pytest.param(
            'title: "\\u2066T\\u2069"\nsteps:\n  - say: hi\n',
            "routine.yaml:1: title: text contains an invisible character (U+2066 LEFT-TO-RIGHT ISOLATE) at its start",
            id="bidi-isolate",
        ),
    ],
)
def test_text_refuses_control_and_invisible_characters(
    routine: str, message: str, write_routine: WriteRoutine, runner: CliRunner
) -> None:
    path = write_routine(routine)
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path.parent}/{message}{HIDDEN_FIX}\n" in result.output
    assert "\x1b" not in result.output  # nothing reaches the terminal raw


def test_tabs_line_breaks_and_joiners_are_text(write_routine: WriteRoutine) -> None:
    routine = load_routine(
        write_routine('title: "Family 👨\\u200d👩\\u200d👧"\nsteps:\n  - say: "Sit\\ttall.\\nBreathe."\n')
    )
    assert routine.title == "Family 👨\u200d👩\u200d👧"
    assert routine.steps[0].say == "Sit tall. Breathe."


@pytest.mark.parametrize(
    ("name", "safe"),
    [("neck\u202egnp.exe", "neck-gnp.exe"), ("a\x1b[2Jb", "a-[2Jb"), ("zero\u200bwidth", "zero-width")],
)
def test_file_names_lose_control_and_invisible_characters(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def _long_routine(write_routine: WriteRoutine) -> Path:
    """The review's routine: 500 steps each saying a 2,000-character text through an alias, 100 reps
    and both sides, without a hold: a 35 KB file that once validated (then as a 50-hour track)."""
    text = ("Breathe slowly " * 140)[:1995].strip()
    step = "{say: *t, reps: 100, sides: both, rest: 0s, pause: 0s}"
    steps = [f'  - {{say: &t "{text}", reps: 100, sides: both, rest: 0s, pause: 0s}}'] + [f"  - {step}"] * 499
    return write_routine("title: Long\nsteps:\n" + "\n".join(steps) + "\n")


def test_speech_counts_toward_the_length_limit_at_validate(write_routine: WriteRoutine, runner: CliRunner) -> None:
    path = _long_routine(write_routine)
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(
        f"{path}:3: steps: the track would last at least 24h47m12.6s; the limit for one track is 4h "
        "(split it into several routines, or allow more with --max-length)\n"
    )
    assert runner.invoke(cli, ["validate", "--max-length", "25h", str(path)]).exit_code == 0
    assert runner.invoke(cli, ["plan", "--max-length", "24h", str(path)]).exit_code == 2


def test_max_length_also_lowers_the_limit(short_routine: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", "--max-length", "10s", str(short_routine)])
    assert result.exit_code == 2
    assert "steps: holds, rests and pauses alone last" in result.output
    assert "the limit for one track is 10 s" in result.output
    bad = runner.invoke(cli, ["validate", "--max-length", "soon", str(short_routine)])
    assert bad.exit_code == 2
    assert "expected a duration like 4h or 90m, got 'soon'" in bad.output


def test_a_giant_cover_is_refused_at_validate(tmp_path: Path, write_routine: WriteRoutine, runner: CliRunner) -> None:
    """13000 x 13000 was accepted with a warning, and publish then took 1.6 GB to scale it."""
    Image.new("1", (13_000, 13_000)).save(tmp_path / "huge.png")  # a few KB on disk
    path = write_routine("title: T\ncover: huge.png\nsteps:\n  - say: hi\n")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert (
        f"{path}:2: cover: huge.png is 13000x13000 pixels (169 megapixels), more than 40 megapixels; "
        "save a smaller copy (2000 pixels wide is plenty)\n"
    ) in result.output


@pytest.mark.parametrize(("suffix", "mime"), [(".jpg", "image/jpeg"), (".png", "image/png")])
def test_an_embedded_cover_is_at_most_3000_pixels_on_a_side(
    suffix: str, mime: str, tmp_path: Path, write_routine: WriteRoutine
) -> None:
    Image.new("RGB", (4000, 1000), (200, 90, 40)).save(tmp_path / f"wide{suffix}")
    Image.new("RGB", (300, 200), (200, 90, 40)).save(tmp_path / f"small{suffix}")
    wide = load_routine(write_routine(f"title: T\ncover: wide{suffix}\nsteps:\n  - say: hi\n"))
    cover = cover_art(wide)
    assert cover.mime == mime
    with Image.open(io.BytesIO(cover.data)) as image:
        assert image.size == (3000, 750)
    small = load_routine(write_routine(f"title: T\ncover: small{suffix}\nsteps:\n  - say: hi\n"))
    assert cover_art(small).data == (tmp_path / f"small{suffix}").read_bytes()  # kept as it is
