"""Build a site from routines: tracks (through the render cache), artwork, ``feed.xml`` and ``index.html``.

Layout of a site folder::

    index.html  feed.xml  cover.png          the page, the podcast feed, the channel artwork
    tracks/<name>.mp3 .vtt .chapters.json .lrc .png   one routine each
    .voiceguide-site.json                    what was published (to remove it later), durations, dates

Every file appears atomically (``files.atomic_path``), so a phone never downloads half
of one. Publishing again re-encodes only changed routines (the render fingerprint),
keeps the ``guid`` and ``pubDate`` of unchanged ones, and deletes the files of routines
that are gone; it never deletes a file it did not write.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..audio import decode_file, read_fingerprint
from ..cover import BACKGROUND, Cover, cover_art, title_card
from ..errors import OutputError, Problem, RoutineError
from ..export import Export
from ..files import atomic_path, output_folder, safe_name
from ..loudness import DEFAULT_TARGET
from ..model import Routine
from ..render import DEFAULT_BITRATE, DEFAULTS, SILENT, Overrides, Progress, Rendered, load, render
from ..routine import COVER_TYPES, expand_paths
from ..sidecars import Window, spoken, to_ms, write_text
from ..synth import Settings
from ..tags import Mark
from .feed import feed_xml
from .page import page_html

TRACKS = "tracks"
MANIFEST = ".voiceguide-site.json"
MANIFEST_VERSION = 1
ARTWORK_MIN, ARTWORK_MAX = 1400, 3000  # Apple Podcasts: square, 1400 to 3000 px
PODCAST_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")  # podcast:guid's UUIDv5 namespace
SIDECARS = (".vtt", ".chapters.json", ".lrc")
AS_WRITTEN = Overrides()  # no command-line overrides


@dataclass(frozen=True)
class Channel:
    """What the user says about the whole library (the podcast)."""

    base_url: str  # absolute http(s) URL of the site folder, ending in "/"
    title: str = "Routines"
    author: str | None = None
    description: str | None = None
    image: Path | None = None  # channel artwork; default: a title card
    email: str | None = None  # the owner's, for podcast directories (not shown to listeners)


@dataclass(frozen=True)
class Cue:
    """A spoken line: shown on the page while the track plays."""

    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class Episode:
    """One routine as published; file names are relative to the site folder."""

    title: str
    description: str | None
    language: str
    guid: str
    anchor: str  # the card's id on the page
    audio: str
    image: str
    captions: str
    chapters_file: str
    size: int  # bytes of the MP3
    duration_ms: int  # from the decoded track
    published: datetime.datetime
    chapters: tuple[Mark, ...]
    cues: tuple[Cue, ...]


@dataclass(frozen=True)
class Site:
    """Everything the feed and the page show."""

    base_url: str
    title: str
    author: str
    description: str
    language: str
    guid: str  # podcast:guid
    artwork: str
    episodes: tuple[Episode, ...]
    email: str | None = None

    def url(self, relative: str) -> str:
        """The absolute, percent-encoded URL of a file in the site."""
        return site_url(self.base_url, relative)


@dataclass(frozen=True)
class Published:
    folder: Path
    site: Site
    encoded: tuple[str, ...]  # titles of routines encoded this time (the rest were up to date)
    removed: tuple[str, ...]  # files deleted because their routine is gone
    warnings: tuple[Problem, ...] = ()  # what levelling could not do, for the routines encoded this time


def site_url(base_url: str, relative: str) -> str:
    """``base_url`` joined with a relative path, each segment percent-encoded as UTF-8 (a ``#fragment`` kept)."""
    path, _, fragment = relative.partition("#")
    quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))
    return base_url + quoted + (f"#{urllib.parse.quote(fragment, safe='')}" if fragment else "")


def base_url(text: str) -> str:
    """Check and normalise a site's base URL; raise ``ValueError`` with what is wrong."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an absolute http:// or https:// URL, got {text!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"expected a URL without ?query or #fragment, got {text!r}")
    path = urllib.parse.quote(urllib.parse.unquote(parts.path), safe="/")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path.rstrip("/") + "/", "", ""))


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def email_address(text: str) -> str:
    """Check an email address's shape; raise ``ValueError`` with what is wrong."""
    if not EMAIL.fullmatch(text.strip()):
        raise ValueError(f"expected an email address like name@example.com, got {text!r}")
    return text.strip()


