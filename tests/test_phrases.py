"""Phrase files: one per language, each complete, each with a voice the engines really have."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voiceguide.phrases import language_name, language_names, languages, natural_voice, phrases
from voiceguide.plan.timeline import schedule, script, utterances
from voiceguide.routine.build import load_routine
from voiceguide.speech.engines import get_engine
from voiceguide.speech.engines.base import pick_voice
from voiceguide.speech.engines.download import downloadable

LANGUAGES = ("de", "en", "es", "fr", "it", "nl", "pt")
ESPEAK_ENGINES = ("pyttsx3", "espeak-ng")  # piper ships English only; `auto` falls back to pyttsx3 (test_piper)


def test_the_shipped_languages() -> None:
    assert languages() == LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_phrase_file_is_complete(language: str) -> None:
    words = phrases(language)
    assert len(words.both) == 2
    assert "{side}" in words.switch
    assert "{n}" in words.remaining
    assert "{rep}" in words.rep
    assert "{reps}" in words.rep
    assert len(words.numbers) == 60
    assert len(set(words.numbers)) == 60
    assert not any(any(c.isdigit() for c in n) for n in words.numbers)


@pytest.mark.parametrize(
    ("language", "three", "twenty_one", "left", "rep"),
    [
        ("en", "three", "twenty-one", "Thirty seconds left.", "Rep two of five."),
        ("de", "drei", "einundzwanzig", "Noch dreißig Sekunden.", "Wiederholung zwei von fünf."),
        ("fr", "trois", "vingt et un", "Encore trente secondes.", "Répétition deux sur cinq."),
        ("es", "tres", "veintiuno", "Quedan treinta segundos.", "Repetición dos de cinco."),
        ("it", "tre", "ventuno", "Ancora trenta secondi.", "Ripetizione due di cinque."),
        ("nl", "drie", "eenentwintig", "Nog dertig seconden.", "Herhaling twee van vijf."),
        ("pt", "três", "vinte e um", "Faltam trinta segundos.", "Repetição dois de cinco."),
    ],
)
def test_numbers_and_sentences_are_words_of_the_language(
    language: str, three: str, twenty_one: str, left: str, rep: str
) -> None:
    words = phrases(language)
    assert (words.number(3), words.number(21)) == (three, twenty_one)
    assert words.seconds_left(30) == left
    assert words.rep_of(2, 5) == rep


@pytest.mark.parametrize("engine", ESPEAK_ENGINES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_picks_a_voice_of_that_language(engine: str, language: str) -> None:
    voice = pick_voice(get_engine(engine), None, language, phrases(language).voice)
    assert voice.languages[0].startswith(language)


@pytest.mark.parametrize(
    ("language", "intro", "outro"),
    [
        ("en", "Introduction", "Closing"),
        ("de", "Einleitung", "Abschluss"),
        ("fr", "Introduction", "Conclusion"),
        ("es", "Introducción", "Cierre"),
        ("it", "Introduzione", "Chiusura"),
        ("nl", "Inleiding", "Afsluiting"),
        ("pt", "Introdução", "Encerramento"),
    ],
)
def test_intro_and_outro_chapters_are_named_in_the_language(
    write_routine: Callable[..., Path], language: str, intro: str, outro: str
) -> None:
    routine = load_routine(
        write_routine(f"title: T\nlanguage: {language}\nintro: A.\noutro: B.\nsteps: [{{say: C.}}]\n")
    )
    items = script(routine)
    timeline = schedule(routine, items, dict.fromkeys(utterances(items), 100))
    assert [c.title for c in timeline.chapters] == [intro, "C", outro]


def test_a_step_without_words_is_named_in_the_language(write_routine: Callable[..., Path]) -> None:
    routine = load_routine(write_routine('title: T\nlanguage: de\nsteps: [{say: "{rep} ..."}]\n'))
    assert routine.steps[0].name == "Schritt"


@pytest.mark.parametrize("language", languages())
def test_each_language_suggests_a_listed_piper_voice_of_its_own(language: str) -> None:
    voice = natural_voice(language)
    assert voice in downloadable(language), f"{language}: {voice} is not in the Piper voices list"
    assert language_names()[language_name(language).casefold()] == language
