"""The pyttsx3 worker: speaks one line, in a process that has spoken nothing before.

Run as ``python -m voiceguide.engines.pyttsx3_worker`` with a JSON request on stdin;
writes the audio file's bytes to stdout (see ``pyttsx3.py`` for why one process a line).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..errors import EngineError
from .pyttsx3 import FORMAT, INSTALL_HINT, TIMEOUT_SECONDS, start


def _speak(tts: Any, text: str, voice: str, rate: int, volume: float) -> bytes:
    """Speak one line to a file with an engine that has spoken nothing yet."""
    finished = threading.Event()
    tts.connect("finished-utterance", lambda **_: finished.set())
    tts.setProperty("voice", voice)
    tts.setProperty("rate", rate)
    tts.setProperty("volume", volume)
    with tempfile.TemporaryDirectory(prefix="voiceguide-") as folder:
        path = Path(folder) / f"line.{FORMAT}"
        # The driver may finish (and print) on its own thread after runAndWait returns.
        with contextlib.redirect_stdout(io.StringIO()):
            tts.save_to_file(text, os.fspath(path))
            tts.runAndWait()
            if not finished.wait(TIMEOUT_SECONDS):
                raise EngineError("the speech driver never finished", INSTALL_HINT)
        return path.read_bytes() if path.exists() else b""


def _worker() -> int:
    """Read one JSON request on stdin, write the audio file's bytes to stdout."""
    request = json.loads(sys.stdin.buffer.read())
    try:
        audio = _speak(start(), request["text"], request["voice"], request["rate"], request["volume"])
    except EngineError as err:
        print(err.message, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(audio)
    return 0 if audio else 1


if __name__ == "__main__":
    sys.exit(_worker())
