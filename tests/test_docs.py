"""Plan excerpts and error examples in the docs are real output, regenerated here.

A plan excerpt follows a marker such as
``<!-- plan excerpt: routines/desk-break.yaml from "-- Shoulder rolls", 6 lines -->``;
an error example follows a ```` ```yaml ```` block and the marker
``<!-- validate output: errs.yaml -->`` (the block is checked as a file of that name).
The test fails when one is stale; ``.venv/bin/python tests/test_docs.py`` rewrites them all.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from voiceguide.cli.report import error_text
from voiceguide.errors import RoutineError
from voiceguide.pipeline import Overrides, load, plan
from voiceguide.plan.present import plan_lines
from voiceguide.routine.build import load_routine

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "README.md", ROOT / "docs" / "routine-format.md")
MARKER = re.compile(
    r'(<!-- plan excerpt: (?P<routine>\S+) from "(?P<start>[^"]+)", (?P<count>\d+) lines -->\n```\n)(?P<body>.*?)(```)',
    re.DOTALL,
)


VALIDATED = re.compile(
    r"(```yaml\n(?P<yaml>(?:(?!```).)*?)```\n\n<!-- validate output: (?P<name>\S+) -->\n```\n)(?P<body>.*?)(```)",
    re.DOTALL,
)


def validate_output(routine: str, name: str) -> str:
    """What `voiceguide validate` prints for ``routine`` saved as ``name``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(routine, encoding="utf-8")
        try:
            steps = len(load_routine(path).steps)
        except RoutineError as err:
            return error_text(err).replace(str(path), name) + "\n"
    return f"{name}: ok ({steps} step{'s' * (steps != 1)})\n"


def excerpt(routine: str, start: str, count: int) -> str:
    """``count`` lines of the routine's plan, from the first line that contains ``start``."""
    # espeak-ng directly: on Linux the default pyttsx3 engine speaks the same samples, and faster this way
    lines = plan_lines(plan(load(ROOT / routine, Overrides(engine="espeak-ng"))).timeline)
    first = next(i for i, line in enumerate(lines) if start in line)
    return "\n".join(lines[first : first + count]) + "\n"


def regenerate(text: str) -> str:
    """``text`` with every plan excerpt replaced by the current plan."""

    def fresh(match: re.Match[str]) -> str:
        body = excerpt(match["routine"], match["start"], int(match["count"]))
        return match.group(1) + body + match.group(6)

    def checked(match: re.Match[str]) -> str:
        return match.group(1) + validate_output(match["yaml"], match["name"]) + match.group(5)

    return VALIDATED.sub(checked, MARKER.sub(fresh, text))


def test_plan_excerpts_in_the_docs_are_current() -> None:
    found = 0
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        found += len(MARKER.findall(text)) + len(VALIDATED.findall(text))
        assert regenerate(text) == text, f"{doc.name} has a stale plan excerpt; run .venv/bin/python tests/test_docs.py"
    assert found >= 5


if __name__ == "__main__":
    for doc in DOCS:
        old = doc.read_text(encoding="utf-8")
        new = regenerate(old)
        if new != old:
            doc.write_text(new, encoding="utf-8")
            print(f"updated {doc.relative_to(ROOT)}", file=sys.stderr)
