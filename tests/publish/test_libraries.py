"""One library per client: a folder of client folders, published and served as a site per client."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from test_serve import Served, ask, serving, wait_for

from voiceguide.cli.app import cli
from voiceguide.errors import RoutineError
from voiceguide.export.info import inspect
from voiceguide.pipeline import Overrides
from voiceguide.publish.libraries import Client, clients, publish_clients
from voiceguide.publish.model import Channel, Published
from voiceguide.publish.serve import loopback
from voiceguide.publish.site import MANIFEST, base_url, publish

from conftest import VOICE_TOLERANCE_LU, qr_encodes

BASE = "https://example.com/r/"
ESPEAK = Overrides(engine="espeak-ng")


def routine(title: str, author: str | None = None) -> str:
    return f"title: {title}\n" + (f"author: {author}\n" if author else "") + "steps:\n  - say: Breathe in.\n"


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """clients/ana (two routines, the second naming an author) and clients/ben (one), plus a folder of images."""
    top = tmp_path_factory.mktemp("practice") / "clients"
    for path, text in {
        "ana/neck.yaml": routine("Ana neck"),
        "ana/wrist.yaml": routine("Ana wrist", "Dr Ana"),
        "ben/knee.yaml": routine("Ben knee"),
    }.items():
        (top / path).parent.mkdir(parents=True, exist_ok=True)
        (top / path).write_text(text, encoding="utf-8")
    (top / "images").mkdir()
    (top / "images" / "cover.txt").write_text("not a routine", encoding="utf-8")
    return top


def test_a_folder_of_client_folders_is_a_library_each(practice: Path, tmp_path: Path) -> None:
    assert clients([practice]) == (Client("ana", practice / "ana"), Client("ben", practice / "ben"))
    assert clients([practice / "ana"]) == ()  # a folder of routines: one library, as before
    assert clients([practice / "ana", practice / "ben"]) == ()
    mixed = tmp_path / "mixed"
    (mixed / "ana").mkdir(parents=True)
    (mixed / "ana" / "neck.yaml").write_text(routine("N"), encoding="utf-8")
    (mixed / "own.yaml").write_text(routine("O"), encoding="utf-8")
    assert clients([mixed]) == ()  # routines of its own: published as one library (its subfolders ignored)


def test_publish_writes_each_library_under_its_own_secret_with_nothing_linking_them(
    practice: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (ana, ben), gone = publish_clients(clients([practice]), site, Channel(base_url(BASE), title=""), ESPEAK)
    assert gone == ()
    secrets = {ana.folder.name, ben.folder.name}
    assert len(secrets) == 2
    assert all(len(secret) >= 22 for secret in secrets)  # 128 random bits
    assert sorted(p.name for p in site.iterdir()) == sorted([*secrets, "index.html"])
    root_page = (site / "index.html").read_text(encoding="utf-8")
    assert "href" not in root_page
    assert not any(secret in root_page for secret in secrets)
    assert "ana" not in root_page
    assert "ben" not in root_page
    for published, titles, other in ((ana, {"Ana neck", "Ana wrist"}, ben), (ben, {"Ben knee"}, ana)):
        feed = feedparser.parse((published.folder / "feed.xml").read_bytes())
        assert feed.feed.link == f"{BASE}{published.folder.name}/index.html"
        assert {e.title for e in feed.entries} == titles
        text = "".join(p.read_text(encoding="utf-8") for p in published.folder.glob("*.*") if p.suffix != ".png")
        assert other.folder.name not in text
        assert not {e.title for e in other.site.episodes} & {e.title for e in published.site.episodes}
    assert (ana.site.title, ben.site.title) == ("ana", "ben")  # no --title: the client's folder name
    assert ana.site.author == "Dr Ana"  # the routine that names an author, though it does not sort first
    assert ben.site.author == "voiceguide"
    assert json.loads((ana.folder / MANIFEST).read_text(encoding="utf-8"))["library"] == "ana"

    again, _ = publish_clients(clients([practice]), site, Channel(base_url(BASE), title="Mine"), ESPEAK)
    assert [p.folder for p in again] == [ana.folder, ben.folder]  # the secrets are kept: subscriptions survive
    assert [p.encoded for p in again] == [(), ()]
    assert [p.site.title for p in again] == ["Mine", "Mine"]


def test_a_client_folder_that_is_gone_takes_its_library_with_it(tmp_path: Path) -> None:
    top, site = tmp_path / "clients", tmp_path / "site"
    for name in ("ana", "ben"):
        (top / name).mkdir(parents=True)
        (top / name / "neck.yaml").write_text(routine(f"{name} neck"), encoding="utf-8")
    (ana, ben), _ = publish_clients(clients([top]), site, Channel(base_url(BASE), title=""), ESPEAK)
    (ben.folder / "notes.txt").write_text("not ours", encoding="utf-8")
    for path in (top / "ben").iterdir():
        path.unlink()
    (top / "ben").rmdir()
    (kept,), gone = publish_clients(clients([top]), site, Channel(base_url(BASE), title=""), ESPEAK)
    assert gone == ("ben",)
    assert kept.folder == ana.folder
    assert sorted(p.name for p in ben.folder.iterdir()) == ["notes.txt"]  # only what publish did not write is left
    assert not (ben.folder / "feed.xml").exists()


def test_one_bad_routine_publishes_no_library(tmp_path: Path) -> None:
    bad = tmp_path / "clients"
    for name in ("ana", "ben"):
        (bad / name).mkdir(parents=True)
    (bad / "ana" / "ok.yaml").write_text(routine("Fine"), encoding="utf-8")
    (bad / "ben" / "bad.yaml").write_text("title: Bad\nsteps: []\n", encoding="utf-8")
    with pytest.raises(RoutineError):
        publish_clients(clients([bad]), tmp_path / "site", Channel(base_url(BASE), title=""), ESPEAK)
    assert not (tmp_path / "site").exists()


def test_cli_publish_prints_each_librarys_page(practice: Path, tmp_path: Path, runner: CliRunner) -> None:
    args = ["publish", str(practice), "-o", str(tmp_path / "site"), "--base-url", BASE, "--engine", "espeak-ng"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.output.count("Library of ") == 2
    pages = [line.split()[-1] for line in result.output.splitlines() if line.startswith("Page: ")]
    assert len(pages) == 2
    assert all(page.startswith(BASE) and page.endswith("/index.html") for page in pages)
    assert len({page.split("/")[-2] for page in pages}) == 2
    for library, page in zip(result.output.split("Library of ")[1:], pages, strict=True):
        assert qr_encodes(library, page)  # each client's code opens that client's page, with its secret
    assert "--author" in runner.invoke(cli, ["serve", "--help"]).output


@pytest.fixture(scope="module")
def served(practice: Path) -> Iterator[Served]:
    with serving(practice) as server:
        yield server


def test_each_librarys_address_serves_its_own_routines_only(served: Served) -> None:
    ana, ben = served.session.shelves
    assert (ana.name, ben.name) == ("ana", "ben")
    for shelf, titles in ((ana, {"Ana neck", "Ana wrist"}), (ben, {"Ben knee"})):
        prefix = urllib.parse.urlsplit(shelf.url).path
        assert ask(served.port, "GET", prefix).status == 200
        feed = feedparser.parse(ask(served.port, "GET", f"{prefix}feed.xml").body)
        assert {e.title for e in feed.entries} == titles
        for entry in feed.entries:
            assert ask(served.port, "HEAD", urllib.parse.urlsplit(entry.enclosures[0].href).path).status == 200


def test_no_path_from_one_library_reaches_another(served: Served) -> None:
    ana, ben = served.session.shelves
    mine, theirs = (urllib.parse.urlsplit(s.url).path.strip("/") for s in (ana, ben))
    their_track = urllib.parse.urlsplit(  # tracks/<name>/<version>/<name>.mp3
        feedparser.parse(ask(served.port, "GET", f"/{theirs}/feed.xml").body).entries[0].enclosures[0].href
    ).path.split("/tracks/", 1)[1]
    tried = [
        "/",
        "/index.html",
        "/ana/",
        "/ben/",
        "/ben/feed.xml",
        f"/{mine}/ben/",
        f"/{mine}/ben/feed.xml",
        f"/{mine}/{theirs}/feed.xml",
        f"/{mine}/../{theirs}/feed.xml",
        f"/{mine}/%2e%2e/{theirs}/feed.xml",
        f"/{mine}/..%2f{theirs}%2ffeed.xml",
        f"/{mine}/tracks/../../{theirs}/feed.xml",
        f"/{mine}/tracks/{their_track}",
        f"/{mine}/tracks/knee/",
        f"/{mine}/../ben/feed.xml",
        f"/{mine}/../../sites/",
    ]
    for path in tried:
        reply = ask(served.port, "GET", path)
        assert reply.status == 404, path
        assert theirs.encode() not in reply.body, path
    assert ask(served.port, "GET", f"/{theirs}/tracks/{their_track}").status == 200  # it is there, for its owner


def test_an_edit_republishes_its_own_library_only(served: Served, practice: Path) -> None:
    ana, ben = served.session.shelves  # the watcher goes through them in this order
    untouched = (ana.published.folder / "feed.xml").stat().st_mtime_ns
    (practice / "ben" / "knee.yaml").write_text(routine("Ben knee, edited"), encoding="utf-8")

    def titles() -> set[str]:
        feed = feedparser.parse(ask(served.port, "GET", f"{urllib.parse.urlsplit(ben.url).path}feed.xml").body)
        return {e.title for e in feed.entries}

    wait_for(lambda: titles() == {"Ben knee, edited"}, "the edit to reach Ben's feed")
    assert (ana.published.folder / "feed.xml").stat().st_mtime_ns == untouched  # Ana's was not published again
    assert served.errors == []


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.20", False),
        ("::", False),
    ],
)
def test_loopback_addresses_are_this_computer_only(host: str, local: bool) -> None:
    assert loopback(host) is local


def test_serve_after_publish_copies_the_tracks_instead_of_encoding_them(tmp_path: Path, encodes: list[bool]) -> None:
    routines = tmp_path / "routines"
    routines.mkdir()
    (routines / "neck.yaml").write_text(routine("Neck"), encoding="utf-8")
    published = publish_one(routines, tmp_path / "site")
    assert published.encoded == ("Neck",)
    assert len(encodes) == 1
    with serving(routines) as served:  # serve publishes into the user cache, for another URL
        assert served.session.published.encoded == ()
        assert len(encodes) == 1  # nothing encoded again
        track = served.session.published.folder / served.session.published.site.episodes[0].audio
        assert track.read_bytes() == (published.folder / published.site.episodes[0].audio).read_bytes()
    slower = publish_one(routines, tmp_path / "slower", bitrate=32)  # made otherwise: encoded, not copied
    assert slower.encoded == ("Neck",)
    assert len(encodes) == 2


def publish_one(routines: Path, folder: Path, bitrate: int = 64) -> Published:
    return publish([routines], folder, Channel(base_url(BASE)), ESPEAK, bitrate)


def test_every_library_is_levelled_to_the_loudness_asked_for(practice: Path, tmp_path: Path) -> None:
    done, _ = publish_clients(clients([practice]), tmp_path / "site", Channel(BASE, ""), ESPEAK, loudness=-20.0)
    tracks = [p.folder / e.audio for p in done for e in p.site.episodes]
    voices = [inspect(track).voice for track in tracks if track.is_file()]
    assert len(voices) == 3
    assert voices == pytest.approx([-20.0] * 3, abs=VOICE_TOLERANCE_LU)
