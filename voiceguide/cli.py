"""The command line: parse options, call one core function, report errors in one place."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

import click

from . import __version__
from .cache import SpeechCache, default_folder
from .durations import format_clock
from .engines import get_engine
from .engines.download import download_voice
from .engines.piper import user_voice_folder
from .errors import Fault, Problem, RoutineError, Stopped, VoiceguideError
from .export import Export
from .info import info_lines, inspect
from .loudness import DEFAULT_TARGET
from .model import ENGINE_CHOICES, ENGINE_NAMES
from .phrases import languages
from .present import move_warnings, plan_dict, plan_lines, voices_text
from .publish import Channel, Published, publish
from .publish.site import base_url, email_address
from .reference import schema_text
from .render import DEFAULT_BITRATE, SILENT, Overrides, distinct_tracks, load, plan, render
from .routine import expand_paths
from .starter import check_title, write_starter
from .synth import Settings
from .timeline import Timeline
from .watch import watch_routines

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
        except KeyboardInterrupt as err:
            signum = err.signum if isinstance(err, Stopped) else signal.SIGINT
            name = signal.Signals(signum).name
            what = "Interrupted" if signum == signal.SIGINT else f"Stopped by {name}"
            with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
                click.echo(f"{what}; no partial file was left behind.", err=True)
            ctx.exit(128 + signum)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        with stop_signals_interrupt():
            return super().main(*args, **kwargs)


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM (`timeout`, `systemctl stop`, `docker stop`) and SIGHUP (a closed terminal) raise
    ``Stopped``, so they stop voiceguide as Ctrl-C does; a repeat of either is ignored while
    it cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
        "--bitrate", type=click.IntRange(32, 320), default=DEFAULT_BITRATE, show_default=True, help="MP3 kbps."
    )(command)
    return voice_options(command)


def export_options(command: F) -> F:
    """--no-sidecars and --split: how the track is written for a phone."""
    command = click.option(
        "--split", is_flag=True, help="One MP3 per chapter in OUTPUT/<name>/, plus OUTPUT/<name>.m3u8."
    )(command)
    return click.option(
        "--sidecars/--no-sidecars", default=True, show_default=True, help="Write .lrc, .vtt and .chapters.json."
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
@audio_options
@export_options
@synthesis_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary; only errors and warnings.")
@click.option("-w", "--watch", is_flag=True, help="Keep running: render each routine again whenever its file is saved.")
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
    watch: bool,
) -> None:
    """Render routines to MP3 files (OUTPUT/<file name>.mp3).

    ROUTINES are YAML files, or folders of them. Each track appears only once it is
    complete; if one routine fails, the others are still rendered. Synthesised lines
    are cached (see `voiceguide cache info`), so a re-render only speaks what changed.

    With --watch, each routine is rendered again whenever its file is saved; errors
    are shown and watching goes on. Ctrl-C stops it (exit status 0; 130 if a render
    was under way, which leaves no partial file).

    \b
    Examples:
      voiceguide render routines/neck-and-back.yaml
      voiceguide render routines/ -o ~/Music/routines
      voiceguide render routines/desk-break.yaml --engine espeak-ng --voice en-gb --rate 130
      voiceguide render routines/desk-break.yaml --split --loudness -18
      voiceguide render routines/desk-break.yaml --watch
    """
    overrides = Overrides(engine, voice, rate)
    options = Export(loudness, sidecars, split)
    paths = distinct_tracks(expand_paths(routines))
    failures: list[VoiceguideError] = []
    failed: list[Path] = []

    def render_one(path: Path) -> None:
        started = time.monotonic()
        bars = Bars() if not quiet and sys.stderr.isatty() else None
        try:
            done = render(load(path, overrides), out_dir, bitrate, settings(jobs, no_cache), bars or SILENT, options)
        except VoiceguideError as err:
            failures.append(err)
            failed.append(path)
            click.echo(describe(err), err=True)
            return
        finally:
            if bars:
                bars.close()
        _warn(done.plan.timeline, done.warnings)
        if not quiet:
            stats, timeline = done.plan.stats, done.plan.timeline
            length = format_clock(timeline.seconds(timeline.duration))
            amount = f"{len(timeline.chapters)} tracks" if split else f"{done.path.stat().st_size / 1_000_000:.1f} MB"
            verb = "Wrote" if done.encoded else "Up to date:"
            click.echo(
                f"{verb} {done.path} ({length}, {amount}) in {time.monotonic() - started:.1f} s; "
                f"{stats.lines} lines, {stats.cached} from cache; voice {voices_text(stats.voices)}"
            )

    if watch:
        _watch(paths, render_one)
        return
    for path in paths:
        render_one(path)
    if failures:
        _fail_batch(failures, len(paths), failed)


def _watch(paths: Sequence[Path], render_one: Callable[[Path], None]) -> None:
    """Render ``paths``, then each one again when it is saved, until Ctrl-C."""
    given = {Path(os.path.abspath(path)): path for path in paths}
    changes = watch_routines(paths)
    next(changes)  # the watcher runs: no save from here on is missed
    pending: Sequence[Path] = paths
    click.echo(f"Watching {len(paths)} routine{'s' * (len(paths) != 1)} for changes; Ctrl-C stops.", err=True)
    while True:
        for path in pending:
            render_one(path)
        try:
            pending = [given.get(path, path) for path in sorted(next(changes)) if path.is_file()]
        except KeyboardInterrupt:
            click.echo("Stopped watching.", err=True)
            return


def _warn(timeline: Timeline, levelling: Sequence[Problem] = ()) -> None:
    """Lines moved to make room, and what levelling could not do, on stderr (they never stop a render)."""
    for line in [*move_warnings(timeline), *(f"Warning: {problem}" for problem in levelling)]:
        click.echo(line, err=True)


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
    _warn(planned.timeline)
    if as_json:
        click.echo(json.dumps(plan_dict(planned.timeline, planned.stats.voices), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(plan_lines(planned.timeline, planned.stats.voices)))


@cli.command(name="validate", short_help="Check routines without rendering; report every problem.")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option(
    "--speech",
    is_flag=True,
    help="Also synthesise every line (cached) to check that cues fit their holds, and warn about moved lines.",
)
@synthesis_options
def validate_command(routines: Sequence[Path], speech: bool, jobs: int, no_cache: bool) -> None:
    """Check routines without rendering; report every problem in every file.

    Without --speech nothing is spoken, so lines crowded into a hold are only found by
    `plan`, `render` or `validate --speech`.

    \b
    Examples:
      voiceguide validate routines/neck-and-back.yaml
      voiceguide validate routines/
      voiceguide validate --speech routines/desk-break.yaml
    """
    failures: list[VoiceguideError] = []
    paths = expand_paths(routines)
    for path in paths:
        try:
            routine = load(path)
            if speech:
                _warn(plan(routine, settings(jobs, no_cache)).timeline)
        except RoutineError as err:
            failures.append(err)
            click.echo(describe(err), err=True)
            continue
        steps = len(routine.steps)
        click.echo(f"{path}: ok ({steps} step{'s' * (steps != 1)})")
    if failures:
        _fail_batch(failures, len(paths))


@cli.group(name="voices", invoke_without_command=True, short_help="List the voices an engine offers.")
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
    voices = get_engine(engine).voices()
    if language:
        voices = [v for v in voices if any(lang.lower().startswith(language.lower()) for lang in v.languages)]
        if not voices:
            others = [name for name in ENGINE_NAMES if name != engine]
            raise Fault(
                f"{engine} has no voice for language {language!r}",
                f"use a code like en, de or pt-br (`voiceguide voices --engine {engine}` lists them all), "
                f"or try another engine: --engine {others[0]}",
            )
    for voice in voices:
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


@cli.command(name="info", short_help="Show a track's tags, chapters, duration and loudness.")
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


@cli.command(name="schema", short_help="Print the JSON Schema of routine files, for editors.")
def schema_command() -> None:
    """Print the JSON Schema of routine files, for editors (completion, hover help, checks as you type).

    The repository keeps a copy in schema/routine.schema.json. Point a YAML editor at it
    with a first line like the bundled routines have, or with the YAML extension's
    `yaml.schemas` setting in VS Code.

    \b
    Examples:
      voiceguide schema > routine.schema.json
      # yaml-language-server: $schema=routine.schema.json   (first line of a routine)
    """
    click.echo(schema_text(), nl=False)


def _title(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--title``: text a routine's `title` accepts."""
    try:
        return None if value is None else check_title(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _checked(check: Callable[[str], str], value: str | None) -> str | None:
    """``check(value)`` as a command-line option's value: its ValueError is a usage error (exit 2)."""
    try:
        return check(value) if value is not None else None
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _base_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    return _checked(base_url, value) or value


def _warn_levelling(done: Published) -> None:
    for problem in done.warnings:
        click.echo(f"Warning: {problem}", err=True)


def _published_lines(done: Published) -> list[str]:
    count = len(done.site.episodes)
    encoded = len(done.encoded)
    return [
        f"Published {count} routine{'s' * (count != 1)} to {done.folder} "
        f"({encoded} encoded, {count - encoded} up to date)"
        + (f"; removed {len(done.removed)} files of routines that are gone" if done.removed else "")
    ]


@cli.command(name="publish", short_help="Publish routines as a static site with a podcast feed.")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option(
    "-o",
    "--output",
    "site",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("site"),
    show_default=True,
    help="Folder for the site (upload it as it is).",
)
@click.option(
    "--base-url",
    required=True,
    callback=_base_url,
    help="Where the folder will be on the web; the feed needs absolute URLs.",
)
@click.option("--title", default="Routines", show_default=True, help="The podcast's title.")
@click.option("--author", help="The podcast's author (default: the first routine's author).")
@click.option(
    "--email",
    callback=lambda _ctx, _param, value: _checked(email_address, value),
    help="The owner's email, which podcast directories such as Apple Podcasts ask for (listeners do not see it).",
)
@click.option("--description", help="The podcast's description.")
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Podcast artwork, PNG or JPEG (made square, 1400 to 3000 px); default: a title card.",
)
@audio_options
@synthesis_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary; errors only.")
def publish_command(
    routines: Sequence[Path],
    site: Path,
    base_url: str,
    title: str,
    author: str | None,
    email: str | None,
    description: str | None,
    image: Path | None,
    engine: str | None,
    voice: str | None,
    rate: int | None,
    bitrate: int,
    loudness: float | None,
    jobs: int,
    no_cache: bool,
    quiet: bool,
) -> None:
    """Publish routines as a static site with a podcast feed: SITE/index.html, SITE/feed.xml, SITE/tracks/.

    Upload SITE to any static web host at --base-url; send people the page, or the feed
    for their podcast app (offline, resume, chapters, transcript). Publishing again
    encodes only changed routines and removes the files of routines no longer given.

    \b
    Examples:
      voiceguide publish routines/ -o site --base-url https://example.com/routines/
      voiceguide publish routines/desk-break.yaml --base-url https://example.com/r/ --title "Ana's routines"
      voiceguide publish routines/ --base-url https://example.com/r/ --author "Ana Silva" --email ana@example.com
    """
    channel = Channel(base_url, title, author, description, image, email)
    bars = Bars() if not quiet and sys.stderr.isatty() else None
    try:
        done = publish(
            routines,
            site,
            channel,
            Overrides(engine, voice, rate),
            bitrate,
            settings(jobs, no_cache),
            bars or SILENT,
            loudness,
        )
    finally:
        if bars:
            bars.close()
    _warn_levelling(done)
    if not quiet:
        lines = _published_lines(done)
        lines += [f"Page: {done.site.url('index.html')}", f"Feed: {done.site.url('feed.xml')}"]
        click.echo("\n".join(lines))


