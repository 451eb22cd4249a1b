"""Commands that put routines on a phone: publish (a static site and podcast feed) and serve (over Wi-Fi)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import click
import segno

from voiceguide.cli.options import (
    audio_options,
    limits_options,
    overrides_options,
    progress_bars,
    settings,
    synthesis_options,
    version_options,
)
from voiceguide.cli.report import error_text, warn_levelling
from voiceguide.errors import VoiceguideError
from voiceguide.pipeline import Overrides
from voiceguide.publish.libraries import clients, publish_clients
from voiceguide.publish.model import Channel, Published
from voiceguide.publish.site import base_url, email_address, publish


def _checked(check: Callable[[str], str], value: str | None) -> str | None:
    """``check(value)`` as a command-line option's value: its ValueError is a usage error (exit 2)."""
    try:
        return check(value) if value is not None else None
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _base_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    return _checked(base_url, value) or value


def _published_lines(done: Published) -> list[str]:
    count = len(done.site.episodes)
    encoded = len(done.encoded)
    return [
        f"Published {count} routine{'s' * (count != 1)} to {done.folder} "
        f"({encoded} encoded, {count - encoded} up to date)"
        + (
            f"; removed {len(done.removed)} files no longer published (old versions, routines that are gone)"
            if done.removed
            else ""
        )
    ]


@click.command(name="publish", short_help="Publish routines as a static site with a podcast feed.")
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
@click.option("--title", help="The podcast's title (default: \"Routines\"; for client folders, each one's name).")
@click.option("--author", help="The podcast's author (default: the first routine that names one).")
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
@overrides_options(audio_options, limits_options, version_options)
@synthesis_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary; errors only.")
def publish_command(
    routines: Sequence[Path],
    site: Path,
    base_url: str,
    title: str | None,
    author: str | None,
    email: str | None,
    description: str | None,
    image: Path | None,
    overrides: Overrides,
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
      voiceguide publish clients/ -o site --base-url https://example.com/r/    # clients/ana/, clients/ben/, ...
      voiceguide publish routines/ --base-url https://example.com/r/ --variant all

    Given one folder of folders (one per client, each with its routines), each client gets
    a library of its own: page, feed and cover under SITE/<secret>/, a random name that
    cannot be guessed. Nothing lists or links the libraries: send each client their link.
    """
    given = clients(routines)
    channel = Channel(base_url, title or ("" if given else "Routines"), author, description, image, email)
    with progress_bars(quiet) as progress:
        options = (
            overrides,
            bitrate,
            settings(jobs, no_cache),
            progress,
        )
        if given:
            done, gone = publish_clients(given, site, channel, *options, loudness)
        else:
            done, gone = (publish(routines, site, channel, *options, loudness=loudness),), ()
    for published in done:
        warn_levelling(published.warnings)
    if not quiet:
        lines = [f"Removed the library of {name}: its folder is gone." for name in gone]
        names: list[str | None] = [c.name for c in given] or [None]
        for client, published in zip(names, done, strict=True):
            lines += [*_published_lines(published), *([f"Library of {client}:"] if client else [])]
            lines += [f"Page: {published.site.url('index.html')}", f"Feed: {published.site.url('feed.xml')}"]
            if client:  # the link a client must be given: scan it from the screen onto their phone
                lines.append(qr_code(published.site.url("index.html")))
        click.echo("\n".join(lines))


@click.command(name="serve", short_help="Serve routines to your phone over Wi-Fi, with a QR code.")
@click.argument("routines", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option(
    "--host",
    default="0.0.0.0",
    show_default=True,
    help="Address to listen on: all interfaces, so a phone on the same Wi-Fi can connect; 127.0.0.1 keeps it local.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@click.option("--title", help="The podcast's title (default: \"Routines\"; for client folders, each one's name).")
@click.option("--author", help="The podcast's author (default: the first routine that names one).")
@overrides_options(audio_options, limits_options, version_options)
@synthesis_options
def serve_command(
    routines: Sequence[Path],
    host: str,
    port: int,
    title: str | None,
    author: str | None,
    overrides: Overrides,
    bitrate: int,
    loudness: float | None,
    jobs: int,
    no_cache: bool,
) -> None:
    """Serve routines to a phone over Wi-Fi: scan the QR code, then play or subscribe.

    Publishes ROUTINES (as `voiceguide publish` does) into your user cache and serves
    that site under a secret path, kept for these routines so podcast subscriptions
    survive restarts. Editing a routine re-publishes it. Ctrl-C stops. A folder of
    client folders is served as one library per client, each with its own secret
    path and QR code; a client's link leads to their routines only.

    \b
    Examples:
      voiceguide serve routines/
      voiceguide serve clients/                  # clients/ana/, clients/ben/, ...: a library each
      voiceguide serve routines/desk-break.yaml --host 127.0.0.1 --port 8080
    """
    from voiceguide.publish.serve import ALL_INTERFACES, loopback, start

    with progress_bars() as progress:
        session = start(
            routines,
            host,
            port,
            title,
            overrides,
            bitrate,
            settings(jobs, no_cache),
            progress,
            author,
            loudness,
        )
    echo = click.echo
    local = loopback(host) or (host in ALL_INTERFACES and "//127.0.0.1:" in session.url)
    if host in ALL_INTERFACES and local:
        click.echo("No network address found: only this computer can open the page. Is Wi-Fi on?", err=True)
    for shelf in session.shelves:
        warn_levelling(shelf.published.warnings)
        echo("\n".join(_published_lines(shelf.published)))
        whose = f" {shelf.name}'s library" if shelf.name else " this"
        if local:
            echo(f"\nOpen{whose} on this computer only (a phone cannot reach this address):\n  {shelf.url}\n")
        else:
            echo(f"\nOpen{whose} on your phone (same Wi-Fi), or scan the code:\n  {shelf.url}\n")
        echo(qr_code(shelf.url))
        echo(f"Podcast feed: {shelf.url}feed.xml\n")
    echo("Watching the routine files; an edit is published at once. Ctrl-C stops.", nl=True)

    def republished(changed: set[Path], done: Published) -> None:
        names = ", ".join(sorted(p.name for p in changed))
        warn_levelling(done.warnings)
        echo(f"Changed: {names}. " + _published_lines(done)[0])

    def failed(err: VoiceguideError) -> None:
        click.echo(error_text(err), err=True)
        click.echo("The site still shows the last good version; fix the routine and save again.", err=True)

    session.run(republished, failed)
    echo("Stopped.")


def qr_code(url: str) -> str:
    """``url`` as a QR code of Unicode half blocks, for a terminal."""
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()
