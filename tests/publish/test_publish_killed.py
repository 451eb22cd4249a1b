"""A site changes all at once: `publish` killed with SIGKILL at every step that changes the live site
leaves a feed and a page whose files are all there, with the lengths and durations the feed gives;
the next publish removes what the killed one left."""

from __future__ import annotations

import html.parser
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from test_publish import BASE, ESPEAK, check_feed

from voiceguide.errors import OutputError
from voiceguide.publish.model import Channel
from voiceguide.publish.site import MANIFEST, base_url, publish

SHORT = "title: First\nintro: Sit tall.\nsteps:\n  - name: Press\n    say: Press.\n    hold: 2s\n"

# Runs `voiceguide publish` with every call that changes a file or folder in the site (outside the
# staging folder) counted; right after call number $KILL_AT the process kills itself with SIGKILL.
KILLED_AFTER = """
import os, signal, sys
site, staging, kill_at = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(os.environ["KILL_AT"])
done = [0]

def counted(real, which):
    def call(*args, **kwargs):
        result = real(*args, **kwargs)
        path = os.path.abspath(os.fsdecode(args[which]))
        if path.startswith(site + os.sep) and not path.startswith(staging + os.sep):
            done[0] += 1
            if done[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return result
    return call

os.replace, os.rename = counted(os.replace, 1), counted(os.rename, 1)
os.unlink, os.remove, os.rmdir = counted(os.unlink, 0), counted(os.remove, 0), counted(os.rmdir, 0)
from voiceguide.cli.app import cli
cli(sys.argv[3:], prog_name="voiceguide")
"""


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [v for k, v in attrs if k in ("href", "src") and v and ":" not in v and not v.startswith("#")]


def check_site(site: Path) -> None:
    """Every enclosure is there with the byte length and duration the feed gives (and every chapter,
    caption and picture file it names); every local link and picture on the page is there."""
    check_feed(site, base_url(BASE))
    page = _Links()
    page.feed((site / "index.html").read_text(encoding="utf-8"))
    assert page.found
    for link in page.found:
        assert (site / urllib.parse.unquote(link.split("#")[0])).is_file(), link


def test_a_publish_killed_at_any_step_leaves_a_site_whose_feed_matches_its_files(tmp_path: Path) -> None:
    routines = tmp_path / "routines"
    routines.mkdir()
    first, second = routines / "first.yaml", routines / "second.yaml"
    first.write_text(SHORT, encoding="utf-8")
    second.write_text("title: Second\nsteps:\n  - say: Breathe.\n", encoding="utf-8")
    site, old = tmp_path / "site", tmp_path / "old"
    publish([routines], old, Channel(base_url(BASE)), ESPEAK)
    first.write_text(SHORT.replace("hold: 2s", "hold: 3s"), encoding="utf-8")  # a longer track
    second.unlink()  # and one routine gone
    third = routines / "third.yaml"
    third.write_text("title: Third\nsteps:\n  - say: Stretch.\n", encoding="utf-8")  # and one new
    command = [sys.executable, "-c", KILLED_AFTER, str(site), str(site / ".voiceguide-staging")]
    command += ["publish", str(routines), "-o", str(site), "--base-url", BASE, "--engine", "espeak-ng", "-q"]
    kill_at = 0
    while True:
        kill_at += 1
        shutil.rmtree(site, ignore_errors=True)
        shutil.copytree(old, site, symlinks=True)
        ran = subprocess.run(command, env={**os.environ, "KILL_AT": str(kill_at)}, capture_output=True)
        if ran.returncode == 0:
            break
        assert ran.returncode == -signal.SIGKILL, ran.stderr.decode()
        check_site(site)
        publish([routines], site, Channel(base_url(BASE)), ESPEAK)  # the next publish tidies up
        check_site(site)
        kept = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
        assert kept == {MANIFEST, *json.loads((site / MANIFEST).read_text(encoding="utf-8"))["files"]}
        assert sorted(p.name for p in (site / "tracks").iterdir()) == ["first", "third"]
        assert all(len(list(p.iterdir())) == 1 for p in (site / "tracks").iterdir())  # one version each
    check_site(site)
    assert kill_at > 10  # it was killed after every change to the live site: the manifest, each
    # version folder moved in, the artwork, the feed, the page, each old file removed


def test_a_republish_never_writes_reads_or_deletes_through_a_link_in_tracks(tmp_path: Path) -> None:
    routine = tmp_path / "r.yaml"
    routine.write_text(SHORT, encoding="utf-8")
    site, outside = tmp_path / "site", tmp_path / "outside"
    outside.mkdir()
    (outside / "r.mp3").write_text("mine", encoding="utf-8")
    done = publish([routine], site, Channel(base_url(BASE)), ESPEAK)
    version = site / Path(done.site.episodes[0].audio).parent  # tracks/r/<version>
    shutil.rmtree(version)
    version.symlink_to(outside)  # the version the manifest names now leads out of the site
    routine.write_text(SHORT.replace("hold: 2s", "hold: 3s"), encoding="utf-8")
    again = publish([routine], site, Channel(base_url(BASE)), ESPEAK)
    assert (outside / "r.mp3").read_text(encoding="utf-8") == "mine"  # not read as the old track, not deleted
    assert sorted(p.name for p in outside.iterdir()) == ["r.mp3"]
    assert again.encoded == ("First",)
    check_site(site)

    shutil.rmtree(site / "tracks" / "r")
    (site / "tracks" / "r").symlink_to(outside)  # the routine's own folder is a link
    with pytest.raises(OutputError, match=r"r is a link or a file, not the folder publish keeps r's versions in"):
        publish([routine], site, Channel(base_url(BASE)), ESPEAK)
    assert sorted(p.name for p in outside.iterdir()) == ["r.mp3"]
