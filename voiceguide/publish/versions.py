"""A site's tracks in versions: each routine's files in a folder of their own, ``tracks/<name>/<version>/``,
never changed once the feed names them; a changed track gets a new folder, the old one is removed once
no feed names it. The hidden staging folder where they are made, and the removal of stale files.

So a feed and a page always name files that are there, with the lengths and durations they give,
whenever a publish stops (even by SIGKILL): the new folders are moved in with one rename each before
``feed.xml`` and ``index.html`` are replaced, and the old ones are removed only after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from voiceguide.errors import OutputError
from voiceguide.export.stamp import read_fingerprint

TRACKS = "tracks"


def track_home(tracks: Path, name: str) -> Path:
    """``tracks/<name>``, the folder of a routine's versions, made if missing; refused if it is a link
    (nothing is written or read through one)."""
    home = tracks / name
    if home.is_symlink() or (home.exists() and not home.is_dir()):
        raise OutputError(
            f"{home} is a link or a file, not the folder publish keeps {name}'s versions in",
            f"delete {home}; publish makes that folder itself",
        )
    try:
        home.mkdir(exist_ok=True)
    except OSError as err:
        raise OutputError(f"could not create {home}: {err.strerror}", "check the site folder") from None
    return home


def live_version(folder: Path, name: str, known: dict[str, Any]) -> str | None:
    """The folder (``tracks/<name>/<version>``) of the track the last publish put in its feed, if it is
    still there, as a real folder in the site."""
    for audio in known:
        parts = Path(audio).parts
        if len(parts) == 4 and parts[:2] == (TRACKS, name) and parts[3] == f"{name}.mp3":
            live = folder / TRACKS / name / parts[2]
            if live.is_dir() and not live.is_symlink() and live.resolve().is_relative_to(folder.resolve()):
                return f"{TRACKS}/{name}/{parts[2]}"
    return None


def flat_entry(known: dict[str, Any], file: str) -> dict[str, Any]:
    """The manifest entry of a track in the old layout (``tracks/<name>.mp3``), for its date and duration."""
    entry = known.get(f"{TRACKS}/{file}")
    return entry if isinstance(entry, dict) else {}


def unchanged(live: Path, own: Path, before: Any, track: Path, anchor: str) -> bool:
    """Whether the version online in ``live`` is what was just made in ``own``: the same audio
    (its fingerprint), the same card on the page, and every file there."""
    stamp = read_fingerprint(track)
    if not isinstance(before, dict) or stamp is None or before.get("fingerprint") != stamp:
        return False
    if before.get("anchor") != anchor or read_fingerprint(live / track.name) != stamp:
        return False
    names = {p.name for p in own.iterdir()} | {f"{track.stem}.pdf"}
    return all((live / n).is_file() and not (live / n).is_symlink() for n in names)


def manifest_names(files: Any) -> list[str]:
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


STAGING = ".voiceguide-staging"  # hidden: never served, and never uploaded half-made


@contextmanager
def staging(folder: Path) -> Iterator[Path]:
    """A hidden folder in the site where a publish renders every track before any is swapped in;
    removed afterwards, and at the start if a killed publish left one (never through a link)."""
    staged = folder / STAGING
    try:
        if staged.is_symlink():
            staged.unlink()
        elif staged.exists():
            shutil.rmtree(staged)
        staged.mkdir()
    except OSError as err:
        raise OutputError(f"could not prepare {staged}: {err.strerror}", "check the site folder") from None
    try:
        yield staged
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def link_live(live: Path, staged: Path) -> None:
    """``live`` (if there is one) under the name ``staged`` too: a hard link, else a copy."""
    if not live.is_file() or live.is_symlink():
        return
    try:
        os.link(live, staged)
    except OSError:
        try:
            shutil.copy2(live, staged)
        except OSError as err:
            raise OutputError(f"could not copy {live}: {err.strerror}", "check the site folder") from None


def remove_stale(folder: Path, before: Sequence[str], now: Sequence[str]) -> tuple[str, ...]:
    """Delete files the last publish wrote that this one did not (a removed or renamed routine)."""
    keep = set(now)
    removed = []
    for name in before:
        if not isinstance(name, str):
            continue
        path = folder / name
        # only plain names we could have written: never outside the folder, whatever the manifest says,
        # nor through a linked folder inside it
        if name in keep or ".." in Path(name).parts or Path(name).is_absolute():
            continue
        if not path.parent.resolve().is_relative_to(folder.resolve()):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as err:
            raise OutputError(f"could not remove {path}: {err.strerror}", "check the site folder") from None
        removed.append(name)
    remove_empty(folder / TRACKS)
    return tuple(removed)


def remove_empty(tracks: Path) -> None:
    """Remove the empty folders in ``tracks`` (old versions, removed routines; a killed publish may have
    left one), two levels deep: never through a link, never a folder with anything in it."""
    try:
        homes = [p for p in tracks.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return
    for home in homes:
        for version in [*home.iterdir(), home]:
            if version.is_dir() and not version.is_symlink():
                with contextlib.suppress(OSError):  # not empty
                    version.rmdir()
