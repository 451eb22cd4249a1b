"""Put routines on a phone: a static site with a podcast feed (``publish``), served over Wi-Fi (``serve``)."""

from __future__ import annotations

from .site import Channel, Episode, Published, publish, site_url

__all__ = ["Channel", "Episode", "Published", "publish", "site_url"]
