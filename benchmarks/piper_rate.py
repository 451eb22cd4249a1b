"""Measure how fast a Piper voice speaks at several length scales, and fit the rate constants.

Speaks every distinct line of routines/neck-and-back.yaml at each length scale, counts the
words, and measures the trimmed speech (as the timeline uses it). Seconds per word turn out
affine in the length scale (pauses between phrases do not scale like phonemes do), so the
engine stores two numbers per voice: seconds per word = BASE + SLOPE * length_scale.

    .venv/bin/python benchmarks/piper_rate.py [voice id or .onnx path]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from voiceguide.pipeline import load
from voiceguide.plan.script import script, utterances
from voiceguide.plan.timeline import SAMPLE_RATE
from voiceguide.speech.clips import decode_clip, trim
from voiceguide.speech.engines import piper
from voiceguide.speech.engines.base import pick_voice

ROUTINE = Path(__file__).resolve().parent.parent / "routines" / "neck-and-back.yaml"
SCALES = (0.75, 1.0, 1.25, 1.5)


def main() -> None:
    engine = piper.Piper()
    voice = pick_voice(engine, sys.argv[1] if len(sys.argv) > 1 else None, "en")
    lines = [u.text for u in utterances(script(load(ROUTINE)))]
    words = sum(len(re.findall(r"[\w']+", line)) for line in lines)
    per_word = []
    for scale in SCALES:
        loaded = engine.model(voice)
        seconds = sum(len(trim(decode_clip(piper.speak(loaded, t, voice.id, scale, 1.0), SAMPLE_RATE))) for t in lines)
        per_word.append(seconds / SAMPLE_RATE / words)
        print(f"length scale {scale:.2f}: {60 / per_word[-1]:.1f} words per minute")
    slope, base = np.polyfit(SCALES, per_word, 1)
    print(f"{voice.id}: {len(lines)} lines, {words} words; seconds per word = {base:.4f} + {slope:.4f} * length_scale")


if __name__ == "__main__":
    main()
