"""``report.pdf``: the report's blocks laid out on A4 pages with matplotlib's PDF backend.

Chosen over WeasyPrint (which prints the HTML with CSS and does it well) because matplotlib is
already the ``[report]`` extra: WeasyPrint adds about a dozen Python packages (~80 MB) and needs
the Pango system library, which a hospital laptop may not have or be allowed to add. The
report is plots and tables, which matplotlib draws well; the pages are laid out here, so a
heading is never the last thing on a page (it moves to the next one with the start of its
content) and a table continues on the next page under its repeated header row.
Details and the comparison: docs/security.md ("Reports").
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.image import imread
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from monitor.files import replace_privately
from monitor.report.document import Block, Heading, Image, Para, Table
from monitor.text import printable

PAGE_W_IN, PAGE_H_IN = 8.27, 11.69  # A4 portrait
MARGIN_IN = 0.6
FOOTER_IN = 0.35
BODY_PT, TABLE_PT = 8.5, 6.8
HEADING_PT = {1: 15.0, 2: 12.0, 3: 10.0}
LEADING = 1.3
CELL_PAD_PT = 2.5
PLOT_DPI = 200
KEEP_ROWS = 2  # a table starts on a page only if its header and this many rows fit


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    bold: bool = False


Lines = list[list[tuple["Run", bool]]]


@dataclass(slots=True)
class Placed:
    """One thing drawn on a page, ``y`` its top in points from the top of the body."""

    y: float
    height: float
    draw: Callable[[Figure, float], None]  # (figure, top in figure points)
    label: str  # "heading: Plots", "paragraph", "row", "image: overview.png" (tests read it)


@dataclass(slots=True)
class Page:
    items: list[Placed] = field(default_factory=list)


# Measuring and wrapping text ----------------------------------------------------------------

_SCALE = 10  # measured at 720 dpi, so hinting at small sizes does not inflate widths


@cache
def _renderer() -> RendererAgg:
    return RendererAgg(10, 10, 72 * _SCALE)  # type: ignore[no-untyped-call]


@cache
def _font(size: float, bold: bool) -> FontProperties:
    return FontProperties(family="DejaVu Sans", size=size,
                          weight="bold" if bold else "normal")


@cache
def _width(text: str, size: float, bold: bool) -> float:
    if not text:
        return 0.0
    width, _, _ = _renderer().get_text_width_height_descent(  # type: ignore[no-untyped-call]
        text, _font(size, bold), ismath=False)
    return float(width) / _SCALE


def _split_long(word: str, size: float, bold: bool, limit: float) -> list[str]:
    parts, current = [], ""
    for char in word:
        if current and _width(current + char, size, bold) > limit:
            parts.append(current)
            current = char
        else:
            current += char
    return [*parts, current] if current else parts


def _words(runs: Sequence[Run]) -> list[tuple[Run, bool]]:
    """(word, whether a space comes before it): ``**demo**,`` stays ``demo,``."""
    out: list[tuple[Run, bool]] = []
    space = True
    for run in runs:
        for piece in re.split(r"(\s+)", run.text):
            if not piece:
                continue
            if piece.isspace():
                space = True
                continue
            out.append((Run(piece, run.bold), space and bool(out)))
            space = False
    return out


def wrap(runs: Sequence[Run], size: float, limit: float) -> list[list[tuple[Run, bool]]]:
    """Lines of words no wider than ``limit`` points (a word longer than a line is split)."""
    words: list[tuple[Run, bool]] = []
    for word, spaced in _words(runs):
        if _width(word.text, size, word.bold) > limit:
            pieces = _split_long(word.text, size, word.bold, limit)
            words += [(Run(p, word.bold), spaced and i == 0) for i, p in enumerate(pieces)]
        else:
            words.append((word, spaced))
    lines: list[list[tuple[Run, bool]]] = []
    line: list[tuple[Run, bool]] = []
    used = 0.0
    space = _width(" ", size, False)
    for word, spaced in words:
        width = _width(word.text, size, word.bold)
        gap = space if spaced and line else 0.0
        if line and spaced and used + gap + width > limit:
            lines.append(line)
            line, used, gap = [], 0.0, 0.0
        used += gap + width
        line.append((word, spaced and bool(line)))
    if line:
        lines.append(line)
    return lines or [[]]


def _draw_line(fig: Figure, line: list[tuple[Run, bool]], x_pt: float, y_pt: float,
               size: float) -> None:
    """Words of one line, consecutive ones of the same weight as one text artist."""
    groups: list[tuple[str, bool, bool]] = []  # (text, bold, space before)
    for word, spaced in line:
        if groups and groups[-1][1] == word.bold:
            text, bold, before = groups[-1]
            groups[-1] = (text + (" " if spaced else "") + word.text, bold, before)
        else:
            groups.append((word.text, word.bold, spaced))
    x = x_pt
    for text, bold, before in groups:
        if before:
            x += _width(" ", size, False)
        fig.text(x / 72 / PAGE_W_IN, 1 - y_pt / 72 / PAGE_H_IN, text, fontproperties=_font(
            size, bold), va="top", ha="left", parse_math=False)
        x += _width(text, size, bold)


# Markdown source to runs ------------------------------------------------------------------

@cache
def _inline_parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def runs(markdown: str) -> list[Run]:
    """The text of one block's inline Markdown, with bold kept and everything else plain."""
    out: list[Run] = []
    bold = 0
    for token in _inline_parser().parseInline(markdown)[0].children or ():
        if token.type == "strong_open":
            bold += 1
        elif token.type == "strong_close":
            bold -= 1
        elif token.type in ("text", "code_inline"):
            out.append(Run(printable(token.content), bold > 0))
        elif token.type in ("softbreak", "hardbreak"):
            out.append(Run(" ", bold > 0))
    return out


