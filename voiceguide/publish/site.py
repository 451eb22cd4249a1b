"""Build a site from routines: tracks (through the render cache), artwork, ``feed.xml`` and ``index.html``.

Layout of a site folder::

    index.html  feed.xml  cover.<digest>.png      the page, the podcast feed, the channel artwork
    tracks/<name>/<version>/<name>.mp3 .vtt .srt .chapters.json .lrc .png .pdf   one routine, with its handout
    tracks/<name>/<version>/<name>.step-N.jpg   a step's picture, if it has one
    .voiceguide-site.json                       what was published (to remove it later), durations, dates

Every file appears atomically (``files.atomic_path``), so a phone never downloads half
of one, and no file the feed names is ever replaced (``versions``). Publishing again
re-encodes only changed routines (the render fingerprint), keeps the URLs, ``guid`` and
``pubDate`` of unchanged ones, and deletes old versions and the files of routines that
are gone; it never deletes a file it did not write. Publishing the same routine into
another folder (``serve`` after ``publish``, say) copies the track the last publish made
rather than encoding it again, when nothing it is made from has changed: the user cache
remembers which MP3 was last made from each routine file.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import os
import re
import secrets
import urllib.parse
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs
from PIL import Image, UnidentifiedImageError

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.audio.standards import DEFAULT_TARGET
from voiceguide.errors import OutputError, Problem, RoutineError
from voiceguide.export.cover import BACKGROUND, Cover, cover_art, title_card
from voiceguide.export.handout import Sheet, write_handout
from voiceguide.export.layout import Export, picture_name
from voiceguide.export.sidecars import Window, spoken, to_ms
from voiceguide.export.stamp import read_fingerprint
from voiceguide.export.tags import Mark
from voiceguide.files import output_folder, write_bytes, write_text
from voiceguide.model import Routine
from voiceguide.pipeline import (
    DEFAULT_BITRATE,
    DEFAULTS,
    Overrides,
    Rendered,
    check_sounds,
    distinct_tracks,
    load,
    render,
    track_name,
    variant_names,
)
from voiceguide.plan.script import EventKind
from voiceguide.progress import SILENT, Progress
from voiceguide.publish.feed import feed_xml
from voiceguide.publish.model import Caption, Channel, Episode, Published, Site, site_url
from voiceguide.publish.page import page_html
from voiceguide.publish.versions import (
    TRACKS,
    flat_entry,
    link_live,
    live_version,
    manifest_names,
    remove_stale,
    staging,
    track_home,
    unchanged,
)
from voiceguide.routine.build import expand_paths
from voiceguide.routine.fields import COVER_TYPES
from voiceguide.speech.synth import Settings

MANIFEST = ".voiceguide-site.json"
MANIFEST_VERSION = 1
ARTWORK_MIN, ARTWORK_MAX = 1400, 3000  # Apple Podcasts: square, 1400 to 3000 px
PODCAST_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")  # podcast:guid's UUIDv5 namespace
SIDECARS = (".vtt", ".srt", ".chapters.json", ".lrc")
AS_WRITTEN = Overrides()  # no command-line overrides
LAST_MADE = "last-made.json"  # in sites_folder(): which MP3 was last published from each routine file


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
    library: str | None = None,
    loudness: float | None = DEFAULT_TARGET,
) -> Published:
    """Render ``routines`` into ``folder`` and write the artwork, the feed and the page
    (``bitrate`` and ``loudness`` as ``render`` takes them).

    Every routine is loaded and checked before anything is written; if one is bad,
    the site stays as it was. ``library`` names the client folder the routines come
    from, kept in the manifest so that publishing again finds this folder.
    """
    loaded = load_all(distinct_tracks(expand_paths(routines)), overrides)
    made = _last_made()
    folder = output_folder(folder)
    tracks = output_folder(folder / TRACKS)
    if not tracks.resolve().is_relative_to(folder.resolve()):
        raise OutputError(
            f"{tracks} is a link to {tracks.resolve()}, outside the site folder",
            f"delete the link {tracks}; publish makes that folder itself",
        )
    old = _read_manifest(folder)
    written: list[str] = []
    episodes: list[Episode] = []
    encoded: list[str] = []
    warnings: list[Problem] = []
    guid = old.get("guid") or str(
        uuid.uuid5(PODCAST_NAMESPACE, _without_scheme(site_url(channel.base_url, "feed.xml")))
    )
    dates: dict[str, Any] = {}
    known = old.get("tracks", {}) if isinstance(old.get("tracks"), dict) else {}
    same_site = old.get("base_url") == channel.base_url
    new_versions: dict[Path, Path] = {}  # a routine's staged folder -> the version folder it becomes
    with staging(folder) as staged:
        for name, routine in loaded.items():
            home = track_home(tracks, name)
            own = staged / name  # this routine's files, all of them: a version folder in the making
            own.mkdir()
            live = live_version(folder, name, known)
            # the live track, so an unchanged one is not encoded again (from tracks/ in the old, flat layout)
            link_live((folder / live if live else tracks) / f"{name}.mp3", own / f"{name}.mp3")
            version = f"{TRACKS}/{name}/{secrets.token_hex(4)}"
            # chapter pictures need absolute URLs
            options = Export(loudness, links=site_url(channel.base_url, f"{version}/"))
            key = str(Path(routine.source).resolve()) + (f"#{routine.variant}" if routine.variant else "")
            done = render(routine, own, bitrate, settings, progress, options, _path(made.get(key)))
            warnings += done.warnings
            if done.encoded:
                encoded.append(routine.title)
            suffix = _routine_artwork(routine, own / name)
            anchor = _anchor(name, {e.anchor for e in episodes})
            before = known.get(f"{live}/{done.path.name}", {}) if live else flat_entry(known, done.path.name)
            if live and same_site and unchanged(folder / live, own, before, done.path, anchor):
                version = live  # every file as it is online: its URLs stay
            else:
                new_versions[own] = home / Path(version).name
            made[key] = str((folder / version / done.path.name).resolve())  # where the swap below puts it
            episode, dates[f"{version}/{done.path.name}"] = _episode(
                name, version, done, suffix, anchor, before, uuid.UUID(guid)
            )
            if version != live:
                # the QR code leads to the routine's card on the page, not the bare MP3: there it plays with
                # chapters, words and pictures, and offers the podcast feed that keeps it offline
                page = site_url(channel.base_url, f"index.html#{episode.anchor}")
                sheet = Sheet(episode.duration_ms, done.path.name, page, made=episode.published)
                write_handout(routine, sheet, own / Path(episode.handout).name)
            episodes.append(episode)
            source = own if version != live else folder / version
            written += [f"{version}/{p.name}" for p in sorted(source.iterdir()) if p.is_file()]
        # every track checked and written. Named in the manifest first, so that a publish killed from here
        # on leaves only files the next one removes; then each new version folder moved in with one rename
        listed = sorted({*manifest_names(old.get("files")), *written})
        intent = {**old, "version": MANIFEST_VERSION, "files": listed, **({"library": library} if library else {})}
        write_text(folder / MANIFEST, json.dumps(intent, indent=2, ensure_ascii=False) + "\n")
        for own, version_folder in new_versions.items():
            os.rename(own, version_folder)
    artwork = _channel_artwork(channel, folder)
    first = next(iter(loaded.values()), None)
    site = Site(
        base_url=channel.base_url,
        title=channel.title,
        author=channel.author or next((r.author for r in loaded.values() if r.author), "voiceguide"),
        description=channel.description or "Voice-guided routines to follow hands-free, made with voiceguide.",
        language=first.language if first else "en",
        guid=guid,
        artwork=artwork,
        episodes=tuple(episodes),
        email=channel.email,
    )
    # the feed and the page name only files that are there, old or new; each is replaced with one rename
    write_text(folder / "feed.xml", feed_xml(site))
    write_text(folder / "index.html", page_html(site))
    written += [artwork, "feed.xml", "index.html"]
    removed = remove_stale(folder, listed, written)
    manifest = {"version": MANIFEST_VERSION, "guid": guid, "files": sorted(set(written)), "tracks": dates}
    manifest["base_url"] = channel.base_url
    if library is not None:
        manifest["library"] = library
    write_text(folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _remember(made)
    return Published(folder, site, tuple(encoded), removed, tuple(warnings))


def sites_folder() -> Path:
    """$VOICEGUIDE_SITES_DIR, else ``sites`` in the platform's user cache folder."""
    chosen = os.environ.get("VOICEGUIDE_SITES_DIR")
    return Path(chosen) if chosen else Path(platformdirs.user_cache_dir("voiceguide")) / "sites"


