"""Render generated routines of 10, 30 and 120 minutes with voiceguide and by hand; print a table.

    .venv/bin/python benchmarks/bench.py                 # all three lengths
    .venv/bin/python benchmarks/bench.py --minutes 10    # just one

voiceguide runs as a user runs it (`python -m voiceguide render`, espeak-ng engine,
all cores, default settings: loudness -16 LUFS, chapters, cover, sidecars): with an empty
cache into a fresh folder, again unchanged, and after editing one line. A last column renders
cold doing only the hand-made pipeline's job (`--loudness off --no-sidecars`). Rounds
alternate (hand-made, voiceguide, hand-made, voiceguide, ...) so both see the same load; each
ratio is taken within its round, and the table gives their median and range.
`--hold` instead renders one 3-hour hold and compares it with a bare ffmpeg encode of
3 hours of silence.
The hand-made pipeline is what a user could script: `espeak-ng -w` for each distinct
line once (a dict by text), trim, place at sample-exact offsets in one array, one ffmpeg encode.
Each run is its own process; wall time from a monotonic clock, peak RSS from wait4.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
HANDMADE = HERE / "handmade.py"

BODY_PARTS = ["neck", "shoulder", "upper back", "lower back", "hip", "calf", "hamstring", "chest", "forearm", "jaw"]
ACTIONS = ["Gently stretch", "Slowly knead", "Softly press", "Carefully roll", "Lightly rub", "Calmly release"]


def routine_text(minutes: int, edited: bool = False) -> str:
    """A routine of about ``minutes`` minutes whose distinct lines grow with its length."""
    steps = []
    total_ms = 0
    number = 0
    while total_ms < minutes * 60_000 * 0.8:  # speech adds the rest
        number += 1
        part = BODY_PARTS[number % len(BODY_PARTS)]
        action = ACTIONS[number % len(ACTIONS)]
        say = f"Exercise {number}. {action} your {{side}} {part}, and breathe slowly."
        halfway = f"Halfway through exercise {number}."
        if edited and number == 1:
            halfway = "Halfway there. Keep breathing."
        steps.append(
            {
                "name": f"Exercise {number}",
                "say": say,
                "sides": "both",
                "reps": 2,
                "hold": "20s",
                "again": f"Once more, {{side}} {part}.",
                "release": "And relax.",
                "cues": [{"at": "half", "say": halfway}],
            }
        )
        total_ms += 2 * (2 * 20_000 + 3_000) + 3_000 + 2_000
    return yaml.safe_dump(
        {"title": f"Benchmark {minutes} minutes", "intro": "Welcome to the benchmark.", "steps": steps},
        sort_keys=False,
    )


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    output: str
    cpu_seconds: float = 0.0  # user + system, the process and its children


def measure(command: list[str], env: dict[str, str]) -> Run:
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{output}")
    return Run(elapsed, usage.ru_maxrss / 1024, output, usage.ru_utime + usage.ru_stime)


def bench(minutes: int, folder: Path) -> dict[str, Run]:
    """One round: the hand-made pipeline, then voiceguide cold (a fresh output folder and an empty
    cache), unchanged, after a one-line edit, and cold with --loudness off --no-sidecars."""
    folder.mkdir(parents=True)
    routine = folder / f"bench-{minutes}.yaml"
    routine.write_text(routine_text(minutes))
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(folder / "cache")}
    defaults = [sys.executable, "-m", "voiceguide", "render", str(routine), "--engine", "espeak-ng"]
    runs = {"hand": measure([sys.executable, str(HANDMADE), str(routine), str(folder / "hand.mp3")], env)}
    runs["cold"] = measure([*defaults, "-o", str(folder / "out")], env)
    runs["warm"] = measure([*defaults, "-o", str(folder / "out")], env)
    routine.write_text(routine_text(minutes, edited=True))
    runs["edit"] = measure([*defaults, "-o", str(folder / "out")], env)
    routine.write_text(routine_text(minutes))
    bare = [*defaults, "-o", str(folder / "bare"), "--loudness", "off", "--no-sidecars"]
    runs["bare"] = measure(bare, {**env, "VOICEGUIDE_CACHE_DIR": str(folder / "cache-bare")})
    return runs


def spread(values: list[float]) -> str:
    """The median of ``values`` and their range, as ratios."""
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def hold(folder: Path) -> None:
    """One 3-hour hold, default settings (espeak-ng), against a bare ffmpeg encode of 3 hours of silence."""
    from voiceguide.audio.ffmpeg import ffmpeg

    routine = folder / "hold.yaml"
    routine.write_text("title: Hold\nsteps:\n  - say: Hold still.\n    hold: 3h\n")
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(folder / "cache-hold")}
    render = [sys.executable, "-m", "voiceguide", "render", str(routine), "-o", str(folder / "out")]
    ours = measure([*render, "--engine", "espeak-ng"], env)  # like the other rows: the hold is measured, not a voice
    silence = ["-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "10800"]
    bare = measure([ffmpeg(), "-v", "error", "-y", *silence, "-b:a", "64k", str(folder / "silence.mp3")], env)
    print(
        f"| 3-hour hold | {ours.seconds:.2f} s | bare ffmpeg, 3 h of silence: {bare.seconds:.2f} s | "
        f"{ours.seconds / bare.seconds:.2f}x | {ours.peak_mb:.0f} MB |"
    )


def summary_numbers(output: str) -> tuple[str, int, int]:
    """Track length, lines and cache hits from voiceguide's summary line."""
    found = re.search(r"\((\S+), .*; (\d+) lines, (\d+) from cache", output)
    assert found, output
    return found.group(1), int(found.group(2)), int(found.group(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, nargs="*", default=[10, 30, 120])
    parser.add_argument("--runs", type=int, default=3, help="rounds per length; each round runs every variant once")
    parser.add_argument("--hold", action="store_true", help="also time one 3-hour hold against bare ffmpeg")
    args = parser.parse_args()
    from voiceguide.audio.ffmpeg import ffmpeg

    print(f"{os.cpu_count()} cores; voiceguide with the espeak-ng engine, all cores; {ffmpeg()}; {args.runs} rounds")
    print("medians over the rounds, each ratio against the hand-made run of its own round (range in brackets)\n")
    print(
        "| routine | track | lines | hand-made | cold | cold/hand | unchanged/hand | edit 1 line/hand (synthesised) "
        "| peak RSS vg / hand | --loudness off --no-sidecars, cold/hand |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="voiceguide-bench-") as tmp:
        for minutes in args.minutes:
            rounds = [bench(minutes, Path(tmp) / f"{minutes}-{n}") for n in range(args.runs)]
            length, lines, _ = summary_numbers(rounds[0]["cold"].output)
            _, edit_lines, edit_hits = summary_numbers(rounds[0]["edit"].output)

            def ratios(name: str, runs: list[dict[str, Run]] = rounds) -> list[float]:
                return [r[name].seconds / r["hand"].seconds for r in runs]

            hand = statistics.median(r["hand"].seconds for r in rounds)
            cold = statistics.median(r["cold"].seconds for r in rounds)
            peak = max(r[k].peak_mb for r in rounds for k in ("cold", "warm", "edit", "bare"))
            totals[minutes] = cold
            print(
                f"| {minutes} min | {length} | {lines} | {hand:.2f} s | {cold:.2f} s | {spread(ratios('cold'))} | "
                f"{spread(ratios('warm'))} | {spread(ratios('edit'))} ({edit_lines - edit_hits}) | "
                f"{peak:.0f} MB / {max(r['hand'].peak_mb for r in rounds):.0f} MB | {spread(ratios('bare'))} |",
                flush=True,
            )
        if args.hold:
            print("\n| routine | voiceguide, default settings | anchor | ratio | peak RSS |\n|---|---|---|---|---|")
            hold(Path(tmp))
    slopes = {
        (shorter, longer): (totals[longer] - totals[shorter]) / (longer - shorter)
        for shorter, longer in pairwise(sorted(totals))
    }
    for (shorter, longer), slope in slopes.items():
        print(f"\nCold render, each extra track minute from {shorter} to {longer} min: {slope:.3f} s", end="")
    if len(slopes) > 1:
        print(f"\nLinearity: the slopes differ by {max(slopes.values()) / min(slopes.values()) - 1:.0%}", end="")
    print()


if __name__ == "__main__":
    main()
