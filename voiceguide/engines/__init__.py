"""Speech engines, by name. The only modules that import text-to-speech libraries."""

from __future__ import annotations

import atexit
from collections.abc import Callable
from functools import cache

from ..errors import EngineError
from ..model import ENGINE_NAMES
from .base import EncodedAudio, Engine, VoiceInfo, pick_voice
from .espeak import EspeakNG
from .pyttsx3 import Pyttsx3

REGISTRY: dict[str, Callable[[], Engine]] = {"pyttsx3": Pyttsx3, "espeak-ng": EspeakNG}
assert tuple(REGISTRY) == ENGINE_NAMES


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

__all__ = ["REGISTRY", "EncodedAudio", "Engine", "VoiceInfo", "get_engine", "pick_voice"]
