"""The piper engine against the bare Piper pipeline, on routines/neck-and-back.yaml (or ROUTINE).

    .venv/bin/python benchmarks/piper_bench.py [--runs 3] [ROUTINE]

Each round runs, one after the other (so both see the same machine load), each run into a
fresh output folder:
- voiceguide, cold: `python -m voiceguide render ROUTINE --engine piper --loudness off
  --no-sidecars` with a fresh cache folder (so the rewritten model is made too, as on a
  first run ever);
- the bare pipeline, `piper_bare.py`: one loaded voice speaking the same distinct lines,
  one encode;
- voiceguide again with the same options, its speech cache emptied (`cache clear`) but the
  rewritten model kept, as for any routine after the first;
- voiceguide, cold, default settings (loudness normalisation, chapters, sidecars), fresh cache.
Prints each round, then the median and range of each ratio, of wall time, CPU time (user +
system, which other load disturbs much less) and peak memory (RSS, from wait4).
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
        "| round | engine, cold | bare Piper | engine/bare | CPU engine/bare | peak RSS engine / bare "
        "| cold, model kept (/bare) | its peak RSS | cold, default settings (/bare) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    ratios: dict[str, list[float]] = {"wall": [], "cpu": [], "rss": [], "kept": [], "kept rss": [], "full": []}
    with tempfile.TemporaryDirectory(prefix="voiceguide-piper-bench-") as tmp:
        folder = Path(tmp)
        for run in range(1, args.runs + 1):
            render = [sys.executable, "-m", "voiceguide", "render", str(args.routine), "--engine", "piper"]
            quick = ["--loudness", "off", "--no-sidecars"]
            fresh = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(folder / f"cache-{run}")}
            engine = measure([*render, "-o", str(folder / f"engine-{run}"), *quick], fresh)
            bare_out = str(folder / f"bare-{run}.mp3")
            bare = measure([sys.executable, str(HERE / "piper_bare.py"), str(args.routine), bare_out], fresh)
            measure([sys.executable, "-m", "voiceguide", "cache", "clear"], fresh)
            kept = measure([*render, "-o", str(folder / f"kept-{run}"), *quick], fresh)
            full_cache = {**fresh, "VOICEGUIDE_CACHE_DIR": str(folder / f"full-{run}")}
            full = measure([*render, "-o", str(folder / f"full-{run}-out")], full_cache)
            for name, value in (
                ("wall", engine.seconds / bare.seconds),
                ("cpu", engine.cpu_seconds / bare.cpu_seconds),
                ("rss", engine.peak_mb / bare.peak_mb),
                ("kept", kept.seconds / bare.seconds),
                ("kept rss", kept.peak_mb / bare.peak_mb),
                ("full", full.seconds / bare.seconds),
            ):
                ratios[name].append(value)
            print(
                f"| {run} | {engine.seconds:.2f} s | {bare.seconds:.2f} s | {ratios['wall'][-1]:.2f}x | "
                f"{ratios['cpu'][-1]:.2f}x | {engine.peak_mb:.0f} MB / {bare.peak_mb:.0f} MB | "
                f"{kept.seconds:.2f} s ({ratios['kept'][-1]:.2f}x) | {kept.peak_mb:.0f} MB | "
                f"{full.seconds:.2f} s ({ratios['full'][-1]:.2f}x) |",
                flush=True,
            )
    print()
    for name, values in ratios.items():
        print(f"median {name}/bare: {statistics.median(values):.2f}x (range {min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
