"""The command line: parse options, call one core function, report errors in one place."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from . import __version__
from .cache import SpeechCache, default_folder
from .durations import format_clock
from .engines import get_engine
from .engines.download import download_voice
from .engines.piper import user_voice_folder
from .errors import RoutineError, VoiceguideError
from .export import Export
from .info import info_lines, inspect
from .loudness import DEFAULT_TARGET
from .model import ENGINE_CHOICES, ENGINE_NAMES
from .present import plan_dict, plan_lines, voices_text
from .render import DEFAULT_BITRATE, SILENT, Overrides, load, plan, render
from .routine import expand_paths
from .synth import Settings

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
    return click.option(
        "--engine",
        type=click.Choice(ENGINE_CHOICES),
        help="Speech engine (`auto`: piper if it has a voice for the language, else pyttsx3).",
    )(command)


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


def synthesis_options(command: F) -> F:
    """--jobs and --no-cache."""
    command = click.option("--no-cache", is_flag=True, help="Synthesise every line again; store nothing.")(command)
    return click.option(
        "-j",
        "--jobs",
        type=click.IntRange(1, 64),
        default=os.cpu_count() or 1,
        show_default="all cores",
        help="Lines synthesised at once.",
    )(command)


def settings(jobs: int, no_cache: bool) -> Settings:
    return Settings(cache=None if no_cache else SpeechCache(default_folder()), jobs=jobs)


class Bars:
    """Progress bars on stderr, one per stage; drawn only on a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None

    def stage(self, label: str, total: int) -> None:
        self.close()
        self._bar = click.progressbar(length=max(total, 1), label=f"{label:<13}", file=sys.stderr, width=30)
        self._bar.__enter__()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


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
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
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
@synthesis_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary; errors only.")
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
    jobs: int,
    no_cache: bool,
    quiet: bool,
) -> None:
    """Render routines to MP3 files (OUTPUT/<file name>.mp3).

    ROUTINES are YAML files, or folders of them. Each track appears only once it is
    complete; if one routine fails, the others are still rendered. Synthesised lines
    are cached (see `voiceguide cache info`), so a re-render only speaks what changed.

    \b
    Examples:
      voiceguide render routines/neck-and-back.yaml
      voiceguide render routines/ -o ~/Music/routines
      voiceguide render desk-break.yaml --engine espeak-ng --voice en-gb --rate 130
      voiceguide render desk-break.yaml --split --loudness -18
    """
    overrides = Overrides(engine, voice, rate)
    options = Export(loudness, sidecars, split)
    paths = expand_paths(routines)
    failures: list[VoiceguideError] = []
    failed: list[Path] = []
    for path in paths:
        started = time.monotonic()
        bars = Bars() if not quiet and sys.stderr.isatty() else None
        try:
            done = render(load(path, overrides), out_dir, bitrate, settings(jobs, no_cache), bars or SILENT, options)
        except VoiceguideError as err:
            failures.append(err)
            failed.append(path)
            click.echo(describe(err), err=True)
            continue
        finally:
            if bars:
                bars.close()
        if not quiet:
            stats, timeline = done.plan.stats, done.plan.timeline
            length = format_clock(timeline.seconds(timeline.duration))
            amount = f"{len(timeline.chapters)} tracks" if split else f"{done.path.stat().st_size / 1_000_000:.1f} MB"
            verb = "Wrote" if done.encoded else "Up to date:"
            click.echo(
                f"{verb} {done.path} ({length}, {amount}) in {time.monotonic() - started:.1f} s; "
                f"{stats.lines} lines, {stats.cached} from cache; voice {voices_text(stats.voices)}"
            )
    if failures:
        _fail_batch(failures, len(paths), failed)


def _fail_batch(failures: list[VoiceguideError], total: int, failed: Sequence[Path] = ()) -> NoReturn:
    code = 2 if all(isinstance(f, RoutineError) for f in failures) else 1
    if total > 1:
        names = f": {', '.join(str(p) for p in failed)}" if failed else ""
        click.echo(f"{len(failures)} of {total} routines failed{names}.", err=True)
    sys.exit(code)


