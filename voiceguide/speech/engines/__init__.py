"""Speech engines, by name. The only modules that import text-to-speech libraries."""

from __future__ import annotations

import atexit
from collections.abc import Callable
from functools import cache

from voiceguide.errors import EngineError
from voiceguide.model import ENGINE_NAMES
from voiceguide.phrases import natural_voice
from voiceguide.speech.engines.base import PCM, EncodedAudio, Engine, VoiceInfo, pick_voice
from voiceguide.speech.engines.espeak import EspeakNG
from voiceguide.speech.engines.piper import Piper
from voiceguide.speech.engines.piper import available as piper_available
from voiceguide.speech.engines.pyttsx3 import Pyttsx3

REGISTRY: dict[str, Callable[[], Engine]] = {"pyttsx3": Pyttsx3, "espeak-ng": EspeakNG, "piper": Piper}
assert tuple(REGISTRY) == ENGINE_NAMES


def auto_engine(language: str, name: str | None) -> str:
    """What ``engine: auto`` means for a routine in ``language``: piper when it is installed and
    has a voice for that language (or the voice ``name``, found as ``pick_voice`` finds it), else
    pyttsx3. A damaged piper voice file is reported, not silently passed over."""
    if not piper_available():
        return "pyttsx3"
    if name is not None and name.endswith(".onnx"):
        return "piper"  # a path: piper reports a missing or damaged file
    piper = get_engine("piper")
    piper.voices()
    try:
        pick_voice(piper, name, language)
    except EngineError:
        return "pyttsx3"
    return "piper"


def voice_to_download(language: str, name: str | None) -> str | None:
    """When ``engine: auto`` speaks ``language`` with pyttsx3 only because Piper (installed) has
    no voice for it: the Piper voice to download for it (from the public list), else ``None``."""
    if name is not None or not piper_available() or auto_engine(language, name) != "pyttsx3":
        return None
    return natural_voice(language)


@cache
def get_engine(name: str) -> Engine:
    """The engine called ``name``, created once per process (creation checks its tool).

    Engines are let go at exit while modules still exist: pyttsx3's driver cleans up in
    ``__del__`` and prints an ignored-exception traceback if that runs during teardown.
    """
    factory = REGISTRY.get(name)
    if factory is None:
        raise EngineError(f"unknown engine {name!r}", f"use one of: {', '.join(REGISTRY)}")
    return factory()


atexit.register(get_engine.cache_clear)

__all__ = [
    "PCM",
    "REGISTRY",
    "EncodedAudio",
    "Engine",
    "VoiceInfo",
    "auto_engine",
    "get_engine",
    "pick_voice",
    "voice_to_download",
]
