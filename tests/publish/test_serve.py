"""`voiceguide serve`: a real server on 127.0.0.1, asked with raw HTTP requests."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
import starlette.responses

from voiceguide.audio.standards import DEFAULT_TARGET
from voiceguide.pipeline import Overrides, load, plan
from voiceguide.publish.serve import Session, lan_address, library, start

from conftest import ROOT, SHORT_ROUTINE, VOICE_TOLERANCE_LU, decoded, qr_encodes, speech_spans, voice_loudness

WAIT = 60.0  # seconds: a safety net only; every wait ends as soon as its condition holds


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def ask(port: int, method: str, path: str, headers: dict[str, str] | None = None) -> Reply:
    """One request with ``path`` sent exactly as given (no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


def wait_for(condition: Callable[[], object], what: str) -> None:
    """Poll ``condition()`` until it is true (bounded by WAIT)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass(frozen=True)
class Served:
    session: Session
    routine: Path
    port: int
    prefix: str  # "/<secret>"
    errors: list[str]


@contextmanager
def serving(routine: Path, loudness: float | None = DEFAULT_TARGET) -> Iterator[Served]:
    """``routine`` served on a free port of 127.0.0.1 by ``serve``'s own code, in a thread of this process."""
    session = start([routine], "127.0.0.1", 0, "Test", Overrides(engine="espeak-ng"), loudness=loudness)
    url = urllib.parse.urlsplit(session.url)
    assert url.hostname == "127.0.0.1"
    assert url.port is not None
    stop = threading.Event()
    errors: list[str] = []
    thread = threading.Thread(
        target=session.run, args=(lambda *_: None, lambda err: errors.append(str(err)), stop), daemon=True
    )
    thread.start()
    served = Served(session, routine, url.port, url.path.rstrip("/"), errors)
    try:
        wait_for(lambda: _up(served), "the server to answer")
        yield served
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The short routine, under a file name with a space, served for this module's tests."""
    routine = tmp_path_factory.mktemp("served") / "short routine.yaml"
    routine.write_text(SHORT_ROUTINE, encoding="utf-8")
    with serving(routine) as server:
        yield server


def _up(served: Served) -> bool:
    try:
        return ask(served.port, "GET", f"{served.prefix}/").status == 200
    except OSError:
        return False


def track_of(served: Served) -> tuple[str, Path]:
    episode = served.session.published.site.episodes[0]
    path = served.session.published.folder / episode.audio
    return served.prefix + "/" + urllib.parse.quote(episode.audio), path


def test_serve_levels_the_voice_to_the_loudness_asked_for(tmp_path: Path, ffmpeg_exe: str) -> None:
    routine = tmp_path / "quieter.yaml"
    routine.write_text(SHORT_ROUTINE, encoding="utf-8")
    with serving(routine, loudness=-20.0) as server:
        url, _ = track_of(server)
        reply = ask(server.port, "GET", url)
    assert reply.status == 200
    heard = tmp_path / "heard.mp3"
    heard.write_bytes(reply.body)
    timeline = plan(load(routine, Overrides(engine="espeak-ng"))).timeline
    voice = voice_loudness(ffmpeg_exe, decoded(ffmpeg_exe, heard, timeline.sample_rate), speech_spans(timeline))
    assert voice == pytest.approx(-20.0, abs=VOICE_TOLERANCE_LU)


# What each kind of file the site holds is served as, whatever this machine's MIME tables say.
SERVED_AS = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".mp3": "audio/mpeg",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",  # as the feed's podcast:transcript names it
    ".lrc": "text/plain; charset=utf-8",
    ".chapters.json": "application/json+chapters",  # as Podcasting 2.0's JSON chapters ask
    ".png": "image/png",
    ".pdf": "application/pdf",
}


