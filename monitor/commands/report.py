"""``cryoguard report SESSION --out DIR``: the procedure report of a recorded session.

Writes ``report.md``, a self-contained ``report.html`` (images embedded) and the PNG figures
into DIR. The session is replayed through the engine, so the cycles, statistics and alarm log
are the ones live monitoring produced. Works on a session whose process was killed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from monitor.extras import requiring


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "report", help="write the procedure report of a recorded session",
        description="Replay a session file through the engine and write report.md, a "
                    "self-contained report.html and PNG plots (overview and one per "
                    "freeze-thaw cycle) into DIR.")
    parser.add_argument("session", metavar="SESSION", help="the session file (.cgsession)")
    parser.add_argument("--out", required=True, metavar="DIR", type=Path,
                        help="folder for the report (created if needed; files are replaced)")
    parser.add_argument("--pdf", action="store_true",
                        help="also write report.pdf (A4 pages: the tables and the plots)")
    parser.set_defaults(func=requiring(run, "matplotlib", extra="report"))


def run(args: argparse.Namespace) -> int:
    from monitor.report import build_report
    from monitor.text import printable

    started = time.perf_counter()
    files = build_report(args.session, args.out, pdf=getattr(args, "pdf", False))
    data = files.data
    seconds = time.perf_counter() - started
    print(f"report of {printable(data.path.name)}: {len(data.cycles)} cycle(s), "
          f"{len(data.alarm_log)} alarm(s), {len(files.images)} plot(s) in {seconds:.1f} s")
    for path in (files.markdown, files.html, files.pdf):
        if path is not None:
            print(f"  {printable(path)}")
    return 0
