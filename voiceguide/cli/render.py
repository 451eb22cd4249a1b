"""Commands that turn routines into audio, or check them: render, plan, validate, and info on a track."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from voiceguide.cli.options import (
    audio_options,
    export_options,
    limits_options,
    output_option,
    overrides_options,
    progress_bars,
    settings,
    synthesis_options,
    version_options,
    voice_options,
)
from voiceguide.cli.report import Tips, error_text, fail_batch, warn_levelling, warn_moves
from voiceguide.durations import format_clock
from voiceguide.errors import VoiceguideError
from voiceguide.export.layout import Export
from voiceguide.pipeline import Overrides, check_sounds, distinct_tracks, load, plan, render, variant_names
from voiceguide.plan.present import plan_dict, plan_lines, voices_text
from voiceguide.routine.build import expand_paths


@click.command(name="render")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@output_option("MP3 files")
@overrides_options(audio_options, limits_options, version_options)
@export_options
@synthesis_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary; only errors and warnings.")
@click.option("-w", "--watch", is_flag=True, help="Keep running: render each routine again whenever its file is saved.")
def render_command(
    routines: Sequence[Path],
    out_dir: Path,
    overrides: Overrides,
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
      voiceguide render routines/neck-and-back.yaml --variant gentle --holds 0.5
    """
    options = Export(loudness, sidecars, split)
    paths = distinct_tracks(expand_paths(routines))
    failures: list[VoiceguideError] = []
    failed: list[Path] = []
    tips = Tips()

    def render_one(path: Path) -> None:
        try:
            names = variant_names(path, overrides)
        except VoiceguideError as err:
            names = []
            failures.append(err)
            failed.append(path)
            click.echo(error_text(err), err=True)
        for name in names:
            render_version(path, name)

    def render_version(path: Path, variant: str | None) -> None:
        started = time.monotonic()
        try:
            with progress_bars(quiet) as progress:
                routine = load(path, overrides, variant, tips.fallbacks)
                done = render(routine, out_dir, bitrate, settings(jobs, no_cache), progress, options)
        except VoiceguideError as err:
            failures.append(err)
            failed.append(path)
            click.echo(error_text(err), err=True)
            return
        warn_moves(done.plan.timeline)
        warn_levelling(done.warnings)
        if not quiet:
            stats, timeline = done.plan.stats, done.plan.timeline
            length = format_clock(timeline.seconds(timeline.duration))
            amount = f"{len(timeline.chapters)} tracks" if split else f"{done.path.stat().st_size / 1_000_000:.1f} MB"
            verb = "Wrote" if done.encoded else "Up to date:"
            click.echo(
                f"{verb} {done.path} ({length}, {amount}) in {time.monotonic() - started:.1f} s; "
                f"{stats.lines} lines, {stats.cached} from cache; voice {voices_text(stats.voices)}"
            )
        tips.show()

    if watch:
        _watch(paths, render_one)
        return
    for path in paths:
        render_one(path)
    if failures:
        fail_batch(failures, len(paths), failed)


def _watch(paths: Sequence[Path], render_one: Callable[[Path], None]) -> None:
    """Render ``paths``, then each one again when it is saved, until Ctrl-C."""
    from voiceguide.routine.watch import watch_routines

    given = {Path(os.path.abspath(path)): path for path in paths}
    changes = watch_routines(paths)
    next(changes)  # the watcher runs: no save from here on is missed
    pending: Sequence[Path] = paths
    waiting = f"Watching {len(paths)} routine{'s' * (len(paths) != 1)} for changes; Ctrl-C stops."
    while True:
        for path in pending:
            render_one(path)
        try:
            click.echo(waiting, err=True)  # after each round: from this line on, Ctrl-C stops cleanly (exit 0)
            pending = [given.get(path, path) for path in sorted(next(changes)) if path.is_file()]
        except KeyboardInterrupt:
            click.echo("Stopped watching.", err=True)
            return


@click.command(name="plan")
@click.argument("routine", type=click.Path(path_type=Path, readable=False))
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@overrides_options(voice_options, limits_options, version_options)
@synthesis_options
def plan_command(
    routine: Path,
    as_json: bool,
    overrides: Overrides,
    jobs: int,
    no_cache: bool,
) -> None:
    """Print the exact timeline that `render` will produce.

    Speech is synthesised to measure it, so the times are the MP3's times.

    \b
    Examples:
      voiceguide plan routines/neck-and-back.yaml
      voiceguide plan routines/neck-and-back.yaml --json > plan.json
      voiceguide plan routines/neck-and-back.yaml --variant gentle
    """
    names = variant_names(routine, overrides)
    if len(names) > 1:
        raise click.UsageError("plan shows one version at a time; give one --variant (not `all`)")
    tips = Tips()
    planned = plan(load(routine, overrides, names[0], tips.fallbacks), settings(jobs, no_cache))
    warn_moves(planned.timeline)
    tips.show()
    if as_json:
        click.echo(json.dumps(plan_dict(planned.timeline, planned.stats.voices), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(plan_lines(planned.timeline, planned.stats.voices)))


@click.command(name="validate", short_help="Check routines without rendering; report every problem.")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option(
    "--speech",
    is_flag=True,
    help="Also synthesise every line (cached) to check that cues fit their holds, and warn about moved lines.",
)
@overrides_options(limits_options)
@synthesis_options
def validate_command(
    routines: Sequence[Path],
    speech: bool,
    overrides: Overrides,
    jobs: int,
    no_cache: bool,
) -> None:
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
    tips = Tips()
    for path in paths:
        try:
            routine = load(path, overrides, fallbacks=tips.fallbacks if speech else None)
            check_sounds(routine)
            for version in (routine, *(load(path, overrides, name) for name in routine.variants)):
                if speech:
                    warn_moves(plan(version, settings(jobs, no_cache)).timeline)
            if speech:
                tips.show()
        except VoiceguideError as err:
            failures.append(err)
            click.echo(error_text(err), err=True)
            continue
        steps = len(routine.steps)
        click.echo(f"{path}: ok ({steps} step{'s' * (steps != 1)})")
    if failures:
        fail_batch(failures, len(paths))


@click.command(name="info", short_help="Show a track's tags, chapters, duration and loudness.")
@click.argument("track", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def info_command(track: Path) -> None:
    """Show what a phone will see in TRACK: tags, chapters, decoded duration, loudness.

    \b
    Examples:
      voiceguide info output/neck-and-back.mp3
    """
    from voiceguide.export.info import info_lines, inspect

    click.echo("\n".join(info_lines(inspect(track))))
