"""A step's `image`: checked by validate, printed beside the step on the handout, named as the
chapter's `img` in chapters.json and embedded as an APIC inside that step's CHAP frame."""

from __future__ import annotations

import io
import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3
from PIL import Image
from pypdf import PdfReader
from test_page import CHROMEDRIVER, CHROMIUM, browser
from test_serve import serving, wait_for

from voiceguide.cli.app import cli
from voiceguide.export.layout import CHAPTER_PIXELS, Export
from voiceguide.pipeline import Overrides, load, render

PICTURED = """\
title: Pictured
intro: Sit tall.
steps:
  - name: Shoulder roll
    image: pictures/roll.jpg
    say: Roll your shoulders.
    hold: 2s
  - name: Breathe
    say: Breathe out.
    hold: 2s
  - name: Press
    image: press.png
    say: Press your palms together.
    hold: 2s
"""


def photo(path: Path, size: tuple[int, int], kind: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (90, 120, 150))
    image.paste((20, 20, 20), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    image.save(path, format=kind)
    return path


@pytest.fixture
def pictured(write_routine: Callable[..., Path]) -> Path:
    path = write_routine(PICTURED, "pictured.yaml")
    photo(path.parent / "pictures" / "roll.jpg", (1600, 1200))
    photo(path.parent / "press.png", (300, 400), "PNG")
    return path


def test_the_handout_prints_each_picture_on_its_steps_page(pictured: Path, tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["handout", str(pictured), "-o", str(tmp_path / "out"), "--engine", "espeak-ng"])
    assert result.exit_code == 0, result.output
    (page,) = PdfReader(tmp_path / "out" / "pictured.pdf").pages
    images = sorted(image.image.size for image in page.images)
    assert images == [(300, 400), (900, 675)]  # the photo scaled to print size; the small one as it is


def test_the_pictures_are_on_their_steps_pages(tmp_path: Path, write_routine: Callable[..., Path]) -> None:
    """On a sheet of several pages, each picture is on the page that has its step."""
    words = " ".join(f"word{n}" for n in range(150))
    steps = "".join(
        f"  - name: Step{n}\n    say: {words}\n    hold: 2s\n" + ("    image: p.png\n" if n in (2, 9) else "")
        for n in range(1, 11)
    )
    path = write_routine(f"title: Long\nsteps:\n{steps}")
    photo(path.parent / "p.png", (200, 200), "PNG")
    result = CliRunner().invoke(cli, ["handout", str(path), "-o", str(tmp_path / "out"), "--engine", "espeak-ng"])
    assert result.exit_code == 0, result.output
    pages = PdfReader(tmp_path / "out" / "routine.pdf").pages
    pictured = [n for n, page in enumerate(pages) if page.images]
    texts = [" ".join(page.extract_text().split()) for page in pages]
    holding = [n for n, text in enumerate(texts) for step in (2, 9) if f"{step}. Step{step} Hold" in text]
    assert len(pages) > 2
    assert pictured == holding
    assert [len(pages[n].images) for n in pictured] == [1, 1]


@pytest.mark.render
def test_chapters_json_and_chapter_frames_carry_the_pictures(pictured: Path, tmp_path: Path) -> None:
    done = render(load(pictured, Overrides(engine="espeak-ng")), tmp_path / "out")
    chapters = json.loads((tmp_path / "out" / "pictured.chapters.json").read_text(encoding="utf-8"))["chapters"]
    assert [(c["title"], c.get("img")) for c in chapters] == [
        ("Introduction", None),
        ("Shoulder roll", "pictured.step-1.jpg"),
        ("Breathe", None),
        ("Press", "pictured.step-3.png"),
    ]
    beside = {name: Image.open(tmp_path / "out" / name) for name in ("pictured.step-1.jpg", "pictured.step-3.png")}
    assert {name: (image.format, image.size) for name, image in beside.items()} == {
        "pictured.step-1.jpg": ("JPEG", (CHAPTER_PIXELS, 750)),
        "pictured.step-3.png": ("PNG", (300, 400)),
    }
    frames = {chap.sub_frames["TIT2"].text[0]: chap.sub_frames.getall("APIC") for chap in ID3(done.path).getall("CHAP")}
    assert {title: len(pictures) for title, pictures in frames.items()} == {
        "Introduction": 0,
        "Shoulder roll": 1,
        "Breathe": 0,
        "Press": 1,
    }
    art = frames["Shoulder roll"][0]
    assert art.mime == "image/jpeg"
    assert art.data == (tmp_path / "out" / "pictured.step-1.jpg").read_bytes()
    assert Image.open(io.BytesIO(frames["Press"][0].data)).size == (300, 400)


@pytest.mark.render
def test_each_split_parts_chapters_json_carries_its_steps_picture(pictured: Path, tmp_path: Path) -> None:
    """`render --split`: a part's chapters.json names its step's picture, which lies beside it (the
    picture its MP3 embeds); a picture the routine drops goes with the next render."""
    render(load(pictured, Overrides(engine="espeak-ng")), tmp_path / "out", options=Export(split=True))
    folder = tmp_path / "out" / "pictured"
    found = {}
    for part in sorted(folder.glob("*.chapters.json")):
        (chapter,) = json.loads(part.read_text(encoding="utf-8"))["chapters"]
        found[part.name] = chapter.get("img")
        if "img" in chapter:
            mp3 = part.with_name(part.name.removesuffix(".chapters.json") + ".mp3")
            (embedded,) = ID3(mp3).getall("CHAP")[0].sub_frames.getall("APIC")
            assert (folder / urllib.parse.unquote(chapter["img"])).read_bytes() == embedded.data
    assert found == {
        "01 - Introduction.chapters.json": None,
        "02 - Shoulder roll.chapters.json": "02%20-%20Shoulder%20roll.step-1.jpg",
        "03 - Breathe.chapters.json": None,
        "04 - Press.chapters.json": "04%20-%20Press.step-3.png",
    }
    assert Image.open(folder / "02 - Shoulder roll.step-1.jpg").size == (CHAPTER_PIXELS, 750)

    pictured.write_text(PICTURED.replace("    image: press.png\n", ""), encoding="utf-8")
    render(load(pictured, Overrides(engine="espeak-ng")), tmp_path / "out", options=Export(split=True))
    assert sorted(p.name for p in folder.glob("*.step-*")) == ["02 - Shoulder roll.step-1.jpg"]


def big_picture(path: Path) -> None:
    Image.new("1", (10_000, 5_000)).save(path)  # 50 megapixels; one bit each, so the file is small


def text_named_png(path: Path) -> None:
    path.write_text("this is not a picture\n")


def renamed_jpeg(path: Path) -> None:
    photo(path, (40, 40))  # JPEG bytes under a .png name


@pytest.mark.parametrize(
    ("make", "name", "message"),
    [
        (
            text_named_png,
            "step.png",
            "step.png is not a readable PNG image (cannot identify image file",
        ),
        (
            big_picture,
            "step.png",
            "step.png is 10000x5000 pixels (50 megapixels), more than 40 megapixels; "
            "save a smaller copy (2000 pixels wide is plenty)",
        ),
        (renamed_jpeg, "step.png", "step.png is a JPEG image with a .png name; rename it to step.jpg"),
        (None, "step.png", "no image file at "),
        (None, "step.gif", "expected a .jpg or .png image, got 'step.gif'"),
    ],
)
def test_a_bad_picture_exits_2_with_file_line_and_fix(
    make: Callable[[Path], None] | None,
    name: str,
    message: str,
    write_routine: Callable[..., Path],
    runner: CliRunner,
    tmp_path: Path,
) -> None:
    path = write_routine(f"title: T\nsteps:\n  - name: Roll\n    say: Roll.\n    image: {name}\n")
    if make:
        make(path.parent / name)
    for command in (["validate"], ["handout", "-o", str(tmp_path / "out")]):
        result = runner.invoke(cli, [*command, str(path)])
        assert result.exit_code == 2, result.output
        assert f'{path}:5: step 1 "Roll" (steps[0]) → image: {message}' in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromedriver")
def test_the_published_page_shows_a_steps_picture_while_it_plays(pictured: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    with serving(pictured) as served:
        site = served.session.published
        version = str(Path(site.site.episodes[0].audio).parent)  # tracks/pictured/<version>
        chapters = json.loads((site.folder / version / "pictured.chapters.json").read_text(encoding="utf-8"))
        assert [c.get("img") for c in chapters["chapters"]] == [
            None,
            site.site.url(f"{version}/pictured.step-1.jpg"),  # absolute, as podcast apps fetch it
            None,
            site.site.url(f"{version}/pictured.step-3.png"),
        ]
        driver = browser(tmp_path / "profile")
        try:
            driver.get(served.session.url)
            buttons = driver.find_elements(By.CSS_SELECTOR, ".chapters button")

            def picture() -> dict[str, Any]:
                shown: dict[str, Any] = driver.execute_script(
                    "var p = document.querySelector('.picture'); return {hidden: p.hidden, src: p.getAttribute('src'),"
                    " width: p.complete ? p.naturalWidth : 0, visible: p.getBoundingClientRect().height > 0};"
                )
                return shown

            assert picture()["hidden"]  # the intro has none
            for button, src, width in (
                (1, f"{version}/pictured.step-1.jpg", CHAPTER_PIXELS),
                (3, f"{version}/pictured.step-3.png", 300),
            ):
                buttons[button].click()
                expected = {"hidden": False, "src": src, "width": width, "visible": True}
                wait_for(lambda expected=expected: picture() == expected, f"the picture {src}")  # type: ignore[misc]
                buttons[2].click()  # "Breathe" has no picture
                wait_for(lambda: picture()["hidden"] and not picture()["visible"], "the picture to go")
        finally:
            driver.quit()


@pytest.mark.render
def test_a_changed_picture_encodes_the_track_again(pictured: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(load(pictured, Overrides(engine="espeak-ng")), out).encoded
    assert not render(load(pictured, Overrides(engine="espeak-ng")), out).encoded
    photo(pictured.parent / "press.png", (300, 400), "PNG")  # the same picture written again
    assert not render(load(pictured, Overrides(engine="espeak-ng")), out).encoded
    photo(pictured.parent / "press.png", (400, 300), "PNG")  # another picture under the same name
    done = render(load(pictured, Overrides(engine="espeak-ng")), out)
    assert done.encoded
    art = next(c.sub_frames.getall("APIC") for c in ID3(done.path).getall("CHAP") if c.sub_frames["TIT2"] == "Press")
    assert Image.open(io.BytesIO(art[0].data)).size == (400, 300)
    assert Image.open(out / "pictured.step-3.png").size == (400, 300)
