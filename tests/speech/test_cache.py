"""The speech cache: hits, misses, keys, damaged entries, and parallel = serial."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.errors import Fault
from voiceguide.pipeline import Overrides, load, plan, render
from voiceguide.plan.script import script, utterances
from voiceguide.speech.cache import SpeechCache, default_cap, key
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
    (path,) = tmp_path.glob("*/*.clip")
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
    for path in (tmp_path / "cache").glob("*/*.clip"):
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


def _clip(seed: int, length: int = 4000) -> np.ndarray:
    return np.random.default_rng(seed).integers(-3000, 3000, length).astype(np.int16)


def test_least_recently_used_lines_go_first_when_over_the_cap(tmp_path: Path) -> None:
    store = SpeechCache(tmp_path, cap=10**9)
    names = ["aa" * 32, "bb" * 32, "cc" * 32, "dd" * 32]
    for name in names[:3]:
        store.put(name, _clip(len(name)))
    assert store.get(names[0]) is not None  # used again: now the most recent but one
    assert store.stored(names[2]) is not None  # a header read is a use too
    store.put(names[3], _clip(4))
    size = store.usage().bytes // 4
    store.cap = 2 * size + size // 2  # room for two of the four entries
    assert store.evict().entries == 2
    assert [store.stored(name) is not None for name in names] == [False, False, True, True]
    assert store.usage().bytes <= store.cap


def test_a_plan_leaves_the_cache_within_its_cap_and_still_plays_every_line(short_routine: Path, tmp_path: Path) -> None:
    routine = load(short_routine, Overrides(engine="espeak-ng"))
    unbounded = plan(routine, Settings(cache=SpeechCache(tmp_path / "free")))
    line = max(len(c) for c in unbounded.clips.values())
    store = SpeechCache(tmp_path / "capped", cap=3 * line)  # a few lines' worth, stored compressed
    capped = plan(routine, Settings(cache=store))
    assert 0 < store.usage().bytes <= store.cap
    assert store.usage().entries < capped.stats.lines
    assert capped.timeline == unbounded.timeline


def test_entries_are_stored_compressed_and_earlier_formats_go_first(tmp_path: Path) -> None:
    store = SpeechCache(tmp_path, cap=10**9)
    speech = (np.sin(np.arange(20000) / 7.0) * 8000).astype(np.int16)
    store.put("ee" * 32, speech)
    assert store.usage().bytes < speech.nbytes * 0.8
    old = tmp_path / "ff" / f"{'ff' * 32}.pcm"
    old.parent.mkdir()
    old.write_bytes(bytes(100))
    assert store.usage().entries == 2
    store.cap = store.usage().bytes - 1
    store.evict()
    assert not old.exists()
    assert store.get("ee" * 32) is not None


@pytest.mark.parametrize(
    ("value", "cap"), [("", 1_000_000_000), ("250", 250_000_000), (" 0.5 ", 500_000), ("2e3", 2_000_000_000)]
)
def test_the_cap_comes_from_the_environment(value: str, cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEGUIDE_CACHE_MB", value)
    assert default_cap() == cap


@pytest.mark.parametrize("value", ["0", "-5", "lots", "inf", "nan", "1GB"])
def test_a_cap_that_is_no_size_says_how_to_set_it(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEGUIDE_CACHE_MB", value)
    with pytest.raises(Fault, match="is not a size in megabytes") as caught:
        default_cap()
    assert "VOICEGUIDE_CACHE_MB=500" in caught.value.fix


def test_a_render_from_the_cache_matches_its_plan_sample_for_sample(short_routine: Path, tmp_path: Path) -> None:
    routine = load(short_routine, Overrides(engine="espeak-ng"))
    store = SpeechCache(tmp_path / "cache")
    cold = render(routine, tmp_path / "cold", settings=Settings(cache=store))
    warm = render(routine, tmp_path / "warm", settings=Settings(cache=store))
    assert warm.plan.stats.cached == warm.plan.stats.lines
    fresh = plan(routine, Settings(cache=None))
    assert all(np.array_equal(warm.plan.clips[u], fresh.clips[u]) for u in fresh.clips)
    assert np.array_equal(decode_file(cold.path)[0], decode_file(warm.path)[0])
    assert len(decode_file(warm.path)[0]) == warm.plan.timeline.duration


def test_an_up_to_date_render_decodes_no_speech(
    short_routine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    routine = load(short_routine, Overrides(engine="espeak-ng"))
    settings = Settings(cache=SpeechCache(tmp_path / "cache"))
    assert render(routine, tmp_path / "out", settings=settings).encoded
    with monkeypatch.context() as patch:
        patch.setattr(SpeechCache, "get", lambda *_: pytest.fail("speech decoded for an up-to-date track"))
        again = render(routine, tmp_path / "out", settings=settings)
    assert not again.encoded
    assert again.plan.timeline == plan(routine, settings).timeline


def test_a_damaged_entry_behind_a_sound_header_is_spoken_again_and_stamped(short_routine: Path, tmp_path: Path) -> None:
    routine = load(short_routine, Overrides(engine="espeak-ng"))
    settings = Settings(cache=SpeechCache(tmp_path / "cache"))
    render(routine, tmp_path / "out", settings=settings)
    for path in (tmp_path / "cache").glob("*/*.clip"):
        data = path.read_bytes()
        path.write_bytes(data[:-8])  # the header is whole; the samples are not
    redone = render(routine, tmp_path / "out", bitrate=96, settings=settings)
    assert redone.encoded
    assert redone.plan.stats.cached == 0
    assert not render(routine, tmp_path / "out", bitrate=96, settings=settings).encoded
