"""The handout: a routine on paper (PDF) for a client to take home, with a QR code to its track.

Drawn with fpdf2 in Atkinson Hyperlegible (bundled in ``fonts/``, SIL OFL 1.1), a typeface
made for readers with low vision, which has the letters of every supported language.
Black on white, body text 12 pt; a step is never split across pages when it fits on one.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

from voiceguide.export.cover import Cover, picture
from voiceguide.files import write_bytes
from voiceguide.model import Routine, Step, fill
from voiceguide.phrases import HandoutWords, handout_words, phrases

PAPERS = {"a4": "A4", "letter": "Letter"}
FONT = "Atkinson"
MARGIN = 48  # pt, all round
GAP = 14  # pt between blocks
BODY = 12  # pt; nothing on the sheet is smaller than SMALL
SMALL = 11
LEADING = 1.35  # line height as a multiple of the font size
QR_SIDE = 104  # pt: about 37 mm, easy for a phone camera at arm's length
QR_COLUMN = 172  # pt: the QR code's column, with its caption and the URL
IMAGE_BOX = 140  # pt: a step's picture fits a square this big, beside its text (about 5 cm)
IMAGE_PIXELS = 900  # the picture's longer side when embedded: over 300 dpi at that size
RULE = 0.6  # grey of the thin rules between steps (1 = white)


@dataclass(frozen=True)
class Sheet:
    """What a handout shows besides the routine: the track's length, where to find it, the paper."""

    duration_ms: int
    track: str  # the track's file name, named when there is no URL
    url: str | None = None
    paper: str = "a4"
    made: datetime.datetime | None = None  # the PDF's creation date (default: now); fixed, the bytes are too


def write_handout(routine: Routine, sheet: Sheet, path: Path) -> Path:
    """Write the handout PDF to ``path`` (whole, or not at all); return ``path``."""
    return write_bytes(path, handout_pdf(routine, sheet))


def handout_pdf(routine: Routine, sheet: Sheet) -> bytes:
    """The handout as PDF bytes. It is laid out twice: the first time counts the pages, so that
    "Page 1 of 2" is set at its true width (fpdf2 measures its ``{nb}`` placeholder instead)."""
    pages = _layout(routine, sheet, None).pages_count
    return bytes(_layout(routine, sheet, pages).output())


def _layout(routine: Routine, sheet: Sheet, pages: int | None) -> _Pdf:
    words = handout_words(routine.language)
    pdf = _Pdf(words, routine.title, PAPERS[sheet.paper], pages)
    pdf.set_title(routine.title)
    pdf.set_author(routine.author or "")
    pdf.set_creator("voiceguide")
    pdf.set_lang(routine.language)
    if sheet.made is not None:
        pdf.set_creation_date(sheet.made)
    pdf.add_page()
    _header(pdf, routine, sheet, words)
    if routine.intro:
        _heading(pdf, words.before)
        _text(pdf, routine.intro, pdf.epw)
        pdf.ln(GAP)
    both = (routine.phrases or phrases(routine.language)).both
    for step in routine.steps:
        _step(pdf, step, words, both, words.steps if step.number == 1 else None)
    return pdf


class _Pdf(FPDF):
    """A4 or Letter in points, the bundled font, a footer with the page number."""

    def __init__(self, words: HandoutWords, title: str, paper: str, pages: int | None) -> None:
        super().__init__(orientation="P", unit="pt", format=paper)
        self.words, self.running_title, self.total = words, title, pages
        fonts = resources.files(__package__).joinpath("fonts")
        for style, name in (("", "Regular"), ("B", "Bold"), ("I", "Italic")):
            with resources.as_file(fonts.joinpath(f"AtkinsonHyperlegible-{name}.ttf")) as font:
                self.add_font(FONT, style, str(font))
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.c_margin = 0  # text starts where the rules do
        self.set_auto_page_break(True, margin=MARGIN + SMALL * 2)
        self.set_text_color(0)
        self.set_draw_color(0)

    def footer(self) -> None:
        self.set_y(-MARGIN - SMALL)
        self.set_font(FONT, "", SMALL)
        self.cell(self.epw / 2, SMALL, self.running_title, align="L")
        page = self.words.page.format(page=self.page_no(), pages=self.total or "?")
        self.cell(self.epw / 2, SMALL, page, align="R")


