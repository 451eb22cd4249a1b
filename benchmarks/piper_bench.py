"""The piper engine against the bare Piper pipeline, on routines/neck-and-back.yaml.

    .venv/bin/python benchmarks/piper_bench.py [--runs 3]

Each round runs, one after the other (so both see the same machine load):
- voiceguide, cold: `python -m voiceguide render ROUTINE --engine piper --loudness off
  --no-sidecars` with an empty speech cache (all cores);
- the bare pipeline, `piper_bare.py`: one loaded voice speaking the same distinct lines,
  one encode;
- voiceguide, cold, default settings (loudness normalisation, chapters, sidecars).
Prints each round and the median of the ratios, of wall time and of CPU time (user + system,
which other load on the machine disturbs much less).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench import measure

HERE = Path(__file__).resolve().parent
ROUTINE = HERE.parent / "routines" / "neck-and-back.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("routine", nargs="?", type=Path, default=ROUTINE)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {args.routine.name}\n")
    print(
        "| round | piper engine, cold | bare Piper pipeline | engine/bare | CPU: engine, bare, engine/bare "
        "| cold, default settings (/bare) |"
    )
    print("|---|---|---|---|---|---|")
    ratios, cpu_ratios = [], []
    with tempfile.TemporaryDirectory(prefix="voiceguide-piper-bench-") as tmp:
        folder = Path(tmp)
        base = [sys.executable, "-m", "voiceguide", "render", str(args.routine), "-o", str(folder), "--engine", "piper"]
        for run in range(1, args.runs + 1):
            fresh = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(folder / f"cache-{run}")}
            engine = measure([*base, "--loudness", "off", "--no-sidecars"], fresh)
            bare = measure(
                [sys.executable, str(HERE / "piper_bare.py"), str(args.routine), str(folder / "bare.mp3")], fresh
            )
            full = measure(base, {**fresh, "VOICEGUIDE_CACHE_DIR": str(folder / f"full-{run}")})
            ratios.append(engine.seconds / bare.seconds)
            cpu_ratios.append(engine.cpu_seconds / bare.cpu_seconds)
            print(
                f"| {run} | {engine.seconds:.2f} s | {bare.seconds:.2f} s | {ratios[-1]:.2f}x | "
                f"{engine.cpu_seconds:.1f} s, {bare.cpu_seconds:.1f} s, {cpu_ratios[-1]:.2f}x | "
                f"{full.seconds:.2f} s ({full.seconds / bare.seconds:.2f}x) |",
                flush=True,
            )
    print(f"\nMedian engine/bare: {statistics.median(ratios):.2f}x wall, {statistics.median(cpu_ratios):.2f}x CPU")


if __name__ == "__main__":
    main()
