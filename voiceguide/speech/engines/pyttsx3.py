"""The ``pyttsx3`` engine: the platform's voices (espeak-ng on Linux, SAPI5, NSSpeechSynthesizer).

Each line is spoken by a short-lived worker process (``python -m voiceguide.speech.engines.pyttsx3_worker``,
about 50 ms). Measured on pyttsx3 2.99 with libespeak-ng: the first utterance of a process is
bit-identical to the espeak-ng program, every later one differs (lengths drift by up to
0.1 s), so one process per line is what makes a plan and its render agree exactly.

On Linux the worker drives pyttsx3's libespeak-ng binding synchronously, because the
espeak driver's own loop loses audio under load (see ``pyttsx3_worker``). Elsewhere it uses
``save_to_file`` and steps around that API's traps: only the last of several queued calls
is written, ``runAndWait`` may return before the file is complete, it prints ``Audio saved
to ...`` on stdout. An unknown voice, which pyttsx3 ignores silently, never reaches it:
``pick_voice`` resolves names against the voice list first.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections import Counter
from importlib import metadata
from typing import Any

from voiceguide.errors import EngineError
from voiceguide.speech.engines.base import LITERAL_TEXT, EncodedAudio, VoiceInfo, literal

INSTALL_HINT = (
    "on Linux pyttsx3 speaks through espeak-ng: `sudo apt-get install espeak-ng`; "
    "or choose the other engine with `--engine espeak-ng`"
)
TIMEOUT_SECONDS = 120.0
_MAX_TAKES = 6
# On Linux the worker drives libespeak-ng synchronously: one take is exact. The other
# platforms' drivers go through save_to_file, where a take is trusted only if another agrees.
SYNCHRONOUS = sys.platform.startswith("linux")
_AGREEING_TAKES = 1 if SYNCHRONOUS else 2
# What pyttsx3 writes: WAV from espeak and SAPI5, AIFF from macOS.
FORMAT = "aiff" if sys.platform == "darwin" else "wav"


def start() -> Any:
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
        self._tts = start()
        self._voices: list[VoiceInfo] | None = None
        synthesis = "libespeak-sync" if SYNCHRONOUS else "save_to_file"
        self._version = f"pyttsx3 {metadata.version('pyttsx3')} {sys.platform} {synthesis} {LITERAL_TEXT}"

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
        """One line from a fresh worker process (see the module docstring for why).

        Where the worker goes through ``save_to_file`` (macOS, Windows), takes run two at
        a time until two match byte for byte, since a take that lost audio cannot be told
        from a good one on its own.
        """
        request = json.dumps({"text": literal(text), "voice": voice.id, "rate": rate, "volume": volume}).encode("utf-8")
        takes: Counter[bytes] = Counter()
        while sum(takes.values()) < _MAX_TAKES:
            workers = [self._spawn(request) for _ in range(_AGREEING_TAKES)]
            for worker in workers:
                takes[self._collect(worker, text)] += 1
            audio, agreeing = takes.most_common(1)[0]
            if agreeing >= _AGREEING_TAKES:
                return EncodedAudio(audio, FORMAT)
        raise EngineError(
            f"pyttsx3 gave different audio on each of {_MAX_TAKES} tries for {text[:40]!r}",
            "use `--engine espeak-ng`, which speaks with the same espeak-ng voices",
        )

    @staticmethod
    def _spawn(request: bytes) -> subprocess.Popen[bytes]:
        worker = subprocess.Popen(
            [sys.executable, "-m", "voiceguide.speech.engines.pyttsx3_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert worker.stdin is not None
        worker.stdin.write(request)
        worker.stdin.close()
        worker.stdin = None  # written in full; communicate() must not touch it again
        return worker

    @staticmethod
    def _collect(worker: subprocess.Popen[bytes], text: str) -> bytes:
        try:
            audio, errors = worker.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.communicate()
            raise EngineError(f"pyttsx3 did not finish speaking {text[:40]!r}", INSTALL_HINT) from None
        if worker.returncode != 0 or not audio:
            detail = errors.decode("utf-8", "replace").strip().splitlines()
            reason = detail[-1] if detail else f"exit code {worker.returncode}"
            raise EngineError(f"pyttsx3 failed on {text[:40]!r}: {reason}", INSTALL_HINT)
        return audio
