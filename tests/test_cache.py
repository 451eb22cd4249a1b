"""The speech cache: hits, misses, keys, damaged entries, and parallel = serial."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.pipeline import Overrides, load, plan, render
from voiceguide.plan.script import script, utterances
from voiceguide.speech.cache import SpeechCache, key
from voiceguide.speech.synth import Settings

from conftest import writing_elsewhere

BASE = {
    "text": "Relax.",
    "engine": "espeak-ng",
    "engine_version": "1.51",
    "voice_id": "en-us",
    "rate": 150,
    "volume": 1.0,
    "sample_rate": 22050,
}


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("text", "Relax!"),
        ("engine", "pyttsx3"),
        ("engine_version", "1.52"),
        ("voice_id", "en-gb"),
        ("rate", 151),
        ("volume", 0.9),
        ("sample_rate", 44100),
    ],
)
def test_every_setting_changes_the_key(field: str, other: object) -> None:
    assert key(**{**BASE, field: other}) != key(**BASE)  # type: ignore[arg-type]


def test_put_then_get_round_trips(tmp_path: Path) -> None:
    store = SpeechCache(tmp_path)
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    assert store.get("ab" * 32) is None
    store.put("ab" * 32, samples)
    got = store.get("ab" * 32)
    assert got is not None
    assert np.array_equal(got, samples)
    assert store.usage().entries == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1],  # truncated
        lambda data: data[:10],  # truncated inside the samples
        lambda data: data[:0],  # empty
        lambda data: bytes([data[0] ^ 1]) + data[1:],  # a flipped bit
    ],
    ids=["truncated", "cut-short", "empty", "bit-flip"],
)
def test_damaged_entries_are_misses_and_removed(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    store = SpeechCache(tmp_path)
    store.put("cd" * 32, np.arange(100, dtype=np.int16))
    (path,) = tmp_path.glob("*/*.pcm")
    path.write_bytes(damage(path.read_bytes()))
    assert store.get("cd" * 32) is None
    assert not path.exists()


def test_second_plan_synthesises_nothing_and_an_edit_one_line(
    short_routine: Path, tmp_path: Path, write_routine: Callable[..., Path]
) -> None:
    settings = Settings(cache=SpeechCache(tmp_path / "cache"), jobs=2)
    routine = load(short_routine, Overrides(engine="espeak-ng"))
    first = plan(routine, settings)
    assert first.stats.cached == 0
    second = plan(routine, settings)
    assert (second.stats.lines, second.stats.cached) == (first.stats.lines, first.stats.lines)
    assert second.timeline == first.timeline
    edited = write_routine(short_routine.read_text().replace("Breathe out.", "Breathe out slowly."), "edited.yaml")
    third = plan(load(edited, Overrides(engine="espeak-ng")), settings)
    assert third.stats.synthesised == 1


def test_corrupt_cache_entry_is_synthesised_again_not_played(short_routine: Path, tmp_path: Path) -> None:
    store = SpeechCache(tmp_path / "cache")
    routine = load(short_routine, Overrides(engine="espeak-ng"))
    clean = plan(routine, Settings(cache=store))
    for path in (tmp_path / "cache").glob("*/*.pcm"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    again = plan(routine, Settings(cache=store))
    assert again.stats.cached == 0
    assert again.timeline == clean.timeline
    assert all(np.array_equal(again.clips[u], clean.clips[u]) for u in clean.clips)


def test_identical_lines_are_synthesised_once_even_without_cache(short_routine: Path) -> None:
    routine = load(short_routine, Overrides(engine="espeak-ng"))
    spoken = [e for e in plan(routine, Settings(cache=None)).timeline.events if e.text]
    distinct = utterances(script(routine))
    assert len(distinct) < len(spoken)
    assert plan(routine, Settings(cache=None)).stats.lines == len(distinct)


@pytest.mark.parametrize("engine", ["espeak-ng", "pyttsx3", "piper"])
def test_parallel_render_decodes_identical_to_serial(engine: str, short_routine: Path, tmp_path: Path) -> None:
    routine = load(short_routine, Overrides(engine=engine))
    serial = render(routine, tmp_path / "serial", settings=Settings(cache=None, jobs=1)).path
    parallel = render(routine, tmp_path / "parallel", settings=Settings(cache=None, jobs=4)).path
    assert np.array_equal(decode_file(serial)[0], decode_file(parallel)[0])


def test_the_cache_removes_the_temporary_files_of_killed_writers_only(tmp_path: Path) -> None:
    """Before it first stores a line: a killed writer's half entry goes, a running one's stays."""
    store = SpeechCache(tmp_path / "speech")
    for folder in ("ab", "cd"):
        (store.folder / folder).mkdir(parents=True)
    killed = writing_elsewhere(store.folder / "ab" / "ab12.pcm")
    running = writing_elsewhere(store.folder / "cd" / "cd34.pcm")
    try:
        killed.kill()
        killed.wait()
        store.put("ef56", np.zeros(10, dtype=np.int16))
        assert sorted(p.name for p in (store.folder / "ab").iterdir()) == []
        assert sorted(p.name for p in (store.folder / "cd").iterdir()) == [running.part, f"{running.part}.lock"]
        running.communicate("")
        assert sorted(p.name for p in (store.folder / "cd").iterdir()) == ["cd34.pcm"]
    finally:
        for writer in (killed, running):
            writer.kill()
            writer.wait()
