"""``voiceguide serve``: publish routines into the user cache and serve that folder over HTTP.

As with mkdocs, the server shows exactly the static site ``publish`` builds; all it
adds is a secret path prefix (kept per library, so podcast subscriptions survive
restarts), 404 for everything else, and 405 for methods other than GET and HEAD.
Starlette's ``StaticFiles`` answers Range requests (206 with the exact bytes, which
phone players need to seek and iOS needs to play at all), conditional requests and
HEAD, and refuses paths outside the folder; uvicorn runs it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from voiceguide.audio.standards import DEFAULT_TARGET
from voiceguide.errors import OutputError, VoiceguideError
from voiceguide.files import atomic_path, output_folder
from voiceguide.pipeline import DEFAULT_BITRATE, DEFAULTS, Overrides
from voiceguide.progress import SILENT, Progress
from voiceguide.publish.feed import CHAPTERS_TYPE, SRT_TYPE, VTT_TYPE
from voiceguide.publish.libraries import clients, new_secret
from voiceguide.publish.model import Channel, Published
from voiceguide.publish.site import AS_WRITTEN, publish, sites_folder
from voiceguide.routine.watch import watch_routines
from voiceguide.speech.synth import Settings

ALL_INTERFACES = ("0.0.0.0", "::", "")
VIRTUAL = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "cni", "flannel")  # bridges a phone cannot reach
HEADER_TIMEOUT_S = 10.0  # a request's line and headers must arrive within this
MAX_CONNECTIONS = 200  # open at once; a request past it gets 503 at once (a phone opens a few)
# The type of every kind of file a published site holds, by how its name ends: as the feed names them,
# not as this machine's MIME tables guess (they may lack .srt and .lrc, or call feed.xml text/xml).
CONTENT_TYPES = {
    ".chapters.json": CHAPTERS_TYPE,
    ".vtt": f"{VTT_TYPE}; charset=utf-8",
    ".srt": f"{SRT_TYPE}; charset=utf-8",
    ".lrc": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".mp3": "audio/mpeg",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
}


@dataclass(frozen=True)
class Library:
    """Where ``serve`` keeps one set of routines: the site it publishes and its secret path."""

    site: Path
    secret: str


def library(routines: Sequence[Path]) -> Library:
    """The cache folder for these routine paths, with its secret (made once, then kept)."""
    key = hashlib.sha256("\n".join(sorted(str(p.resolve()) for p in routines)).encode()).hexdigest()[:16]
    root = output_folder(sites_folder() / key)
    stored = root / "secret"
    try:
        secret = stored.read_text(encoding="ascii").strip() if stored.is_file() else ""
        if not secret:
            secret = new_secret()
            with atomic_path(stored) as partial:
                # created readable by its owner only, before a byte of the secret is in it
                handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(handle, "w", encoding="ascii") as out:
                    out.write(secret + "\n")
        elif stored.stat().st_mode & 0o077:
            stored.chmod(0o600)  # kept by an older voiceguide, readable by others
    except OSError as err:
        raise OutputError(f"cannot keep the secret path in {root}: {err.strerror}", "check the cache folder") from None
    return Library(root / "site", secret)


class SiteFiles(StaticFiles):
    """Starlette's static files, never showing dot-files (the manifest, half-written ``.part`` files),
    each served with its type from ``CONTENT_TYPES``."""

    def get_path(self, scope: Scope) -> str:
        path = super().get_path(scope)
        if any(part.startswith(".") for part in Path(path).parts):
            raise HTTPException(status_code=404)
        return path

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        kind = content_type(os.fspath(full_path))
        if kind is not None and "content-type" in response.headers:  # a 304 has none
            response.headers["content-type"] = kind
        return response


def content_type(name: str) -> str | None:
    """The type ``serve`` gives a file of the site, or ``None`` for a kind publish does not write."""
    return next((kind for suffix, kind in CONTENT_TYPES.items() if name.endswith(suffix)), None)


def application(libraries: Sequence[Library]) -> Starlette:
    """The web app: each library's site folder under ``/<its secret>/``, nothing else."""
    return Starlette(
        routes=[Mount(f"/{kept.secret}", app=SiteFiles(directory=kept.site, html=True)) for kept in libraries]
    )


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


