"""An unchanged track stays near interpreter start: telling that it is current imports no numpy,
mutagen, Pillow or engine library; and the measures kept for that tell exactly what a full plan does."""

from __future__ import annotations

import array
import json
import math
import os
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from voiceguide.audio.standards import chime_key
from voiceguide.errors import OutputError
from voiceguide.pipeline import Overrides, fingerprint, load, measured, plan, render
from voiceguide.plan.script import script, sounds
from voiceguide.plan.timeline import SAMPLE_RATE
from voiceguide.speech.cache import SpeechCache
from voiceguide.speech.synth import Settings

HEAVY = ("numpy", "mutagen", "PIL", "onnxruntime", "onnx", "piper", "pydub", "soxr")
# The command line in a process of its own, then every top-level module it imported.
PROBE = """
import json, sys
from voiceguide.cli.app import cli
try:
    cli.main(sys.argv[1:], prog_name="voiceguide")
except SystemExit as stop:
    code = stop.code
print("\\nMODULES " + json.dumps([code, sorted({name.split(".")[0] for name in sys.modules})]))
"""
TINY = """\
title: Tiny
sounds: {sounds}
defaults: {{chime: both}}
steps:
  - say: Stretch.
    hold: 2s
  - say: Rest.
    hold: 2s
"""


def write_tone(path: Path, frequency: float, seconds: float = 0.3, rate: int = 44_100) -> None:
    """A mono 16-bit WAV: a chime of the routine's own."""
    samples = array.array(
        "h", (round(12_000 * math.sin(2 * math.pi * frequency * n / rate)) for n in range(round(seconds * rate)))
    )
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(samples.tobytes())


def voiceguide(args: list[str], cache: Path) -> tuple[str, list[str]]:
    """What ``voiceguide args`` printed, and the top-level modules the process had imported by its end."""
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=300)
    printed, _, modules = done.stdout.rpartition("\nMODULES ")
    code, imported = json.loads(modules)
    assert code in (0, None), done.stdout + done.stderr
    return printed + done.stderr, imported


@pytest.mark.parametrize(
    ("options", "sounds"),
    [([], "{}"), (["--split"], "{}"), ([], "{start: tone.wav}"), (["--no-sidecars"], "{}")],
    ids=["track", "split", "own chime file", "no sidecars"],
)
def test_an_up_to_date_render_imports_nothing_heavy(
    options: list[str], sounds: str, write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    write_tone(tmp_path / "tone.wav", 500.0)
    routine = write_routine(TINY.format(sounds=sounds))
    args = ["render", str(routine), "-o", str(tmp_path / "out"), "--engine", "espeak-ng", *options]
    printed, imported = voiceguide(args, tmp_path / "cache")
    assert "Wrote" in printed
    assert {"numpy", "mutagen"} <= set(imported)  # made: the probe sees what a render imports
    printed, imported = voiceguide(args, tmp_path / "cache")
    assert "Up to date" in printed
    assert sorted(set(HEAVY) & set(imported)) == []


def test_a_changed_chime_file_is_rendered_again_and_measured_as_a_full_plan_would(
    write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    write_tone(tmp_path / "tone.wav", 500.0)
    routine_file = write_routine(TINY.format(sounds="{start: tone.wav}"))
    settings = Settings(cache=SpeechCache(tmp_path / "cache"))
    out = tmp_path / "out"
    routine = load(routine_file, Overrides(engine="espeak-ng"))
    assert render(routine, out, settings=settings).encoded
    assert not render(routine, out, settings=settings).encoded
    write_tone(tmp_path / "tone.wav", 700.0)  # the same name and length, another sound
    assert measured(routine, settings) is None  # not known yet: the next render builds it
    assert render(routine, out, settings=settings).encoded
    kept = measured(routine, settings)
    assert kept is not None
    assert not render(routine, out, settings=settings).encoded
    full = plan(routine, settings)
    assert kept.timeline == full.timeline
    assert kept.digests == full.digests
    assert fingerprint(kept, 64) == fingerprint(full, 64)


def test_chime_measures_that_cannot_be_kept_do_not_stop_a_render(
    write_routine: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SpeechCache(tmp_path / "cache")
    routine = load(write_routine(TINY.format(sounds="{}")), Overrides(engine="espeak-ng"))
    assert sounds(script(routine))
    assert render(routine, tmp_path / "out", settings=Settings(cache=store)).encoded
    for sound in sounds(script(routine)):
        key = chime_key(routine, sound, SAMPLE_RATE)
        (store.folder / key[:2] / f"{key}.clip").unlink()  # as after an upgrade: the speech is there, no chimes

    def read_only(*_: object) -> None:
        raise OutputError("cannot write the speech cache", "")

    monkeypatch.setattr(SpeechCache, "put", read_only)
    assert not render(routine, tmp_path / "out", settings=Settings(cache=store)).encoded
