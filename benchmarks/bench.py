"""Render generated routines of 10, 30 and 120 minutes with voiceguide and by hand; print a table.

    .venv/bin/python benchmarks/bench.py                 # all three lengths
    .venv/bin/python benchmarks/bench.py --minutes 10    # just one

voiceguide runs as a user runs it (`python -m voiceguide render`, espeak-ng engine,
all cores) doing the hand-made pipeline's job (`--loudness off --no-sidecars`: speech,
exact silences, one encode): with an empty cache, again with a warm cache (unchanged, and
with the track deleted so it is encoded again), and after editing one line. A last column
renders cold with the default settings, which add loudness normalisation to -16 LUFS
(several ffmpeg passes), chapters, cover art and sidecar files.
The hand-made pipeline is what a user could script: `espeak-ng -w` for every spoken
line in order, trim, place at sample-exact offsets in one array, one ffmpeg encode.
Each run is its own process; wall time from a monotonic clock, peak RSS from wait4.
"""

from __future__ import annotations

import argparse
import os
import re
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
    routine = folder / f"bench-{minutes}.yaml"
    routine.write_text(routine_text(minutes))
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(folder / f"cache-{minutes}")}
    out = folder / "out"
    defaults = [sys.executable, "-m", "voiceguide", "render", str(routine), "-o", str(out), "--engine", "espeak-ng"]
    render = [*defaults, "--loudness", "off", "--no-sidecars"]
    runs = {"cold": measure(render, env), "warm": measure(render, env)}
    (out / routine.with_suffix(".mp3").name).unlink()
    runs["encode"] = measure(render, env)
    routine.write_text(routine_text(minutes, edited=True))
    runs["edit"] = measure(render, env)
    runs["defaults"] = measure(defaults, {**env, "VOICEGUIDE_CACHE_DIR": str(folder / f"cold-{minutes}")})
    runs["hand"] = measure([sys.executable, str(HANDMADE), str(routine), str(folder / "hand.mp3")], env)
    return runs


def summary_numbers(output: str) -> tuple[str, int, int]:
    """Track length, lines and cache hits from voiceguide's summary line."""
    found = re.search(r"\((\S+), .*; (\d+) lines, (\d+) from cache", output)
    assert found, output
    return found.group(1), int(found.group(2)), int(found.group(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, nargs="+", default=[10, 30, 120])
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; voiceguide with the espeak-ng engine, all cores\n")
    print(
        "| routine | track | lines | cold | warm, unchanged | warm, re-encoded | edit 1 line (synthesised) "
        "| hand-made | cold/hand | warm/hand (unchanged, re-encoded) | peak RSS vg / hand "
        "| cold, default settings (/hand) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="voiceguide-bench-") as tmp:
        for minutes in args.minutes:
            runs = bench(minutes, Path(tmp))
            length, lines, _ = summary_numbers(runs["cold"].output)
            _, edit_lines, edit_hits = summary_numbers(runs["edit"].output)
            cold, warm, encode, edit, hand, full = (
                runs[k] for k in ("cold", "warm", "encode", "edit", "hand", "defaults")
            )
            peak = max(cold.peak_mb, warm.peak_mb, encode.peak_mb, edit.peak_mb, full.peak_mb)
            totals[minutes] = cold.seconds
            print(
                f"| {minutes} min | {length} | {lines} | {cold.seconds:.2f} s | {warm.seconds:.2f} s | "
                f"{encode.seconds:.2f} s | {edit.seconds:.2f} s ({edit_lines - edit_hits}) | {hand.seconds:.2f} s | "
                f"{cold.seconds / hand.seconds:.2f}x | {warm.seconds / hand.seconds:.2f}x, "
                f"{encode.seconds / hand.seconds:.2f}x | "
                f"{peak:.0f} MB / {hand.peak_mb:.0f} MB | {full.seconds:.2f} s ({full.seconds / hand.seconds:.2f}x) |",
                flush=True,
            )
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
