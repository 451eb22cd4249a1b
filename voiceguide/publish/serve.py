"""``voiceguide serve``: publish routines into the user cache and serve that folder over HTTP.

As with mkdocs, the server shows exactly the static site ``publish`` builds; all it
adds is a secret path prefix (kept per library, so podcast subscriptions survive
restarts), 404 for everything else, and 405 for methods other than GET and HEAD.
Starlette's ``StaticFiles`` answers Range requests (206 with the exact bytes, which
phone players need to seek and iOS needs to play at all), conditional requests and
HEAD, and refuses paths outside the folder; uvicorn runs it.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from ..errors import OutputError, VoiceguideError
from ..files import atomic_path, output_folder
from ..loudness import DEFAULT_TARGET
from ..render import DEFAULT_BITRATE, DEFAULTS, SILENT, Overrides, Progress
from ..synth import Settings
from ..watch import watch_routines
from .site import AS_WRITTEN, Channel, Published, publish

ALL_INTERFACES = ("0.0.0.0", "::", "")
VIRTUAL = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "cni", "flannel")  # bridges a phone cannot reach
SECRET_BYTES = 16  # 128 bits: not guessable, short enough for a QR code


@dataclass(frozen=True)
class Library:
    """Where ``serve`` keeps one set of routines: the site it publishes and its secret path."""

    site: Path
    secret: str


def sites_folder() -> Path:
    """$VOICEGUIDE_SITES_DIR, else ``sites`` in the platform's user cache folder."""
    chosen = os.environ.get("VOICEGUIDE_SITES_DIR")
    return Path(chosen) if chosen else Path(platformdirs.user_cache_dir("voiceguide")) / "sites"


def library(routines: Sequence[Path]) -> Library:
    """The cache folder for these routine paths, with its secret (made once, then kept)."""
    key = hashlib.sha256("\n".join(sorted(str(p.resolve()) for p in routines)).encode()).hexdigest()[:16]
    root = output_folder(sites_folder() / key)
    stored = root / "secret"
    try:
        secret = stored.read_text(encoding="ascii").strip() if stored.is_file() else ""
        if not secret:
            secret = secrets.token_urlsafe(SECRET_BYTES)
            with atomic_path(stored) as partial:
                partial.write_text(secret + "\n", encoding="ascii")
    except OSError as err:
        raise OutputError(f"cannot keep the secret path in {root}: {err.strerror}", "check the cache folder") from None
    return Library(root / "site", secret)


class SiteFiles(StaticFiles):
    """Starlette's static files, never showing dot-files (the manifest, half-written ``.part`` files)."""

    def get_path(self, scope: Scope) -> str:
        path = super().get_path(scope)
        if any(part.startswith(".") for part in Path(path).parts):
            raise HTTPException(status_code=404)
        return path


def application(site: Path, secret: str) -> Starlette:
    """The web app: the site folder under ``/<secret>/``, nothing else."""
    return Starlette(routes=[Mount(f"/{secret}", app=SiteFiles(directory=site, html=True))])


def lan_address() -> str | None:
    """This machine's private IPv4 address on the local network, read from its interfaces
    (no packet is sent); ``None`` when it has none."""
    import ifaddr

    found = []
    for adapter in ifaddr.get_adapters():
        if adapter.nice_name.startswith(VIRTUAL):
            continue
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6: a phone is far more likely to reach the IPv4 address
            address = ipaddress.IPv4Address(ip.ip)
            if address.is_private and not (address.is_loopback or address.is_link_local):
                found.append(address)
    return str(found[0]) if found else None


def listen(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as err:
        raise OutputError(f"cannot listen on {host!r}: {err}", "check --host (e.g. 0.0.0.0 or 127.0.0.1)") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise OutputError(
            f"cannot listen on {host}:{port}: {err.strerror}", "choose another port with --port, e.g. --port 8081"
        ) from None
    return sock


def qr_code(url: str) -> str:
    """``url`` as a QR code of Unicode half blocks, for a terminal."""
    import segno

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


@dataclass(frozen=True)
class Session:
    """A server that is listening and a site that is published; ``run`` serves until stopped."""

    url: str
    published: Published  # the first publish
    sock: socket.socket
    app: Starlette
    republish: Callable[[], Published]
    routines: tuple[Path, ...]

    def run(
        self,
        on_publish: Callable[[set[Path], Published], None],
        on_error: Callable[[VoiceguideError], None],
        stop: threading.Event | None = None,
    ) -> None:
        """Serve, re-publishing when a routine file changes, until Ctrl-C, SIGTERM or ``stop``."""
        import uvicorn

        stop = stop or threading.Event()
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)

        def watch() -> None:
            for changed in watch_routines(self.routines, stop):
                if not changed:  # the watcher is running
                    continue
                try:
                    on_publish(changed, self.republish())
                except VoiceguideError as err:
                    on_error(err)

        def stopper() -> None:
            stop.wait()
            server.should_exit = True

        watcher = threading.Thread(target=watch, name="voiceguide-watch", daemon=True)
        threading.Thread(target=stopper, name="voiceguide-stop", daemon=True).start()
        watcher.start()
        try:
            with _quiet_signals():
                server.run(sockets=[self.sock])
        finally:
            stop.set()
            watcher.join()
            self.sock.close()


@contextmanager
def _quiet_signals() -> Iterator[None]:
    """Let uvicorn's graceful shutdown be the whole answer to Ctrl-C and SIGTERM.

    uvicorn catches both, shuts down, then raises the signal again with the previous
    handler; with these no-op handlers that ends nothing, so we return and clean up.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handled = (signal.SIGINT, signal.SIGTERM)
    previous: dict[int, Any] = {sig: signal.signal(sig, lambda *_: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start(
    routines: Sequence[Path],
    host: str,
    port: int,
    title: str,
    overrides: Overrides = AS_WRITTEN,
    bitrate: int = DEFAULT_BITRATE,
    settings: Settings = DEFAULTS,
    progress: Progress = SILENT,
    loudness: float | None = DEFAULT_TARGET,
) -> Session:
    """Listen on ``host:port``, publish ``routines`` for the URL a phone will use, and return the session.

    ``progress`` sees this first publish; later ones (after an edit) are reported by ``Session.run``.
    """
    routines = tuple(routines)
    kept = library(routines)
    sock = listen(host, port)
    try:
        address = (lan_address() or "127.0.0.1") if host in ALL_INTERFACES else host
        shown = f"[{address}]" if ":" in address else address
        url = f"http://{shown}:{sock.getsockname()[1]}/{kept.secret}/"
        channel = Channel(url, title=title)

        def republish() -> Published:
            return publish(routines, kept.site, channel, overrides, bitrate, settings, SILENT, loudness)

        first = publish(routines, kept.site, channel, overrides, bitrate, settings, progress, loudness)
        return Session(url, first, sock, application(kept.site, kept.secret), republish, routines)
    except BaseException:
        sock.close()
        raise
