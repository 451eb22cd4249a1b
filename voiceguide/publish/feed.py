"""The podcast feed: RSS 2.0 with Apple's ``itunes`` and Podcasting 2.0's ``podcast`` namespaces.

Built with ElementTree, so every text and attribute is escaped for us. What the
feed carries follows what Apple Podcasts and Podcast Index ask of a feed: channel
title, description, language, ``itunes:image`` (square, at least 1400 px),
``itunes:category`` and ``itunes:explicit``; per item a ``guid``, ``pubDate``,
an ``enclosure`` with the exact byte length, ``itunes:duration``, artwork,
JSON chapters and a WebVTT transcript.
"""

from __future__ import annotations

import datetime
import email.utils
import html
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from voiceguide import __version__
from voiceguide.publish.model import PRINT

if TYPE_CHECKING:
    from voiceguide.publish.model import Episode, Site

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
CATEGORY = "Health & Fitness"
CHAPTERS_TYPE = "application/json+chapters"  # what the podcast namespace names for JSON chapters

for _prefix, _uri in (("itunes", ITUNES), ("podcast", PODCAST), ("atom", ATOM)):
    ET.register_namespace(_prefix, _uri)


def feed_xml(site: Site) -> str:
    """The whole feed document (text, with its XML declaration)."""
    rss = ET.Element("rss", {"version": "2.0"})
    feed = ET.SubElement(rss, "channel")
    url, episodes = site.url, site.episodes
    _text(feed, "title", site.title)
    _text(feed, "link", url("index.html"))
    _text(feed, "description", site.description)
    _text(feed, "language", site.language)
    _text(feed, "generator", f"voiceguide {__version__}")
    if episodes:
        _text(feed, "lastBuildDate", _date(max(e.published for e in episodes)))
    ET.SubElement(feed, f"{{{ATOM}}}link", {"href": url("feed.xml"), "rel": "self", "type": "application/rss+xml"})
    image = ET.SubElement(feed, "image")
    _text(image, "url", url(site.artwork))
    _text(image, "title", site.title)
    _text(image, "link", url("index.html"))
    _text(feed, f"{{{ITUNES}}}author", site.author)
    owner = ET.SubElement(feed, f"{{{ITUNES}}}owner")
    _text(owner, f"{{{ITUNES}}}name", site.author)
    if site.email:
        _text(owner, f"{{{ITUNES}}}email", site.email)
    ET.SubElement(feed, f"{{{ITUNES}}}image", {"href": url(site.artwork)})
    ET.SubElement(feed, f"{{{ITUNES}}}category", {"text": CATEGORY})
    _text(feed, f"{{{ITUNES}}}explicit", "false")
    _text(feed, f"{{{ITUNES}}}type", "episodic")
    _text(feed, f"{{{PODCAST}}}guid", site.guid)
    locked = _text(feed, f"{{{PODCAST}}}locked", "yes")  # a personal library: no host may import it
    if site.email:
        locked.set("owner", site.email)  # who may unlock it, as the namespace defines
    for episode in episodes:
        _item(feed, site, episode)
    ET.indent(rss)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(rss, encoding="unicode") + "\n"


def _item(feed: ET.Element, site: Site, episode: Episode) -> None:
    url = site.url
    item = ET.SubElement(feed, "item")
    _text(item, "title", episode.title)
    sheet = html.escape(url(episode.handout), quote=True)
    about = html.escape(episode.description or episode.title)
    _text(item, "description", f'<p>{about}</p>\n<p><a href="{sheet}">{PRINT}</a> (PDF)</p>')
    _text(item, "link", url(f"index.html#{episode.anchor}"))
    _text(item, "guid", episode.guid).set("isPermaLink", "false")
    _text(item, "pubDate", _date(episode.published))
    ET.SubElement(item, "enclosure", {"url": url(episode.audio), "length": str(episode.size), "type": "audio/mpeg"})
    _text(item, f"{{{ITUNES}}}title", episode.title)
    _text(item, f"{{{ITUNES}}}duration", str(round(episode.duration_ms / 1000)))
    ET.SubElement(item, f"{{{ITUNES}}}image", {"href": url(episode.image)})
    _text(item, f"{{{ITUNES}}}explicit", "false")
    _text(item, f"{{{ITUNES}}}episodeType", "full")
    ET.SubElement(item, f"{{{PODCAST}}}chapters", {"url": url(episode.chapters_file), "type": CHAPTERS_TYPE})
    transcript = {"url": url(episode.captions), "type": "text/vtt", "language": episode.language, "rel": "captions"}
    ET.SubElement(item, f"{{{PODCAST}}}transcript", transcript)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _date(moment: datetime.datetime) -> str:
    """RFC 2822, as RSS wants (``Fri, 27 Nov 2026 05:14:56 +0000``)."""
    return email.utils.format_datetime(moment)
