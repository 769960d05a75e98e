"""``cryoguard summary SESSION... [--out FILE.csv|.parquet]``: the cohort table of a series.

One row per session and nerve channel, from the same engine replay as the report
(:mod:`monitor.exports.cohort`). A file that cannot be read gets one line and the others are
still summarised; the exit status then says not everything was (1), or 2 when nothing was.
This module imports only the standard library.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "summary", help="one table across sessions: per session and nerve channel",
        description="Replay each session through the engine (like the report) and write one "
                    "row per session and nerve channel: station, date, duration, cycles, "
                    "minimum, time at or below each level, alarms by condition, interventions "
                    "and their effect, time from the first warning to the first intervention.")
    parser.add_argument("sessions", nargs="+", metavar="SESSION", help="session files")
    parser.add_argument("--out", metavar="FILE.csv|.parquet", type=Path,
                        help="write every column to a CSV or Parquet file (private, 0600)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from monitor.errors import CryoGuardError, UsageError
    from monitor.exports.cohort import session_rows, text_table, write_table
    from monitor.report.data import load_report_data
    from monitor.text import printable

    if args.out is not None and args.out.suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(f"--out {args.out}: give a file name ending in .csv or .parquet")
    rows = []
    failed = 0
    for path in args.sessions:
        try:
            rows += session_rows(load_report_data(path))
        except CryoGuardError as exc:
            failed += 1
            print(f"cryoguard summary: {printable(exc)}", file=sys.stderr)
    done = len(args.sessions) - failed
    if not done:
        print(f"cryoguard summary: none of the {failed} file(s) could be summarised",
              file=sys.stderr)
        return 2
    if args.out is not None:
        write_table(rows, args.out)
    for line in text_table(rows):
        print(printable(line))
    where = f"; every column in {args.out}" if args.out is not None else \
        " (every column with --out FILE.csv|.parquet)"
    print(f"{len(rows)} row(s) from {done} of {len(args.sessions)} session(s){where}",
          file=sys.stderr)
    return 1 if failed else 0
