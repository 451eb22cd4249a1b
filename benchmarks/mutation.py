"""Mutation testing of the core modules with mutmut: one command, a score per module.

    .venv/bin/pip install -e '.[mutation]'                       # once: mutmut
    .venv/bin/python benchmarks/mutation.py                      # timeline, durations, clips, assembly
    .venv/bin/python benchmarks/mutation.py assembly loudness level  # any modules named below
    .venv/bin/python benchmarks/mutation.py --survivors timeline  # also list the mutants no test killed

Each run works in a scratch copy (``.mutation/``, git-ignored) whose ``pyproject.toml``
names only the chosen modules and the test files that cover them, so mutmut's coverage
pass runs those tests and nothing else (tests marked ``render``, real speech through ffmpeg,
are left out). Every mutant is then tested with only the tests that reach the mutated
function. Killed, timed-out and crashed mutants count as detected; the score is
detected / all mutants. It is CPU-heavy: it runs under ``nice``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # mutmut installs toml on Python 3.10
    import toml as tomllib

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".mutation"


@dataclass(frozen=True)
class Target:
    """A module to mutate, the functions of it that count (all when empty), and its tests."""

    module: str  # dotted, under voiceguide: "plan.timeline"
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The module's file, relative to voiceguide/."""
        return self.module.replace(".", "/") + ".py"

    def names(self) -> list[str]:
        """mutmut's mutant-name patterns for this target."""
        prefix = f"voiceguide.{self.module}."
        if not self.functions:
            return [prefix + "*"]
        # mutmut names a method's mutants xǁClassǁmethod__mutmut_N; "Mix.*" takes all of Mix's
        return [
            f"{prefix}xǁ{f.replace('.', 'ǁ')}__mutmut_*" if "." in f else f"{prefix}x_{f}__mutmut_*"
            for f in self.functions
        ]


TIMING_TESTS = ("tests/plan/test_timeline.py", "tests/test_durations.py", "tests/plan/test_properties.py")
TARGETS = {
    "timeline": Target("plan.timeline", TIMING_TESTS),
    "durations": Target("durations", TIMING_TESTS),
    # the assembly code: trimming engine clips, and placing them at their samples
    "clips": Target("speech.clips", ("tests/audio/test_audio.py",), ("trim",)),
    "assembly": Target("audio.mix", ("tests/audio/test_audio.py",), ("Mix.*",)),
    "loudness": Target("audio.loudness", ("tests/audio/test_loudness.py",)),
    "level": Target("audio.level", ("tests/audio/test_level.py",)),
    "export": Target("export.track", ("tests/export/test_export.py",)),
}
# Tests marked `render` (real speech through ffmpeg, seconds each) are left out: each mutant runs every
# test that reaches its function, so a survivor would pay for all of them. Synthetic tests cover that code.
DESELECT = ("-m", "not render")
DEFAULT = ("timeline", "durations", "clips", "assembly")
# What counts as detected: the tests did not pass. mutmut calls a run ended by SIGKILL a "segfault";
# the kernel sends it at the hard CPU limit, a second past the SIGXCPU that mutmut calls a timeout.
DETECTED = ("killed", "timeout", "segfault", "caught by type check")


# mutmut credits a function to the test during which it ran, and a module- or session-scoped fixture
# runs once, while its first test is set up: every later test that checks what such a fixture made
# would never be run against a mutant of the code it calls. So, in the scratch copy only, the
# project's own fixtures are set up afresh for each test (pytest's fixture definitions keep their
# scope in ``_scope``; pytest's own fixtures, with an empty ``baseid``, are left alone).
EVERY_FIXTURE_PER_TEST = """

def pytest_collection_modifyitems(items):  # added by benchmarks/mutation.py
    from _pytest.scope import Scope

    for item in items:
        for definitions in item._fixtureinfo.name2fixturedefs.values():
            for definition in definitions:
                if definition.baseid:
                    assert isinstance(definition._scope, Scope)  # pytest still keeps the scope there
                    definition._scope = Scope.Function
"""


def scratch_copy(chosen: list[Target]) -> Path:
    """A fresh copy of the package and tests whose mutmut settings (pyproject's ``[tool.mutmut]``)
    name only ``chosen`` and the tests that cover them."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir()
    for folder in ("voiceguide", "tests", "routines"):
        shutil.copytree(ROOT / folder, SCRATCH / folder, ignore=shutil.ignore_patterns("__pycache__"))
    with (SCRATCH / "tests" / "conftest.py").open("a", encoding="utf-8") as conftest:
        conftest.write(EVERY_FIXTURE_PER_TEST)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    mutmut = {
        **project["mutmut"],
        "only_mutate": sorted({f"voiceguide/{target.path}" for target in chosen}),
        "pytest_add_cli_args": [*project["mutmut"]["pytest_add_cli_args"], *DESELECT],
        "pytest_add_cli_args_test_selection": sorted({t for target in chosen for t in target.tests}),
    }
    pytest_options = project["pytest"]["ini_options"]
    (SCRATCH / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in mutmut.items())
        + "\n[tool.pytest.ini_options]\n"
        + "".join(f"{key} = {json.dumps(pytest_options[key])}\n" for key in ("filterwarnings", "markers")),
        encoding="utf-8",
    )
    return SCRATCH


def statuses(folder: Path, target: Target) -> dict[str, str]:
    """Each of ``target``'s mutants and what became of it."""
    from fnmatch import fnmatch

    from mutmut.stats import status_by_exit_code

    meta = json.loads((folder / "mutants" / "voiceguide" / f"{target.path}.meta").read_text(encoding="utf-8"))
    patterns = target.names()
    return {
        name: status_by_exit_code[code]
        for name, code in meta["exit_code_by_key"].items()
        if any(fnmatch(name, p) for p in patterns)
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(DEFAULT), choices=sorted(TARGETS))
    parser.add_argument("--survivors", action="store_true", help="list the mutants no test killed")
    args = parser.parse_args()
    chosen = [TARGETS[name] for name in dict.fromkeys(args.modules)]
    folder = scratch_copy(chosen)
    mutmut = Path(sys.executable).with_name("mutmut")
    if not mutmut.exists():
        print("mutmut is not installed: .venv/bin/pip install -e '.[mutation]'", file=sys.stderr)
        return 1
    names = [n for target in chosen for n in target.names()]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    code = subprocess.call(["nice", "-n", "10", str(mutmut), "run", *names], cwd=folder, env=env)
    if code != 0:
        print(f"mutmut stopped with exit code {code}", file=sys.stderr)
        return code
    print()
    worst = 100.0
    for name, target in zip(dict.fromkeys(args.modules), chosen, strict=True):
        found = statuses(folder, target)
        detected = sum(s in DETECTED for s in found.values())
        score = 100 * detected / len(found) if found else 100.0
        worst = min(worst, score)
        print(f"{name:10} {detected:4} of {len(found):4} mutants detected: {score:5.1f}%")
        if args.survivors:
            for mutant, status in sorted(found.items()):
                if status not in DETECTED:
                    print(f"    {status:11} {mutant}    (show it: cd .mutation && mutmut show {mutant})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
