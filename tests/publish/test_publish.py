"""`voiceguide publish`: the site's files, and its feed read by a real feed parser and checked against them."""

from __future__ import annotations

import datetime
import html
import io
import json
import re
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import pytest
import srt
from click.testing import CliRunner
from PIL import Image
from test_export import vtt_cues

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.cli.app import cli
from voiceguide.errors import EncoderError, OutputError, RoutineError
from voiceguide.pipeline import Overrides, load, plan
from voiceguide.publish import site as site_module
from voiceguide.publish.feed import ITUNES, PODCAST
from voiceguide.publish.model import Channel, Published
from voiceguide.publish.site import MANIFEST, base_url, publish

from conftest import (
    ROUTINES,
    SHORT_ROUTINE,
    VOICE_TOLERANCE_LU,
    decoded,
    speech_spans,
    voice_loudness,
    writing_elsewhere,
)

BASE = "http://example.com/my library/"
ESPEAK = Overrides(engine="espeak-ng")
ODD_NAME = "my routine é.yaml"  # a space and a non-ASCII letter, which URLs must encode


def same_cues(vtt: Path, subrip: Path) -> bool:
    """An SRT parser reads the ``.srt`` back with the cues of the ``.vtt``, times to the millisecond."""
    read = list(srt.parse(subrip.read_text(encoding="utf-8")))
    assert read
    expected = [(start, end, html.unescape(text)) for start, end, text in vtt_cues(vtt)]
    got = [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in read]
    assert [c.index for c in read] == list(range(1, len(read) + 1))
    return got == [(pytest.approx(a, abs=0.0005), pytest.approx(b, abs=0.0005), t) for a, b, t in expected]


def local_file(folder: Path, base: str, url: str) -> Path:
    """The file in the site folder that ``url`` names; fails unless the URL is absolute, under ``base``
    and percent-encoded (no raw spaces or non-ASCII)."""
    assert url.isascii(), url
    assert " " not in url, url
    assert url.startswith(base), url
    path = folder / urllib.parse.unquote(url[len(base) :])
    assert path.is_file(), url
    return path


def check_artwork(path: Path) -> None:
    """What Apple Podcasts asks of artwork: square, RGB, PNG or JPEG, 1400 to 3000 px."""
    image = Image.open(io.BytesIO(path.read_bytes()))
    assert image.format in ("PNG", "JPEG")
    assert image.mode == "RGB"
    assert image.width == image.height
    assert 1400 <= image.width <= 3000


def check_feed(folder: Path, base: str) -> feedparser.FeedParserDict:
    """Parse ``feed.xml`` and check the channel, then every item against the files on disk."""
    feed = feedparser.parse(str(folder / "feed.xml"))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    channel = feed.feed
    assert channel.title
    assert channel.subtitle
    assert channel.language
    assert channel.author
    assert channel.link == base + "index.html"
    assert {"Health & Fitness"} <= {t.term for t in channel.tags}
    check_artwork(local_file(folder, base, channel.image.href))
    assert len(channel.podcast_guid) == 36
    # what feedparser does not surface, from the XML itself
    root = ET.parse(folder / "feed.xml").getroot()
    xml_channel = root.find("channel")
    assert xml_channel is not None
    assert xml_channel.findtext(f"{{{ITUNES}}}explicit") == "false"
    items = xml_channel.findall("item")
    assert len(items) == len(feed.entries)
    guids = [entry.id for entry in feed.entries]
    assert len(set(guids)) == len(guids)
    for entry, item in zip(feed.entries, items, strict=True):
        assert entry.title
        assert entry.summary
        assert entry.guidislink is False
        assert entry.published_parsed is not None
        (enclosure,) = entry.enclosures
        track = local_file(folder, base, enclosure.href)
        assert enclosure.type == "audio/mpeg"
        assert int(enclosure.length) == track.stat().st_size
        samples, rate = decode_file(track)
        assert int(entry.itunes_duration) == round(len(samples) / rate)
        check_artwork(local_file(folder, base, entry.image.href))
        assert entry.podcast_chapters["type"] == "application/json+chapters"
        chapters = json.loads(local_file(folder, base, entry.podcast_chapters["url"]).read_text(encoding="utf-8"))
        assert chapters["version"] == "1.2.0"
        assert chapters["chapters"]
        assert entry.podcast_transcript["type"] in ("text/vtt", "application/x-subrip")  # feedparser keeps one
        transcripts = {t.get("type"): t for t in item.findall(f"{{{PODCAST}}}transcript")}
        assert sorted(transcripts) == ["application/x-subrip", "text/vtt"]
        assert len({(t.get("language"), t.get("rel")) for t in transcripts.values()}) == 1  # the same captions
        assert transcripts["text/vtt"].get("rel") == "captions"
        vtt = local_file(folder, base, transcripts["text/vtt"].get("url", ""))
        assert vtt.read_text(encoding="utf-8").startswith("WEBVTT")
        subrip = local_file(folder, base, transcripts["application/x-subrip"].get("url", ""))
        assert same_cues(vtt, subrip)
    return feed


