"""The report with hostile text, private files, interventions and notes, and the PDF layout.

Labels, operator names and notes are free text from a config or an operator: they must stay
literal text in report.md and report.html (no live link, no raw HTML, no script), and
Markdown that is ours (``**bold**``) must render. Files are private and never written
through a symlink. The PDF keeps every heading with what follows it.
"""

from __future__ import annotations

import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.report import ReportFiles, build_report
from monitor.report.document import Heading, Image, Para, Table, code, text, to_html
from monitor.report.pdf import BODY_H_PT, layout, write_pdf
from monitor.report.simulated import Input, record_scenario

EVIL_LABEL = "[x](javascript:document.title='PWNED') <script>document.title='PWNED'</script>"
EVIL_BY = "Dr <img src=x onerror=\"document.title='PWNED'\"> **bold** | pipe"
EVIL_NOTE = "needle moved `code` <b>raw</b> &amp; [y](javascript:alert(1)) \x1b[2J"
INPUTS: list[Input] = [
    (15.0, "mark", {"mark": "freeze", "by": EVIL_BY}),
    (150.0, "intervention", {"kind": "co2", "by": "dr-a"}),
    (200.0, "note", {"text": EVIL_NOTE, "by": "nurse-b"}),
    (230.0, "intervention", {"kind": "saline", "by": EVIL_BY}),
    (340.0, "mark", {"mark": "end", "by": "dr-a"}),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    folder = tmp_path_factory.mktemp("evil")
    session = folder / "evil.cgsession"
    record_scenario(session, "demo", inputs=INPUTS, extra_config=None)
    _relabel(session, EVIL_LABEL)
    return build_report(session, folder / "report", pdf=True)


def _relabel(session: Path, label: str) -> None:
    """Give channel N1 the hostile label in the recorded config and channel map (a config
    that check-config would accept: no control characters)."""
    import json
    import sqlite3

    with sqlite3.connect(session) as db:
        (config,) = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        data = json.loads(config)
        for channel in data["channels"]:
            if channel["id"] == "N1":
                channel["label"] = label
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(data),))
        db.execute("UPDATE channels SET label = ? WHERE id = 'N1'", (label,))


class Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def test_hostile_text_is_literal_in_the_html(report: ReportFiles) -> None:
    page = report.html.read_text(encoding="utf-8")
    tags = parse(page)
    names = {tag for tag, _ in tags.tags}
    assert "script" not in names and "b" not in names
    assert not [a for tag, a in tags.tags if tag == "img" and "onerror" in a]
    links = [a.get("href") or "" for tag, a in tags.tags if tag == "a"]
    assert not any("javascript:" in href for href in links)
    images = [a.get("src") or "" for tag, a in tags.tags if tag == "img"]
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    shown = "".join(tags.text)
    assert "[x](javascript:document.title='PWNED')" in shown  # readable, as typed
    assert "<script>document.title='PWNED'</script>" in shown
    assert "needle moved `code` <b>raw</b> &amp; [y](javascript:alert(1))" in shown
    assert "\x1b" not in page


def test_our_markdown_renders_and_the_operator_is_named_once(report: ReportFiles) -> None:
    page = report.html.read_text(encoding="utf-8")
    assert "station <strong>ct-suite-sim</strong>" in page
    assert "**" not in re.sub(r"\*\*bold\*\*", "", page)  # no literal ** of our own
    md = report.markdown.read_text(encoding="utf-8")
    assert "operator operator" not in md and "operator operator" not in page
    phase_rows = [line for line in md.splitlines() if line.startswith("| 0:15 ")]
    assert any("mark: freeze" in row for row in phase_rows)


def test_report_md_carries_no_raw_html_or_live_link(report: ReportFiles) -> None:
    md = report.markdown.read_text(encoding="utf-8")
    assert not re.search(r"(?<!\\)<(script|img|b)", md)  # every '<' of theirs escaped
    assert not re.search(r"(?<!\\)\]\(javascript:", md)
    # The same Markdown through a CommonMark renderer with raw HTML *on* (as a viewer may
    # render report.md) still produces no tag and no link of its own.
    from markdown_it import MarkdownIt

    rendered = parse(MarkdownIt("commonmark", {"html": True}).enable("table").render(md))
    assert {tag for tag, _ in rendered.tags} <= {"h1", "h2", "p", "code", "strong", "table",
                                                 "thead", "tbody", "tr", "th", "td", "em",
                                                 "img"}


