"""``cryoguard export SESSION --format csv|parquet --out PATH``: for pandas or a spreadsheet.

Two files. The readings file (``PATH``), long format in recorded order, columns
``t,channel,temp_c,status,time``: ``t`` in session seconds (full precision), ``temp_c`` empty
(CSV) or null (Parquet) unless ``status`` is ``OK``, ``status`` by name (``OK``, ``OPEN``,
``SHORT``, ``OVER_RANGE``, ``UNDER_RANGE``, ``BAD_DATA``), ``time`` the ISO 8601 UTC wall time.
The first four columns are the long CSV that ``cryoguard replay`` reads. The events file beside
it, ``<stem>.events.csv`` or ``<stem>.events.parquet``, one row per event with the contract's
columns (``t,time,type,alarm,channel,condition,category,priority,value,limit,phase,cycle,
message``) and ``json``, the complete event record. CSV is UTF-8 without a BOM, comma-separated,
with a header row.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import CryoGuardError
from monitor.extras import requiring
from monitor.model import Status

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from monitor.sessions.reader import SessionFile

READING_COLUMNS = ("t", "channel", "temp_c", "status", "time")
EVENT_COLUMNS = ("t", "time", "type", "alarm", "channel", "condition", "category", "priority",
                 "value", "limit", "phase", "cycle", "message", "json")
_STATUS_NAMES = [s.name for s in sorted(Status, key=int)]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "export", help="export a recorded session to CSV or Parquet",
        description="Write the readings of a session file in long format (t, channel, temp_c, "
                    "status, time) to PATH and its events to <stem>.events.csv|.parquet beside "
                    "it. Works on a session that is still being written or was killed.")
    parser.add_argument("session", metavar="SESSION", help="the session file (.cgsession)")
    parser.add_argument("--format", required=True, choices=("csv", "parquet"),
                        help="csv (UTF-8, header row) or parquet (needs pyarrow)")
    parser.add_argument("--out", required=True, metavar="PATH", type=Path,
                        help="the readings file to write; the events file goes beside it")
    parser.set_defaults(func=requiring(run, "pyarrow.parquet", extra="parquet",
                                       when=lambda args: args.format == "parquet"))


def run(args: argparse.Namespace) -> int:
    from monitor.sessions.reader import open_session

    with open_session(args.session) as session:
        readings_path, events_path, counts = export_session(session, args.format, args.out)
    print(f"wrote {counts[0]} readings to {readings_path} and {counts[1]} events to "
          f"{events_path}")
    return 0


def events_path_for(out: Path, fmt: str) -> Path:
    """Where the events go: ``<out stem>.events.<fmt>`` in the directory of ``out``."""
    return out.with_name(f"{out.stem}.events.{fmt}")


def export_session(session: SessionFile, fmt: str, out: Path
                   ) -> tuple[Path, Path, tuple[int, int]]:
    """Write both files (each replaced atomically); returns their paths and row counts."""
    if fmt not in ("csv", "parquet"):
        raise CryoGuardError(f"unknown export format {fmt!r}: use csv or parquet")
    if out.is_dir():
        raise CryoGuardError(f"--out {out} is a directory; give a file name")
    events_out = events_path_for(out, fmt)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CryoGuardError(f"cannot create {out.parent}: {exc.strerror or exc}") from exc
    events = session.events()
    wall_start = session.wall_start
    cols = session.columns()
    try:
        if fmt == "csv":
            _atomic(out, lambda tmp: _readings_csv(tmp, session, cols, wall_start))
            _atomic(events_out, lambda tmp: _events_csv(tmp, events, wall_start))
        else:
            _atomic(out, lambda tmp: _readings_parquet(tmp, session, cols, wall_start))
            _atomic(events_out, lambda tmp: _events_parquet(tmp, events, wall_start))
    except OSError as exc:
        raise CryoGuardError(f"cannot write the export: {exc}") from exc
    return out, events_out, (len(cols.seq), len(events))


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def wall_times(wall_start: datetime | None, t: NDArray[np.float64]) -> NDArray[np.datetime64]:
    """UTC wall time of each session time, to the microsecond (NaT when the start is unknown)."""
    import numpy as np

    if wall_start is None:
        return np.full(t.shape, np.datetime64("NaT"), dtype="datetime64[us]")
    start = np.datetime64(wall_start.astimezone(UTC).replace(tzinfo=None), "us")
    return start + np.rint(t * 1e6).astype(np.int64).astype("timedelta64[us]")


def _iso(times: NDArray[np.datetime64]) -> list[str]:
    import numpy as np

    text = np.datetime_as_string(times, unit="ms")
    return [s + "Z" if s != "NaT" else "" for s in text.tolist()]


def _readings_csv(path: Path, session: SessionFile, cols: Any,
                  wall_start: datetime | None) -> None:
    import numpy as np

    names = np.array(session.channel_names, dtype=object)[cols.channel].tolist()
    status_names = np.array(_STATUS_NAMES, dtype=object)[cols.status].tolist()
    temps = [("" if s else v) for v, s in zip(cols.temp_c.tolist(), cols.status.tolist(),
                                              strict=True)]
    times = _iso(wall_times(wall_start, cols.t))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(READING_COLUMNS)
        writer.writerows(zip(cols.t.tolist(), names, temps, status_names, times, strict=True))


def _event_row(record: dict[str, Any], wall_start: datetime | None) -> list[Any]:
    import numpy as np

    t = record.get("t")
    t_value = float(t) if isinstance(t, int | float) else None
    time_text = record.get("time")
    if not time_text and t_value is not None and wall_start is not None:
        time_text = _iso(wall_times(wall_start, np.array([t_value])))[0]
    row: list[Any] = [t_value, time_text or None]
    for key in EVENT_COLUMNS[2:-1]:
        value = record.get(key)
        row.append(value if value is None or isinstance(value, str | int | float) else
                   json.dumps(value, ensure_ascii=False))
    row.append(json.dumps(record, ensure_ascii=False))
    return row


def _events_csv(path: Path, events: Iterable[dict[str, Any]],
                wall_start: datetime | None) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EVENT_COLUMNS)
        for record in events:
            writer.writerow(["" if v is None else v for v in _event_row(record, wall_start)])


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise CryoGuardError("Parquet export needs pyarrow: pip install 'cryoguard[parquet]'"
                             ) from exc
    return pyarrow, pyarrow.parquet


def _readings_parquet(path: Path, session: SessionFile, cols: Any,
                      wall_start: datetime | None) -> None:
    import numpy as np

    pa, pq = _pyarrow()
    not_ok = cols.status != int(Status.OK)
    table = pa.table({
        "t": pa.array(cols.t, type=pa.float64()),
        "channel": pa.DictionaryArray.from_arrays(
            pa.array(cols.channel, type=pa.int32()),
            pa.array(list(session.channel_names), type=pa.string())),
        "temp_c": pa.array(cols.temp_c, type=pa.float64(), mask=not_ok),
        "status": pa.DictionaryArray.from_arrays(
            pa.array(cols.status.astype(np.int32), type=pa.int32()),
            pa.array(_STATUS_NAMES, type=pa.string())),
        "time": _timestamps(pa, wall_start, cols.t),
    })
    pq.write_table(table, path)


def _timestamps(pa: Any, wall_start: datetime | None, t: NDArray[np.float64]) -> Any:
    """A UTC timestamp column for session times ``t`` (null where unknown)."""
    import numpy as np

    kind = pa.timestamp("us", tz="UTC")
    unknown = ~np.isfinite(t)
    if wall_start is None:
        return pa.nulls(len(t), type=kind)
    times = wall_times(wall_start, np.where(unknown, 0.0, t))
    return pa.array(times, type=kind, mask=unknown if unknown.any() else None)


def _events_parquet(path: Path, events: Sequence[dict[str, Any]],
                    wall_start: datetime | None) -> None:
    import numpy as np

    pa, pq = _pyarrow()
    rows = [_event_row(record, wall_start) for record in events]
    columns: dict[str, Any] = {}
    numeric = {"t": pa.float64(), "value": pa.float64(), "limit": pa.float64(),
               "cycle": pa.int64()}
    for k, name in enumerate(EVENT_COLUMNS):
        values = [row[k] for row in rows]
        if name in numeric:
            kind = int if name == "cycle" else float
            values = [kind(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
                      for v in values]
            columns[name] = pa.array(values, type=numeric[name])
        elif name == "time":
            t = np.array([np.nan if r[0] is None else r[0] for r in rows], dtype=np.float64)
            columns[name] = _timestamps(pa, wall_start, t)
        else:
            columns[name] = pa.array([None if v is None else str(v) for v in values],
                                     type=pa.string())
    pq.write_table(pa.table(columns), path)
