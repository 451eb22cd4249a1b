"""`validate` and `publish` decode every sound file a routine names (chimes, background), with each ffmpeg."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from voiceguide.cli.app import cli as main

NOT_SOUND = "is not a sound file that plays to its end: it is not audio, or it is damaged or cut short (ffmpeg: "
FIX = "then export it again as MP3 or WAV"


def tone_wav(path: Path, seconds: float = 1.0) -> bytes:
    """A real 16-bit mono WAV of a 440 Hz tone; returns its bytes."""
    t = np.arange(round(seconds * 22_050)) / 22_050
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22_050)
        out.writeframes((8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())
    return path.read_bytes()


def make(kind: str, path: Path, ffmpeg: str) -> None:
    """Write a sound file of ``kind`` at ``path``."""
    if kind == "text":
        path.write_text("Rain sounds, see https://example.com\n", encoding="utf-8")
    elif kind == "truncated":
        whole = tone_wav(path, 2.0)
        path.write_bytes(whole[: len(whole) // 2])  # the header still promises 2 s
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "silent-header":
        tone_wav(path, 0.0)  # a well-formed WAV with no samples in it
    elif kind == "wav":
        tone_wav(path)
    else:
        source = path.with_suffix(".source.wav")
        tone_wav(source)
        subprocess.run([ffmpeg, "-v", "error", "-i", str(source), str(path)], check=True)
        source.unlink()


ROUTINE = """\
title: Sounds
sounds:
  start: {start}
  end: {end}
background:
  file: {background}
defaults: {{chime: both}}
steps:
  - say: Breathe.
    hold: 3s
"""

BAD = [
    ("text", "sound.wav", f"sound.wav {NOT_SOUND}"),
    ("truncated", "sound.wav", f"sound.wav {NOT_SOUND}"),
    ("empty", "sound.wav", "sound.wav is empty (0 bytes)"),
    ("silent-header", "sound.wav", "sound.wav holds no sound (its audio is 0 seconds long)"),
]


@pytest.mark.parametrize(("kind", "name", "message"), BAD, ids=[kind for kind, _, _ in BAD])
@pytest.mark.parametrize(("field", "line"), [("start", 3), ("end", 4), ("background", 6)])
def test_validate_refuses_a_sound_file_that_does_not_decode(
    kind: str, name: str, message: str, field: str, line: int, tmp_path: Path, each_ffmpeg: str
) -> None:
    make("wav", tmp_path / "good.wav", each_ffmpeg)
    make(kind, tmp_path / name, each_ffmpeg)
    names = {"start": "good.wav", "end": "good.wav", "background": "good.wav", field: name}
    (tmp_path / "r.yaml").write_text(ROUTINE.format(**names), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "r.yaml")])
    assert result.exit_code == 2, result.output
    dotted = "background.file" if field == "background" else f"sounds.{field}"
    assert f"r.yaml:{line}: {dotted}: {message}" in result.output
    assert ("fix: put the sound file itself there" if kind == "empty" else FIX) in result.output
    assert result.output.count(" fix: ") == 1  # only the bad file is reported
    assert "Traceback" not in result.output


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_validate_passes_real_sound_files(kind: str, tmp_path: Path, each_ffmpeg: str) -> None:
    make(kind, tmp_path / f"good.{kind}", each_ffmpeg)
    names = dict.fromkeys(("start", "end", "background"), f"good.{kind}")
    (tmp_path / "r.yaml").write_text(ROUTINE.format(**names), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "r.yaml")])
    assert result.exit_code == 0, result.output
    assert "r.yaml: ok (1 step)" in result.output


def test_publish_refuses_a_bad_background_before_rendering_anything(
    tmp_path: Path, ffmpeg_exe: str, write_routine: Callable[..., Path]
) -> None:
    make("wav", tmp_path / "good.wav", ffmpeg_exe)
    make("truncated", tmp_path / "rain.wav", ffmpeg_exe)
    write_routine(ROUTINE.format(start="good.wav", end="good.wav", background="rain.wav"), "b.yaml")
    write_routine("title: Fine\nsteps:\n  - {say: Go., hold: 2s}\n", "a.yaml")
    site = tmp_path / "site"
    command = ["publish", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "-o", str(site)]
    result = CliRunner().invoke(main, [*command, "--base-url", "http://127.0.0.1/", "--engine", "espeak-ng"])
    assert result.exit_code == 2, result.output
    assert f"b.yaml:6: background.file: rain.wav {NOT_SOUND}" in result.output
    assert not site.exists()  # not even the routine that is fine was rendered
