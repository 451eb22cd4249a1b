"""The handout command: a printable PDF of each routine, with a QR code to its track."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import click

from voiceguide.cli.options import output_option, overrides_options, settings, synthesis_options, voice_options
from voiceguide.cli.report import error_text, fail_batch
from voiceguide.errors import VoiceguideError
from voiceguide.export.handout import PAPERS
from voiceguide.pipeline import Overrides, distinct_tracks, handout, load
from voiceguide.routine.build import expand_paths


def _url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--url``: an absolute http(s) URL, kept exactly as given (the QR code holds it)."""
    if value is not None and not re.fullmatch(r"https?://[^\s/?#]+\S*", value):
        raise click.BadParameter(f"expected an absolute http:// or https:// URL, got {value!r}")
    return value


@click.command(name="handout", short_help="Write a printable PDF of routines, with a QR code to the track.")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@output_option("PDF files")
@click.option("--url", callback=_url, help="Where the track is online; printed as a QR code and as text.")
@click.option("--paper", type=click.Choice(tuple(PAPERS)), default="a4", show_default=True, help="Paper size.")
@overrides_options(voice_options)
@synthesis_options
def handout_command(
    routines: Sequence[Path],
    out_dir: Path,
    url: str | None,
    paper: str,
    overrides: Overrides,
    jobs: int,
    no_cache: bool,
) -> None:
    """Write a handout for each routine (OUTPUT/<file name>.pdf) to print or send to a client.

    It has the title, author, length, the intro (often the safety advice) and every step
    with its hold, reps, sides and cues, in the routine's language. With --url a QR code
    leads to the track; without it the sheet names the track's file. The speech is
    synthesised (cached), so the length printed is the track's.

    \b
    Examples:
      voiceguide handout routines/neck-and-back.yaml --url https://example.org/neck.mp3
      voiceguide handout routines/ -o handouts --paper letter
    """
    paths = distinct_tracks(expand_paths(routines))
    failures: list[VoiceguideError] = []
    for path in paths:
        try:
            written = handout(load(path, overrides), out_dir, url, paper, settings(jobs, no_cache))
        except VoiceguideError as err:
            failures.append(err)
            click.echo(error_text(err), err=True)
            continue
        click.echo(f"Wrote {written}")
    if failures:
        fail_batch(failures, len(paths))
