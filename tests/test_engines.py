"""Speech engines speak text literally: markup in a routine is read out, never obeyed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from voiceguide.audio import AUDIBLE, Samples, decode_clip, trim
from voiceguide.engines import EncodedAudio, get_engine, pick_voice
from voiceguide.engines.base import literal
from voiceguide.model import ENGINE_NAMES

RATE = 22_050
SSML = 'Relax <break time="3s"/> now & breathe'


def speak(engine: str, text: str) -> Samples:
    """Real speech from ``engine``, trimmed as the timeline uses it."""
    tts = get_engine(engine)
    audio = tts.synthesise(text, pick_voice(tts, "en-us", "en"), 150, 1.0)
    return trim(decode_clip(audio, RATE))


def longest_quiet(samples: Samples) -> float:
    """The longest stretch of silence inside a clip, in seconds."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= AUDIBLE)
    return float(np.diff(loud).max()) / RATE


def test_the_measure_sees_an_obeyed_break() -> None:
    """Control: espeak-ng told to read SSML (-m) leaves a 3 s gap that ``longest_quiet`` finds."""
    program = shutil.which("espeak-ng")
    assert program is not None
    wav = subprocess.run([program, "-m", "--stdout", "-v", "en-us"], input=SSML.encode(), capture_output=True).stdout
    assert longest_quiet(trim(decode_clip(EncodedAudio(wav, "wav"), RATE))) > 2.5


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_ssml_is_spoken_not_obeyed(engine: str) -> None:
    """No 3 s pause (measured: longest gap 0.23 s), and the tag is read out (4.1 s against 1.5 s)."""
    tagged, plain = speak(engine, SSML), speak(engine, "Relax now & breathe")
    assert longest_quiet(tagged) < 1.0
    assert len(tagged) > len(plain) + RATE


@pytest.mark.parametrize("engine", ["pyttsx3", "espeak-ng"])  # piper: test_piper
def test_phoneme_brackets_are_spoken_not_obeyed(engine: str) -> None:
    """espeak-ng reads ``[[...]]`` as phoneme codes: unescaped, ``Say [[ ]] now`` was ``Say now``."""
    assert len(speak(engine, "Say [[ ]] now")) > len(speak(engine, "Say now")) + RATE // 10
    assert longest_quiet(speak(engine, "Say [[slnc 3000]] now")) < 1.0


def test_both_engines_read_brackets_alike() -> None:
    """On Linux both engines are espeak-ng, so the literal reading is the same audio."""
    text = "Press [[h@'loU]] gently"
    espeak, pyttsx3 = speak("espeak-ng", text), speak("pyttsx3", text)
    assert np.array_equal(espeak, pyttsx3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("[[x]]", "[\u2060[x]]"),
        ("a[[[b", "a[\u2060[\u2060[b"),
        ("[single] <b> &amp;", "[single] <b> &amp;"),
    ],
)
def test_literal(text: str, expected: str) -> None:
    assert literal(text) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pyttsx3 speaks through libespeak-ng on Linux only")
def test_pyttsx3_takes_under_load_are_complete_and_equal_the_espeak_ng_program() -> None:
    """Eight lines spoken at once (the load that made pyttsx3's own driver lose audio in
    about 1 line in 45) all come out sample for sample like the espeak-ng program's."""
    text = (
        "Welcome. Sit comfortably, with your feet flat on the floor and your shoulders loose. "
        "Work firmly but never painfully."
    )
    reference = speak("espeak-ng", text)
    with ThreadPoolExecutor(max_workers=8) as pool:
        takes = list(pool.map(lambda _: speak("pyttsx3", text), range(8)))
    assert all(np.array_equal(take, reference) for take in takes)
