"""The published page in a real headless Chromium (Debian's chromium + chromium-driver, through selenium)."""

from __future__ import annotations

import json
import shutil
import urllib.parse
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from test_serve import Served, serving, wait_for

from voiceguide.publish.model import Episode

from conftest import SHORT_ROUTINE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromedriver (`./setup.sh test` installs Debian's chromium and chromium-driver)",
)
PHONE = (412, 915)  # CSS pixels of a common Android phone
TIMEUPDATE = 0.3  # seconds: how long a playing page may show the line before (timeupdate fires every 250 ms)


def browser(profile: Path) -> Any:
    """Headless Chromium with a fresh profile that contacts nothing but the page, allowed to autoplay."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        f"--window-size={PHONE[0]},{PHONE[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Served]]:
    """The short routine served on 127.0.0.1, with its page open in Chromium. Its file name holds
    `#` and `%` (links must encode them) and a cue holds `<!--<script>` (the inline JSON must not
    let it change how the page's script is read)."""
    folder = tmp_path_factory.mktemp("page")
    routine = folder / "short #1 100% é.yaml"
    routine.write_text(
        SHORT_ROUTINE.replace("Keep going.", "<!--<script> &").replace("hold: 4s", "hold: 9s"), encoding="utf-8"
    )
    with serving(routine) as served:
        driver = browser(folder / "profile")
        try:
            driver.get(served.session.url)
            yield driver, served
        finally:
            driver.quit()


def audio_state(driver: Any) -> dict[str, Any]:
    state: dict[str, Any] = driver.execute_script(
        "var a = document.querySelector('audio');"
        "return {ready: a.readyState, duration: a.duration, time: a.currentTime, paused: a.paused,"
        " error: a.error && a.error.code, now: document.querySelector('.now').textContent,"
        " current: Array.from(document.querySelectorAll('.chapters button'))"
        "   .map(function (b) { return b.getAttribute('aria-current'); })};"
    )
    return state


def test_audio_element_loads_the_tracks_metadata(page: tuple[Any, Served]) -> None:
    driver, served = page
    wait_for(lambda: audio_state(driver)["ready"] >= 1 or audio_state(driver)["error"], "the track's metadata")
    state = audio_state(driver)
    assert state["error"] is None
    episode = served.session.published.site.episodes[0]
    assert state["duration"] == pytest.approx(episode.duration_ms / 1000, abs=0.05)


def clock(ms: int) -> str:
    """How the page writes a time: ``m:ss``, whole seconds cut off as the player shows them (no routine
    here reaches an hour)."""
    seconds = ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


def current_at(episode: Episode, ms: float) -> list[str]:
    """The ``aria-current`` of every chapter button at ``ms``: the one chapter playing is "true"."""
    return ["true" if c.start_ms <= ms < c.end_ms else "false" for c in episode.chapters]


SEEK = """
var a = document.querySelector('audio'), done = arguments[arguments.length - 1];
var to = arguments[0];
a.pause();
function go() {
  a.addEventListener('seeked', function () { done(arguments_state()); }, {once: true});
  a.currentTime = to;
}
if (a.readyState >= 1) { go(); } else { a.addEventListener('loadedmetadata', go, {once: true}); }
"""
STATE = """
function arguments_state() {
  var a = document.querySelector('audio');
  return {time: a.currentTime, now: document.querySelector('.now').textContent,
          current: Array.from(document.querySelectorAll('.chapters button'))
            .map(function (b) { return b.getAttribute('aria-current'); })};
}
"""


def seek(driver: Any, seconds: float) -> dict[str, Any]:
    """Pause, seek to ``seconds``, and the page's state as the seek lands (its own handler has run)."""
    state: dict[str, Any] = driver.execute_async_script(STATE + SEEK, seconds)
    return state


def test_the_card_shows_the_duration_and_each_chapter_button_its_start_and_title(page: tuple[Any, Served]) -> None:
    driver, served = page
    from selenium.webdriver.common.by import By

    episode = served.session.published.site.episodes[0]
    chapters = len(episode.chapters)
    assert (
        driver.find_element(By.CSS_SELECTOR, ".card .meta").text
        == f"{clock(episode.duration_ms)} · {chapters} chapters"
    )
    labels = [b.text for b in driver.find_elements(By.CSS_SELECTOR, ".chapters button")]
    assert labels == [f"{clock(c.start_ms)} {c.title}" for c in episode.chapters]
    assert [c.title for c in episode.chapters] == ["Introduction", "Press", "Breathe out", "Closing"]
    assert labels[1] == "0:01 Press"  # the start (1.8 s, shown as a player shows it), not the end (33.8 s)
    download = driver.find_element(By.CSS_SELECTOR, ".card .download")
    track = served.session.published.folder / episode.audio
    assert download.text == f"Download MP3 ({track.stat().st_size / 1_000_000:.1f} MB)"
    assert download.get_attribute("href") == served.session.url + urllib.parse.quote(episode.audio)


def test_each_spoken_line_shows_as_soon_as_it_starts(page: tuple[Any, Served]) -> None:
    """Paused, then sought to 0.1 s into each line: that line shows at once (not the one before), and
    exactly the chapter it belongs to is marked current."""
    driver, served = page
    episode = served.session.published.site.episodes[0]
    assert all(b.start_ms - a.start_ms >= 200 for a, b in pairwise(episode.cues))  # 0.1 s in is still that line
    for cue in episode.cues:
        state = seek(driver, cue.start_ms / 1000 + 0.1)
        assert (state["now"], state["current"]) == (cue.text, current_at(episode, cue.start_ms + 100)), cue


def test_a_chapter_button_seeks_to_its_start(page: tuple[Any, Served]) -> None:
    """A real click on each chapter button (playback paused): the track seeks to the chapter's start,
    only that chapter is marked current, and its first line shows."""
    driver, served = page
    from selenium.webdriver.common.by import By

    episode = served.session.published.site.episodes[0]
    buttons = driver.find_elements(By.CSS_SELECTOR, ".chapters button")
    for button, chapter in zip(buttons, episode.chapters, strict=True):
        seek(driver, episode.duration_ms / 2000)  # paused, somewhere else
        # after the page's own click handler: the state the click left, before playback moves on
        driver.execute_script(
            STATE + "window.clicked = null;"
            "arguments[0].addEventListener('click', function () { window.clicked = arguments_state(); },"
            " {once: true});",
            button,
        )
        button.click()
        state = driver.execute_script("document.querySelector('audio').pause(); return window.clicked")
        assert state["time"] == pytest.approx(chapter.start_ms / 1000, abs=0.05), chapter
        assert state["current"] == current_at(episode, chapter.start_ms), chapter
        first_line = next(c.text for c in episode.cues if c.start_ms >= chapter.start_ms)
        assert state["now"] == first_line, chapter


def test_the_instruction_updates_while_the_track_plays(page: tuple[Any, Served]) -> None:
    """Playing from the start, the lines show in the order they are spoken, each while it is the
    latest line started (or one ``timeupdate`` late: the browser reports time 4 times a second)."""
    driver, served = page
    episode = served.session.published.site.episodes[0]
    seek(driver, 0)
    driver.execute_script("document.querySelector('audio').play();")
    seen: list[str] = []

    def spoken_at(seconds: float) -> str:
        return next(c.text for c in reversed(episode.cues) if c.start_ms <= seconds * 1000 + 50)

    def moved_on() -> bool:
        state = audio_state(driver)  # time and text read together
        assert state["now"] in {spoken_at(state["time"]), spoken_at(max(0, state["time"] - TIMEUPDATE))}, state
        if not seen or seen[-1] != state["now"]:
            seen.append(state["now"])
        return len(seen) >= 3

    wait_for(moved_on, "three spoken lines to show in turn")
    assert seen == [c.text for c in episode.cues[:3]]
    assert audio_state(driver)["paused"] is False
    assert driver.find_element("css selector", ".card").get_attribute("class") == "card playing"
    driver.execute_script("document.querySelector('audio').pause();")


def test_the_page_loads_nothing_from_elsewhere(page: tuple[Any, Served]) -> None:
    driver, served = page
    origin = urllib.parse.urlsplit(served.session.url).netloc
    loaded = json.loads(
        driver.execute_script(
            "return JSON.stringify(performance.getEntriesByType('resource').map(function (e) { return e.name; }));"
        )
    )
    assert loaded  # at least the cover and the track
    assert all(urllib.parse.urlsplit(url).netloc == origin for url in loaded), loaded
    subscribe = driver.find_element("id", "feed-url").get_attribute("value")
    assert subscribe == served.session.url + "feed.xml"