@pytest.fixture(scope="module")
def short_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Published]:
    """SHORT_ROUTINE, under a file name that needs URL encoding, published once."""
    folder = tmp_path_factory.mktemp("publish")
    source = folder / ODD_NAME
    source.write_text(SHORT_ROUTINE, encoding="utf-8")
    done = publish([source], folder / "site", Channel(base_url(BASE), title="Ana's <routines> & more"), ESPEAK)
    return source, done


def test_feed_matches_the_files_item_by_item(short_site: tuple[Path, Published]) -> None:
    _, done = short_site
    feed = check_feed(done.folder, base_url(BASE))
    assert feed.feed.title == "Ana's <routines> & more"  # escaped in the XML, intact when parsed
    (entry,) = feed.entries
    assert entry.title == "Short check"
    name = "my%20routine%20%C3%A9"  # in a folder of its own, of this version of the track
    assert re.fullmatch(
        rf"http://example\.com/my%20library/tracks/{name}/[0-9a-f]{{8}}/{name}\.mp3", entry.enclosures[0].href
    )


def test_site_holds_exactly_the_published_files(short_site: tuple[Path, Published]) -> None:
    _, done = short_site
    found = sorted(str(p.relative_to(done.folder)) for p in done.folder.rglob("*") if p.is_file())
    version = Path(done.site.episodes[0].audio).parent
    assert re.fullmatch(r"tracks/my routine é/[0-9a-f]{8}", str(version))
    stem = f"{version}/my routine é"
    assert re.fullmatch(r"cover\.[0-9a-f]{8}\.png", done.site.artwork)  # a new picture gets a new name
    assert found == sorted(
        [
            MANIFEST,
            done.site.artwork,
            "feed.xml",
            "index.html",
            f"{stem}.chapters.json",
            f"{stem}.lrc",
            f"{stem}.mp3",
            f"{stem}.pdf",
            f"{stem}.png",
            f"{stem}.srt",
            f"{stem}.vtt",
        ]
    )


def test_page_has_no_external_resources(short_site: tuple[Path, Published]) -> None:
    _, done = short_site
    page = (done.folder / "index.html").read_text(encoding="utf-8")
    for attribute in ('src="http', "src='http", 'href="//', "@import", "url("):
        assert attribute not in page
    assert f'src="{urllib.parse.quote(done.site.episodes[0].audio)}"' in page  # percent-encoded, as `#` needs
    assert "Ana&#x27;s &lt;routines&gt; &amp; more" in page  # escaped in the HTML


def clock_at(monkeypatch: pytest.MonkeyPatch, when: datetime.datetime) -> None:
    """Publish as if it were ``when``: the clock new tracks are dated by."""
    monkeypatch.setattr(site_module, "_now", lambda: when)


def test_publishing_again_changes_nothing(short_site: tuple[Path, Published], monkeypatch: pytest.MonkeyPatch) -> None:
    """A day later, an unchanged routine keeps its pubDate (podcast apps would list it as new), and
    the feed its lastBuildDate: the feed and the manifest stay byte for byte the same."""
    source, done = short_site
    feed = (done.folder / "feed.xml").read_bytes()
    manifest = (done.folder / MANIFEST).read_bytes()
    track = done.folder / done.site.episodes[0].audio
    modified = track.stat().st_mtime_ns
    clock_at(monkeypatch, done.site.episodes[0].published + datetime.timedelta(days=1))
    again = publish([source], done.folder, Channel(base_url(BASE), title="Ana's <routines> & more"), ESPEAK)
    assert again.encoded == ()
    assert again.site.episodes[0].published == done.site.episodes[0].published
    assert (done.folder / "feed.xml").read_bytes() == feed  # same guid, pubDate, lastBuildDate and duration
    assert (done.folder / MANIFEST).read_bytes() == manifest
    assert track.stat().st_mtime_ns == modified


