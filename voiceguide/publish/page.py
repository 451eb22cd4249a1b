"""``index.html``: a mobile-first page with a player per routine, built from ``page.html``.

No external resources (inline CSS and script, local images), so it works on a LAN
without internet and from a folder copied to a phone. Links inside the site are
relative; the feed URL is absolute, since podcast apps need it so.
"""

from __future__ import annotations

import html
import json
import urllib.parse
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

from voiceguide.publish.model import PRINT

if TYPE_CHECKING:
    from voiceguide.publish.model import Episode, Site

APPS = (  # name, URL scheme prefix for the feed URL without "http(s)://": links only, nothing is fetched
    ("Apple Podcasts", "podcast://"),
    ("AntennaPod", "antennapod-subscribe://"),
    ("Pocket Casts", "pktc://subscribe/"),
    ("Other apps", "pcast://"),
)


def page_html(site: Site) -> str:
    """The whole page."""
    template = Template(resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8"))
    feed = site.url("feed.xml")
    bare = feed.split("://", 1)[1]
    links = "\n".join(f'      <li><a href="{_e(prefix + bare)}">{_e(name)}</a></li>' for name, prefix in APPS)
    cues = {e.anchor: [[c.start_ms / 1000, c.end_ms / 1000, c.text] for c in e.cues] for e in site.episodes}
    waits = {e.anchor: [[start / 1000, end / 1000] for start, end in e.waits] for e in site.episodes}
    return template.substitute(
        title=_e(site.title),
        description=_e(site.description),
        language=_e(site.language),
        artwork=_link(site.artwork),
        cards="\n".join(_card(e) for e in site.episodes) or '  <p class="empty">No routines yet.</p>',
        feed=_e(feed),
        apps=links,
        cues=script_json(cues),
        waits=script_json(waits),
    )


def _card(episode: Episode) -> str:
    steps = len(episode.chapters)
    chapters = f"{steps} chapter{'s' * (steps != 1)}"
    pictures = episode.pictures or (None,) * steps
    buttons = "\n".join(
        f'      <li><button type="button" data-start="{c.start_ms / 1000:.3f}" data-title="{_e(c.title)}"'
        + (f' data-picture="{_e(picture)}"' if picture else "")
        + f'><span class="at">{clock(c.start_ms)}</span> {_e(c.title)}</button></li>'
        for c, picture in zip(episode.chapters, pictures, strict=True)
    )
    picture = '\n    <img class="picture" alt="" hidden>' if any(pictures) else ""
    description = f'\n      <p class="description">{_e(episode.description)}</p>' if episode.description else ""
    return f"""  <article class="card" id="{_e(episode.anchor)}">
    <header>
      <img src="{_link(episode.image)}" alt="" width="88" height="88">
      <div>
        <h2>{_e(episode.title)}</h2>
        <p class="meta"><span class="length">{clock(episode.duration_ms)}</span> · {chapters}</p>
      </div>
    </header>{description}
    <audio controls preload="metadata" src="{_link(episode.audio)}"></audio>
    <p class="now" aria-live="polite">Press play: each instruction shows here as it is spoken.</p>{picture}
    <ol class="chapters">
{buttons}
    </ol>
    <a class="download" href="{_link(episode.audio)}" download>Download MP3 ({episode.size / 1_000_000:.1f} MB)</a>
    <a class="download sheet" href="{_link(episode.handout)}">{PRINT}</a>
  </article>"""


def clock(ms: int) -> str:
    """``192900`` -> ``3:12``, whole seconds cut off as audio players show them; hours only when needed."""
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _link(relative: str) -> str:
    """A relative link to a file in the site: percent-encoded, so `#`, `%` or `?` in a name stay part of it."""
    return _e(urllib.parse.quote(relative))


def script_json(value: object) -> str:
    """``value`` as JSON to put inside ``<script>``: ``<``, ``>`` and ``&`` are written as ``\\u`` escapes,
    so no text (``</script>``, ``<!--<script>``) can end the element or change how it is read."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
