"""Options and helpers the commands share: one declaration each, so every command means the same by them."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from voiceguide.audio.standards import DEFAULT_TARGET
from voiceguide.durations import format_span, parse_duration
from voiceguide.model import ENGINE_CHOICES
from voiceguide.pipeline import BITRATES, DEFAULT_BITRATE, Overrides
from voiceguide.plan.timeline import SAMPLE_RATE
from voiceguide.progress import SILENT, Progress
from voiceguide.routine.build import MAX_TOTAL_MS
from voiceguide.routine.fields import HOLDS, PACE
from voiceguide.speech.cache import SpeechCache, default_folder
from voiceguide.speech.synth import Settings

F = TypeVar("F", bound=Callable[..., Any])


def output_option(what: str) -> Callable[[F], F]:
    """``-o/--output``: the folder the command writes ``what`` into (default ``output``)."""
    return click.option(
        "-o",
        "--output",
        "out_dir",
        type=click.Path(path_type=Path),
        default=Path("output"),
        show_default=True,
        help=f"Folder for the {what}.",
    )


def voice_options(command: F) -> F:
    """--engine, --voice and --rate, which override the routine's `voice`."""
    command = click.option("--rate", type=click.IntRange(60, 450), help="Words per minute.")(command)
    command = click.option("--voice", help="Voice id or a unique part of its name (see `voiceguide voices`).")(command)
    return click.option(
        "--engine",
        type=click.Choice(ENGINE_CHOICES),
        help="Speech engine (`auto`: piper if it has a voice for the language, else pyttsx3).",
    )(command)


def _max_length(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    """``--max-length``: a duration like 6h."""
    try:
        ms = parse_duration(value)
    except ValueError:
        raise click.BadParameter(f"expected a duration like 4h or 90m, got {value!r}") from None
    if ms <= 0:
        raise click.BadParameter(f"expected a length above zero, got {value!r}")
    return ms


def limits_options(command: F) -> F:
    """--files-from and --max-length: what a routine may read, and how long its track may be."""
    command = click.option(
        "--max-length",
        "max_length_ms",
        metavar="DURATION",
        default=format_span(MAX_TOTAL_MS),
        show_default=True,
        callback=_max_length,
        help="Refuse a routine whose track would last longer (holds, rests, pauses and speech).",
    )(command)
    return click.option(
        "--files-from",
        multiple=True,
        envvar="VOICEGUIDE_FILES_FROM",
        type=click.Path(path_type=Path, file_okay=False),
        help="A folder (e.g. your shared sounds) whose files routines may use, besides their own folder; "
        "repeatable. A routine can read no file outside these.",
    )(command)


def version_options(command: F) -> F:
    """--holds, --pace and --variant: which version of each routine is made."""
    command = click.option(
        "--variant",
        "variants",
        metavar="NAME",
        multiple=True,
        help="A version the routine declares under `variants:`, or `all` (as written, and every variant); "
        "repeat for several.",
    )(command)
    command = click.option(
        "--pace",
        type=click.FloatRange(*PACE),
        default=1.0,
        metavar="FACTOR",
        help="Rests, pauses and gaps last 1/FACTOR as long, and voices speak FACTOR times as fast (0.8: slower).",
    )(command)
    return click.option(
        "--holds",
        type=click.FloatRange(*HOLDS),
        default=1.0,
        metavar="FACTOR",
        help="Scale every hold (0.5: half as long, 1.5: half as long again).",
    )(command)


OVERRIDES = tuple(field.name for field in dataclasses.fields(Overrides))


def overrides_options(*groups: Callable[[F], F]) -> Callable[[F], F]:
    """Declare the option ``groups`` (voice_options, limits_options, version_options, or audio_options
    in place of voice_options) and hand the command one ``overrides: Overrides`` built from the
    values of theirs that override the routine (what a group leaves out keeps Overrides' default)."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def with_overrides(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in OVERRIDES if name in kwargs}
            return command(*args, overrides=Overrides(**given), **kwargs)

        declared = cast(F, with_overrides)
        for group in reversed(groups):
            declared = group(declared)
        return declared

    return decorate


def _loudness(_ctx: click.Context, _param: click.Parameter, value: str) -> float | None:
    """``--loudness``: a target in LUFS like -16, or `off`."""
    if value.strip().lower() == "off":
        return None
    try:
        target = float(value)
    except ValueError:
        raise click.BadParameter(f"expected a loudness in LUFS like -16, or off; got {value!r}") from None
    if not -40 <= target <= -5:
        raise click.BadParameter(f"expected a loudness from -40 to -5 LUFS, or off; got {value!r}")
    return target


def _rates() -> str:
    return ", ".join(map(str, BITRATES[:-1])) + f" or {BITRATES[-1]}"


def _bitrate(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    """``--bitrate``: one the track's MP3 format can hold, rather than LAME's silent rounding."""
    if value not in BITRATES:
        raise click.BadParameter(f"an MP3 of speech ({SAMPLE_RATE:,} Hz) can have {_rates()} kbps; got {value}")
    return value


def audio_options(command: F) -> F:
    """Every option that changes the audio, declared once for `render`, `publish` and `serve`:
    --engine, --voice, --rate, --bitrate and --loudness."""
    command = click.option(
        "--loudness",
        metavar="LUFS|off",
        default=f"{DEFAULT_TARGET:g}",
        callback=_loudness,
        show_default=True,
        help="The voice's loudness in LUFS, measured over the spoken lines (the background keeps its own "
        "`volume`; the true peak of everything stays at most -1 dBTP), or `off`.",
    )(command)
    command = click.option(
        "--bitrate",
        type=int,
        metavar="KBPS",
        default=DEFAULT_BITRATE,
        callback=_bitrate,
        show_default=True,
        help=f"MP3 kbps: {_rates()}.",
    )(command)
    return voice_options(command)


def export_options(command: F) -> F:
    """--no-sidecars and --split: how the track is written for a phone."""
    command = click.option(
        "--split", is_flag=True, help="One MP3 per chapter in OUTPUT/<name>/, plus OUTPUT/<name>.m3u8."
    )(command)
    return click.option(
        "--sidecars/--no-sidecars", default=True, show_default=True, help="Write .lrc, .vtt, .srt and .chapters.json."
    )(command)


def synthesis_options(command: F) -> F:
    """--jobs and --no-cache."""
    command = click.option("--no-cache", is_flag=True, help="Synthesise every line again; store nothing.")(command)
    return click.option(
        "-j",
        "--jobs",
        type=click.IntRange(1, 64),
        default=os.cpu_count() or 1,
        show_default="all cores",
        help="Lines synthesised, and MP3 pieces encoded, at once (a Piper voice speaks one line per two cores).",
    )(command)


def settings(jobs: int, no_cache: bool) -> Settings:
    return Settings(cache=None if no_cache else SpeechCache(default_folder()), jobs=jobs)


@contextlib.contextmanager
def progress_bars(quiet: bool = False) -> Iterator[Progress]:
    """Bars on stderr while the block runs, when it is a terminal and not ``quiet``; else silence."""
    if quiet or not sys.stderr.isatty():
        yield SILENT
        return
    bars = Bars()
    try:
        yield bars
    finally:
        bars.close()


class Bars:
    """Progress bars on stderr, one per stage; drawn only on a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None

    def stage(self, label: str, total: int) -> None:
        self.close()
        self._bar = click.progressbar(length=max(total, 1), label=f"{label:<13}", file=sys.stderr, width=30)
        self._bar.__enter__()

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
