"""Synthesise every distinct utterance once, trimmed to its audible speech."""

from __future__ import annotations

from collections.abc import Iterable

from .audio import Samples, decode_clip, trim
from .engines import VoiceInfo, get_engine, pick_voice
from .model import Voice
from .phrases import phrases
from .timeline import Utterance


def resolve_voices(voices: Iterable[Voice], language: str) -> dict[Voice, VoiceInfo]:
    """Check every voice exists before any synthesis, so a typo fails at once."""
    preferred = phrases(language).voice
    return {v: pick_voice(get_engine(v.engine), v.name, language, preferred) for v in set(voices)}


def synthesise(lines: Iterable[Utterance], language: str, sample_rate: int) -> dict[Utterance, Samples]:
    """Speech for each utterance, as samples at ``sample_rate`` with no leading or trailing silence."""
    ordered = sorted(set(lines), key=lambda u: (u.voice.engine, u.text))
    resolved = resolve_voices((u.voice for u in ordered), language)
    clips: dict[Utterance, Samples] = {}
    for line in ordered:
        voice = line.voice
        audio = get_engine(voice.engine).synthesise(line.text, resolved[voice], voice.rate, voice.volume)
        clips[line] = trim(decode_clip(audio, sample_rate))
    return clips
