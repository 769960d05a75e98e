"""report.html in a real browser: hostile labels stay text, nothing runs, it prints with every
heading on the page of its content (headless Chromium; the PDF read back by poppler)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from monitor.report import ReportFiles, build_report
from monitor.report.document import Heading, Image, Para, Table, to_html
from monitor.report.simulated import Input, record_scenario
from tests.chromium import (
    dump_dom,
    pdf_images_per_page,
    pdf_pages_text,
    print_pdf,
    require_chromium,
    screenshot,
)
from tests.test_report_safety import _relabel, parse

PWNED = "PWNED"
LABEL = f"[x](javascript:document.title='{PWNED}') <script>document.title='{PWNED}'</script>"
BY = f"<img src=x onerror=\"document.title='{PWNED}'\"> **bold**"
INPUTS: list[Input] = [
    (15.0, "mark", {"mark": "freeze", "by": BY}),
    (150.0, "intervention", {"kind": "co2", "by": "dr-a"}),
    (200.0, "note", {"text": f"<script>document.title='{PWNED}'</script>", "by": BY}),
    (340.0, "mark", {"mark": "end", "by": "dr-a"}),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    require_chromium()
    folder = tmp_path_factory.mktemp("chromium")
    session = folder / "s.cgsession"
    record_scenario(session, "demo", inputs=INPUTS, extra_config=None)
    _relabel(session, LABEL)
    return build_report(session, folder / "report")


def test_nothing_in_the_page_runs_and_hostile_text_is_shown_as_typed(
        report: ReportFiles) -> None:
    dom = dump_dom(report.html)
    # Every payload would retitle the page if it ran: the title is still ours.
    assert "<title>CryoGuard report: ct-suite-sim</title>" in dom
    tags = parse(dom)
    assert not [t for t, _ in tags.tags if t == "script"]
    assert not [a for t, a in tags.tags if "onerror" in a]
    assert not [a for t, a in tags.tags if "javascript:" in (a.get("href") or "")]
    shown = "".join(tags.text)
    assert LABEL in shown and "<script>document.title='PWNED'</script>" in shown
    assert "station <strong>ct-suite-sim</strong>" in dom


def test_the_page_renders_with_tables_and_plots(report: ReportFiles, tmp_path: Path) -> None:
    shot = screenshot(report.html, tmp_path / "page.png", 1200, 2400)
    with PILImage.open(shot) as img:
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.shape[:2] == (2400, 1200)
    ink = (pixels < 200).any(axis=2).mean()
    assert ink > 0.02  # text and table borders, not a blank or an error page
    colours = np.unique(pixels.reshape(-1, 3) // 16, axis=0).shape[0]
    assert colours > 20  # the embedded plots are drawn (a text-only page has a few greys)


def _headings_everywhere(image: Path) -> list[Heading | Para | Table | Image]:
    """Headings after text of varying length, each followed by a plot (even) or a paragraph
    (odd), so that without the print rules some heading lands at the foot of a page."""
    blocks: list[Heading | Para | Table | Image] = [Heading(1, "Layout")]
    for i in range(16):
        blocks.append(Para("filler " * (60 + 53 * (i % 7))))
        blocks.append(Heading(2, f"Section{i:02d}"))
        blocks.append(Image(image, "plot") if i % 2 == 0 else Para(f"Body{i:02d} " * 30))
    return blocks


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_printed_headings_stay_on_the_page_of_their_content(report: ReportFiles,
                                                             tmp_path: Path) -> None:
    """A heading followed by text is never the last line of a page; one followed by a plot
    has the plot on its page (cumulative plots never lag behind cumulative headings).
    Removing the print rules from the page's CSS makes this test fail."""
    page = tmp_path / "layout.html"
    page.write_text(to_html(_headings_everywhere(report.images[1]), "layout"),
                    encoding="utf-8")
    pdf = print_pdf(page, tmp_path / "layout.pdf")
    pages = pdf_pages_text(pdf)
    images = pdf_images_per_page(pdf, len(pages))
    assert len(pages) > 4 and sum(images) == 8
    seen: list[str] = []
    plot_headings = plots = 0
    for number, text in enumerate(pages, 1):
        lines = _lines(text)
        assert lines, f"page {number} is empty"
        headings = [line for line in lines if re.fullmatch(r"Section\d\d", line)]
        seen += headings
        plot_headings += sum(1 for h in headings if int(h[-2:]) % 2 == 0)
        plots += images[number - 1]
        assert plots >= plot_headings, f"page {number}: a plot heading without its plot"
        last = lines[-1]
        assert not (re.fullmatch(r"Section\d\d", last) and int(last[-2:]) % 2 == 1), \
            f"page {number} ends with the heading {last}"
    assert seen == [f"Section{i:02d}" for i in range(16)]


def test_the_real_report_prints_plots_under_their_heading(report: ReportFiles,
                                                          tmp_path: Path) -> None:
    pdf = print_pdf(report.html, tmp_path / "report.pdf")
    pages = pdf_pages_text(pdf)
    images = pdf_images_per_page(pdf, len(pages))
    plots_page = next(i for i, text in enumerate(pages) if "Plots" in _lines(text))
    assert images[plots_page] >= 1, "the Plots heading is printed without a plot"
    assert sum(images[:plots_page]) == 0
    for number, text in enumerate(pages, 1):
        assert _lines(text)[-1] not in ("Alarm log", "Phase log", "Interventions and notes",
                                        "Thresholds in force"), number
    joined = "\n".join(pages)
    assert "Procedure report: ct-suite-sim" in joined and "Thresholds in force" in joined


def test_the_pdf_reads_back_with_every_section(report: ReportFiles, tmp_path: Path) -> None:
    """report.pdf (matplotlib) read by poppler: the sections are there as text, in order, and
    no page ends with a heading."""
    files = build_report(report.data.path, tmp_path / "with-pdf", pdf=True)
    assert files.pdf is not None
    pages = pdf_pages_text(files.pdf)
    images = pdf_images_per_page(files.pdf, len(pages))
    text = "\n".join(pages)
    order = ["Procedure report: ct-suite-sim", "Freeze–thaw cycles", "Interventions and notes",
             "Alarm log", "Phase log", "Plots", "Thresholds in force"]
    positions = [text.find(heading) for heading in order]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert "CO₂ injection" in text or "CO2 injection" in text
    assert LABEL.split(" ")[0] in text.replace("\n", " ")  # the label, as typed
    headings = set(order) | {"Devices", "Channels", "Each channel in each cycle",
                             "Whole session, per channel"}
    for number, page in enumerate(pages, 1):
        assert _lines(page)[-2] not in headings, number  # [-1] is the page footer
    plots_page = next(i for i, page in enumerate(pages) if "Plots" in _lines(page))
    assert images[plots_page] >= 1
