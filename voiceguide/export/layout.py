"""A track's files and the cheap ones beside it: where the MP3 or playlist goes, whether a split
render's playlist is current, and the sidecars and step pictures of a whole track.

Telling that a track is current, and putting back its sidecars, needs nothing more: no numpy,
no mutagen (``export/track.py`` has the encoding and tagging that a new track needs).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from voiceguide.audio.standards import DEFAULT_TARGET
from voiceguide.export.cover import Cover, picture
from voiceguide.export.sidecars import Header, Window, write_sidecars
from voiceguide.files import write_bytes
from voiceguide.model import Routine, Step
from voiceguide.plan.timeline import Timeline

CHAPTER_PIXELS = 1000  # a step picture's longer side as chapter art: sharp on a phone, small in the MP3
PLAYLIST_STAMP = "#VOICEGUIDE-FINGERPRINT:"  # an M3U comment: players skip it


@dataclass(frozen=True)
class Export:
    """How a track is written: target loudness (``None``: untouched), sidecars, one file per chapter."""

    loudness: float | None = DEFAULT_TARGET
    sidecars: bool = True
    split: bool = False
    links: str = ""  # where the track's files are online (publish), for chapter pictures; "": beside it


def track_sidecars(routine: Routine, timeline: Timeline, base: Path, links: str = "") -> None:
    """The whole track's ``.lrc``, ``.vtt``, ``.srt`` and ``.chapters.json`` beside ``<base>.mp3``, and the
    step pictures that the chapters name (``links``: the URL of the track's folder online)."""
    header = Header(routine.title, artist(routine), album(routine))
    images = {}
    for number, image in chapter_pictures(routine).items():
        name = picture_name(base.name, routine.steps[number - 1])
        write_bytes(base.with_name(name), image.data)
        images[number] = links + urllib.parse.quote(name)
    write_sidecars(timeline, Window(0, timeline.duration), header, base, images)


def chapter_pictures(routine: Routine) -> dict[int, Cover]:
    """Each step's picture by step number, scaled for chapter art."""
    return {step.number: picture(step.image, CHAPTER_PIXELS) for step in routine.steps if step.image}


def picture_name(name: str, step: Step) -> str:
    """The file name of ``step``'s picture beside track ``name``: ``neck.step-3.jpg`` (the picture keeps
    its format, which validate checked matches its name)."""
    suffix = step.image.suffix.lower() if step.image else ""
    return f"{name}.step-{step.number}{'.jpg' if suffix in ('.jpg', '.jpeg') else '.png'}"


def target_path(base: Path, options: Export) -> Path:
    """The file ``export`` names as its result: the MP3, or the playlist when split."""
    return base.with_name(f"{base.name}.m3u8" if options.split else f"{base.name}.mp3")


def playlist_is_current(playlist: Path, stamp: str) -> bool:
    """Whether a split render's playlist carries ``stamp`` and every part it lists is still there."""
    try:
        lines = playlist.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    parts = [playlist.parent / line for line in lines if line and not line.startswith("#")]
    return PLAYLIST_STAMP + stamp in lines and bool(parts) and all(part.is_file() for part in parts)


def artist(routine: Routine) -> str:
    return routine.author or "voiceguide"


def album(routine: Routine) -> str:
    return routine.album or routine.title
