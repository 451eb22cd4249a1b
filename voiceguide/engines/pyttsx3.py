"""The ``pyttsx3`` engine: the platform's voices (espeak-ng on Linux, SAPI5, NSSpeechSynthesizer).

Each line is spoken by a short-lived worker process (``python -m voiceguide.engines.pyttsx3``,
about 50 ms). Measured on pyttsx3 2.99 with libespeak-ng: the first utterance of a process
is bit-identical to the espeak-ng program, every later one differs (lengths drift by up to
0.1 s), so one process per line is what makes a plan and its render agree exactly. The worker
also steps around pyttsx3's other traps: only the last of several queued ``save_to_file``
calls is written, ``runAndWait`` may return before the file is complete, it prints
``Audio saved to ...`` on stdout, and it ignores an unknown voice silently (``pick_voice``
resolves names against the voice list first).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import EngineError
from .base import EncodedAudio, VoiceInfo

INSTALL_HINT = (
    "on Linux pyttsx3 speaks through espeak-ng: `sudo apt-get install espeak-ng`; "
    "or choose the other engine with `--engine espeak-ng`"
)
_TIMEOUT_SECONDS = 120.0
# What pyttsx3 writes: WAV from espeak and SAPI5, AIFF from macOS.
_FORMAT = "aiff" if sys.platform == "darwin" else "wav"


def _start() -> Any:
    """A pyttsx3 engine, or ``EngineError`` with the install hint."""
    try:
        import pyttsx3
    except ImportError:
        raise EngineError("the pyttsx3 package is not installed", "`pip install pyttsx3`") from None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return pyttsx3.init()
    except Exception as err:  # its drivers raise bare OSError/RuntimeError/KeyError
        raise EngineError(f"pyttsx3 could not start a speech driver ({err})", INSTALL_HINT) from None


class Pyttsx3:
    """Lists voices in-process; speaks each line in a fresh worker process."""

    name = "pyttsx3"

    def __init__(self) -> None:
        self._tts = _start()
        self._voices: list[VoiceInfo] | None = None
        self._version = f"pyttsx3 {metadata.version('pyttsx3')} {sys.platform}"

    def version(self) -> str:
        return self._version

    def voices(self) -> list[VoiceInfo]:
        if self._voices is None:
            self._voices = [
                VoiceInfo(
                    str(v.id),
                    str(v.name),
                    tuple(str(lang) for lang in (v.languages or ())),
                    str(v.gender).lower() if v.gender else None,
                )
                for v in self._tts.getProperty("voices")
            ]
        return self._voices

    def synthesise(self, text: str, voice: VoiceInfo, rate: int, volume: float) -> EncodedAudio:
        request = json.dumps({"text": text, "voice": voice.id, "rate": rate, "volume": volume})
        try:
            done = subprocess.run(
                [sys.executable, "-m", __name__],
                input=request.encode("utf-8"),
                capture_output=True,
                timeout=_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise EngineError(f"pyttsx3 did not finish speaking {text[:40]!r}", INSTALL_HINT) from None
        if done.returncode != 0 or not done.stdout:
            detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = detail[-1] if detail else f"exit code {done.returncode}"
            raise EngineError(f"pyttsx3 failed on {text[:40]!r}: {reason}", INSTALL_HINT)
        return EncodedAudio(done.stdout, _FORMAT)


def _speak(tts: Any, text: str, voice: str, rate: int, volume: float) -> bytes:
    """Speak one line to a file with an engine that has spoken nothing yet."""
    finished = threading.Event()
    tts.connect("finished-utterance", lambda **_: finished.set())
    tts.setProperty("voice", voice)
    tts.setProperty("rate", rate)
    tts.setProperty("volume", volume)
    with tempfile.TemporaryDirectory(prefix="voiceguide-") as folder:
        path = Path(folder) / f"line.{_FORMAT}"
        # The driver may finish (and print) on its own thread after runAndWait returns.
        with contextlib.redirect_stdout(io.StringIO()):
            tts.save_to_file(text, os.fspath(path))
            tts.runAndWait()
            if not finished.wait(_TIMEOUT_SECONDS):
                raise EngineError("the speech driver never finished", INSTALL_HINT)
        return path.read_bytes() if path.exists() else b""


def _worker() -> int:
    """Read one JSON request on stdin, write the audio file's bytes to stdout."""
    request = json.loads(sys.stdin.buffer.read())
    try:
        audio = _speak(_start(), request["text"], request["voice"], request["rate"], request["volume"])
    except EngineError as err:
        print(err.message, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(audio)
    return 0 if audio else 1


if __name__ == "__main__":
    sys.exit(_worker())
