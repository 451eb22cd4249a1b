"""The handout: read back as a person would (the text of each page, the page size, the QR code
scanned by a real decoder from the page rendered to pixels)."""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
import zxingcpp
from click.testing import CliRunner, Result
from PIL import Image
from pypdf import PdfReader

from voiceguide.cli.app import cli
from voiceguide.export.handout import Sheet, handout_pdf
from voiceguide.phrases import handout_words, phrases
from voiceguide.pipeline import Overrides
from voiceguide.publish.model import Channel
from voiceguide.publish.site import publish
from voiceguide.routine.build import load_routine

from conftest import ROUTINES, SHORT_ROUTINE

NECK = ROUTINES / "neck-and-back.yaml"
URL = "https://example.org/neck.mp3"
A4, LETTER = (595, 842), (612, 792)
SHEET = Sheet(duration_ms=90_000, track="routine.mp3")


def make(runner: CliRunner, out: Path, *args: str) -> Result:
    return runner.invoke(cli, ["handout", *args, "-o", str(out), "--engine", "espeak-ng"])


def pages_text(pdf: Path) -> list[str]:
    """Each page's text with runs of white space as one space."""
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(pdf).pages]


def rendered_pages(pdf: Path, folder: Path, dpi: int = 150) -> list[Image.Image]:
    """Each page as pixels, rendered by poppler's pdftoppm to PNG files."""
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(folder / "page")], check=True)
    return [Image.open(path) for path in sorted(folder.glob("page-*.png"))]


def qr_codes(image: Image.Image) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(image) if code.format == zxingcpp.BarcodeFormat.QRCode]


@pytest.fixture(scope="module")
def neck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("handout")
    result = make(CliRunner(), out, str(NECK), "--url", URL)
    assert result.exit_code == 0, result.output
    return out / "neck-and-back.pdf"


def test_every_step_with_its_hold_reps_and_sides(neck: Path) -> None:
    text = " ".join(pages_text(neck))
    steps = [
        ("1. Shoulder knead", "Hold 1 min · each side", "knead your right/left shoulder"),
        ("2. Neck squeeze with shrug", "Hold 5 s · 3 times · each side", "Put your right/left hand"),
        ("3. Clasped-hand press", "Hold 8 s · 5 times", "Clasp your hands tightly"),
        ("4. Circular neck rub", "Hold 45 s · each side", "rub the right/left side of your neck"),
        ("5. Tennis-ball roll", "Hold 3 min", "Take two tennis balls"),
        ("6. Ear-to-shoulder caution", "One caution.", "Never force your ear"),
        ("7. Warm-oil tip", "A tip for next time.", "self-heating oil"),
    ]
    at = 0
    for name, facts, words in steps:  # in the routine's order
        found = text.find(f"{name} {facts}", at)
        assert found >= 0, f"{name} {facts!r} not after position {at} in: {text}"
        assert words in text[found:]
        at = found
    assert "{side}" not in text
    assert "Halfway. Keep breathing slowly." in text  # a cue, in brief
    assert "Neck and Back Relief by voiceguide · 12 min" in text


def test_the_intro_with_its_safety_advice(neck: Path) -> None:
    text = pages_text(neck)[0]
    assert "Before you start Welcome." in text
    assert "Work firmly but never painfully. If anything hurts, stop and rest." in text


def test_a4_with_page_numbers(neck: Path) -> None:
    reader = PdfReader(neck)
    assert [(round(p.mediabox.width), round(p.mediabox.height)) for p in reader.pages] == [A4] * len(reader.pages)
    texts = pages_text(neck)
    assert len(texts) == 2
    assert [re.search(r"Page \d of \d", t).group() for t in texts] == ["Page 1 of 2", "Page 2 of 2"]  # type: ignore[union-attr]


def test_the_qr_code_scans_to_exactly_the_url(neck: Path, tmp_path: Path) -> None:
    first, *rest = rendered_pages(neck, tmp_path)
    assert qr_codes(first) == [URL]
    assert all(qr_codes(page) == [] for page in rest)
    assert URL in pages_text(neck)[0]  # printed under it, for typing


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/clinic/routines/neck-and-back-relief.mp3?from=sheet&v=2",
        "http://192.168.1.20:8000/Zr3xK9/index.html#neck-and-back",
    ],
)
def test_a_long_url_scans_exactly_and_prints_whole(tmp_path: Path, runner: CliRunner, url: str) -> None:
    result = make(runner, tmp_path, str(NECK), "--url", url)
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "neck-and-back.pdf"
    assert qr_codes(rendered_pages(pdf, tmp_path)[0]) == [url]
    assert url in pages_text(pdf)[0].replace(" ", "")


