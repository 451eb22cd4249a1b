"""``index.html``: a mobile-first page with a player per routine, built from ``page.html``.

No external resources (inline CSS and script, local images), so it works on a LAN
without internet and from a folder copied to a phone. Links inside the site are
relative; the feed URL is absolute, since podcast apps need it so.
"""

from __future__ import annotations

import html
import json
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
    return template.substitute(
        title=_e(site.title),
        description=_e(site.description),
        language=_e(site.language),
        artwork=_e(site.artwork),
        cards="\n".join(_card(e) for e in site.episodes) or '  <p class="empty">No routines yet.</p>',
        feed=_e(feed),
        apps=links,
        # inside <script>, only "</" could end the element early
        cues=json.dumps(cues, ensure_ascii=False).replace("</", "<\\/"),
    )


def _card(episode: Episode) -> str:
    steps = len(episode.chapters)
    pictures = episode.pictures or (None,) * steps
    buttons = "\n".join(
        f'      <li><button type="button" data-start="{c.start_ms / 1000:.3f}"'
        + (f' data-picture="{_e(picture)}"' if picture else "")
        + f'><span class="at">{clock(c.start_ms)}</span> {_e(c.title)}</button></li>'
        for c, picture in zip(episode.chapters, pictures, strict=True)
    )
    picture = '\n    <img class="picture" alt="" hidden>' if any(pictures) else ""
    description = f'\n      <p class="description">{_e(episode.description)}</p>' if episode.description else ""
    return f"""  <article class="card" id="{_e(episode.anchor)}">
    <header>
      <img src="{_e(episode.image)}" alt="" width="88" height="88">
      <div>
        <h2>{_e(episode.title)}</h2>
        <p class="meta">{clock(episode.duration_ms)} · {steps} chapter{"s" * (steps != 1)}</p>
      </div>
    </header>{description}
    <audio controls preload="metadata" src="{_e(episode.audio)}"></audio>
    <p class="now" aria-live="polite">Press play: each instruction shows here as it is spoken.</p>{picture}
    <ol class="chapters">
{buttons}
    </ol>
    <a class="download" href="{_e(episode.audio)}" download>Download MP3 ({episode.size / 1_000_000:.1f} MB)</a>
    <a class="download sheet" href="{_e(episode.handout)}">{PRINT}</a>
  </article>"""


def clock(ms: int) -> str:
    """``192400`` -> ``3:12``; hours only when needed."""
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
