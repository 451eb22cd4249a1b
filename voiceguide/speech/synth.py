"""Synthesise every distinct utterance once, trimmed to its audible speech.

Lines come from the speech cache when it has them; the rest are spoken in
parallel, a thread per job: espeak-ng and pyttsx3 speak in processes of their own
(the espeak-ng program, pyttsx3 workers), and Piper's onnxruntime releases the GIL
while it runs, so the threads keep every core busy. The result does not depend on
the order in which lines finish.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voiceguide.errors import Problem, RoutineError, UnknownVoice
from voiceguide.model import Voice
from voiceguide.phrases import phrases
from voiceguide.plan.script import Utterance
from voiceguide.progress import SILENT, Progress
from voiceguide.speech import cache as speech_cache
from voiceguide.speech.engines import get_engine
from voiceguide.speech.engines.base import VoiceInfo, pick_voice

if TYPE_CHECKING:
    from voiceguide.audio.ffmpeg import Samples


@dataclass(frozen=True)
class Settings:
    """How to synthesise: where cached speech lives (``None``: no cache) and how many jobs."""

    cache: speech_cache.SpeechCache | None = None
    jobs: int = os.cpu_count() or 1


@dataclass(frozen=True)
class Stats:
    lines: int
    cached: int
    voices: tuple[tuple[str, str], ...] = ()  # (engine, voice id) of every voice that spoke, sorted

    @property
    def synthesised(self) -> int:
        return self.lines - self.cached


def resolve_voices(voices: Iterable[Voice], language: str) -> dict[Voice, VoiceInfo]:
    """Check every voice exists before any synthesis, so a typo fails at once.

    A name from the routine file that fits no voice is a problem in that file (its line
    and field); one from ``--voice`` is reported as the engine's error.
    """
    preferred = phrases(language).voice
    resolved: dict[Voice, VoiceInfo] = {}
    unknown: dict[tuple[str, int, str] | None, UnknownVoice] = {}
    for voice in set(voices):
        try:
            resolved[voice] = pick_voice(get_engine(voice.engine), voice.name, language, preferred)
        except UnknownVoice as err:
            unknown[voice.named_at] = err
    if None in unknown:
        raise unknown[None]
    problems = [Problem(*origin, err.detail) for origin, err in unknown.items() if origin is not None]
    if problems:
        raise RoutineError(sorted(problems, key=lambda p: (p.source, p.line or 0)))
    return resolved


def stored(
    lines: Iterable[Utterance], language: str, sample_rate: int, settings: Settings = Settings()
) -> tuple[dict[Utterance, speech_cache.Stored], Stats] | None:
    """The length and digest of each utterance's cached speech, read from the cache's headers
    without decoding any; ``None`` unless every line is cached."""
    store = settings.cache
    if store is None:
        return None
    ordered, resolved, keys = _prepare(lines, language, sample_rate)
    found: dict[Utterance, speech_cache.Stored] = {}
    for line in ordered:
        if (entry := store.stored(keys[line])) is None:
            return None
        found[line] = entry
    return found, Stats(len(ordered), len(ordered), _spoke(resolved))


def synthesise(
    lines: Iterable[Utterance],
    language: str,
    sample_rate: int,
    settings: Settings = Settings(),
    progress: Progress = SILENT,
) -> tuple[dict[Utterance, Samples], Stats]:
    """Speech for each utterance, as samples at ``sample_rate`` with no leading or trailing silence."""
    from voiceguide.speech.clips import decode_clip, trim  # numpy: only where speech is made or decoded

    ordered, resolved, keys = _prepare(lines, language, sample_rate)
    store = settings.cache
    clips: dict[Utterance, Samples] = {}
    for line in ordered:
        if store is not None and (hit := store.get(keys[line])) is not None:
            clips[line] = hit
            progress.advance()
    cached = len(clips)

    def speak(line: Utterance) -> tuple[Utterance, Samples]:
        voice = line.voice
        audio = get_engine(voice.engine).synthesise(line.text, resolved[voice], voice.rate, voice.volume)
        samples = trim(decode_clip(audio, sample_rate))
        if store is not None:
            store.put(keys[line], samples)
        return line, samples

    missing = [line for line in ordered if line not in clips]
    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        try:
            for line, samples in pool.map(speak, missing):
                clips[line] = samples
                progress.advance()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if store is not None and missing:
        store.evict()
    return clips, Stats(len(ordered), cached, _spoke(resolved))


def _prepare(
    lines: Iterable[Utterance], language: str, sample_rate: int
) -> tuple[list[Utterance], dict[Voice, VoiceInfo], dict[Utterance, str]]:
    """The distinct lines in a fixed order, their voices (checked) and their cache keys."""
    ordered = sorted(set(lines), key=lambda u: (u.voice.engine, u.text))
    resolved = resolve_voices((u.voice for u in ordered), language)
    return ordered, resolved, {u: _key(u, resolved[u.voice], sample_rate) for u in ordered}


def _spoke(resolved: dict[Voice, VoiceInfo]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({(v.engine, info.id) for v, info in resolved.items()}))


def _key(line: Utterance, voice: VoiceInfo, sample_rate: int) -> str:
    engine = get_engine(line.voice.engine)
    model = speech_cache.file_digest(voice.model) if voice.model else ""
    return speech_cache.key(
        line.text, engine.name, engine.version(), voice.id, line.voice.rate, line.voice.volume, sample_rate, model
    )
