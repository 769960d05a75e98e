"""``cryoguard export SESSION --format csv|parquet --out PATH``: for pandas or a spreadsheet.

The readings go to ``PATH`` (``t,channel,temp_c,status,time,label,role``), the events to
``<stem>.events.csv|.parquet`` beside it; both are private (0600) and replay with the recorded
roles. The work is in :mod:`monitor.exports.session`; this module imports only the standard
library.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.extras import requiring


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "export", help="export a recorded session to CSV or Parquet",
        description="Write the readings of a session file in long format (t, channel, temp_c, "
                    "status, time, label, role) to PATH and its events to "
                    "<stem>.events.csv|.parquet beside it (Parquet also keeps the station, "
                    "channel map and thresholds in its metadata). Works on a session that is "
                    "still being written or was killed.")
    parser.add_argument("session", metavar="SESSION", help="the session file (.cgsession)")
    parser.add_argument("--format", required=True, choices=("csv", "parquet"),
                        help="csv (UTF-8, header row) or parquet (needs pyarrow)")
    parser.add_argument("--out", required=True, metavar="PATH", type=Path,
                        help="the readings file to write; the events file goes beside it")
    parser.set_defaults(func=requiring(run, "pyarrow.parquet", extra="parquet",
                                       when=lambda args: args.format == "parquet"))


def run(args: argparse.Namespace) -> int:
    from monitor.exports.session import export_session
    from monitor.sessions.reader import open_session

    with open_session(args.session) as session:
        readings_path, events_path, counts = export_session(session, args.format, args.out)
    print(f"wrote {counts[0]} readings to {readings_path} and {counts[1]} events to "
          f"{events_path}")
    return 0
