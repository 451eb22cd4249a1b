"""One library per client: a folder of client folders is published as one site per client.

A therapist keeps ``clients/ana/*.yaml``, ``clients/ben/*.yaml``; ``publish clients/``
writes each client's routines as a site of its own (page, feed, cover) in a folder named
by a random secret (128 bits), so a client who holds one library's address has no way to
find or fetch another's: nothing links the libraries, no name is guessable, and the top
folder holds only an empty page (so a web server that lists folders does not list them).
Each library's secret is read back from its manifest when publishing again, so
subscriptions survive; the library of a client folder that is gone is removed (its
files only), so a former client's link stops working.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from voiceguide.audio.standards import DEFAULT_TARGET
from voiceguide.errors import Problem, RoutineError
from voiceguide.files import output_folder, write_text
from voiceguide.pipeline import DEFAULT_BITRATE, DEFAULTS, Overrides, distinct_tracks
from voiceguide.progress import SILENT, Progress
from voiceguide.publish.model import Channel, Published
from voiceguide.publish.site import AS_WRITTEN, MANIFEST, load_all, publish
from voiceguide.publish.versions import TRACKS, remove_stale
from voiceguide.routine.build import expand_paths
from voiceguide.speech.synth import Settings

SECRET_BYTES = 16  # 128 bits: not guessable, short enough for a QR code
ROUTINE_SUFFIXES = (".yaml", ".yml")
EMPTY_PAGE = '<!doctype html>\n<meta charset="utf-8">\n<meta name="robots" content="noindex">\n<title></title>\n'


@dataclass(frozen=True)
class Client:
    """One client's folder of routines: one library."""

    name: str  # the folder's name: the library's title unless --title is given
    folder: Path


def clients(paths: Sequence[Path]) -> tuple[Client, ...]:
    """The client folders, when ``paths`` is one folder that holds folders of routines and no routines
    of its own; ``()`` for anything else (routines published as one library, as before)."""
    if len(paths) != 1 or not paths[0].is_dir():
        return ()
    try:
        inside = sorted(paths[0].iterdir())
        if any(_routine(p) for p in inside):
            return ()
        return tuple(
            Client(p.name, p)
            for p in inside
            if p.is_dir() and not p.name.startswith(".") and any(_routine(q) for q in p.iterdir())
        )
    except OSError as err:
        raise RoutineError([Problem(str(paths[0]), None, "", f"cannot list this folder: {err.strerror}")]) from None


def new_secret() -> str:
    """A random, URL-safe path segment (never a dot-file name)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def publish_clients(
    given: Sequence[Client],
    folder: Path,
    channel: Channel,
    overrides: Overrides = AS_WRITTEN,
    bitrate: int = DEFAULT_BITRATE,
    settings: Settings = DEFAULTS,
    progress: Progress = SILENT,
    loudness: float | None = DEFAULT_TARGET,
) -> tuple[tuple[Published, ...], tuple[str, ...]]:
    """Publish each client's routines into ``folder/<its secret>/`` for ``channel.base_url + secret + "/"``;
    return what was published, and the names of the libraries removed because their client folder is gone.

    ``channel.title`` empty: each library is titled with its client's folder name. Every
    routine of every client is checked before anything is written.
    """
    problems: list[Problem] = []
    for client in given:
        try:
            load_all(distinct_tracks(expand_paths([client.folder])), overrides)
        except RoutineError as err:
            problems += err.problems
    if problems:
        raise RoutineError(problems)
    folder = output_folder(folder)
    kept = known_secrets(folder)
    done = []
    for client in given:
        secret = kept.get(client.name) or new_secret()
        own = replace(channel, base_url=f"{channel.base_url}{secret}/", title=channel.title or client.name)
        done.append(
            publish(
                [client.folder], folder / secret, own, overrides, bitrate, settings, progress, client.name, loudness
            )
        )
    write_text(folder / "index.html", EMPTY_PAGE)
    gone = sorted(set(kept) - {client.name for client in given})
    for name in gone:
        _remove_library(folder / kept[name])
    return tuple(done), tuple(gone)


def known_secrets(folder: Path) -> dict[str, str]:
    """Client name -> the folder (secret) an earlier publish put its library in, from each manifest."""
    found: dict[str, str] = {}
    try:
        inside = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return found
    for library in inside:
        try:
            manifest = json.loads((library / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = manifest.get("library") if isinstance(manifest, dict) else None
        if isinstance(name, str):
            found.setdefault(name, library.name)
    return found


def _remove_library(library: Path) -> None:
    """Delete the files a publish wrote into ``library`` (as its manifest lists them), then the folder if empty."""
    manifest = json.loads((library / MANIFEST).read_text(encoding="utf-8"))
    remove_stale(library, manifest.get("files", []), [])
    (library / MANIFEST).unlink()
    for empty in (library / TRACKS, library):
        with contextlib.suppress(OSError):  # not empty: files that are not ours stay
            empty.rmdir()


def _routine(path: Path) -> bool:
    return path.suffix in ROUTINE_SUFFIXES and path.is_file()
