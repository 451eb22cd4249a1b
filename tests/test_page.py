"""The published page in a real headless Chromium (Debian's chromium + chromium-driver, through selenium)."""

from __future__ import annotations

import json
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_serve import Served, serving, wait_for

from conftest import SHORT_ROUTINE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromedriver (`./setup.sh test` installs Debian's chromium and chromium-driver)",
)
PHONE = (412, 915)  # CSS pixels of a common Android phone


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


def test_a_chapter_button_seeks_and_the_instruction_follows(page: tuple[Any, Served]) -> None:
    driver, served = page
    from selenium.webdriver.common.by import By

    episode = served.session.published.site.episodes[0]
    chapter = episode.chapters[2]  # "Breathe out"
    buttons = driver.find_elements(By.CSS_SELECTOR, ".chapters button")
    assert [b.text.split(" ", 1)[1] for b in buttons] == [c.title for c in episode.chapters]
    buttons[2].click()
    start = chapter.start_ms / 1000
    wait_for(lambda: audio_state(driver)["time"] >= start, "the seek")
    state = audio_state(driver)
    assert start <= state["time"] < start + 3  # it seeked there (and may be playing on)
    assert state["current"][2] == "true"
    first_line = next(c.text for c in episode.cues if c.start_ms >= chapter.start_ms)
    wait_for(lambda: audio_state(driver)["now"] == first_line, f"the instruction {first_line!r}")


def test_the_instruction_updates_while_the_track_plays(page: tuple[Any, Served]) -> None:
    driver, served = page
    episode = served.session.published.site.episodes[0]
    driver.execute_script("var a = document.querySelector('audio'); a.currentTime = 0; a.play();")
    seen: list[str] = []

    def moved_on() -> bool:
        now = audio_state(driver)["now"]
        if not seen or seen[-1] != now:
            seen.append(now)
        return len([line for line in seen if line in {c.text for c in episode.cues}]) >= 2

    wait_for(moved_on, "two spoken lines to show in turn")
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
