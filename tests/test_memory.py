"""Memory while rendering stays flat in the track's length: a track four times as long (the same
lines, more reps) peaks at nearly the same resident memory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from voiceguide.plan.timeline import SAMPLE_RATE

# One step, reps only: both tracks speak the same distinct lines, and have a background bed.
ROUTINE = """\
title: Memory
background: {{noise: pink}}
steps:
  - name: Hold
    say: Hold the stretch and breathe slowly.
    hold: 20s
    reps: {reps}
    sides: both
    rest: 5s
    cues:
      - at: 10s
        say: Keep breathing.
"""
SHORT_REPS, LONG_REPS = 3, 12  # about 2.6 and 10.5 minutes
# A track held whole would grow the peak by at least its 16-bit samples: 2 bytes x 22,050 a second,
# 21 MB for the 8 minutes the long one adds (float64: 85 MB). What may grow is far smaller: the level
# stage's analysis (16 bytes per 2.9 ms tick where a clip sounds, about 2 MB here) and one small
# object per event. 6 MB leaves room for that and for the allocator's noise (measured: 1 to 3 MB).
MARGIN_BYTES = 6_000_000


def peak_rss(routine: Path, out: Path) -> int:
    """Peak resident memory (bytes) of `voiceguide render` of ``routine``, in a process of its own."""
    command = [sys.executable, "-m", "voiceguide", "render", str(routine), "-o", str(out), "--engine", "espeak-ng"]
    process = subprocess.Popen([*command, "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    return usage.ru_maxrss * 1024  # KiB on Linux


def test_a_track_four_times_as_long_peaks_at_nearly_the_same_memory(tmp_path: Path) -> None:
    short, long = tmp_path / "short.yaml", tmp_path / "long.yaml"
    short.write_text(ROUTINE.format(reps=SHORT_REPS), encoding="utf-8")
    long.write_text(ROUTINE.format(reps=LONG_REPS), encoding="utf-8")
    peak_rss(short, tmp_path / "warm")  # every line spoken once, into the cache: both below only read it
    peaks = [peak_rss(path, tmp_path / path.stem) for path in (short, long)]
    sizes = [(tmp_path / p.stem / f"{p.stem}.mp3").stat().st_size for p in (short, long)]
    assert sizes[1] > 3.5 * sizes[0]  # the long track really is about four times as long
    added = (sizes[1] - sizes[0]) * 8 / 64_000 * SAMPLE_RATE * 2  # its added seconds, as 16-bit samples
    assert added > 2 * MARGIN_BYTES  # so a track held whole could not hide under the margin
    assert peaks[1] - peaks[0] <= MARGIN_BYTES, f"peak RSS {peaks[0] / 1e6:.1f} MB, then {peaks[1] / 1e6:.1f} MB"