@pytest.mark.parametrize("hostile", [
    "[a](javascript:alert(1))", "<script>x</script>", "**b** _c_ `d` ~~e~~", "a | b | c",
    "&lt;tag&gt;", "\\*not bold\\*", "![i](x.png)", "<https://evil.example>", "# h", "``x`",
])
def test_text_and_code_round_trip_through_the_renderer(hostile: str) -> None:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    for rendered_from in (text(hostile), code(hostile)):
        tags = parse(md.render(f"x {rendered_from} y"))
        assert [t for t, _ in tags.tags] in (["p"], ["p", "code"])
        assert "".join(tags.text).strip() == f"x {hostile} y"
    for rendered_from in (text(hostile), code(hostile, cell=True)):
        cell = parse(md.render(f"| h |\n|---|\n| {rendered_from} |\n"))
        assert [t for t, _ in cell.tags if t not in ("code",)] == [
            "table", "thead", "tr", "th", "tbody", "tr", "td"]
        assert "".join(cell.text).split() == ["h", *hostile.split()]


def test_interventions_and_notes_are_listed_with_their_figures(report: ReportFiles) -> None:
    md = report.markdown.read_text(encoding="utf-8")
    rows = [line for line in md.splitlines()
            if re.match(r"\| \d+:\d\d ", line) and "injection |" in line]
    assert len(rows) == 4  # two injections × two nerve channels
    co2 = next(r for r in rows if "CO₂ injection" in r and "| N1 |" in r)
    cells = [c.strip() for c in co2.strip("|").split(" | ")]
    assert cells[0].startswith("2:30") and cells[2] == "dr-a"
    at, later, lowest = (float(c.split()[0]) for c in cells[4:7])
    assert lowest <= min(at, later)
    assert "warm saline injection" in md
    assert "First cold-side warning: N1.falling_fast at 1:06" in md
    assert "the first injection followed 1:24 (m:ss) later" in md
    assert re.search(r"\| n1 \| 3:20 \(08:33:20 UTC\) \| nurse-b \| needle moved", md)


def test_interventions_are_drawn_on_the_plots(report: ReportFiles, tmp_path: Path) -> None:
    """The same session drawn without its marks differs where the injections are."""
    import numpy as np
    from PIL import Image as PILImage

    from monitor.report import plots
    from monitor.report.marks import Marks

    plain = plots.overview(report.data, tmp_path / "plain.png", marks=Marks())
    with PILImage.open(report.images[0]) as a, PILImage.open(plain) as b:
        marked, bare = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
    green = np.array([0x1A, 0x98, 0x50])  # the CO₂ line
    near = lambda px: (np.abs(px.astype(int) - green).sum(axis=2) < 40).sum()  # noqa: E731
    assert near(marked) > 200 and near(bare) == 0


