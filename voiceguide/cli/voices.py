"""Commands about speech: the voices engines offer, downloading Piper voices, and the speech cache."""

from __future__ import annotations

import click

from voiceguide.cli.options import progress_bars
from voiceguide.errors import Fault
from voiceguide.model import ENGINE_NAMES
from voiceguide.speech.cache import CAP_VARIABLE, SpeechCache, default_folder
from voiceguide.speech.engines import get_engine
from voiceguide.speech.engines.download import download_voice
from voiceguide.speech.engines.piper import user_voice_folder


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
    """Show where the speech cache is, how big it is and its size cap.

    The least recently used lines are removed once the cache grows past its cap
    (VOICEGUIDE_CACHE_MB, in megabytes; 1000 by default).

    \b
    Example:
      voiceguide cache info
    """
    store = SpeechCache(default_folder())
    usage = store.usage()
    click.echo(
        f"{store.folder}\n{usage.entries} lines, {usage.bytes / 1_000_000:.1f} MB "
        f"(cap {store.cap / 1_000_000:g} MB, set by {CAP_VARIABLE})"
    )


@cache_group.command(name="clear")
def cache_clear() -> None:
    """Delete every cached line (they are synthesised again when needed).

    \b
    Example:
      voiceguide cache clear
    """
    removed = SpeechCache(default_folder()).clear()
    click.echo(f"Removed {removed.entries} lines ({removed.bytes / 1_000_000:.1f} MB).")