def test_republishing_after_an_edit_and_a_removal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(SHORT_ROUTINE, encoding="utf-8")
    second.write_text("title: Second\nsteps:\n  - say: Breathe.\n", encoding="utf-8")
    site = tmp_path / "site"
    monday, tuesday = (datetime.datetime(2026, 3, day, 8, tzinfo=datetime.timezone.utc) for day in (2, 3))
    clock_at(monkeypatch, monday)
    before = publish([tmp_path], site, Channel(base_url(BASE)), ESPEAK)
    assert sorted(e.title for e in before.site.episodes) == ["Second", "Short check"]
    (site / "notes.txt").write_text("mine", encoding="utf-8")  # not ours: never deleted

    first.write_text(SHORT_ROUTINE.replace("title: Short check", "title: Short check, edited"), encoding="utf-8")
    second.unlink()
    clock_at(monkeypatch, tuesday)
    after = publish([tmp_path], site, Channel(base_url(BASE)), ESPEAK)

    assert after.encoded == ("Short check, edited",)
    suffixes = (".chapters.json", ".lrc", ".mp3", ".pdf", ".png", ".srt", ".vtt")
    old = {e.title: Path(e.audio).parent for e in before.site.episodes}
    gone = [f"{old['Second']}/second{suffix}" for suffix in suffixes]  # the routine that is gone
    gone += [f"{old['Short check']}/first{suffix}" for suffix in suffixes]  # the edited one's old version
    assert sorted(after.removed) == sorted(gone)
    version = Path(after.site.episodes[0].audio).parent
    assert version != old["Short check"]  # a changed track gets a new URL
    assert sorted(str(p.relative_to(site)) for p in (site / "tracks").rglob("*")) == sorted(
        ["tracks/first", str(version), *(f"{version}/first{suffix}" for suffix in suffixes)]
    )
    assert (site / "notes.txt").is_file()
    feed = check_feed(site, base_url(BASE))
    assert [e.title for e in feed.entries] == ["Short check, edited"]
    old_guid = next(e.guid for e in before.site.episodes if e.title == "Short check")
    assert feed.entries[0].id == old_guid  # the same routine file keeps its guid
    assert feed.entries[0].published == "Tue, 03 Mar 2026 08:00:00 +0000"  # an edited track is new today
    assert feed.feed.updated == "Tue, 03 Mar 2026 08:00:00 +0000"  # lastBuildDate
    assert "Second" not in (site / "index.html").read_text(encoding="utf-8")


def test_publishing_removes_what_a_killed_publish_left_never_a_running_ones(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "tracks").mkdir(parents=True)
    killed = [writing_elsewhere(site / "feed.xml"), writing_elsewhere(site / "tracks" / "old.mp3")]
    running = writing_elsewhere(site / "tracks" / "other.mp3")  # another publish, still encoding
    try:
        for writer in killed:
            writer.kill()
            writer.wait()
        publish([ROUTINES / "desk-break.yaml"], site, Channel(base_url(BASE)), ESPEAK)
        left = sorted(p.name for p in site.rglob(".*.part*"))
        assert left == [running.part, f"{running.part}.lock"]
    finally:
        for writer in [*killed, running]:
            writer.kill()
            writer.wait()


def test_a_bad_routine_leaves_the_site_as_it_was(tmp_path: Path, write_routine: Callable[..., Path]) -> None:
    good = write_routine(SHORT_ROUTINE, "good.yaml")
    bad = write_routine("title: Bad\nsteps:\n  - say: Hold.\n    hold: forever\n", "bad.yaml")
    site = tmp_path / "site"
    publish([good], site, Channel(base_url(BASE)), ESPEAK)
    feed = (site / "feed.xml").read_bytes()
    with pytest.raises(RoutineError, match=r"bad\.yaml:4: step 1 \"Hold\" \(steps\[0\]\) → hold"):
        publish([good, bad], site, Channel(base_url(BASE)), ESPEAK)
    assert (site / "feed.xml").read_bytes() == feed


@pytest.mark.parametrize("second", ["neck.yaml", "Neck.yaml"], ids=["same name", "name differing in case"])
def test_two_routines_with_one_track_name_are_refused_naming_both(tmp_path: Path, second: str) -> None:
    """A case-insensitive disk or web host keeps one of tracks/Neck.mp3 and tracks/neck.mp3: refused, as render does."""
    first, other = tmp_path / "a" / "neck.yaml", tmp_path / "b" / second
    for path in (first, other):
        path.parent.mkdir()
        path.write_text(SHORT_ROUTINE, encoding="utf-8")
    with pytest.raises(RoutineError) as refused:
        publish([first, other], tmp_path / "site", Channel(BASE))
    assert [str(p) for p in refused.value.problems] == [
        f"{other}: would be written to the same track as {first} ({other.stem!r}); rename one of the two files"
    ]
    assert not (tmp_path / "site").exists()