def test_letter_paper(tmp_path: Path, runner: CliRunner) -> None:
    assert make(runner, tmp_path, str(NECK), "--paper", "letter").exit_code == 0
    reader = PdfReader(tmp_path / "neck-and-back.pdf")
    assert {(round(p.mediabox.width), round(p.mediabox.height)) for p in reader.pages} == {LETTER}


def test_without_a_url_no_qr_code_and_the_sheet_names_the_track(tmp_path: Path, runner: CliRunner) -> None:
    assert make(runner, tmp_path, str(NECK)).exit_code == 0
    pdf = tmp_path / "neck-and-back.pdf"
    assert all(qr_codes(page) == [] for page in rendered_pages(pdf, tmp_path))
    assert "play the track neck-and-back.mp3 on your phone" in pages_text(pdf)[0]


def test_german_words_and_letters(tmp_path: Path, runner: CliRunner) -> None:
    assert make(runner, tmp_path, str(ROUTINES / "nacken-de.yaml")).exit_code == 0
    text = " ".join(pages_text(tmp_path / "nacken-de.pdf"))
    assert "Nackenpause von voiceguide" in text
    assert "Bevor du beginnst Zeit für eine kurze Nackenpause." in text
    assert "die Füße flach auf dem Boden" in text
    assert "hör auf, wenn etwas schmerzt" in text
    assert "Übungen 1. Schultern kreisen 10 s halten" in text
    assert "2. Kopf drehen 10 s halten · jede Seite" in text
    assert "Dreh den Kopf langsam nach rechts/links" in text
    assert "Seite 1 von 1" in text


def test_a_step_is_never_split_across_pages(
    tmp_path: Path, runner: CliRunner, write_routine: Callable[..., Path]
) -> None:
    words = " ".join(f"word{n}" for n in range(120))
    steps = "".join(f"  - name: Step{n}\n    say: Begin{n} {words} End{n}.\n    hold: 10s\n" for n in range(1, 13))
    path = write_routine(f"title: Many words\nintro: Sit.\nsteps:\n{steps}")
    assert make(runner, tmp_path, str(path)).exit_code == 0, "the handout was not written"
    texts = pages_text(tmp_path / "routine.pdf")
    assert len(texts) > 2
    for n in range(1, 13):
        holding = [i for i, t in enumerate(texts) if f"Step{n} " in t or f"Begin{n} " in t or f"End{n}." in t]
        assert len(holding) == 1, f"step {n} is on pages {holding}"


