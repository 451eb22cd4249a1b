"""The ``espeak-ng`` engine: runs the espeak-ng program once per line."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

from voiceguide.errors import EngineError
from voiceguide.speech.engines.base import LITERAL_TEXT, EncodedAudio, VoiceInfo, literal

_OTHER_LANGUAGE = re.compile(r"\(([^\s()]+) \d+\)")
INSTALL_HINT = "install espeak-ng: `sudo apt-get install espeak-ng` (macOS: `brew install espeak-ng`)"
CRASH_HINT = (
    "reword that line, reinstall espeak-ng (`sudo apt-get install --reinstall espeak-ng`), "
    "or use the other engine with `--engine pyttsx3`"
)


class EspeakNG:
    """Calls ``espeak-ng --stdout``; text goes in on stdin so nothing in it is read as an option."""

    name = "espeak-ng"

    def __init__(self) -> None:
        program = shutil.which("espeak-ng")
        if program is None:
            raise EngineError("the espeak-ng program is not installed", INSTALL_HINT)
        self.program = program
        self._voices: list[VoiceInfo] | None = None
        self._version: str | None = None

    def _run(self, *args: str, text: str = "") -> bytes:
        try:
            done = subprocess.run([self.program, *args], input=text.encode("utf-8"), capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise EngineError(f"espeak-ng could not run: {err}", INSTALL_HINT) from None
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip() or f"exit code {done.returncode}"
            if text:
                raise EngineError(f"espeak-ng failed on {text[:40]!r}: {detail}", CRASH_HINT)
            raise EngineError(f"espeak-ng failed: {detail}", INSTALL_HINT)
        return done.stdout

    def version(self) -> str:
        if self._version is None:
            program = self._run("--version").decode("utf-8", "replace").split("Data at")[0].strip()
            self._version = f"{program} {LITERAL_TEXT}"
        return self._version

    def voices(self) -> list[VoiceInfo]:
        if self._voices is None:
            self._voices = list(self._list_voices())
        return self._voices

    def _list_voices(self) -> Iterator[VoiceInfo]:
        lines = self._run("--voices").decode("utf-8", "replace").splitlines()[1:]
        for line in lines:
            parts = line.split()
            if len(parts) < 5:
                continue
            _, language, age_gender, voice_name, _file = parts[:5]
            gender = {"M": "male", "F": "female"}.get(age_gender.rsplit("/", 1)[-1])
            others = _OTHER_LANGUAGE.findall(" ".join(parts[5:]))
            yield VoiceInfo(language, voice_name.replace("_", " "), (language, *others), gender)

    def synthesise(self, text: str, voice: VoiceInfo, rate: int, volume: float) -> EncodedAudio:
        # -a is amplitude 0..200 with 100 the default; our volume 1.0 maps to that default,
        # as pyttsx3 does on the same library.
        args = ("--stdout", "-v", voice.id, "-s", str(rate), "-a", str(round(volume * 100)))
        return EncodedAudio(self._run(*args, text=literal(text)), "wav")
