"""Render generated routines of 10, 30 and 120 minutes with voiceguide and by hand; print a table.

    .venv/bin/python benchmarks/bench.py                 # all three lengths
    .venv/bin/python benchmarks/bench.py --minutes 10    # just one

voiceguide runs as a user runs it (`python -m voiceguide render`, espeak-ng engine,
all cores, default settings: loudness -16 LUFS, chapters, cover, sidecars): with an empty
cache, again unchanged, and after editing one line. A last column renders cold doing only
the hand-made pipeline's job (`--loudness off --no-sidecars`).
`--hold` instead renders one 3-hour hold and compares it with a bare ffmpeg encode of
3 hours of silence.
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
    runs = {"hand": measure([sys.executable, str(HANDMADE), str(routine), str(folder / "hand.mp3")], env)}
    runs["cold"] = measure(defaults, env)
    runs["warm"] = measure(defaults, env)
    routine.write_text(routine_text(minutes, edited=True))
    runs["edit"] = measure(defaults, env)
    bare = [*defaults, "--loudness", "off", "--no-sidecars"]
    runs["bare"] = measure(bare, {**env, "VOICEGUIDE_CACHE_DIR": str(folder / f"cold-{minutes}")})
    return runs


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
    parser.add_argument("--hold", action="store_true", help="also time one 3-hour hold against bare ffmpeg")
    args = parser.parse_args()
    from voiceguide.audio.ffmpeg import ffmpeg

    print(f"{os.cpu_count()} cores; voiceguide with the espeak-ng engine, all cores; {ffmpeg()}\n")
    print(
        "| routine | track | lines | hand-made | cold | cold/hand | unchanged (/hand) | edit 1 line, "
        "synthesised (/hand) | peak RSS vg / hand | cold, --loudness off --no-sidecars (/hand) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="voiceguide-bench-") as tmp:
        for minutes in args.minutes:
            runs = bench(minutes, Path(tmp))
            length, lines, _ = summary_numbers(runs["cold"].output)
            _, edit_lines, edit_hits = summary_numbers(runs["edit"].output)
            cold, warm, edit, hand, bare = (runs[k] for k in ("cold", "warm", "edit", "hand", "bare"))
            peak = max(cold.peak_mb, warm.peak_mb, edit.peak_mb, bare.peak_mb)
            totals[minutes] = cold.seconds
            h = hand.seconds
            print(
                f"| {minutes} min | {length} | {lines} | {h:.2f} s | {cold.seconds:.2f} s | {cold.seconds / h:.2f}x | "
                f"{warm.seconds:.2f} s ({warm.seconds / h:.2f}x) | "
                f"{edit.seconds:.2f} s, {edit_lines - edit_hits} ({edit.seconds / h:.2f}x) | "
                f"{peak:.0f} MB / {hand.peak_mb:.0f} MB | {bare.seconds:.2f} s ({bare.seconds / h:.2f}x) |",
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