def publish(
    routines: Sequence[Path],
    folder: Path,
    channel: Channel,
    overrides: Overrides = AS_WRITTEN,
    bitrate: int = DEFAULT_BITRATE,
    settings: Settings = DEFAULTS,
    progress: Progress = SILENT,
    loudness: float | None = DEFAULT_TARGET,
) -> Published:
    """Render ``routines`` into ``folder`` and write the artwork, the feed and the page
    (``bitrate`` and ``loudness`` as ``render`` takes them).

    Every routine is loaded and checked before anything is written; if one is bad,
    the site stays as it was.
    """
    loaded = _load_all(expand_paths(routines), overrides)
    folder = output_folder(folder)
    tracks = output_folder(folder / TRACKS)
    old = _read_manifest(folder)
    written: list[str] = []
    episodes: list[Episode] = []
    encoded: list[str] = []
    warnings: list[Problem] = []
    guid = old.get("guid") or str(
        uuid.uuid5(PODCAST_NAMESPACE, _without_scheme(site_url(channel.base_url, "feed.xml")))
    )
    dates: dict[str, Any] = {}
    for name, routine in loaded.items():
        done = render(routine, tracks, bitrate, settings, progress, Export(loudness))
        warnings += done.warnings
        if done.encoded:
            encoded.append(routine.title)
        image = f"{TRACKS}/{name}{_routine_artwork(routine, tracks / name)}"
        episode, dates[f"{TRACKS}/{done.path.name}"] = _episode(
            name, done, image, old.get("tracks", {}), uuid.UUID(guid), {e.anchor for e in episodes}
        )
        episodes.append(episode)
        written += [episode.audio, image, *(f"{TRACKS}/{name}{suffix}" for suffix in SIDECARS)]
    artwork = _channel_artwork(channel, folder)
    first = next(iter(loaded.values()), None)
    site = Site(
        base_url=channel.base_url,
        title=channel.title,
        author=channel.author or (first.author if first and first.author else "voiceguide"),
        description=channel.description or "Voice-guided routines to follow hands-free, made with voiceguide.",
        language=first.language if first else "en",
        guid=guid,
        artwork=artwork,
        episodes=tuple(episodes),
        email=channel.email,
    )
    write_text(folder / "feed.xml", feed_xml(site))
    write_text(folder / "index.html", page_html(site))
    written += [artwork, "feed.xml", "index.html"]
    removed = _remove_stale(folder, old.get("files", []), written)
    manifest = {"version": MANIFEST_VERSION, "guid": guid, "files": sorted(set(written)), "tracks": dates}
    write_text(folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return Published(folder, site, tuple(encoded), removed, tuple(warnings))


def _episode(
    name: str, done: Rendered, image: str, known: dict[str, Any], channel: uuid.UUID, taken: set[str]
) -> tuple[Episode, dict[str, Any]]:
    """A rendered routine as the feed and page show it, and its manifest entry.

    The duration comes from decoding the track; it and the date are reused while the
    track's fingerprint is unchanged, so the feed stays the same until the audio does.
    """
    audio = f"{TRACKS}/{done.path.name}"
    stamp = read_fingerprint(done.path)
    before = known.get(audio, {}) if isinstance(known, dict) else {}
    if stamp is not None and before.get("fingerprint") == stamp:
        duration_ms, published = int(before["duration_ms"]), datetime.datetime.fromisoformat(before["published"])
    else:
        samples, rate = decode_file(done.path)
        duration_ms, published = to_ms(len(samples), rate), _now()
    timeline, routine = done.plan.timeline, done.plan.routine
    window = Window(0, timeline.duration)
    grid = timeline.sample_rate
    episode = Episode(
        title=routine.title,
        description=routine.description,
        language=routine.language,
        guid=str(uuid.uuid5(channel, name)),
        anchor=_anchor(name, taken),
        audio=audio,
        image=image,
        captions=f"{TRACKS}/{name}.vtt",
        chapters_file=f"{TRACKS}/{name}.chapters.json",
        size=done.path.stat().st_size,
        duration_ms=duration_ms,
        published=published,
        chapters=tuple(Mark(c.title, to_ms(c.start, grid), to_ms(c.end, grid)) for c in timeline.chapters),
        cues=tuple(Cue(to_ms(e.start, grid), to_ms(e.end, grid), e.text or "") for e in spoken(timeline, window)),
    )
    return episode, {"fingerprint": stamp, "duration_ms": duration_ms, "published": published.isoformat()}


def _load_all(paths: Sequence[Path], overrides: Overrides) -> dict[str, Routine]:
    """Every routine by its file name on the site; every problem in every file before stopping."""
    loaded: dict[str, Routine] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            routine = load(path, overrides)
        except RoutineError as err:
            problems += err.problems
            continue
        name = safe_name(path.stem)
        if name in loaded:
            other = loaded[name].source
            problems.append(Problem(str(path), None, "", f"has the same file name as {other}; rename one of them"))
        loaded[name] = routine
    if problems:
        raise RoutineError(problems)
    return loaded


def artwork(cover: Cover) -> tuple[bytes, str]:
    """Cover art as podcast apps want it: square, RGB, 1400 to 3000 px; returns bytes and a file suffix.

    A generated title card is drawn again at 1400 px; another image is centred on a square
    of the card's colour and scaled into range (JPEG stays JPEG, anything else becomes PNG).
    """
    try:
        image: Image.Image = Image.open(io.BytesIO(cover.data))
        image.load()
    except (UnidentifiedImageError, OSError) as err:
        raise OutputError(f"the cover image cannot be read: {err}", "use a PNG or JPEG file as the cover") from None
    side = min(max(image.width, image.height, ARTWORK_MIN), ARTWORK_MAX)
    square = Image.new("RGB", (side, side), BACKGROUND)
    scale = side / max(image.width, image.height)
    fitted = image.convert("RGB").resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
    )
    square.paste(fitted, ((side - fitted.width) // 2, (side - fitted.height) // 2))
    out = io.BytesIO()
    if cover.mime == "image/jpeg":
        square.save(out, format="JPEG", quality=90)
        return out.getvalue(), ".jpg"
    square.save(out, format="PNG", optimize=True)
    return out.getvalue(), ".png"


def _routine_artwork(routine: Routine, base: Path) -> str:
    """Write a routine's artwork as ``<base>.png`` (or ``.jpg``): its cover, or its title card
    drawn at podcast size; return the suffix."""
    if routine.cover is None:
        data, suffix = title_card(routine.title, routine.author or routine.album, ARTWORK_MIN), ".png"
    else:
        data, suffix = artwork(cover_art(routine))
    _write_bytes(base.with_name(base.name + suffix), data)
    return suffix


def _channel_artwork(channel: Channel, folder: Path) -> str:
    if channel.image is None:
        data, suffix = title_card(channel.title, channel.author, ARTWORK_MIN), ".png"
    else:
        try:
            raw = channel.image.read_bytes()
        except OSError as err:
            raise OutputError(f"cannot read the image {channel.image}: {err.strerror}", "check --image") from None
        data, suffix = artwork(Cover(raw, COVER_TYPES.get(channel.image.suffix.lower(), "image/png")))
    name = f"cover{suffix}"
    _write_bytes(folder / name, data)
    return name


def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` atomically, unless the file already holds exactly that."""
    try:
        if path.is_file() and path.read_bytes() == data:
            return
        with atomic_path(path) as partial:
            partial.write_bytes(data)
    except OSError as err:
        raise OutputError(f"could not write {path.name}: {err.strerror}", "check the site folder") from None


def _read_manifest(folder: Path) -> dict[str, Any]:
    """What the last publish wrote; empty for a new folder (or a manifest we cannot read)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) and manifest.get("version") == MANIFEST_VERSION else {}


def _remove_stale(folder: Path, before: Sequence[str], now: Sequence[str]) -> tuple[str, ...]:
    """Delete files the last publish wrote that this one did not (a removed or renamed routine)."""
    keep = set(now)
    removed = []
    for name in before:
        if not isinstance(name, str):
            continue
        path = folder / name
        # only plain names we could have written: never outside the folder, whatever the manifest says
        if name in keep or ".." in Path(name).parts or Path(name).is_absolute():
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as err:
            raise OutputError(f"could not remove {path}: {err.strerror}", "check the site folder") from None
        removed.append(name)
    return tuple(removed)


def _anchor(name: str, taken: set[str]) -> str:
    """An HTML id for a routine's card: its file name, lower case, runs of other characters as ``-``."""
    anchor = re.sub(r"[^\w]+", "-", name.lower()).strip("-") or "routine"
    candidate, number = anchor, 2
    while candidate in taken:
        candidate, number = f"{anchor}-{number}", number + 1
    return candidate


def _without_scheme(url: str) -> str:
    """A feed URL as podcast:guid seeds it: no ``scheme://``, no trailing slash."""
    return url.split("://", 1)[-1].rstrip("/")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