def test_channel_image_is_made_square_and_large_enough(tmp_path: Path, write_routine: Callable[..., Path]) -> None:
    image = tmp_path / "wide photo.jpg"
    Image.new("RGB", (600, 300), (200, 40, 40)).save(image)
    routine = write_routine("title: T\nsteps:\n  - say: Go.\n")
    done = publish([routine], tmp_path / "site", Channel(base_url(BASE), image=image), ESPEAK)
    assert re.fullmatch(r"cover\.[0-9a-f]{8}\.jpg", done.site.artwork)
    check_artwork(tmp_path / "site" / done.site.artwork)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://example.com/routines", "https://example.com/routines/"),
        ("http://192.168.1.20:8000/a b/", "http://192.168.1.20:8000/a%20b/"),
        ("https://example.com/%C3%A9/", "https://example.com/%C3%A9/"),
        ("https://example.com", "https://example.com/"),
    ],
)
def test_base_url_is_normalised(given: str, expected: str) -> None:
    assert base_url(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("example.com/routines", "absolute http:// or https:// URL"),
        ("ftp://example.com/", "absolute http:// or https:// URL"),
        ("https://example.com/?x=1", "without ?query"),
    ],
)
def test_cli_refuses_a_bad_base_url(given: str, message: str, runner: CliRunner, short_routine: Path) -> None:
    result = runner.invoke(cli, ["publish", str(short_routine), "--base-url", given])
    assert result.exit_code == 2
    assert message in result.output


