"""The report as PDF, drawn with reportlab alone (no system libraries, no browser).

The text is set in DejaVu Sans (the TrueType files in fonts/, embedded as subsets): Latin in
every EU language, Greek, Cyrillic, and the signs the report uses (≥, ≤, →, ✓). A character
the font lacks (CJK, say) is drawn as "?", never as an empty box; the pack's JSON and CSV
files keep every character.

Any text, of any length, must lay out: a table row cannot be taller than a page (reportlab
raises LayoutError), so a cell whose text would make its row tall shows its opening words and
continues in a numbered note below the table, where the text flows from page to page. Text
flows as paragraphs of at most CHUNK characters, since reportlab wraps a paragraph's remainder
again at each page break (one long paragraph costs its length times its pages); a word longer
than a line is cut across lines.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from governance.evidence.report import Table as ReportTableType
from governance.evidence.report_charts import nice_ticks

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

    from governance.evidence.report import Block, ReportContent

INK = colors.HexColor("#1d2939")
MUTED = colors.HexColor("#667085")
ACCENT = colors.HexColor("#2f5bea")
RULE = colors.HexColor("#d0d5dd")
STRIPE = colors.HexColor("#f5f7fa")
MARGIN = 18 * mm
WIDTH = A4[0] - 2 * MARGIN
TEXT_WIDTH = WIDTH - 12  # inside the frame's padding

FONTS = Path(__file__).parent / "fonts"
SANS, BOLD, MONOSPACE = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"
for _name in (SANS, BOLD, MONOSPACE):
    pdfmetrics.registerFont(TTFont(_name, FONTS / f"{_name}.ttf"))

BODY = ParagraphStyle("body", fontName=SANS, fontSize=9, leading=12.5, textColor=INK)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.6, leading=9.6)
MONO = ParagraphStyle("mono", parent=SMALL, fontName=MONOSPACE, fontSize=7.2)
CELL_HEAD = ParagraphStyle("head", parent=SMALL, fontName=BOLD, textColor=colors.white)
TITLE = ParagraphStyle("title", parent=BODY, fontName=BOLD, fontSize=20, leading=24)
SUBTITLE = ParagraphStyle("subtitle", parent=BODY, fontSize=10.5, leading=14, textColor=MUTED)
H1 = ParagraphStyle("h1", parent=BODY, fontName=BOLD, fontSize=13, leading=16,
                    spaceBefore=10, spaceAfter=5, textColor=ACCENT)  # fmt: skip
H2 = ParagraphStyle("h2", parent=BODY, fontName=BOLD, fontSize=10.5, leading=13,
                    spaceBefore=6, spaceAfter=3, alignment=TA_LEFT)  # fmt: skip
FIGURE = ParagraphStyle("figure", parent=BODY, fontName=BOLD, fontSize=16,
                        leading=19, textColor=INK)  # fmt: skip
CAPTION = ParagraphStyle("caption", parent=SMALL, fontName=BOLD, textColor=MUTED,
                         spaceBefore=4, spaceAfter=2)  # fmt: skip

# Control characters other than line breaks and tabs draw nothing sensible and upset the
# paragraph parser.
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Text flows in paragraphs of at most this many characters (see the module's docstring).
CHUNK = 1500
# A cell longer than this, or whose row it would make taller than CELL_HEIGHT, moves to a note.
CELL_CHARS = 600
CELL_HEIGHT = 150.0  # points: under a quarter of the frame, so any row fits on a page
PADDING = 4  # left and right, in a table cell


@functools.cache
def _glyphs() -> frozenset[int]:
    """The code points every font of the report draws (the mono font has fewer)."""
    faces = [pdfmetrics.getFont(name).face for name in (SANS, BOLD, MONOSPACE)]
    return frozenset.intersection(*(frozenset(face.charToGlyph) for face in faces))


@functools.cache
def _widest_em() -> float:
    """The widest glyph of the report's fonts, in em (DejaVu Sans Bold's: about 2)."""
    faces = [pdfmetrics.getFont(name).face for name in (SANS, BOLD, MONOSPACE)]
    return max(max(face.charWidths.values()) for face in faces) / 1000


def printable(value: Any) -> str:
    """Text the report's fonts can draw: a character they lack becomes "?"."""
    out = CONTROLS.sub("?", str(value).replace("\r\n", "\n").replace("\r", "\n"))
    if out.isascii():
        return out
    glyphs = _glyphs()
    return "".join(c if ord(c) in glyphs or c == "\n" else "?" for c in out)