def test_files_are_private_and_a_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    session = tmp_path / "s.cgsession"
    record_scenario(session, "breach", rate_hz=2.0)
    out = tmp_path / "new" / "report"
    victim = tmp_path / "victim.html"
    victim.write_text("keep me", encoding="utf-8")
    out.mkdir(parents=True)
    os.chmod(out, 0o700)
    (out / "report.html").symlink_to(victim)
    (out / "overview.png").symlink_to(tmp_path / "dangling.png")
    old = os.umask(0o022)
    try:
        files = build_report(session, out, pdf=True)
    finally:
        os.umask(old)
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "dangling.png").exists()
    written = [files.markdown, files.html, *files.images, files.pdf]
    for path in written:
        assert path is not None and not path.is_symlink()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    fresh = tmp_path / "fresh" / "deeper"
    build_report(session, fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind


def test_pdf_is_a_readable_pdf_with_every_section(report: ReportFiles) -> None:
    assert report.pdf is not None
    data = report.pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    assert stat.S_IMODE(report.pdf.stat().st_mode) == 0o600
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 2 or \
        len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 2


def _blocks_with_headings_everywhere(image: Path) -> list[Heading | Para | Table | Image]:
    """Headings followed by images and tables after varying amounts of text, so that without
    keep-with-next some heading would be the last line of a page."""
    blocks: list[Heading | Para | Table | Image] = [Heading(1, "Layout")]
    for i in range(24):
        blocks.append(Para("filler " * (40 + 37 * (i % 7))))
        blocks.append(Heading(2, f"Section {i}"))
        blocks.append(Image(image, "plot") if i % 2 else Table(
            ("a", "b"), tuple((str(r), "x " * (r % 9)) for r in range(3 + i % 5))))
    return blocks


def test_pdf_layout_never_leaves_a_heading_at_the_foot_of_a_page(report: ReportFiles) -> None:
    blocks = _blocks_with_headings_everywhere(report.images[1])
    pages = layout(blocks, {})
    assert len(pages) > 5
    for number, page in enumerate(pages, 1):
        last = page.items[-1]
        assert not last.label.startswith("heading"), (number, last.label)
        assert last.y + last.height <= BODY_H_PT + 0.01
        labels = [item.label for item in page.items]
        for k, label in enumerate(labels[:-1]):
            if label.startswith("heading: Section"):
                assert not labels[k + 1].startswith("heading")  # its content is right there


def test_the_real_report_keeps_plots_with_their_heading(report: ReportFiles) -> None:
    from monitor.report.build import Marks, document

    blocks = document(report.data, list(report.images), Marks.of(report.data))
    pages = layout(blocks, {})
    for page in pages:
        labels = [item.label for item in page.items]
        assert not labels[-1].startswith("heading"), labels
        if "heading: Plots" in labels:
            assert labels[labels.index("heading: Plots") + 1] == "image: overview.png"


def test_a_table_continues_with_its_header_on_the_next_page(tmp_path: Path) -> None:
    table = Table(("n", "value"), tuple((str(i), f"row {i}") for i in range(400)))
    pages = layout([Heading(1, "Long"), table], {})
    assert len(pages) >= 3
    assert all(page.items[0].label == "row" for page in pages[1:])
    path = write_pdf([Heading(1, "Long"), table], tmp_path / "long.pdf", "t", lambda dpi: {})
    assert path.read_bytes().startswith(b"%PDF-")


def test_cli_writes_the_pdf_on_request(report: ReportFiles, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(report.data.path), "--out", str(tmp_path / "r"), "--pdf"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "r" / "report.pdf") in out
    assert (tmp_path / "r" / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert main(["report", str(report.data.path), "--out", str(tmp_path / "q")]) == 0
    assert not (tmp_path / "q" / "report.pdf").exists()


def test_to_html_keeps_each_heading_in_a_block_with_what_follows(tmp_path: Path) -> None:
    png = tmp_path / "p.png"
    from PIL import Image as PILImage

    PILImage.new("RGB", (4, 4), "white").save(png)
    page = to_html([Heading(2, "Plots"), Image(png, "a plot"), Para("after")], "t")
    keep = re.search(r'<div class="keep">(.*?)</div>', page, re.S)
    assert keep is not None and "<h2>Plots</h2>" in keep.group(1) and "<img" in keep.group(1)
    assert "break-after: avoid" in page and "break-inside: avoid" in page


def test_interventions_render_from_the_shape_data_py_gives(report: ReportFiles) -> None:
    """``ReportData.interventions`` as monitor/report/data.py defines them (rows with
    ``nerves``, each naming its channel); a negative delay means before the first warning."""
    from monitor.report.build import _interventions
    from monitor.report.data import InterventionRow, NerveEffect, NoteRow
    from monitor.report.document import block_markdown
    from monitor.report.marks import Marks

    rows = (InterventionRow(90.0, "saline", "dr-a", (NerveEffect("N1", 20.0, 18.5, 18.1),
                                                     NerveEffect("N2", 36.0, None, 35.9))),)
    marks = Marks(rows, (NoteRow(95.0, "ok", "rn"),), -12.0, ("N1.below_warning", 102.0))
    md = "\n".join(block_markdown(b) for b in _interventions(report.data, marks))
    assert "| 1:30 (08:31:30 UTC) | warm saline injection | dr-a | N1 | 20.0 °C | 18.5 °C | " \
           "18.1 °C |" in md
    assert "| N2 | 36.0 °C | – | 35.9 °C |" in md
    assert "the first injection came 12 s before it" in md
    assert "| n1 | 1:35 (08:31:35 UTC) | rn | ok |" in md