@pytest.mark.parametrize("tables", ["this machine's", "none"])
def test_every_file_of_the_site_is_served_as_written_with_its_type(
    served: Served, tables: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file publish wrote (dot-files aside) comes back byte for byte, typed as SERVED_AS says, also on
    a machine whose MIME tables know nothing; the feed's chapters and transcripts are served as it names them."""
    if tables == "none":
        monkeypatch.setattr(starlette.responses, "guess_type", lambda _path: (None, None))
    folder = served.session.published.folder
    hidden = list(folder.rglob(".*"))  # the manifest, a staging folder: never served
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not any(p.is_relative_to(h) for h in hidden)]
    assert {suffix for suffix in SERVED_AS if any(p.name.endswith(suffix) for p in files)} == set(SERVED_AS)
    for path in files:
        reply = ask(served.port, "GET", served.prefix + "/" + urllib.parse.quote(path.relative_to(folder).as_posix()))
        assert reply.status == 200, path
        assert reply.body == path.read_bytes(), path
        (kind,) = (kind for suffix, kind in SERVED_AS.items() if path.name.endswith(suffix))
        assert reply.headers["content-type"] == kind, path
    feed = ET.fromstring(ask(served.port, "GET", f"{served.prefix}/feed.xml").body)
    declared = [(e.get("url"), e.get("type")) for e in feed.iter() if e.tag.endswith(("}chapters", "}transcript"))]
    assert len(declared) == 3
    for url, kind in declared:
        reply = ask(served.port, "GET", urllib.parse.urlsplit(url).path)
        assert reply.headers["content-type"].split(";")[0] == kind, url
    assert ask(served.port, "GET", f"{served.prefix}/").headers["content-type"] == SERVED_AS[".html"]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=100-199", 100, 199), ("bytes=0-0", 0, 0), ("bytes=-500", None, None), ("bytes=1000-", 1000, None)],
)
def test_range_requests_get_206_with_the_exact_bytes(
    served: Served, header: str, first: int | None, last: int | None
) -> None:
    url, path = track_of(served)
    data = path.read_bytes()
    size = len(data)
    if first is None:  # a suffix range: the last 500 bytes
        first, last = size - 500, size - 1
    last = size - 1 if last is None else last
    reply = ask(served.port, "GET", url, {"Range": header})
    assert reply.status == 206
    assert reply.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert reply.body == data[first : last + 1]
    assert reply.headers["accept-ranges"] == "bytes"


def test_a_range_past_the_end_gets_416(served: Served) -> None:
    url, path = track_of(served)
    reply = ask(served.port, "GET", url, {"Range": f"bytes={path.stat().st_size + 10}-"})
    assert reply.status == 416


def test_head_gets_the_headers_without_a_body(served: Served) -> None:
    url, path = track_of(served)
    reply = ask(served.port, "HEAD", url)
    assert reply.status == 200
    assert int(reply.headers["content-length"]) == path.stat().st_size
    assert reply.body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_methods_other_than_get_and_head_get_405(served: Served, method: str) -> None:
    reply = ask(served.port, method, f"{served.prefix}/feed.xml")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/index.html",
        "/feed.xml",
        "/{secret}x/feed.xml",
        "/{secret}/missing.mp3",
        "/{secret}/tracks/",  # no directory listing
        "/{secret}/tracks",
        "/{secret}/.voiceguide-site.json",  # dot-files are never served
    ],
)
def test_everything_outside_the_site_is_404(served: Served, path: str) -> None:
    reply = ask(served.port, "GET", path.format(secret=served.prefix.strip("/")))
    assert reply.status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/{secret}/../secret",
        "/{secret}/%2e%2e/secret",
        "/{secret}/tracks/../../secret",
        "/{secret}/tracks/..%2f..%2fsecret",
        "/{secret}/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/{secret}/..%5c..%5csecret",
        "/{secret}//etc/passwd",
        "/{secret}/%2fetc%2fpasswd",
    ],
)
def test_path_traversal_is_refused(served: Served, path: str) -> None:
    secret = served.prefix.strip("/")
    reply = ask(served.port, "GET", path.format(secret=secret))
    assert reply.status in (400, 404)
    assert secret.encode() not in reply.body
    assert b"root:" not in reply.body


