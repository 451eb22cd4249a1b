"""Built-in phrases per language, one YAML data file each (``en.yaml``, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Phrases:
    """The words voiceguide says on its own, in one language."""

    voice: str
    both: tuple[str, ...]
    switch: str
    again: str
    remaining: str  # "{n} seconds left."
    rep: str  # "Rep {rep} of {reps}."
    numbers: tuple[str, ...]
    remaining_minute: str  # "One minute left."
    remaining_minutes: str  # "{n} minutes left."
    remaining_minute_and_half: str  # "One and a half minutes left."
    remaining_minutes_and_half: str  # "{n} and a half minutes left."
    intro_chapter: str = "Introduction"
    outro_chapter: str = "Closing"
    step_chapter: str = "Step"  # a step whose `say` has no words to name it
    ready: str = "Press play when you're ready."  # before the silence of a step with `wait: true`

    def number(self, n: int) -> str:
        """``3`` -> ``three`` (digits past the table: engines read them aloud)."""
        return self.numbers[n - 1] if 0 < n <= len(self.numbers) else str(n)

    def time_left(self, seconds: int) -> str:
        """The time left as people say it: ``30`` -> ``Thirty seconds left.``, ``60`` -> ``One minute
        left.``, ``90`` -> ``One and a half minutes left.``, ``120`` -> ``Two minutes left.``"""
        minutes, rest = divmod(seconds, 60)
        if not minutes or rest not in (0, 30):
            form, n = self.remaining, seconds
        elif rest:
            form, n = (self.remaining_minute_and_half if minutes == 1 else self.remaining_minutes_and_half), minutes
        else:
            form, n = (self.remaining_minute if minutes == 1 else self.remaining_minutes), minutes
        text = form.replace("{n}", self.number(n))
        return text[:1].upper() + text[1:]

    def rep_of(self, rep: int, reps: int) -> str:
        """``2, 5`` -> ``Rep two of five.``"""
        return self.rep.replace("{rep}", self.number(rep)).replace("{reps}", self.number(reps))


@dataclass(frozen=True)
class HandoutWords:
    """The words a printed handout adds to the routine's own, in one language."""

    hold: str  # "Hold {time}"
    times: str  # "{n} times"
    each_side: str
    sides: str  # "sides: {sides}", for sides other than the language's two
    before: str  # the heading over the intro
    steps: str
    scan: str  # over the QR code
    no_url: str  # how to get the track when there is no QR code; {track}: its file name
    page: str  # "Page {page} of {pages}"
    by: str  # "by {author}"


def languages() -> tuple[str, ...]:
    """Language codes that have a phrase file."""
    files = resources.files(__name__).iterdir()
    return tuple(sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml")))


@cache
def _data(language: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(resources.files(__name__).joinpath(f"{language}.yaml").read_text("utf-8"))
    return data


def language_names() -> dict[str, str]:
    """What people write for a language instead of its code, lower case, to its code: ``german`` -> ``de``."""
    return {name.casefold(): code for code in languages() for name in _data(code)["names"]}


def natural_voice(language: str) -> str:
    """The Piper voice to suggest for ``language`` (an id from the public Piper voices list)."""
    return str(_data(language)["piper"])


def language_name(language: str) -> str:
    """``de`` -> ``German``: how messages name the language."""
    return str(_data(language)["names"][0])


def starter(language: str) -> dict[str, str]:
    """The texts of the starter routine `voiceguide new` writes, in ``language``."""
    return dict(_data(language)["starter"])


@cache
def phrases(language: str) -> Phrases:
    """The phrase table of ``language`` (one of ``languages()``)."""
    data = _data(language)
    return Phrases(
        voice=data["voice"],
        both=tuple(data["sides"]["both"]),
        switch=data["switch"],
        again=data["again"],
        remaining=data["remaining"],
        remaining_minute=data["remaining_minute"],
        remaining_minutes=data["remaining_minutes"],
        remaining_minute_and_half=data["remaining_minute_and_half"],
        remaining_minutes_and_half=data["remaining_minutes_and_half"],
        rep=data["rep"],
        numbers=tuple(data["numbers"]),
        intro_chapter=data["chapters"]["intro"],
        outro_chapter=data["chapters"]["outro"],
        step_chapter=data["chapters"]["step"],
        ready=data["ready"],
    )


@cache
def handout_words(language: str) -> HandoutWords:
    """The handout's words in ``language`` (one of ``languages()``)."""
    return HandoutWords(**_data(language)["handout"])
