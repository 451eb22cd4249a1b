"""Headset and lock-screen buttons, and `wait: true`, on the published page in a real headless Chromium.

The page registers its Media Session handlers when a track plays; the browser calls them
when a headset or lock-screen button is pressed. A script added before the page loads keeps
every handler the page registers, so the tests call them as the browser would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_page import CHROMEDRIVER, CHROMIUM, browser
from test_serve import serving, wait_for

from voiceguide.publish.model import Episode
from voiceguide.publish.page import clock

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromedriver (`./setup.sh test` installs Debian's chromium and chromium-driver)",
)

WAIT_ROUTINE = """\
title: Wait check
author: Tester
intro: Sit tall.
defaults: {pause: 1s, countdown: 0, ready: 2s}
steps:
  - name: Press
    say: Press your hand.
    hold: 3s
  - name: Kneel
    say: Move onto your hands and knees.
    wait: true
    hold: 3s
  - name: Breathe
    say: Breathe out.
    hold: 2s
outro: Done.
"""
SEEK = 0.05  # seconds: a seek made while paused lands this close to where it was asked
PAUSE = 0.3  # seconds: the page pauses this close to where a wait's silence begins
KEEP_HANDLERS = """
window.handlers = {};
var real = MediaSession.prototype.setActionHandler;
MediaSession.prototype.setActionHandler = function (action, handler) {
  window.handlers[action] = handler;
  return real.call(this, action, handler);
};
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Episode]]:
    """The routine above served on 127.0.0.1, its page open in Chromium, its track played once."""
    folder = tmp_path_factory.mktemp("media-session")
    routine = folder / "wait.yaml"
    routine.write_text(WAIT_ROUTINE, encoding="utf-8")
    with serving(routine) as served:
        driver = browser(folder / "profile")
        try:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_HANDLERS})
            driver.get(served.session.url)
            episode = served.session.published.site.episodes[0]
            wait_for(lambda: state(driver)["ready"] >= 1, "the track's metadata")
            driver.execute_script("document.querySelector('audio').play();")  # the page claims the buttons
            wait_for(lambda: not state(driver)["paused"], "the track to play")
            yield driver, episode
        finally:
            driver.quit()


def state(driver: Any) -> dict[str, Any]:
    found: dict[str, Any] = driver.execute_script(
        "var a = document.querySelector('audio'), m = navigator.mediaSession.metadata;"
        "return {ready: a.readyState, time: a.currentTime, paused: a.paused, seeking: a.seeking,"
        " duration: a.duration, length: document.querySelector('.length').textContent,"
        " title: m && m.title, album: m && m.album, artwork: m && m.artwork.map(function (i) { return i.src; }),"
        " handlers: Object.keys(window.handlers).filter(function (k) { return window.handlers[k]; }).sort(),"
        " current: Array.from(document.querySelectorAll('.chapters button'))"
        "   .map(function (b) { return b.getAttribute('aria-current'); })};"
    )
    return found


def paused_at(driver: Any, seconds: float) -> None:
    driver.execute_script("var a = document.querySelector('audio'); a.pause(); a.currentTime = arguments[0];", seconds)
    wait_for(lambda: not state(driver)["seeking"], "the seek")


def press(driver: Any, action: str) -> dict[str, Any]:
    """Call the page's handler for ``action`` as the browser does, and the state once it has seeked."""
    driver.execute_script(f"window.handlers[{action!r}]({{action: {action!r}}});")
    wait_for(lambda: not state(driver)["seeking"], "the seek")
    return state(driver)


def start(episode: Episode, title: str) -> float:
    return next(c.start_ms for c in episode.chapters if c.title == title) / 1000


def test_the_page_registers_play_pause_next_and_previous_and_no_seek_buttons(page: tuple[Any, Episode]) -> None:
    driver, _ = page
    # with seekforward/seekbackward, iOS shows ±15 s buttons instead of next and previous
    assert state(driver)["handlers"] == ["nexttrack", "pause", "play", "previoustrack"]


def test_next_goes_to_the_next_steps_start(page: tuple[Any, Episode]) -> None:
    driver, episode = page
    paused_at(driver, start(episode, "Press") + 1.0)
    after = press(driver, "nexttrack")
    assert after["time"] == pytest.approx(start(episode, "Kneel"), abs=SEEK)
    assert after["paused"] is True
    assert after["current"] == ["false", "false", "true", "false", "false"]


def test_previous_mid_step_goes_to_that_steps_start(page: tuple[Any, Episode]) -> None:
    driver, episode = page
    paused_at(driver, start(episode, "Kneel") + 3.5)
    assert press(driver, "previoustrack")["time"] == pytest.approx(start(episode, "Kneel"), abs=SEEK)


def test_previous_early_in_a_step_goes_to_the_step_before(page: tuple[Any, Episode]) -> None:
    driver, episode = page
    paused_at(driver, start(episode, "Breathe") + 1.0)
    assert press(driver, "previoustrack")["time"] == pytest.approx(start(episode, "Kneel"), abs=SEEK)


def test_the_lock_screen_names_the_step_the_routine_and_its_cover(page: tuple[Any, Episode]) -> None:
    driver, episode = page
    paused_at(driver, start(episode, "Press") + 0.5)
    after = press(driver, "nexttrack")
    assert (after["title"], after["album"]) == ("Kneel", "Wait check")
    assert [src.rsplit("/", 1)[1] for src in after["artwork"]] == [episode.image.rsplit("/", 1)[1]]
    after = press(driver, "nexttrack")
    assert after["title"] == "Breathe"


def test_the_track_waits_for_the_listener_and_goes_on_at_the_hold(page: tuple[Any, Episode]) -> None:
    driver, episode = page
    assert len(episode.waits) == 1
    silence, hold = (ms / 1000 for ms in episode.waits[0])
    paused_at(driver, silence - 1.5)
    driver.execute_script(
        "var a = document.querySelector('audio');"
        "window.resumed = null;"
        "a.addEventListener('playing', function () { window.resumed = a.currentTime; });"
        "a.play();"
    )
    wait_for(lambda: state(driver)["time"] > silence - 1.4, "the track to play")
    wait_for(lambda: state(driver)["paused"], "the page to pause at the wait")
    paused = state(driver)["time"]
    assert silence <= paused <= silence + PAUSE  # the ready line is heard to its end
    driver.execute_script("window.resumed = null;")
    press(driver, "play")
    wait_for(lambda: driver.execute_script("return window.resumed;") is not None, "play to go on")
    assert driver.execute_script("return window.resumed;") == pytest.approx(hold, abs=SEEK)
    driver.execute_script("document.querySelector('audio').pause();")


def test_the_page_and_the_player_agree_on_the_length(page: tuple[Any, Episode]) -> None:
    driver, episode = page
    now = state(driver)
    minutes, seconds = divmod(int(now["duration"]), 60)
    assert now["length"] == f"{minutes}:{seconds:02d}" == clock(episode.duration_ms)
