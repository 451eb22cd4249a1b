"""What a published library is made of: the channel, its episodes, and the site the feed and page show."""

from __future__ import annotations

import datetime
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from voiceguide.errors import Problem
from voiceguide.export.tags import Mark

PRINT = "Print the sheet"  # the link to a routine's handout, on the page and in the feed


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
class Caption:
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
    captions: str  # WebVTT
    subrip: str  # the same captions as SRT
    chapters_file: str
    handout: str  # the printable sheet (PDF)
    size: int  # bytes of the MP3
    duration_ms: int  # from the decoded track
    published: datetime.datetime
    chapters: tuple[Mark, ...]
    cues: tuple[Caption, ...]
    pictures: tuple[str | None, ...] = ()  # each chapter's step picture, if it has one
    waits: tuple[tuple[int, int], ...] = ()  # start and end (ms) of each silence where the page waits for play


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
    removed: tuple[str, ...]  # files deleted: old versions of tracks, and those of routines that are gone
    warnings: tuple[Problem, ...] = ()  # what levelling could not do, for the routines encoded this time


def site_url(base_url: str, relative: str) -> str:
    """``base_url`` joined with a relative path, each segment percent-encoded as UTF-8 (a ``#fragment`` kept)."""
    path, _, fragment = relative.partition("#")
    quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))
    return base_url + quoted + (f"#{urllib.parse.quote(fragment, safe='')}" if fragment else "")
