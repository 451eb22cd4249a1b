"""Phrase files: one per language, each complete, each with a voice the engines really have."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voiceguide.phrases import language_name, language_names, languages, natural_voice, phrases
from voiceguide.plan.script import script, utterances
from voiceguide.plan.timeline import schedule
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
    assert "{n}" in words.remaining_minutes
    assert "{n}" in words.remaining_minutes_and_half
    assert "{n}" not in words.remaining_minute + words.remaining_minute_and_half
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
    assert words.time_left(30) == left
    assert words.rep_of(2, 5) == rep


TIMES_LEFT = {  # 45 s, 1 min, 90 s, 2 min, 150 s, 75 s: minutes where a person would say them
    "en": (
        "Forty-five seconds left.",
        "One minute left.",
        "One and a half minutes left.",
        "Two minutes left.",
        "Two and a half minutes left.",
        "75 seconds left.",
    ),
    "de": (
        "Noch fünfundvierzig Sekunden.",
        "Noch eine Minute.",
        "Noch eineinhalb Minuten.",
        "Noch zwei Minuten.",
        "Noch zweieinhalb Minuten.",
        "Noch 75 Sekunden.",
    ),
    "fr": (
        "Encore quarante-cinq secondes.",
        "Encore une minute.",
        "Encore une minute et demie.",
        "Encore deux minutes.",
        "Encore deux minutes et demie.",
        "Encore 75 secondes.",
    ),
    "es": (
        "Quedan cuarenta y cinco segundos.",
        "Queda un minuto.",
        "Queda un minuto y medio.",
        "Quedan dos minutos.",
        "Quedan dos minutos y medio.",
        "Quedan 75 segundos.",
    ),
    "it": (
        "Ancora quarantacinque secondi.",
        "Ancora un minuto.",
        "Ancora un minuto e mezzo.",
        "Ancora due minuti.",
        "Ancora due minuti e mezzo.",
        "Ancora 75 secondi.",
    ),
    "nl": (
        "Nog vijfenveertig seconden.",
        "Nog één minuut.",
        "Nog anderhalve minuut.",
        "Nog twee minuten.",
        "Nog twee en een halve minuut.",
        "Nog 75 seconden.",
    ),
    "pt": (
        "Faltam quarenta e cinco segundos.",
        "Falta um minuto.",
        "Falta um minuto e meio.",
        "Faltam dois minutos.",
        "Faltam dois minutos e meio.",
        "Faltam 75 segundos.",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_times_left_are_said_in_minutes_where_people_would(language: str) -> None:
    words = phrases(language)
    assert tuple(words.time_left(s) for s in (45, 60, 90, 120, 150, 75)) == TIMES_LEFT[language]


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