def plain(markdown: str) -> str:
    return "".join(r.text for r in runs(markdown))


# Flowables ----------------------------------------------------------------------------------

BODY_W_PT = (PAGE_W_IN - 2 * MARGIN_IN) * 72
BODY_H_PT = (PAGE_H_IN - 2 * MARGIN_IN - FOOTER_IN) * 72
LEFT_PT = MARGIN_IN * 72
TOP_PT = MARGIN_IN * 72


@dataclass(slots=True)
class Flow:
    height: float
    draw: Callable[[Figure, float], None]
    keep_with_next: bool = False
    space_after: float = 0.0
    label: str = "paragraph"


def _text_flow(markdown: str, size: float, *, bold: bool = False, space_after: float,
               keep: bool = False, label: str = "paragraph") -> Flow:
    parts = [Run(r.text, r.bold or bold) for r in runs(markdown)]
    lines = wrap(parts, size, BODY_W_PT)
    line_h = size * LEADING

    def draw(fig: Figure, top: float) -> None:
        for i, line in enumerate(lines):
            _draw_line(fig, line, LEFT_PT, top + i * line_h, size)

    return Flow(len(lines) * line_h, draw, keep, space_after, label)


def _columns(table: Table) -> list[float]:
    """Column widths in points: by the longest word and the average length, within the page."""
    cells = [[plain(c) for c in table.headers], *[[plain(c) for c in r] for r in table.rows]]
    longest_word = [max((_width(w, TABLE_PT, row_i == 0) for row_i, row in enumerate(cells)
                         for w in row[col].split()), default=10.0)
                    for col in range(len(table.headers))]
    natural = [max(_width(row[col], TABLE_PT, row_i == 0) for row_i, row in enumerate(cells))
               for col in range(len(table.headers))]
    pad = 2 * CELL_PAD_PT
    minimum = [min(w, 90.0) + pad for w in longest_word]
    want = [n + pad for n in natural]
    if sum(want) <= BODY_W_PT:
        return want
    spare = BODY_W_PT - sum(minimum)
    extra = [max(0.0, w - m) for w, m in zip(want, minimum, strict=True)]
    total = sum(extra) or 1.0
    return [m + max(0.0, spare) * e / total for m, e in zip(minimum, extra, strict=True)]