@dataclass(frozen=True)
class Shelf:
    """One library as served: whose it is, its address, and what it is published from."""

    name: str | None  # the client folder's name; None for routines given as they are
    url: str
    published: Published  # the first publish
    routines: tuple[Path, ...]
    republish: Callable[[], Published]

    def holds(self, path: Path) -> bool:
        """Whether the routine file ``path`` (absolute) is one of this library's."""
        return any(Path(os.path.abspath(given)) in (path, path.parent) for given in self.routines)


@dataclass(frozen=True)
class Session:
    """A server that is listening and the libraries it publishes; ``run`` serves until stopped."""

    shelves: tuple[Shelf, ...]
    sock: socket.socket
    app: Starlette

    @property
    def url(self) -> str:
        """The first library's address (the only one, unless given a folder of client folders)."""
        return self.shelves[0].url

    @property
    def published(self) -> Published:
        return self.shelves[0].published

    def run(
        self,
        on_publish: Callable[[set[Path], Published], None],
        on_error: Callable[[VoiceguideError], None],
        stop: threading.Event | None = None,
    ) -> None:
        """Serve, re-publishing a library when one of its routine files changes, until Ctrl-C, SIGTERM or ``stop``."""
        import uvicorn

        stop = stop or threading.Event()
        config = uvicorn.Config(
            self.app,
            http=_with_header_deadline(),
            limit_concurrency=MAX_CONNECTIONS,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)

        def watch() -> None:
            for changed in watch_routines([path for shelf in self.shelves for path in shelf.routines], stop):
                for shelf in self.shelves:
                    if not (mine := {path for path in changed if shelf.holds(path)}):
                        continue  # also the first, empty yield: the watcher is running
                    try:
                        on_publish(mine, shelf.republish())
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


def _with_header_deadline() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, with a deadline for each request's line and headers.

    uvicorn has no such option (its keep-alive timeout starts only after a response, and any byte
    resets it), so a client that connects and sends nothing, or a byte now and then, would hold
    its connection for ever. Here the connection is closed if a whole request has not arrived
    ``HEADER_TIMEOUT_S`` after it opened or after the last response; a download in progress is
    never cut."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._deadline = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._deadline.cancel()
            self._deadline = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

        def connection_lost(self, exc: Exception | None) -> None:
            self._deadline.cancel()
            super().connection_lost(exc)

        def _too_slow(self) -> None:
            if self.cycle is None or self.cycle.response_complete:  # no request under way
                self.transport.close()

    return HeaderDeadline


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
    title: str | None,
    overrides: Overrides = AS_WRITTEN,
    bitrate: int = DEFAULT_BITRATE,
    settings: Settings = DEFAULTS,
    progress: Progress = SILENT,
    author: str | None = None,
    loudness: float | None = DEFAULT_TARGET,
) -> Session:
    """Listen on ``host:port``, publish ``routines`` for the URL a phone will use, and return the session.

    A folder of client folders is one library per client, each under its own secret path
    and titled with the client's folder name unless ``title`` is given. ``progress`` sees
    this first publish; later ones (after an edit) are reported by ``Session.run``.
    """
    routines = tuple(routines)
    groups: list[tuple[str | None, tuple[Path, ...]]] = [(c.name, (c.folder,)) for c in clients(routines)]
    groups = groups or [(None, routines)]
    sock = listen(host, port)
    try:
        address = (lan_address() or "127.0.0.1") if host in ALL_INTERFACES else host
        shown = f"[{address}]" if ":" in address else address
        shelves: list[Shelf] = []
        kept: list[Library] = []
        for name, paths in groups:
            kept.append(library(paths))
            url = f"http://{shown}:{sock.getsockname()[1]}/{kept[-1].secret}/"
            channel = Channel(url, title=title or name or "Routines", author=author)
            again = functools.partial(
                publish, paths, kept[-1].site, channel, overrides, bitrate, settings, loudness=loudness
            )
            shelves.append(Shelf(name, url, again(progress), paths, again))
        return Session(tuple(shelves), sock, application(kept))
    except BaseException:
        sock.close()
        raise


def loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this computer only (127.0.0.1, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