def _last_made() -> dict[str, Any]:
    """Routine file -> the MP3 last published from it, anywhere (empty if unknown or unreadable)."""
    try:
        made = json.loads((sites_folder() / LAST_MADE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return made if isinstance(made, dict) else {}


def _remember(made: dict[str, Any]) -> None:
    """Keep ``made`` for the next publish, without the tracks that are gone; only a shortcut, so never an error."""
    kept = {source: track for source, track in made.items() if (path := _path(track)) and path.is_file()}
    with contextlib.suppress(OutputError):
        write_text(output_folder(sites_folder()) / LAST_MADE, json.dumps(kept, indent=1, ensure_ascii=False) + "\n")


def _path(value: Any) -> Path | None:
    return Path(value) if isinstance(value, str) else None


def _episode(
    name: str, version: str, done: Rendered, suffix: str, anchor: str, before: dict[str, Any], channel: uuid.UUID
) -> tuple[Episode, dict[str, Any]]:
    """A rendered routine as the feed and page show it, its files in folder ``version``, and its manifest entry.

    The duration comes from decoding the track; it and the date are reused while the
    track's fingerprint is unchanged, so the feed stays the same until the audio does.
    """
    stamp = read_fingerprint(done.path)
    if stamp is not None and before.get("fingerprint") == stamp:
        duration_ms, published = int(before["duration_ms"]), datetime.datetime.fromisoformat(before["published"])
    else:
        samples, rate = decode_file(done.path)
        duration_ms, published = to_ms(len(samples), rate), _now()
    timeline, routine = done.plan.timeline, done.plan.routine
    window = Window(0, timeline.duration)
    grid = timeline.sample_rate
    files = f"{version}/{name}"
    episode = Episode(
        title=routine.title,
        description=routine.description,
        language=routine.language,
        guid=str(uuid.uuid5(channel, name)),
        anchor=anchor,
        audio=f"{version}/{done.path.name}",
        image=f"{files}{suffix}",
        captions=f"{files}.vtt",
        subrip=f"{files}.srt",
        chapters_file=f"{files}.chapters.json",
        handout=f"{files}.pdf",
        size=done.path.stat().st_size,
        duration_ms=duration_ms,
        published=published,
        chapters=tuple(Mark(c.title, to_ms(c.start, grid), to_ms(c.end, grid)) for c in timeline.chapters),
        cues=tuple(Caption(to_ms(e.start, grid), to_ms(e.end, grid), e.text or "") for e in spoken(timeline, window)),
        pictures=tuple(_picture(version, name, routine, c.step) for c in timeline.chapters),
        waits=tuple((to_ms(e.start, grid), to_ms(e.end, grid)) for e in timeline.events if e.kind is EventKind.READY),
    )
    entry = {"fingerprint": stamp, "duration_ms": duration_ms, "published": published.isoformat(), "anchor": anchor}
    return episode, entry


def _picture(version: str, name: str, routine: Routine, step: int | None) -> str | None:
    """A chapter's step picture in the site, if the step has one."""
    if step is None or routine.steps[step - 1].image is None:
        return None
    return f"{version}/{picture_name(name, routine.steps[step - 1])}"


def load_all(paths: Sequence[Path], overrides: Overrides) -> dict[str, Routine]:
    """Every routine (each version ``--variant`` asks for) by its track's name on the site, its sound files
    decoded; every problem in every file before stopping.

    ``paths`` name distinct tracks (``distinct_tracks``, which refuses two files that would share one).
    """
    loaded: dict[str, Routine] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            for number, variant in enumerate(variant_names(path, overrides)):
                routine = load(path, overrides, variant)
                if number == 0:  # the versions of a routine share its sound files
                    check_sounds(routine)
                loaded[track_name(path, routine.variant)] = routine
        except RoutineError as err:
            problems += err.problems
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
    write_bytes(base.with_name(base.name + suffix), data)
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
    name = f"cover.{hashlib.sha256(data).hexdigest()[:8]}{suffix}"  # a new picture: a new name, never replaced
    if not (folder / name).is_file():
        write_bytes(folder / name, data)
    return name


def _read_manifest(folder: Path) -> dict[str, Any]:
    """What the last publish wrote; empty for a new folder (or a manifest we cannot read)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) and manifest.get("version") == MANIFEST_VERSION else {}


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