def _table_flows(table: Table, number: int) -> list[Flow]:
    if not table.rows:
        return [_text_flow(f"*{table.empty}*", BODY_PT, space_after=8)]
    widths = _columns(table)
    line_h = TABLE_PT * LEADING

    def layout(cells: Sequence[str], bold: bool) -> tuple[list[Lines], float]:
        wrapped = [wrap([Run(plain(c), bold)], TABLE_PT, w - 2 * CELL_PAD_PT)
                   for c, w in zip(cells, widths, strict=True)]
        return wrapped, max(len(w) for w in wrapped) * line_h + 2 * CELL_PAD_PT

    header, header_h = layout(table.headers, True)

    def row_drawer(wrapped: list[Lines], height: float, shade: bool
                   ) -> Callable[[Figure, float], None]:
        def draw(fig: Figure, top: float) -> None:
            x = LEFT_PT
            for lines, width in zip(wrapped, widths, strict=True):
                fig.add_artist(Rectangle(
                    (x / 72 / PAGE_W_IN, 1 - (top + height) / 72 / PAGE_H_IN),
                    width / 72 / PAGE_W_IN, height / 72 / PAGE_H_IN,
                    transform=fig.transFigure, facecolor="#eeeeee" if shade else "none",
                    edgecolor="#999999", linewidth=0.4))
                for i, line in enumerate(lines):
                    _draw_line(fig, line, x + CELL_PAD_PT, top + CELL_PAD_PT + i * line_h,
                               TABLE_PT)
                x += width
        return draw

    flows: list[Flow] = []
    for row in table.rows:
        wrapped, height = layout(row, False)
        head_draw = row_drawer(header, header_h, True)
        body_draw = row_drawer(wrapped, height, False)
        flows.append(_TableRow(height, body_draw, label="row", header_h=header_h,
                               header_draw=head_draw, table=number))
    flows[-1].space_after = 10
    for flow in flows[:KEEP_ROWS]:
        flow.keep_with_next = flow is not flows[min(KEEP_ROWS, len(flows)) - 1]
    return flows


@dataclass(slots=True)
class _TableRow(Flow):
    """A row; the first row on a page draws the header row above itself."""

    header_h: float = 0.0
    header_draw: Callable[[Figure, float], None] | None = None
    table: int = 0


def _image_flow(block: Image, pngs: dict[str, bytes]) -> Flow:
    data = pngs.get(block.path.name) or block.path.read_bytes()
    pixels = imread(io.BytesIO(data), format="png")
    h_px, w_px = pixels.shape[0], pixels.shape[1]
    width = BODY_W_PT
    height = width * h_px / w_px

    def draw(fig: Figure, top: float) -> None:
        ax = fig.add_axes((LEFT_PT / 72 / PAGE_W_IN, 1 - (top + height) / 72 / PAGE_H_IN,
                           width / 72 / PAGE_W_IN, height / 72 / PAGE_H_IN))
        ax.imshow(pixels, interpolation="antialiased")
        ax.set_axis_off()

    return Flow(height, draw, False, 12, f"image: {block.path.name}")


def flows(blocks: Sequence[Block], pngs: dict[str, bytes]) -> Iterator[Flow]:
    for number, block in enumerate(blocks):
        if isinstance(block, Heading):
            size = HEADING_PT.get(block.level, BODY_PT)
            yield _text_flow(block.text, size, bold=True, space_after=size * 0.5, keep=True,
                             label=f"heading: {plain(block.text)}")
        elif isinstance(block, Para):
            yield _text_flow(block.text, BODY_PT, space_after=BODY_PT * 0.8)
        elif isinstance(block, Table):
            yield from _table_flows(block, number)
        else:
            yield _image_flow(block, pngs)