@cli.command(name="plan")
@click.argument("routine", type=click.Path(path_type=Path, readable=False))
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@voice_options
@synthesis_options
def plan_command(
    routine: Path, as_json: bool, engine: str | None, voice: str | None, rate: int | None, jobs: int, no_cache: bool
) -> None:
    """Print the exact timeline that `render` will produce.

    Speech is synthesised to measure it, so the times are the MP3's times.

    \b
    Examples:
      voiceguide plan routines/neck-and-back.yaml
      voiceguide plan routines/neck-and-back.yaml --json > plan.json
    """
    planned = plan(load(routine, Overrides(engine, voice, rate)), settings(jobs, no_cache))
    if as_json:
        click.echo(json.dumps(plan_dict(planned.timeline, planned.stats.voices), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(plan_lines(planned.timeline, planned.stats.voices)))


@cli.command(name="validate")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
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


@cli.group(name="voices", invoke_without_command=True)
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default=ENGINE_NAMES[0], show_default=True)
@click.option("--language", help="Only voices for this language code, e.g. en or de.")
@click.pass_context
def voices_command(ctx: click.Context, engine: str, language: str | None) -> None:
    """List the voices an engine offers (use the id as `voice.name` or --voice).

    Which engine speaks: a routine's `voice.engine` (or a step's, or --engine) if it
    names one; otherwise `auto`, which uses piper when it is installed
    (`pip install "voiceguide[neural]"`) and has a voice for the routine's language,
    and pyttsx3 otherwise. piper voices are the bundled en_US-joe-medium, .onnx +
    .onnx.json pairs in the user data folder and in $VOICEGUIDE_VOICES_DIR; a
    piper `voice.name` may also be a path to an .onnx file.

    \b
    Examples:
      voiceguide voices
      voiceguide voices --engine espeak-ng --language en
      voiceguide voices --engine piper
      voiceguide voices download de_DE-thorsten-medium
    """
    if ctx.invoked_subcommand is not None:
        return
    for voice in get_engine(engine).voices():
        if language and not any(lang.lower().startswith(language.lower()) for lang in voice.languages):
            continue
        click.echo(f"{voice.id:<24} {voice.name:<36} {', '.join(voice.languages)}")


@voices_command.command(name="download")
@click.argument("voice_id")
def voices_download(voice_id: str) -> None:
    """Download a piper voice (e.g. de_DE-thorsten-medium) into the user data folder.

    Voices come from the public Piper voices repository (VOICEGUIDE_VOICES_URL points
    elsewhere); each file's size and checksum are checked, and a broken download
    leaves nothing behind. Listen to the voices at https://rhasspy.github.io/piper-samples/.

    \b
    Examples:
      voiceguide voices download de_DE-thorsten-medium
      voiceguide voices download en_GB-alba-medium
    """
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and sys.stderr.isatty():
            bar = click.progressbar(length=total, label=f"{voice_id:<13}", file=sys.stderr, width=30)
            bar.__enter__()
        if bar is not None:
            bar.update(done - bar.pos)

    try:
        model = download_voice(voice_id, user_voice_folder(), progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(f"Installed {voice_id} in {model.parent} ({model.stat().st_size / 1_000_000:.1f} MB)")


@cli.command(name="info")
@click.argument("track", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def info_command(track: Path) -> None:
    """Show what a phone will see in TRACK: tags, chapters, decoded duration, loudness.

    \b
    Examples:
      voiceguide info output/neck-and-back.mp3
    """
    click.echo("\n".join(info_lines(inspect(track))))


@cli.group(name="cache")
def cache_group() -> None:
    """Inspect or empty the cache of synthesised speech.

    \b
    Examples:
      voiceguide cache info
      voiceguide cache clear
    """


@cache_group.command(name="info")
def cache_info() -> None:
    """Show where the speech cache is and how big it is.

    \b
    Example:
      voiceguide cache info
    """
    store = SpeechCache(default_folder())
    usage = store.usage()
    click.echo(f"{store.folder}\n{usage.entries} lines, {usage.bytes / 1_000_000:.1f} MB")


@cache_group.command(name="clear")
def cache_clear() -> None:
    """Delete every cached line (they are synthesised again when needed).

    \b
    Example:
      voiceguide cache clear
    """
    removed = SpeechCache(default_folder()).clear()
    click.echo(f"Removed {removed.entries} lines ({removed.bytes / 1_000_000:.1f} MB).")