def test_an_edit_is_published_and_served(served: Served) -> None:
    served.routine.write_text(SHORT_ROUTINE.replace("title: Short check", "title: Edited while serving"), "utf-8")

    def feed_title() -> str:
        reply = ask(served.port, "GET", f"{served.prefix}/feed.xml")
        entries = feedparser.parse(reply.body).entries
        return str(entries[0].title) if entries else ""

    wait_for(lambda: feed_title() == "Edited while serving", "the edit to reach the feed")
    feed = feedparser.parse(ask(served.port, "GET", f"{served.prefix}/feed.xml").body)
    enclosure = feed.entries[0].enclosures[0]
    track = ask(served.port, "HEAD", urllib.parse.urlsplit(enclosure.href).path)
    assert track.status == 200
    assert int(track.headers["content-length"]) == int(enclosure.length)
    assert "Edited while serving" in ask(served.port, "GET", f"{served.prefix}/").body.decode()
    assert served.errors == []


def test_the_secret_is_kept_per_library(tmp_path: Path) -> None:
    one, other = tmp_path / "one.yaml", tmp_path / "other.yaml"
    first = library([one])
    assert library([one]) == first
    assert library([other]).secret != first.secret
    assert len(first.secret) >= 20
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first.secret)


def test_the_secret_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    kept = library([tmp_path / "one.yaml"])
    stored = kept.site.parent / "secret"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    stored.chmod(0o644)  # as an older voiceguide left it
    assert library([tmp_path / "one.yaml"]) == kept
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_the_lan_address_is_never_loopback() -> None:
    address = lan_address()
    assert address is None or not address.startswith("127.")


LOCAL = ("--host", "127.0.0.1", "--port", "0")


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_prints_a_qr_code_and_stops_cleanly(stop_with: signal.Signals, short_routine: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voiceguide",
            "serve",
            str(short_routine),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--engine",
            "espeak-ng",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:  # ends when the URL is printed (or the process dies)
            lines.append(line)
            if "Podcast feed:" in line:
                break
        output = "".join(lines)
        found = re.search(r"http://127\.0\.0\.1:(\d+)(/[A-Za-z0-9_-]+)/feed\.xml", output)
        assert found, output + (process.stderr.read() if process.stderr else "")
        port, prefix = int(found[1]), found[2]
        assert "on this computer only" in output  # 127.0.0.1: a phone cannot reach it
        assert "same Wi-Fi" not in output
        page = f"http://127.0.0.1:{port}{prefix}/"
        assert f"\n  {page}\n" in output
        assert qr_encodes(output, page)  # what a phone scanning the code opens
        assert ask(port, "GET", f"{prefix}/").status == 200
        assert ask(port, "GET", "/").status == 404
        process.send_signal(stop_with)
        rest, errors = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert "Stopped." in rest
    assert "Traceback" not in errors


def test_slow_clients_are_cut_off_and_do_not_starve_real_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The review held 1,100 connections open by sending nothing (or a byte now and then) until
    real requests timed out. Now a request's headers must arrive within HEADER_TIMEOUT_S (shortened
    here), and a real request is answered while slow clients wait to be cut off."""
    from voiceguide.publish import serve

    monkeypatch.setattr(serve, "HEADER_TIMEOUT_S", 1.0)
    routine = tmp_path / "r.yaml"
    routine.write_text(SHORT_ROUTINE, encoding="utf-8")
    with serving(routine) as served:
        slow = []
        for number in range(150):  # bounded: well under MAX_CONNECTIONS and any file limit
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=WAIT)
            if number % 2:
                sock.sendall(b"GET " + served.prefix.encode() + b"/ HTTP/1.1\r\nHost: x\r\n")  # never finished
            slow.append(sock)
        assert ask(served.port, "GET", f"{served.prefix}/").status == 200
        for sock in slow:  # each is closed by the server: recv sees the end, not our timeout
            assert sock.recv(1024) == b""
            sock.close()
        assert ask(served.port, "GET", f"{served.prefix}/feed.xml").status == 200
