"""What every speech engine offers, and how a voice is picked from its list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from voiceguide.errors import EngineError, UnknownVoice
from voiceguide.suggest import closest


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers."""

    id: str
    name: str
    languages: tuple[str, ...]
    gender: str | None = None
    model: Path | None = None  # the file the voice is made from; its digest is part of cache keys


PCM = "s16le"  # raw mono 16-bit little-endian samples at ``EncodedAudio.sample_rate``


@dataclass(frozen=True)
class EncodedAudio:
    """Audio as an engine wrote it (``format`` as ffmpeg/pydub name it, e.g. ``wav``, or ``PCM``)."""

    data: bytes
    format: str
    sample_rate: int = 0  # for PCM only; other formats carry their own


class Engine(Protocol):
    """A speech engine. Created engines are ready: their tool was found."""

    name: str

    def version(self) -> str:
        """Changes whenever the same text could sound different (part of cache keys)."""
        ...

    def voices(self) -> list[VoiceInfo]: ...

    def synthesise(self, text: str, voice: VoiceInfo, rate: int, volume: float) -> EncodedAudio:
        """Speak ``text`` literally (no markup) at ``rate`` words per minute, ``volume`` 0..1."""
        ...


@runtime_checkable
class VoiceFiles(Protocol):
    """An engine whose voices are model files, so ``voice.name`` may be a path to one."""

    def voice_at(self, path: Path) -> VoiceInfo: ...


_DOUBLE_BRACKET = re.compile(r"\[(?=\[)")
WORD_JOINER = "\u2060"
LITERAL_TEXT = "literal-text-1"  # in every engine's version(): cached speech made before ``literal`` is not reused


def literal(text: str) -> str:
    """``text`` with engine markup defused, so it is spoken as written.

    The espeak-ng program reads ``[[...]]`` as phoneme codes (``Say [[ ]] now`` came out
    identical to ``Say now``) and macOS voices read ``[[slnc 3000]]`` as a command; an
    invisible word joiner between the brackets stops both. Measured on espeak-ng 1.51:
    the audio is then byte-identical to pyttsx3's, whose espeak driver speaks ``[[`` as text.
    ``<`` and ``&`` need nothing: neither engine is asked to read SSML.
    """
    return _DOUBLE_BRACKET.sub("[" + WORD_JOINER, text)


def pick_voice(engine: Engine, name: str | None, language: str, preferred: str | None = None) -> VoiceInfo:
    """The voice ``name`` asks for: an id (``gmw/en-us`` or just ``en-us``), a name, or a
    unique part of either. Without a name: ``preferred`` if the engine has it, else the
    first voice for ``language``. Fails with the choices."""
    if name is not None and name.endswith(".onnx") and isinstance(engine, VoiceFiles):
        return engine.voice_at(Path(name).expanduser())
    voices = engine.voices()
    fix = f"pick one from `voiceguide voices --engine {engine.name}`"
    if name is None:
        if preferred and (found := _exact(voices, preferred)):
            return found
        lang = _norm(language)
        for voice in voices:
            if any(_norm(v) == lang or _norm(v).startswith(lang + "-") for v in voice.languages):
                return voice
        raise EngineError(f"{engine.name} has no voice for language {language!r}", f"set voice.name; {fix}")
    if found := _exact(voices, name):
        return found
    wanted = name.casefold()
    partial = [v for v in voices if wanted in v.id.casefold() or wanted in v.name.casefold()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        ambiguous = f"voice {name!r} matches {len(partial)} {engine.name} voices ({_listed(partial)}); be more specific"
        raise UnknownVoice(ambiguous, fix, ambiguous)
    match = closest(name, [v.id for v in voices])
    hint = f"; did you mean {match!r}?" if match else ""
    lang = _norm(language).split("-")[0]
    for_language = [v for v in voices if any(_norm(x).split("-")[0] == lang for x in v.languages)]
    guess = f" (did you mean {match!r}?)" if match else ""
    detail = f"no voice {name!r} in {engine.name}{guess}; voices: {_listed(for_language or voices)} ({fix})"
    raise UnknownVoice(f"{engine.name} has no voice {name!r}{hint}", fix, detail)


def _listed(voices: list[VoiceInfo]) -> str:
    return ", ".join(v.id for v in voices[:8]) + (", ..." if len(voices) > 8 else "")


def _exact(voices: list[VoiceInfo], name: str) -> VoiceInfo | None:
    """By id (``gmw/en-us`` or its last part ``en-us``), then name, then main language."""
    wanted = name.casefold()
    keys = (
        lambda v: (v.id.casefold(), v.id.rsplit("/", 1)[-1].casefold(), v.name.casefold()),
        lambda v: tuple(_norm(lang) for lang in v.languages[:1]),
    )
    for key in keys:
        for voice in voices:
            if wanted in key(voice):
                return voice
    return None


def _norm(language: str) -> str:
    return language.casefold().replace("_", "-")