def breakable(text: str, style: ParagraphStyle, width: float) -> str:
    """`text` with each word wider than `width` cut into pieces that each fill a line.

    reportlab would cut such a word itself, but measures every prefix of it to do so: a word
    of n characters costs n² measurements (minutes for a long URL or a run of CJK, here drawn
    as "?"). Cut here, it costs one measurement per character.
    """
    width -= 1  # a point to spare: a piece that just fits is never cut again
    if width <= 0:
        return text
    widths: dict[str, float] = {}

    def measure(char: str) -> float:
        if char not in widths:
            widths[char] = stringWidth(char, style.fontName, style.fontSize)
        return widths[char]

    out = []
    for word in re.split(r"( +|\n)", text):
        if len(word) * style.fontSize * _widest_em() <= width:  # surely fits: not measured
            out.append(word)
            continue
        pieces, start, used = [], 0, 0.0
        for index, char in enumerate(word):
            step = measure(char)
            if used + step > width and index > start:
                pieces.append(word[start:index])
                start, used = index, 0.0
            used += step
        pieces.append(word[start:])
        out.append(" ".join(pieces))
    return "".join(out)


def para(value: Any, style: ParagraphStyle = BODY, width: float = TEXT_WIDTH) -> Paragraph:
    """One paragraph of short text; its line breaks kept."""
    text = breakable(printable(value), style, width)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def chunks(text: str, size: int = CHUNK) -> list[str]:
    """`text` in pieces of at most `size` characters: at its line breaks, then at the last
    space before `size`, else (one long word) at `size` itself."""
    pieces = []
    for line in text.split("\n"):
        while len(line) > size:
            cut = line.rfind(" ", size // 2, size + 1)
            cut = cut if cut > 0 else size
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        if line.strip():
            pieces.append(line)
    return pieces


def flowing(value: Any, style: ParagraphStyle = BODY, width: float = TEXT_WIDTH) -> list[Flowable]:
    """Text of any length as paragraphs that split across pages in linear time."""
    pieces = chunks(breakable(printable(value), style, width))
    if not pieces:
        return [Paragraph("", style)]
    flowables: list[Flowable] = [Paragraph(escape(piece), style) for piece in pieces]
    return flowables


def excerpt(text: str, length: int) -> str:
    """The opening words of `text`, at most `length` characters, cut at a space if one is near."""
    flat = " ".join(text.split())
    if len(flat) <= length:
        return flat
    cut = flat.rfind(" ", length // 2, length)
    return flat[: cut if cut > 0 else length].rstrip()


class Notes:
    """The full text of cells too long for their table, numbered, set below the table."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str, str]] = []

    def cell(self, value: Any, style: ParagraphStyle, width: float, label: str) -> Paragraph:
        text, inner = printable(value), width - 2 * PADDING
        if len(text) <= CELL_CHARS:
            cell = para(text, style, inner)
            if cell.wrap(inner, 10_000)[1] <= CELL_HEIGHT:
                return cell
        number = len(self.entries) + 1
        self.entries.append((number, label, text))
        pointer = f"(continued in note {number} below)"
        for length in (200, 80, 24, 0):  # as much of the start as the column has room for
            opening = excerpt(text, length)
            cell = para(f"{opening} … {pointer}" if opening else pointer, style, inner)
            if cell.wrap(inner, 10_000)[1] <= CELL_HEIGHT:
                return cell
        return cell

    def flowables(self) -> list[Flowable]:
        story: list[Flowable] = []
        for number, label, text in self.entries:
            story.append(para(f"Note {number}: {label}", CAPTION))
            story += flowing(text, SMALL)
        return story


def _table(table: ReportTableType) -> list[Flowable]:
    widths = table.widths or [1.0] * len(table.headers)
    total = sum(widths)
    col_widths = [WIDTH * w / total for w in widths]
    notes = Notes()
    data = [[para(h, CELL_HEAD, w - 2 * PADDING) for h, w in zip(table.headers, col_widths,
                                                                 strict=True)]]  # fmt: skip
    where = f" ({excerpt(printable(table.caption), 120)})" if table.caption else ""
    for number, row in enumerate(table.rows, start=1):
        data.append([
            notes.cell(cell, SMALL, col_widths[i],
                       f"{table.headers[i]} of {excerpt(printable(row[0]), 80)}{where}" if i
                       else f"{table.headers[i]} in row {number}{where}")
            for i, cell in enumerate(row)
        ])  # fmt: skip
    # splitInRow: the notes keep every row shorter than a page; should one not be, it is split
    # between pages rather than refused.
    grid = Table(data, colWidths=col_widths, repeatRows=1, splitInRow=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), PADDING),
    ]
    style += [("BACKGROUND", (0, i), (-1, i), STRIPE) for i in range(2, len(data), 2)]
    grid.setStyle(TableStyle(style))
    flowables: list[Flowable] = []
    if table.caption:
        flowables += flowing(table.caption, CAPTION)
    flowables.append(grid)
    flowables += notes.flowables()
    flowables.append(Spacer(1, 4))
    return flowables


def _pairs(pairs: list[tuple[str, str]], *, mono: bool = False) -> list[Flowable]:
    notes = Notes()
    widths = [WIDTH * 0.28, WIDTH * 0.72]
    data = [
        [para(k, CAPTION, widths[0] - 6), notes.cell(v, MONO if mono else BODY, widths[1], k)]
        for k, v in pairs
    ]
    grid = Table(data, colWidths=widths, splitInRow=1)
    grid.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ]))  # fmt: skip
    return [grid, *notes.flowables()]


def fit(text: str, width: float, font: str, size: float) -> str:
    """`text` shortened with an ellipsis to `width` points (a page header has one line)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[: max(0, min(len(text) - 1, int(len(text) * 0.9)))]
    return text + "…"


def _figures(figures: list[tuple[str, str]]) -> Table:
    """The period's key numbers as a row of tiles."""
    per_row = 5
    cells: list[Any] = [
        [Paragraph(escape(printable(value)), FIGURE), para(label, CAPTION)]
        for label, value in figures
    ]
    cells += [""] * (-len(cells) % per_row)  # the last row, filled out
    rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
    grid = Table(rows or [[""]], colWidths=[WIDTH / per_row] * per_row)
    grid.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), STRIPE),
        ("BOX", (0, 0), (-1, -1), 0.5, RULE),
        ("INNERGRID", (0, 0), (-1, -1), 0.5, colors.white),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
    ]))  # fmt: skip
    return grid