def test_a_step_longer_than_a_page_still_prints_whole(
    tmp_path: Path, runner: CliRunner, write_routine: Callable[..., Path]
) -> None:
    cues = "".join(f"      - {{at: {n}m, say: Cue{n} {'and more ' * 25}}}\n" for n in range(1, 21))
    path = write_routine(f"title: Long\nsteps:\n  - name: Long one\n    say: Begin.\n    hold: 21m\n    cues:\n{cues}")
    result = make(runner, tmp_path, str(path))
    assert result.exit_code == 0, result.output
    texts = pages_text(tmp_path / "routine.pdf")
    assert len(texts) == 2
    assert all(f"Cue{n} " in " ".join(texts) for n in range(1, 21))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "example.org/neck.mp3"], "expected an absolute http:// or https:// URL, got 'example.org/neck.mp3'"),
        (["--url", "https://example.org/a b"], "expected an absolute http:// or https:// URL"),
        (["--paper", "a5"], "'a5' is not one of 'a4', 'letter'"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, runner: CliRunner, args: list[str], message: str) -> None:
    result = make(runner, tmp_path, str(NECK), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not list(tmp_path.iterdir())


def test_a_bad_routine_exits_2_and_writes_nothing(
    tmp_path: Path, runner: CliRunner, write_routine: Callable[..., Path]
) -> None:
    path = write_routine("title: T\nsteps:\n  - say: hi\n    hold: forever\n")
    result = make(runner, tmp_path / "out", str(path))
    assert result.exit_code == 2
    assert "routine.yaml:4: step 1" in result.output
    assert not (tmp_path / "out").exists()


def test_publish_writes_a_handout_per_routine_linked_from_the_page_and_the_feed(tmp_path: Path) -> None:
    short = tmp_path / "short check.yaml"
    short.write_text(SHORT_ROUTINE, encoding="utf-8")
    base = "https://example.com/r/"
    done = publish([short, ROUTINES / "desk-break.yaml"], tmp_path / "site", Channel(base), Overrides("espeak-ng"))
    feed = feedparser.parse((tmp_path / "site" / "feed.xml").read_text(encoding="utf-8"))
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    for episode, item in zip(done.site.episodes, feed.entries, strict=True):
        pdf = tmp_path / "site" / episode.handout
        assert pdf.parent == (tmp_path / "site" / episode.audio).parent
        assert pdf.name == Path(episode.audio).with_suffix(".pdf").name  # next to its track
        # the QR code leads to the routine's card on the page (player, chapters, words, pictures, feed)
        assert qr_codes(rendered_pages(pdf, tmp_path)[0]) == [f"{base}index.html#{episode.anchor}"]
        assert episode.title in pages_text(pdf)[0]
        link = html.escape(urllib.parse.quote(episode.handout))  # percent-encoded: a space or `#` stays in the name
        assert f'<a class="download sheet" href="{link}">Print the sheet</a>' in page
        links = re.findall(r'<a href="([^"]+)">Print the sheet</a>', item.description)
        assert links == [done.site.url(episode.handout)]
    manifest = json.loads((tmp_path / "site" / ".voiceguide-site.json").read_text(encoding="utf-8"))
    assert {e.handout for e in done.site.episodes} <= set(manifest["files"])  # removed with its routine
    before = {p: p.read_bytes() for p in (tmp_path / "site" / "tracks").glob("*/*/*.pdf")}
    publish([short, ROUTINES / "desk-break.yaml"], tmp_path / "site", Channel(base), Overrides("espeak-ng"))
    assert {p: p.read_bytes() for p in (tmp_path / "site" / "tracks").glob("*/*/*.pdf")} == before  # byte for byte


def test_no_text_smaller_than_11_pt_and_the_body_is_12(neck: Path) -> None:
    sizes: dict[float, int] = {}

    def visit(text: str, _cm: object, tm: list[float], _font: object, size: float) -> None:
        if text.strip():
            points = round(size * tm[0], 1)  # the font size as set, scaled by the text matrix
            sizes[points] = sizes.get(points, 0) + len(text)

    for page in PdfReader(neck).pages:
        page.extract_text(visitor_text=visit)
    assert min(sizes) >= 11
    assert max(sizes, key=lambda size: sizes[size]) == 12  # most of the text


@pytest.mark.parametrize(
    ("language", "title", "before", "steps", "each_side"),
    [
        ("en", "Neck & shoulders", "Before you start", "Steps", "each side"),
        ("de", "Schultern lösen, Füße warm", "Bevor du beginnst", "Übungen", "jede Seite"),
        ("fr", "Détente des épaules, façon douce", "Avant de commencer", "Exercices", "de chaque côté"),
        ("es", "¿Cuello tenso? Estiramiento pequeño", "Antes de empezar", "Ejercicios", "cada lado"),
        ("it", "Più leggerezza per le spalle", "Prima di iniziare", "Esercizi", "per lato"),
        ("nl", "Schouders ontspannen, één minuut", "Voordat je begint", "Oefeningen", "elke kant"),
        ("pt", "Pescoço e ombros: relaxação", "Antes de começar", "Exercícios", "cada lado"),
    ],
)
def test_every_language_prints_its_own_words_and_letters(
    language: str, title: str, before: str, steps: str, each_side: str, write_routine: Callable[..., Path]
) -> None:
    path = write_routine(
        f'title: "{title}"\nlanguage: {language}\nintro: "{title}."\n'
        f'steps:\n  - name: "{title}"\n    say: "{title} {{side}}."\n    sides: both\n    hold: 20s\n    reps: 2\n'
    )
    routine = load_routine(path)
    (text,) = (
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(handout_pdf(routine, SHEET))).pages
    )
    left, right = phrases(language).both
    words = handout_words(language)
    facts = " · ".join([words.hold.format(time="20 s"), words.times.format(n=2), each_side])
    assert f"{before} {title}. {steps} 1. {title} {facts} {title} {left}/{right}." in text
