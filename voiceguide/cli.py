"""The command line: parse options, call one core function, report errors in one place."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from . import __version__
from .durations import format_clock
from .engines import get_engine
from .errors import RoutineError, VoiceguideError
from .export import Export
from .info import info_lines, inspect
from .loudness import DEFAULT_TARGET
from .model import ENGINE_NAMES
from .present import plan_dict, plan_lines
from .render import DEFAULT_BITRATE, Overrides, load, plan, render
from .routine import expand_paths

F = TypeVar("F", bound=Callable[..., Any])


def describe(error: VoiceguideError) -> str:
    """How an error reads on the terminal."""
    if isinstance(error, RoutineError):
        sources = sorted({p.source for p in error.problems})
        count = len(error.problems)
        lines = [str(p) for p in error.problems]
        noun = "problem" if count == 1 else "problems"
        lines.append(f"Error: {count} {noun} in {', '.join(sources)}.")
        return "\n".join(lines)
    return f"Error: {error}"


class Group(click.Group):
    """Turns voiceguide's errors into messages and exit codes; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VoiceguideError as err:
            click.echo(describe(err), err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; no partial file was left behind.", err=True)
            ctx.exit(130)


def voice_options(command: F) -> F:
    """--engine, --voice and --rate, which override the routine's `voice`."""
    command = click.option("--rate", type=click.IntRange(60, 450), help="Words per minute.")(command)
    command = click.option("--voice", help="Voice id or a unique part of its name (see `voiceguide voices`).")(command)
    return click.option("--engine", type=click.Choice(ENGINE_NAMES), help="Speech engine.")(command)


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


def export_options(command: F) -> F:
    """--loudness, --no-sidecars and --split: how the track is written for a phone."""
    command = click.option(
        "--split", is_flag=True, help="One MP3 per chapter in OUTPUT/<name>/, plus OUTPUT/<name>.m3u8."
    )(command)
    command = click.option(
        "--sidecars/--no-sidecars", default=True, show_default=True, help="Write .lrc, .vtt and .chapters.json."
    )(command)
    return click.option(
        "--loudness",
        metavar="LUFS|off",
        default=f"{DEFAULT_TARGET:g}",
        callback=_loudness,
        show_default=True,
        help="Integrated loudness in LUFS (true peak at most -1 dBTP), or `off`.",
    )(command)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="voiceguide")
def cli() -> None:
    """Turn a written routine (YAML) into a voice-guided MP3 with exactly timed holds.

    \b
    Examples:
      voiceguide render routines/neck-and-back.yaml
      voiceguide plan routines/neck-and-back.yaml
      voiceguide validate routines/
    """


@cli.command(name="render")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("output"),
    show_default=True,
    help="Folder for the MP3 files.",
)
@voice_options
@click.option("--bitrate", type=click.IntRange(32, 320), default=DEFAULT_BITRATE, show_default=True, help="MP3 kbps.")
@export_options
def render_command(
    routines: Sequence[Path],
    out_dir: Path,
    engine: str | None,
    voice: str | None,
    rate: int | None,
    bitrate: int,
    loudness: float | None,
    sidecars: bool,
    split: bool,
) -> None:
    """Render routines to MP3 files (OUTPUT/<file name>.mp3).

    ROUTINES are YAML files, or folders of them. Each track appears only once it is
    complete; if one routine fails, the others are still rendered.

    \b
    Examples:
      voiceguide render routines/neck-and-back.yaml
      voiceguide render routines/ -o ~/Music/routines
      voiceguide render desk-break.yaml --engine espeak-ng --voice en-gb --rate 130
      voiceguide render desk-break.yaml --split --loudness -18
    """
    overrides = Overrides(engine, voice, rate)
    options = Export(loudness, sidecars, split)
    failures: list[VoiceguideError] = []
    for path in expand_paths(routines):
        try:
            target, planned = render(load(path, overrides), out_dir, bitrate, options=options)
        except VoiceguideError as err:
            failures.append(err)
            click.echo(describe(err), err=True)
            continue
        length = format_clock(planned.timeline.seconds(planned.timeline.duration))
        if split:
            click.echo(f"Wrote {target} ({length}, {len(planned.timeline.chapters)} tracks)")
            continue
        size = target.stat().st_size / 1_000_000
        click.echo(f"Wrote {target} ({length}, {size:.1f} MB)")
    if failures:
        _fail_batch(failures, len(expand_paths(routines)))


def _fail_batch(failures: list[VoiceguideError], total: int) -> NoReturn:
    code = 2 if all(isinstance(f, RoutineError) for f in failures) else 1
    if total > 1:
        click.echo(f"{len(failures)} of {total} routines failed.", err=True)
    sys.exit(code)


@cli.command(name="plan")
@click.argument("routine", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@voice_options
def plan_command(routine: Path, as_json: bool, engine: str | None, voice: str | None, rate: int | None) -> None:
    """Print the exact timeline that `render` will produce.

    Speech is synthesised to measure it, so the times are the MP3's times.

    \b
    Examples:
      voiceguide plan routines/neck-and-back.yaml
      voiceguide plan routines/neck-and-back.yaml --json > plan.json
    """
    timeline = plan(load(routine, Overrides(engine, voice, rate))).timeline
    if as_json:
        click.echo(json.dumps(plan_dict(timeline), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(plan_lines(timeline)))


@cli.command(name="validate")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate_command(routines: Sequence[Path]) -> None:
    """Check routines without rendering; report every problem in every file.

    \b
    Examples:
      voiceguide validate routines/neck-and-back.yaml
      voiceguide validate routines/
    """
    failures: list[VoiceguideError] = []
    paths = expand_paths(routines)
    for path in paths:
        try:
            routine = load(path)
        except RoutineError as err:
            failures.append(err)
            click.echo(describe(err), err=True)
            continue
        steps = len(routine.steps)
        click.echo(f"{path}: ok ({steps} step{'s' * (steps != 1)})")
    if failures:
        _fail_batch(failures, len(paths))


@cli.command(name="voices")
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default=ENGINE_NAMES[0], show_default=True)
@click.option("--language", help="Only voices for this language code, e.g. en or de.")
def voices_command(engine: str, language: str | None) -> None:
    """List the voices an engine offers (use the id as `voice.name` or --voice).

    \b
    Examples:
      voiceguide voices
      voiceguide voices --engine espeak-ng --language en
    """
    for voice in get_engine(engine).voices():
        if language and not any(lang.lower().startswith(language.lower()) for lang in voice.languages):
            continue
        click.echo(f"{voice.id:<24} {voice.name:<36} {', '.join(voice.languages)}")


@cli.command(name="info")
@click.argument("track", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def info_command(track: Path) -> None:
    """Show what a phone will see in TRACK: tags, chapters, decoded duration, loudness.

    \b
    Examples:
      voiceguide info output/neck-and-back.mp3
    """
    click.echo("\n".join(info_lines(inspect(track))))
