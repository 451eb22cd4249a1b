"""The pyttsx3 worker: speaks one line, in a process that has spoken nothing before.

Run as ``python -m voiceguide.speech.engines.pyttsx3_worker`` with a JSON request on stdin;
writes the audio file's bytes to stdout (see ``pyttsx3.py`` for why one process a line).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import sys
import tempfile
import threading
import wave
from pathlib import Path
from typing import Any

from voiceguide.errors import EngineError
from voiceguide.speech.engines.pyttsx3 import FORMAT, INSTALL_HINT, SYNCHRONOUS, TIMEOUT_SECONDS, start


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


def _speak_synchronously(text: str, voice: str, rate: int, volume: float) -> bytes:
    """Linux: pyttsx3's own libespeak-ng binding, in the library's synchronous mode.

    pyttsx3's espeak driver starts the library in its asynchronous mode and writes the
    file when the end-of-message event reaches its loop. Measured here with 6 workers at
    once on 2 cores: 6 of 270 lines lost audio that way, twice with the very same
    truncation, so repeating a take cannot catch it. In synchronous mode every chunk is
    handed over, in order, before ``Synth`` returns; the result is byte-identical to the
    driver's good takes (same voice, rate, volume and flags) and to the espeak-ng program.
    """
    from pyttsx3.drivers import _espeak

    sample_rate = _espeak.Initialize(_espeak.AUDIO_OUTPUT_SYNCHRONOUS, 1000)
    if sample_rate <= 0:
        raise EngineError("libespeak-ng could not start", INSTALL_HINT)
    chunks: list[bytes] = []

    def collect(wav: Any, samples: int, _events: Any) -> int:
        if samples > 0:
            chunks.append(ctypes.string_at(wav, samples * 2))
        return 0

    _espeak.SetSynthCallback(collect)
    if _espeak.SetVoiceByName(voice.encode("utf-8")) != 0:
        raise EngineError(f"libespeak-ng has no voice {voice!r}", INSTALL_HINT)
    _espeak.SetParameter(_espeak.RATE, rate, 0)
    _espeak.SetParameter(_espeak.VOLUME, round(volume * 100), 0)
    _espeak.Synth(text.encode("utf-8"), flags=_espeak.ENDPAUSE | _espeak.CHARS_UTF8)
    _espeak.Synchronize()
    audio = io.BytesIO()
    with wave.open(audio, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(sample_rate)
        file.writeframes(b"".join(chunks))
    return audio.getvalue()


def _worker() -> int:
    """Read one JSON request on stdin, write the audio file's bytes to stdout."""
    request = json.loads(sys.stdin.buffer.read())
    line = (request["text"], request["voice"], request["rate"], request["volume"])
    try:
        audio = _speak_synchronously(*line) if SYNCHRONOUS else _speak(start(), *line)
    except EngineError as err:
        print(err.message, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(audio)
    return 0 if audio else 1


if __name__ == "__main__":
    sys.exit(_worker())
