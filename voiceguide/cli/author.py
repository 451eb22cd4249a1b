"""Commands for writing routines: new (a starter), docs (the format reference) and schema (for editors)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from voiceguide.phrases import languages
from voiceguide.routine.reference import field_help, format_reference, schema_text, section_help, unknown_topic
from voiceguide.routine.starter import check_title, write_starter


@click.command(name="docs", short_help="Show the routine format: every field, explained.")
@click.argument("topic", required=False, metavar="[FIELD]")
def docs_command(topic: str | None) -> None:
    """Show the routine format reference: every field of a routine file, explained.

    With FIELD, only that field's entry (`cues`, `hold`, `voice.rate`), or the section of
    the reference it names (`durations`, `sides`, `placeholders`). On a terminal the text
    opens in a pager (q quits).

    \b
    Examples:
      voiceguide docs
      voiceguide docs cues
      voiceguide docs voice.rate
      voiceguide docs durations
    """
    text = format_reference() if topic is None else field_help(topic) or section_help(topic)
    if text is None:
        raise click.BadParameter(unknown_topic(topic or ""), param_hint="FIELD")
    if sys.stdout.isatty():
        click.echo_via_pager(text)
    else:
        click.echo(text.rstrip("\n"))


@click.command(name="schema", short_help="Print the JSON Schema of routine files, for editors.")
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


@click.command(name="new", short_help="Write a commented starter routine.")
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