def _header(pdf: _Pdf, routine: Routine, sheet: Sheet, words: HandoutWords) -> None:
    """Title, author, duration and description on the left; the QR code (or how to get the track) right."""
    top = pdf.get_y()
    width = pdf.epw - QR_COLUMN - GAP
    pdf.set_font(FONT, "B", 24)
    pdf.multi_cell(width, 24 * 1.2, routine.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    facts = [words.by.format(author=routine.author)] if routine.author else []
    facts.append(f"{max(1, round(sheet.duration_ms / 60_000))} min")
    pdf.ln(4)
    _text(pdf, " · ".join(facts), width, size=13)
    if routine.description:
        pdf.ln(6)
        _text(pdf, routine.description, width)
    left = pdf.get_y()
    pdf.set_xy(pdf.l_margin + pdf.epw - QR_COLUMN, top)
    if sheet.url:
        _caption(pdf, words.scan, "B")
        code = segno.make(sheet.url, error="m", micro=False)
        quiet = 4 * QR_SIDE / code.symbol_size(border=0)[0]  # the blank margin of four modules scanners need
        _qr(pdf, code, pdf.l_margin + pdf.epw - QR_COLUMN + (QR_COLUMN - QR_SIDE) / 2, pdf.get_y() + quiet)
        pdf.set_xy(pdf.l_margin + pdf.epw - QR_COLUMN, pdf.get_y() + QR_SIDE + 2 * quiet)
        _caption(pdf, "\n".join(_url_lines(pdf, sheet.url, QR_COLUMN)), "")
    else:
        _caption(pdf, words.no_url.format(track=sheet.track), "")
    pdf.set_xy(pdf.l_margin, max(left, pdf.get_y()) + GAP)
    pdf.set_draw_color(0)
    pdf.set_line_width(1)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(GAP)


def _caption(pdf: _Pdf, text: str, style: str) -> None:
    pdf.set_font(FONT, style, SMALL)
    pdf.set_x(pdf.l_margin + pdf.epw - QR_COLUMN)
    pdf.multi_cell(QR_COLUMN, SMALL * LEADING, text, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)


def _url_lines(pdf: _Pdf, url: str, width: float) -> list[str]:
    """``url`` in lines no wider than ``width``, broken after a ``/``, ``?``, ``&`` or ``-`` where
    one is near the end of a line (as a reader copies it), else wherever it must."""
    pdf.set_font(FONT, "", SMALL)
    lines: list[str] = []
    rest = url
    while rest:
        fits = len(rest)
        while fits > 1 and pdf.get_string_width(rest[:fits]) > width:
            fits -= 1
        if fits < len(rest):
            breaks = [i + 1 for i, c in enumerate(rest[:fits]) if c in "/?&-" and i + 1 > fits // 2]
            fits = breaks[-1] if breaks else fits
        lines.append(rest[:fits])
        rest = rest[fits:]
    return lines


def _qr(pdf: _Pdf, code: segno.QRCode, x: float, y: float) -> None:
    """The QR code as filled squares, ``QR_SIDE`` wide at ``x``, ``y``: vector, so it is sharp at any
    printer's resolution."""
    rows = [list(row) for row in code.matrix_iter(scale=1, border=0)]
    module = QR_SIDE / len(rows)
    pdf.set_fill_color(0)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            run = c
            while run < len(row) and row[run]:
                run += 1
            pdf.rect(x + c * module, y + r * module, (run - c) * module, module, style="F")
            c = run


def _heading(pdf: _Pdf, text: str) -> None:
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(pdf.epw, 15 * LEADING, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _text(pdf: _Pdf, text: str, width: float, size: float = BODY, style: str = "") -> None:
    pdf.set_font(FONT, style, size)
    pdf.multi_cell(width, size * LEADING, text, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)


def _step(pdf: _Pdf, step: Step, words: HandoutWords, both: tuple[str, ...], heading: str | None) -> None:
    """One step (after ``heading``, kept with it), moved whole to the next page when it would be
    split there and fits on one page."""
    image = picture(step.image, IMAGE_PIXELS) if step.image else None
    top, page = pdf.get_y(), pdf.page
    with pdf.offset_rendering() as trial:
        _draw_step(trial, step, words, both, heading, image)  # type: ignore[arg-type]  # records, then forgets
        height = trial.y - top + (trial.page - page) * pdf.eph
    fits = height <= pdf.page_break_trigger - pdf.t_margin
    if trial.page_break_triggered and fits and top > pdf.t_margin:
        pdf.add_page()
    _draw_step(pdf, step, words, both, heading, image)


def _draw_step(
    pdf: _Pdf, step: Step, words: HandoutWords, both: tuple[str, ...], heading: str | None, image: Cover | None
) -> None:
    if heading:
        _heading(pdf, heading)
    width, bottom, page = pdf.epw, pdf.get_y(), pdf.page
    if image is not None:
        with Image.open(io.BytesIO(image.data)) as pixels:
            scale = IMAGE_BOX / max(pixels.size)
            w, h = pixels.width * scale, pixels.height * scale
        pdf.image(io.BytesIO(image.data), x=pdf.l_margin + pdf.epw - w, y=bottom, w=w, h=h, alt_text=step.name)
        width, bottom = pdf.epw - IMAGE_BOX - GAP, bottom + h
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(width, 14 * LEADING, f"{step.number}.  {step.name}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if meta := _meta(step, words, both):
        _text(pdf, meta, width, style="B")
    pdf.ln(2)
    side = "/".join(step.sides) if step.sides else None
    _text(pdf, fill(step.say, side, 1, step.reps), width)
    for cue in step.cues:
        _text(pdf, f"•  {fill(cue.text, side, 1, step.reps)}", width, size=SMALL, style="I")
    if pdf.page == page:
        pdf.set_y(max(pdf.get_y(), bottom))
    pdf.ln(GAP / 2)
    pdf.set_draw_color(round(255 * RULE))
    pdf.set_line_width(0.5)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(GAP / 2)


def _meta(step: Step, words: HandoutWords, both: tuple[str, ...]) -> str:
    """``Hold 20 s · 2 times · each side``: the step's hold, reps and sides in plain words."""
    parts = []
    if step.hold_ms:
        parts.append(words.hold.format(time=_span(step.hold_ms)))
    if step.reps > 1:
        parts.append(words.times.format(n=step.reps))
    if step.sides:
        same = tuple(s.casefold() for s in step.sides) == tuple(s.casefold() for s in both)
        parts.append(words.each_side if same else words.sides.format(sides=", ".join(step.sides)))
    return " · ".join(parts)


def _span(ms: int) -> str:
    """``20 s``, ``1 min``, ``1 min 30 s``, ``0.5 s``: a length as printed on the sheet."""
    if ms < 1000:
        return f"{ms / 1000:g} s"
    seconds = round(ms / 1000)
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