def test_cli_publishes_and_prints_the_feed_url(runner: CliRunner, short_routine: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    args = [
        "publish",
        str(short_routine),
        "-o",
        str(site),
        "--base-url",
        "https://example.com/r",
        "--engine",
        "espeak-ng",
    ]
    about = ["--title", "Mine", "--author", "Ana", "--email", "ana@example.com", "--description", "For Ana."]
    result = runner.invoke(cli, [*args, *about])
    assert result.exit_code == 0, result.output
    assert "Published 1 routine" in result.output
    assert "Feed: https://example.com/r/feed.xml" in result.output
    feed = check_feed(site, "https://example.com/r/")
    assert (feed.feed.title, feed.feed.author, feed.feed.subtitle) == ("Mine", "Ana", "For Ana.")
    assert feed.feed.publisher_detail == {"name": "Ana", "email": "ana@example.com"}  # itunes:owner
    channel = ET.parse(site / "feed.xml").getroot().find("channel")
    assert channel is not None
    locked = channel.find(f"{{{PODCAST}}}locked")
    assert locked is not None
    assert (locked.text, locked.get("owner")) == ("yes", "ana@example.com")


def test_cli_publishes_at_the_loudness_asked_for_and_warns_as_render_does(
    runner: CliRunner, short_routine: Path, tmp_path: Path, ffmpeg_exe: str
) -> None:
    site = tmp_path / "site"
    args = [
        "publish",
        str(short_routine),
        "-o",
        str(site),
        "--base-url",
        "https://example.com/",
        "--engine",
        "espeak-ng",
    ]
    result = runner.invoke(cli, [*args, "--loudness", "-20"])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    timeline = plan(load(short_routine, Overrides(engine="espeak-ng"))).timeline
    (track,) = site.glob("tracks/short/*/short.mp3")
    voice = voice_loudness(ffmpeg_exe, decoded(ffmpeg_exe, track, timeline.sample_rate), speech_spans(timeline))
    assert voice == pytest.approx(-20.0, abs=VOICE_TOLERANCE_LU)
    result = runner.invoke(cli, [*args, "--loudness", "-5"])  # out of clean reach, as in render
    assert result.exit_code == 0, result.output
    assert re.search(r"Warning: .*short\.yaml: the voice is levelled to -\d+\.\d LUFS, not -5: ", result.stderr)


@pytest.mark.parametrize("given", ["ana", "ana@example", "ana @example.com", "a@b@example.com"])
def test_cli_refuses_a_bad_email(given: str, runner: CliRunner, short_routine: Path) -> None:
    result = runner.invoke(cli, ["publish", str(short_routine), "--base-url", "https://example.com/", "--email", given])
    assert result.exit_code == 2
    assert f"expected an email address like name@example.com, got {given!r}" in result.output


def test_every_bundled_routine_publishes_a_valid_feed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    routines = sorted(ROUTINES.glob("*.yaml"))
    done = publish([ROUTINES], site, Channel(base_url(BASE)), ESPEAK)
    assert len(done.site.episodes) == len(routines)
    feed = check_feed(site, base_url(BASE))
    assert {e.enclosures[0].href.rsplit("/", 1)[1] for e in feed.entries} == {f"{p.stem}.mp3" for p in routines}


def test_republishing_never_follows_a_link_out_of_the_site(tmp_path: Path) -> None:
    """A linked folder inside tracks/ (and a manifest naming a file through it) once made a
    re-publish delete a file outside the site; a tracks/ that is itself a link is refused."""
    routine = tmp_path / "r.yaml"
    routine.write_text("title: R\nsteps:\n  - say: Breathe.\n", encoding="utf-8")
    site, outside = tmp_path / "site", tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine", encoding="utf-8")
    publish([routine], site, Channel(base_url(BASE)), ESPEAK)
    (site / "tracks" / "linked").symlink_to(outside)
    manifest = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"].append("tracks/linked/keep.txt")
    (site / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    publish([routine], site, Channel(base_url(BASE)), ESPEAK)
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "mine"

    other = tmp_path / "other"
    other.mkdir()
    (other / "tracks").symlink_to(outside)
    with pytest.raises(OutputError, match="outside the site folder"):
        publish([routine], other, Channel(base_url(BASE)), ESPEAK)
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]


def _two_routines(tmp_path: Path) -> tuple[Path, Path, Path]:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(SHORT_ROUTINE, encoding="utf-8")
    second.write_text("title: Second\nsteps:\n  - say: Breathe.\n", encoding="utf-8")
    site = tmp_path / "site"
    publish([first, second], site, Channel(base_url(BASE)), ESPEAK)
    return first, second, site


def _snapshot(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_a_publish_that_fails_halfway_leaves_the_whole_site_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first routine's track was once replaced before the second failed (then a background file
    that is not audio, which `validate` now refuses), leaving a feed that gave the old track's length."""
    first, second, site = _two_routines(tmp_path)
    before = _snapshot(site)
    first.write_text(SHORT_ROUTINE.replace("Breathe out.", "Breathe out slowly."), encoding="utf-8")
    second.write_text("title: Second\nsteps:\n  - say: Breathe in.\n", encoding="utf-8")
    real = site_module.render

    def failing(routine: Any, *args: Any) -> Any:  # the second routine's render fails
        if routine.title == "Second":
            raise EncoderError("ffmpeg crashed", "try again")
        return real(routine, *args)

    monkeypatch.setattr(site_module, "render", failing)
    with pytest.raises(EncoderError):
        publish([first, second], site, Channel(base_url(BASE)), ESPEAK)
    assert _snapshot(site) == before
    assert not (site / ".voiceguide-staging").exists()
    check_feed(site, base_url(BASE))


def test_a_publish_killed_while_rendering_leaves_the_old_site(tmp_path: Path) -> None:
    first, _, site = _two_routines(tmp_path)
    before = _snapshot(site)
    first.write_text(SHORT_ROUTINE.replace("hold: 4s", "hold: 40s"), encoding="utf-8")
    process = subprocess.Popen(
        [
            *(
                sys.executable,
                "-m",
                "voiceguide",
                "publish",
                str(tmp_path / "first.yaml"),
                str(tmp_path / "second.yaml"),
            ),
            *("-o", str(site), "--base-url", BASE, "--engine", "espeak-ng", "-q"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    staging = site / ".voiceguide-staging"
    try:
        while process.poll() is None and not any(p.name.endswith(".part") for p in _files(staging)):
            time.sleep(0.01)  # until the new track is being encoded
    finally:
        process.kill()
        process.wait()
    assert any(p.name.endswith(".part") for p in _files(staging))  # it was killed mid-encode
    assert {k: v for k, v in _snapshot(site).items() if not k.startswith(".voiceguide-staging")} == before
    check_feed(site, base_url(BASE))
    publish([first, tmp_path / "second.yaml"], site, Channel(base_url(BASE)), ESPEAK)  # the next one tidies up
    assert not staging.exists()
    check_feed(site, base_url(BASE))


def _files(folder: Path) -> list[Path]:
    return list(folder.rglob("*"))  # nothing (no error) if there is no such folder
