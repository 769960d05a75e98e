"""Screenshot of report.html in headless Chromium, for docs/report-html.png.

Records the ``approach`` scenario (two freezes) with operator marks, a CO2 injection, a note and
an acknowledge, writes its report, and lets Debian's ``chromium`` render the page: what a
reader sees, drawn by a real browser with JavaScript on.

    .venv/bin/python scripts/report_screenshot.py [--out docs/report-html.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from monitor.report import build_report
from monitor.report.simulated import Input, record_scenario

ROOT = Path(__file__).resolve().parents[1]
INPUTS: list[Input] = [
    (58.0, "mark", {"mark": "freeze", "by": "dr-a"}),
    (1150.0, "mark", {"mark": "freeze", "by": "dr-a"}),
    (1500.0, "intervention", {"kind": "co2", "by": "dr-a"}),
    (1530.0, "note", {"text": "CO2 20 ml at L4 right foramen", "by": "nurse-b"}),
    (1760.0, "ack", {"alarm": None, "by": "nurse-b"}),
    (1990.0, "mark", {"mark": "end", "by": "dr-a"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report-html.png")
    parser.add_argument("--height", type=int, default=2200)
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        session = Path(tmp) / "approach.cgsession"
        record_scenario(session, "approach", inputs=INPUTS)
        files = build_report(session, Path(tmp) / "report")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        f"--user-data-dir={tmp}/profile", "--hide-scrollbars",
                        f"--window-size=1200,{args.height}", f"--screenshot={args.out}",
                        files.html.as_uri()], check=True, capture_output=True, timeout=120)
    print(f"{args.out}: report.html as Chromium renders it (1200 × {args.height})")


if __name__ == "__main__":
    main()
