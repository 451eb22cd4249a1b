"""Commands about speech: the voices engines offer, downloading Piper voices, and the speech cache."""

from __future__ import annotations

import click

from voiceguide.cli.options import progress_bars
from voiceguide.errors import Fault
from voiceguide.model import ENGINE_NAMES
from voiceguide.phrases import languages, natural_voice
from voiceguide.speech.cache import SpeechCache, default_folder
from voiceguide.speech.engines import get_engine
from voiceguide.speech.engines.download import download_voice, downloadable
from voiceguide.speech.engines.piper import available, user_voice_folder


@click.group(name="voices", invoke_without_command=True, short_help="List the voices an engine offers.")
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
    offered: list[str] = []
    if language:
        voices = [v for v in voices if any(lang.lower().startswith(language.lower()) for lang in v.languages)]
        if engine != "espeak-ng":  # natural voices to download, beside the system's or Piper's own
            installed = _installed_piper_voices()
            offered = [v for v in downloadable(language) if v not in installed]
        if not voices and not offered:
            others = [name for name in ENGINE_NAMES if name != engine]
            codes = [code for code in ("en", "de", "pt-br", "fr") if code != language.lower()][:3]
            raise Fault(
                f"{engine} has no voice for language {language!r}",
                f"use a code like {', '.join(codes[:-1])} or {codes[-1]} (`voiceguide voices --engine {engine}` "
                f"lists them all), or try another engine: --engine {others[0]}",
            )
    for voice in voices:
        click.echo(f"{voice.id:<24} {voice.name:<36} {', '.join(voice.languages)}")
    for voice_id in offered:
        locale = voice_id.split("-")[0]
        click.echo(f"{voice_id:<24} {'Piper, natural; not installed':<36} {locale}, {locale.split('_')[0]}")
    if offered:
        suggested = natural_voice(language) if language in languages() else ""
        click.echo(
            f"Get a natural voice with: voiceguide voices download {suggested if suggested in offered else offered[0]}"
        )


def _installed_piper_voices() -> set[str]:
    """Ids of the Piper voices installed here (none without the neural extra)."""
    return {voice.id for voice in get_engine("piper").voices()} if available() else set()


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
    with progress_bars() as progress:
        model = download_voice(voice_id, user_voice_folder(), progress)
    click.echo(f"Installed {voice_id} in {model.parent} ({model.stat().st_size / 1_000_000:.1f} MB)")


@click.group(name="cache")
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