# Pagination ---------------------------------------------------------------------------------

def paginate(items: Sequence[Flow]) -> list[Page]:
    """Place flowables top to bottom. A run of keep-with-next flowables (a heading, a table's
    first rows) moves to a new page with the flowable after it unless all of them fit; a
    table row that starts a page, or starts its table, draws the header row above it."""
    pages = [Page()]
    y = 0.0
    last_table: int | None = None

    def needs_header(flow: Flow, at_top: bool, previous: int | None) -> bool:
        return isinstance(flow, _TableRow) and (at_top or previous != flow.table)

    i = 0
    while i < len(items):
        j = i
        while j < len(items) - 1 and items[j].keep_with_next:
            j += 1
        group = items[i:j + 1]
        need, previous, at_top = 0.0, last_table, y == 0.0
        for flow in group:
            need += _height(flow, needs_header(flow, at_top, previous)) + flow.space_after
            previous = flow.table if isinstance(flow, _TableRow) else None
            at_top = False
        if y > 0 and y + need - group[-1].space_after > BODY_H_PT:
            pages.append(Page())
            y, last_table = 0.0, None
        for flow in group:
            header = needs_header(flow, y == 0.0, last_table)
            height = _height(flow, header)
            if y > 0 and y + height > BODY_H_PT:
                pages.append(Page())
                y = 0.0
                header = isinstance(flow, _TableRow)
                height = _height(flow, header)
            pages[-1].items.append(Placed(y, height, _with_header(flow, header), flow.label))
            y += height + flow.space_after
            last_table = flow.table if isinstance(flow, _TableRow) else None
        i = j + 1
    return pages


def _height(flow: Flow, header: bool) -> float:
    if isinstance(flow, _TableRow) and header:
        return flow.height + flow.header_h
    return flow.height


def _with_header(flow: Flow, header: bool) -> Callable[[Figure, float], None]:
    if not (header and isinstance(flow, _TableRow) and flow.header_draw is not None):
        return flow.draw
    head, body, offset = flow.header_draw, flow.draw, flow.header_h

    def draw(fig: Figure, top: float) -> None:
        head(fig, top)
        body(fig, top + offset)

    return draw


def layout(blocks: Sequence[Block], pngs: dict[str, bytes]) -> list[Page]:
    return paginate(list(flows(blocks, pngs)))


def write_pdf(blocks: Sequence[Block], path: Path, title: str,
              plots_at: Callable[[int], dict[str, bytes]]) -> Path:
    """Lay out ``blocks`` on A4 pages and write them to ``path`` (0600, atomically)."""
    pages = layout(blocks, plots_at(PLOT_DPI))
    shown = printable(title)
    with replace_privately(path) as tmp, PdfPages(tmp, metadata={
            "Title": shown, "Creator": "CryoGuard"}) as pdf:
        for number, page in enumerate(pages, 1):
            fig = Figure(figsize=(PAGE_W_IN, PAGE_H_IN))
            for item in page.items:
                item.draw(fig, TOP_PT + item.y)
            footer_y = 1 - (PAGE_H_IN - MARGIN_IN + 0.1) / PAGE_H_IN
            fig.add_artist(Line2D([MARGIN_IN / PAGE_W_IN, 1 - MARGIN_IN / PAGE_W_IN],
                                  [footer_y + 0.012] * 2, color="#bbbbbb", lw=0.5))
            fig.text(MARGIN_IN / PAGE_W_IN, footer_y, shown, fontproperties=_font(7, False),
                     parse_math=False, color="#555555")
            fig.text(1 - MARGIN_IN / PAGE_W_IN, footer_y, f"page {number} of {len(pages)}",
                     fontproperties=_font(7, False), ha="right", color="#555555")
            pdf.savefig(fig)
    return path