def _chart(title: str, unit: str, points: list[tuple[str, float]]) -> Drawing:
    height = 150
    drawing = Drawing(WIDTH, height)
    if not points:
        empty = String(
            WIDTH / 2, height / 2, "Nothing to chart in this period.", fontName=SANS,
            fontSize=9, fillColor=MUTED, textAnchor="middle",
        )  # fmt: skip
        drawing.add(empty)
        return drawing
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 36, 30, WIDTH - 44, height - 44
    chart.data = [[value for _, value in points]]
    every = max(1, -(-len(points) // 12))
    chart.categoryAxis.categoryNames = [
        printable(label) if i % every == 0 else "" for i, (label, _) in enumerate(points)
    ]
    ticks = nice_ticks(max(value for _, value in points))
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, ticks[-1]
    chart.valueAxis.valueStep = ticks[1] - ticks[0]
    chart.valueAxis.labels.fontName = chart.categoryAxis.labels.fontName = SANS
    chart.valueAxis.labels.fontSize = chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.fillColor = chart.valueAxis.labels.fillColor = MUTED
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = RULE
    chart.valueAxis.strokeColor = chart.categoryAxis.strokeColor = MUTED
    chart.bars[0].fillColor = ACCENT
    chart.bars[0].strokeColor = None
    chart.barWidth = 8
    chart.barLabelFormat = lambda v: f"{v:g}" if v else ""
    chart.barLabels.fontName, chart.barLabels.fontSize = SANS, 6.5
    chart.barLabels.nudge = 6
    drawing.add(chart)
    drawing.add(String(0, height - 8, printable(unit), fontName=SANS, fontSize=7,
                       fillColor=MUTED))  # fmt: skip
    return drawing


def _page_decorations(subtitle: str) -> type[Canvas]:
    class ReportCanvas(Canvas):
        """Writes "page N of M" once the number of pages is known."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            width, height = A4
            self.setStrokeColor(ACCENT)
            self.setLineWidth(2)
            self.line(MARGIN, height - 12 * mm, width - MARGIN, height - 12 * mm)
            self.setFont(BOLD, 8)
            self.setFillColor(INK)
            self.drawString(MARGIN, height - 10 * mm, "Failsafe evidence pack")
            self.setFont(SANS, 8)
            self.setFillColor(MUTED)
            self.drawRightString(
                width - MARGIN, height - 10 * mm,
                fit(printable(subtitle), WIDTH - 40 * mm, SANS, 8),
            )  # fmt: skip
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN, 12 * mm, width - MARGIN, 12 * mm)
            self.drawString(
                MARGIN, 8 * mm, "Integrity: manifest.json lists every file's sha256; "
                "manifest.sig is its Ed25519 signature."
            )  # fmt: skip
            self.drawRightString(width - MARGIN, 8 * mm, f"Page {self._pageNumber} of {total}")

    return ReportCanvas


def _blocks(blocks: list[Block], part: int) -> list[Flowable]:
    """Numbered blocks (an answer, a part of a document): a title, lines and tables."""
    story: list[Flowable] = []
    for number, block in enumerate(blocks, start=1):
        story.append(CondPageBreak(40 * mm))
        story += flowing(f"{part}.{number} {block.title}", H2)
        if block.summary:
            story += flowing(block.summary, ParagraphStyle("q", parent=SMALL, textColor=MUTED))
            story.append(Spacer(1, 3))
        for item in block.items:
            story += _table(item) if isinstance(item, ReportTableType) else flowing(item)
    return story


def pdf_document(report: ReportContent, *, subtitle: str) -> bytes:
    story: list[Flowable] = [
        *flowing(report.title, TITLE),
        Spacer(1, 2),
        para(f"Compliance evidence for the period {subtitle.split(' · ')[-1]}", SUBTITLE),
        Spacer(1, 8),
        *_pairs(report.facts),
        Spacer(1, 8),
        _figures(report.figures),
        para("1. The auditor's questions", H1),
    ]
    story += _blocks(report.questions, 1)
    if not report.questions:
        story.append(para("No questions were answered for this period."))
    story.append(para("2. Incidents and rollbacks in figures", H1))
    for chart in report.charts:
        story.append(KeepTogether([
            para(chart.title, H2), para(chart.note, SMALL),
            _chart(chart.title, chart.unit, chart.points),
        ]))  # fmt: skip
    story.append(para("3. What the pack holds", H1))
    story += _table(report.contents)
    story.append(para("4. Audit chain segment", H1))
    story.append(para(
        "The audit events of the period form one unbroken segment of the system's hash chain: "
        "each event names the hash of the one before it. The verifier recomputes every hash "
        "from the first to the last below.", SMALL))  # fmt: skip
    story.append(Spacer(1, 3))
    story += _pairs(report.chain, mono=True)
    if report.controls is not None:
        story.append(para("5. Control mapping", H1))
        story += _table(report.controls)
    for part, (title, blocks) in enumerate(report.documents, start=6):
        story.append(para(f"{part}. {title}", H1))
        story += _blocks(blocks, part)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=18 * mm,
        bottomMargin=18 * mm, title=printable(report.title), author="Failsafe",
        subject=printable(subtitle), creator="Failsafe evidence export",
    )  # fmt: skip
    document.build(story, canvasmaker=_page_decorations(subtitle))
    return buffer.getvalue()
