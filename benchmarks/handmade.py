"""The hand-made pipeline the benchmark compares against: what a user could script.

    python benchmarks/handmade.py ROUTINE.yaml OUT.mp3

`espeak-ng -w` once for every spoken line, in order (no de-duplication, no
parallelism), leading/trailing silence trimmed, everything placed at sample-exact
offsets in one array, and one ffmpeg encode with default settings. voiceguide's
pure planner places the lines, so both pipelines produce the same timeline.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from voiceguide.audio.ffmpeg import ffmpeg
from voiceguide.plan.script import Hold, Line, script
from voiceguide.plan.timeline import SAMPLE_RATE, schedule
from voiceguide.routine.build import load_routine
from voiceguide.speech.clips import trim


def speak(text: str, folder: Path) -> np.ndarray:
    path = folder / "line.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path)], input=text.encode(), check=True)
    with wave.open(str(path)) as wav:
        return trim(np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16))


def main(routine_path: str, out: str) -> None:
    routine = load_routine(routine_path)
    items = script(routine)
    spoken = [item.utterance for item in items if isinstance(item, Line)]
    spoken += [o.utterance for item in items if isinstance(item, Hold) for o in item.overlays]
    with tempfile.TemporaryDirectory() as tmp:
        clips = [(line, speak(line.text, Path(tmp))) for line in spoken]  # every line, every time
    lengths = {line: len(clip) for line, clip in clips}
    timeline = schedule(routine, items, lengths, SAMPLE_RATE)
    by_line = dict(clips)
    track = np.zeros(timeline.duration, dtype=np.int16)
    for event in timeline.events:
        if event.utterance is not None:
            track[event.start : event.end] = by_line[event.utterance]
    subprocess.run(
        [ffmpeg(), "-v", "error", "-y", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0", out],
        input=track.tobytes(),
        check=True,
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
