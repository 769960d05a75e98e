"""Make the README's report example: a simulated double-freeze session, reported.

Records the ``approach`` scenario (two freezes; the foraminal needle crosses the 15 °C warning
in the second) with operator marks and an acknowledge, writes its report into OUT (default
``report-example/``) and copies the overview plot to ``docs/report-example.png``.

    .venv/bin/python scripts/make_report_example.py [--out DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from monitor.report import build_report
from monitor.report.simulated import Input, record_scenario

ROOT = Path(__file__).resolve().parents[1]
INPUTS: list[Input] = [
    (58.0, "mark", {"mark": "freeze", "by": "dr-a"}),
    (1150.0, "mark", {"mark": "freeze", "by": "dr-a"}),
    (1760.0, "ack", {"alarm": None, "by": "nurse-b"}),
    (1990.0, "mark", {"mark": "end", "by": "dr-a"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("report-example"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        session = Path(tmp) / "approach.cgsession"
        record_scenario(session, "approach", inputs=INPUTS)
        files = build_report(session, args.out)
    target = ROOT / "docs" / "report-example.png"
    shutil.copyfile(files.images[0], target)
    print(f"report in {files.html.parent} ({len(files.data.cycles)} cycles, "
          f"{len(files.data.alarm_log)} alarms); plot copied to {target}")


if __name__ == "__main__":
    main()
