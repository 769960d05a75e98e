"""The procedure report: tables and plots of a recorded session, recomputed by replay."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monitor.cli import main
from monitor.report import ReportFiles, build_report
from monitor.report.plots import envelope
from monitor.report.simulated import Input, record_scenario

INPUTS: list[Input] = [
    (15.0, "mark", {"mark": "freeze", "by": "dr-a"}),
    (175.0, "ack", {"alarm": None, "by": "nurse-b"}),
    (340.0, "mark", {"mark": "end", "by": "dr-a"}),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportFiles, list[object]]:
    folder = tmp_path_factory.mktemp("demo")
    live = record_scenario(folder / "demo.cgsession", "demo", inputs=INPUTS)
    files = build_report(folder / "demo.cgsession", folder / "report")
    return files, [live.cycles_summary(), live.channels_summary()]


def table(md: str, first_header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header starts with ``first_header``."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


def test_report_agrees_with_what_the_engine_found_live(demo: tuple[ReportFiles, list[object]]
                                                       ) -> None:
    files, (live_cycles, live_channels) = demo
    assert files.data.cycles == live_cycles
    assert files.data.channel_stats == live_channels
    assert "The replay raised the same alarms as the recording." in files.markdown.read_text()


def test_report_has_the_session_header_and_the_thresholds_with_their_sources(
        demo: tuple[ReportFiles, list[object]]) -> None:
    files, _ = demo
    md = files.markdown.read_text(encoding="utf-8")
    assert "station **ct-suite-sim**" in md and "2025-03-14 08:30:00 UTC" in md
    assert "duration 6:00" in md and "closed cleanly" in md
    assert table(md, "device") == [["sim", "line", "`/dev/ttyUSB0`", "0"]]
    channels = table(md, "channel | label")
    assert [(r[0], r[2]) for r in channels] == [("P1", "probe"), ("N1", "nerve"),
                                                ("N2", "nerve")]
    thresholds = table(md, "applies to")
    assert ["role nerve", "below_critical", "≤ 10 °C, clears ≥ 11 °C", "high", "yes",
            "default"] in thresholds
    assert "clinical-defaults.md" in md


def test_cycles_table_and_per_channel_statistics(demo: tuple[ReportFiles, list[object]]
                                                 ) -> None:
    files, _ = demo
    md = files.markdown.read_text(encoding="utf-8")
    (cycle,) = table(md, "cycle | start")
    assert cycle[0] == "1" and cycle[1].startswith("0:15") and cycle[2].startswith("5:40")
    assert cycle[4].startswith("freeze 4:07 / 10:00 (operator) → passive thaw")
    assert cycle[5].startswith("N1 0.9 °C")
    per_cycle = {r[1]: r for r in table(md, "cycle | channel")}
    assert per_cycle["N1"][3] == "0.9 °C"
    assert per_cycle["N1"][5].startswith("≤15: 2:5") and "≤0: 0:00" in per_cycle["N1"][5]
    assert "N1.below_critical" in per_cycle["N1"][7] and per_cycle["N2"][7] == "–"
    session = {r[0]: r for r in table(md, "channel | role")}
    assert session["P1"][2].startswith("-140")


def test_alarm_log_has_raise_clear_and_acknowledge_with_who(
        demo: tuple[ReportFiles, list[object]]) -> None:
    files, _ = demo
    md = files.markdown.read_text(encoding="utf-8")
    log = {r[1]: r for r in table(md, "raised")}
    assert set(log) == {"N1.falling_fast", "N1.predicted_below_critical", "N1.below_warning",
                        "N1.below_critical"}
    warning = log["N1.below_warning"]
    assert warning[0].startswith("2:41 (08:32:41 UTC)") and warning[2] == "medium"
    assert warning[7] == "2:55" and warning[8] == "nurse-b"
    # Raised after the acknowledge: still unacknowledged and latched at the end.
    assert log["N1.below_critical"][6] == "active at the end"
    assert log["N1.below_critical"][8] == "–"
    assert log["N1.falling_fast"][6] != "active at the end"


def test_plots_are_real_images_of_the_right_size_and_not_blank(
        demo: tuple[ReportFiles, list[object]]) -> None:
    files, _ = demo
    names = [p.name for p in files.images]
    assert names == ["overview.png", "cycle-1.png"]
    sizes = {"overview.png": (1100, 650), "cycle-1.png": (1100, 450)}
    for path in files.images:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as img:
            assert img.size == sizes[path.name]
            pixels = np.asarray(img.convert("RGB"))
        colours = np.unique(pixels.reshape(-1, 3), axis=0).shape[0]
        assert colours > 100, f"{path.name} has only {colours} colours"
        assert (pixels < 250).any(axis=2).mean() > 0.05  # more than the white background
        # The freeze shading (#9ecae1 at 45 % over white) covers a good part of the plot.
        shade = 255 - 0.45 * (255 - np.array([0x9E, 0xCA, 0xE1]))
        blue = (np.abs(pixels.astype(float) - shade).sum(axis=2) < 12).mean()
        assert blue > 0.15, f"{path.name}: no freeze phase shading ({blue:.2f})"


def test_html_is_self_contained_and_has_the_same_tables(demo: tuple[ReportFiles, list[object]]
                                                        ) -> None:
    files, _ = demo
    page = files.html.read_text(encoding="utf-8")
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == 2 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="https?://', page)
    assert "<th>acknowledged</th>" in page and "nurse-b" in page
    md = files.markdown.read_text(encoding="utf-8")
    assert page.count("<table>") == sum(line.startswith("|---") for line in md.splitlines())
    assert (files.markdown.parent / "overview.png").exists()


def test_report_of_a_killed_session(tmp_path: Path) -> None:
    session = tmp_path / "killed.cgsession"
    record_scenario(session, "demo", inputs=INPUTS[:2], closed=False)
    assert Path(str(session) + "-wal").exists()
    files = build_report(session, tmp_path / "out")
    md = files.markdown.read_text(encoding="utf-8")
    assert "did not close cleanly" in md
    assert "duration 6:00" in md  # the last recorded time
    (cycle,) = table(md, "cycle | start")
    assert cycle[2] == "(running at the end)"
    assert len(files.images) == 2


def test_cli_report_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "s.cgsession"
    record_scenario(session, "demo")
    assert main(["report", str(session), "--out", str(tmp_path / "r")]) == 0
    assert "1 cycle(s)" in capsys.readouterr().out
    assert (tmp_path / "r" / "report.html").exists()
    csv = tmp_path / "x.csv"
    csv.write_text("t,channel,temp_c\n0,N1,37\n", encoding="utf-8")
    assert main(["report", str(csv), "--out", str(tmp_path / "r2")]) == 2
    assert "needs a session file" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.cgsession"), "--out",
                 str(tmp_path / "r3")]) == 1
    assert "No such file" in capsys.readouterr().err


def test_envelope_keeps_every_extreme() -> None:
    t = np.arange(100_000, dtype=np.float64) * 0.1
    v = np.sin(t / 50.0).astype(np.float64) * 20.0
    v[54_321] = -80.0  # a one-sample dip must survive the decimation
    v[70_000:70_010] = np.nan
    tt, vv = envelope(t, v, 500)
    assert tt.shape[0] == 1000
    assert np.nanmin(vv) == -80.0 and np.nanmax(vv) == v[~np.isnan(v)].max()