@cli.command(name="serve", short_help="Serve routines to your phone over Wi-Fi, with a QR code.")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option(
    "--host",
    default="0.0.0.0",
    show_default=True,
    help="Address to listen on: all interfaces, so a phone on the same Wi-Fi can connect; 127.0.0.1 keeps it local.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@click.option("--title", default="Routines", show_default=True, help="The podcast's title.")
@audio_options
@synthesis_options
def serve_command(
    routines: Sequence[Path],
    host: str,
    port: int,
    title: str,
    engine: str | None,
    voice: str | None,
    rate: int | None,
    bitrate: int,
    loudness: float | None,
    jobs: int,
    no_cache: bool,
) -> None:
    """Serve routines to a phone over Wi-Fi: scan the QR code, then play or subscribe.

    Publishes ROUTINES (as `voiceguide publish` does) into your user cache and serves
    that site under a secret path, kept for these routines so podcast subscriptions
    survive restarts. Editing a routine re-publishes it. Ctrl-C stops.

    \b
    Examples:
      voiceguide serve routines/
      voiceguide serve routines/desk-break.yaml --host 127.0.0.1 --port 8080
    """
    from .publish.serve import ALL_INTERFACES, qr_code, start  # the server's libraries load only for this command

    bars = Bars() if sys.stderr.isatty() else None
    try:
        session = start(
            routines,
            host,
            port,
            title,
            Overrides(engine, voice, rate),
            bitrate,
            settings(jobs, no_cache),
            bars or SILENT,
            loudness,
        )
    finally:
        if bars:
            bars.close()
    _warn_levelling(session.published)
    echo = click.echo
    echo("\n".join(_published_lines(session.published)))
    if host in ALL_INTERFACES and "//127.0.0.1:" in session.url:
        click.echo("No network address found: only this computer can open the page. Is Wi-Fi on?", err=True)
    echo(f"\nOpen this on your phone (same Wi-Fi), or scan the code:\n  {session.url}\n")
    echo(qr_code(session.url))
    echo(f"Podcast feed: {session.url}feed.xml")
    echo("Watching the routine files; an edit is published at once. Ctrl-C stops.", nl=True)

    def republished(changed: set[Path], done: Published) -> None:
        names = ", ".join(sorted(p.name for p in changed))
        _warn_levelling(done)
        echo(f"Changed: {names}. " + _published_lines(done)[0])

    def failed(err: VoiceguideError) -> None:
        click.echo(describe(err), err=True)
        click.echo("The site still shows the last good version; fix the routine and save again.", err=True)

    session.run(republished, failed)
    echo("Stopped.")


@cli.command(name="new", short_help="Write a commented starter routine.")
@click.argument("file", type=click.Path(path_type=Path), default=Path("routine.yaml"))
@click.option("--language", type=click.Choice(languages()), default="en", show_default=True, help="Its language.")
@click.option("--title", callback=_title, help='Its title (default: "My routine", translated).')
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def new_command(file: Path, language: str, title: str | None, force: bool) -> None:
    """Write a short, commented starter routine to FILE (default: routine.yaml).

    It has an intro, one step done on both sides with a hold, a countdown and a cue,
    and an outro, in the language's words; it validates and renders as written.
    An existing file is never replaced unless --force is given.

    \b
    Examples:
      voiceguide new morning-stretch.yaml --title "Morning stretch"
      voiceguide new nacken.yaml --language de
    """
    path = write_starter(file, language, title, force)
    click.echo(f"Wrote {path}. Edit it, then: voiceguide render {path}")
