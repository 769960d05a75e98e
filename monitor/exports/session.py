"""A session exported to CSV or Parquet, complete enough to replay as it was recorded.

Two files. The readings file (``PATH``), long format in recorded order, columns
``t,channel,temp_c,status,time,label,role``: ``t`` in session seconds to the microsecond (the
resolution of ``time``), ``temp_c`` empty (CSV) or null (Parquet) unless ``status`` is ``OK``,
``status`` by name, ``time`` the ISO 8601 UTC wall time, ``label`` and ``role`` from the
session's channel map. The first four columns are the long CSV that ``cryoguard replay`` reads,
and it takes the channel map from ``label`` and ``role``, so a probe stays a probe. Parquet
also keeps, in the file's metadata (keys ``cryoguard.*``), the station, the start, the channel
map, the config and the thresholds in force per channel, and the software versions.

The events file beside it (``<stem>.events.csv|.parquet``): one row per event with the
contract's columns and ``json``, the complete record. ``cycle`` is the freeze–thaw cycle the
event happened in (0 before the first freeze), an integer in every row.

Every file is created 0600 and swapped into place whole, never written through a symlink
(:mod:`monitor.files`). Layout and reasons: docs/replay.md.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.errors import CryoGuardError, UsageError
from monitor.files import UnsafePathError, private_dir, replace_privately
from monitor.model import Status
from monitor.sessions.reader import ReadingColumns, SessionFile

READING_COLUMNS = ("t", "channel", "temp_c", "status", "time", "label", "role")
EVENT_COLUMNS = ("t", "time", "type", "alarm", "channel", "condition", "category", "priority",
                 "value", "limit", "phase", "cycle", "message", "json")
STATUS_NAMES = [s.name for s in sorted(Status, key=int)]
T_DECIMALS = 6  # microseconds, like the wall ``time`` column
META_PREFIX = "cryoguard."


def events_path_for(out: Path, fmt: str) -> Path:
    """Where the events go: ``<out stem>.events.<fmt>`` in the directory of ``out``."""
    return out.with_name(f"{out.stem}.events.{fmt}")


def export_session(session: SessionFile, fmt: str, out: Path
                   ) -> tuple[Path, Path, tuple[int, int]]:
    """Write both files (each replaced whole, 0600); returns their paths and row counts."""
    if fmt not in ("csv", "parquet"):
        raise UsageError(f"unknown export format {fmt!r}: use csv or parquet")
    if out.is_dir():
        raise CryoGuardError(f"--out {out} is a directory; give a file name")
    if fmt == "parquet":
        pyarrow_modules()  # say which extra is missing before anything is written
    events_out = events_path_for(out, fmt)
    events = session.events()
    cols = session.columns()
    try:
        private_dir(out.parent)
        if fmt == "csv":
            with replace_privately(out) as tmp:
                _readings_csv(tmp, session, cols)
            with replace_privately(events_out) as tmp:
                _events_csv(tmp, events, session.wall_start)
        else:
            with replace_privately(out) as tmp:
                _readings_parquet(tmp, session, cols)
            with replace_privately(events_out) as tmp:
                _events_parquet(tmp, events, session.wall_start)
    except UnsafePathError as exc:
        raise UsageError(f"--out: {exc}") from exc
    except OSError as exc:
        raise CryoGuardError(f"cannot write the export: {exc.strerror or exc}") from exc
    return out, events_out, (len(cols.seq), len(events))


def session_times(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Session seconds to the microsecond: 12.3, not 12.299999999999999."""
    return np.round(t, T_DECIMALS)


def wall_times(wall_start: datetime | None, t: NDArray[np.float64]) -> NDArray[np.datetime64]:
    """UTC wall time of each session time, to the microsecond (NaT when the start is unknown)."""
    if wall_start is None:
        return np.full(t.shape, np.datetime64("NaT"), dtype="datetime64[us]")
    start = np.datetime64(wall_start.astimezone(UTC).replace(tzinfo=None), "us")
    return start + np.rint(t * 1e6).astype(np.int64).astype("timedelta64[us]")


def _iso(times: NDArray[np.datetime64]) -> list[str]:
    text = np.datetime_as_string(times, unit="ms")
    return [s + "Z" if s != "NaT" else "" for s in text.tolist()]


def _channel_columns(session: SessionFile) -> tuple[list[str], list[str]]:
    """Label and role of every channel number (empty where the map does not say)."""
    labels = {c.id: c.label for c in session.channels}
    roles = {c.id: ("" if c.role is None else str(c.role)) for c in session.channels}
    names = session.channel_names
    return [labels.get(n, "") for n in names], [roles.get(n, "") for n in names]


def _readings_csv(path: Path, session: SessionFile, cols: ReadingColumns) -> None:
    names = np.array(session.channel_names, dtype=object)
    label_of, role_of = _channel_columns(session)
    status_names = np.array(STATUS_NAMES, dtype=object)[cols.status].tolist()
    temps = [("" if s else v) for v, s in zip(cols.temp_c.tolist(), cols.status.tolist(),
                                              strict=True)]
    times = _iso(wall_times(session.wall_start, cols.t))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(READING_COLUMNS)
        writer.writerows(zip(session_times(cols.t).tolist(), names[cols.channel].tolist(), temps,
                             status_names, times,
                             np.array(label_of, dtype=object)[cols.channel].tolist(),
                             np.array(role_of, dtype=object)[cols.channel].tolist(),
                             strict=True))


def _event_rows(events: Iterable[dict[str, Any]], wall_start: datetime | None
                ) -> list[list[Any]]:
    """One row per event; ``cycle`` carries the cycle each event happened in."""
    rows: list[list[Any]] = []
    cycle = 0
    for record in events:
        own = record.get("cycle")
        if isinstance(own, int | float) and not isinstance(own, bool):
            if record.get("type") == "cycle.phase":
                cycle = int(own)
            in_cycle = int(own)
        else:
            in_cycle = cycle
        t = record.get("t")
        t_value = float(t) if isinstance(t, int | float) and not isinstance(t, bool) else None
        time_text = record.get("time")
        if not time_text and t_value is not None and wall_start is not None:
            time_text = _iso(wall_times(wall_start, np.array([t_value])))[0]
        row: list[Any] = [t_value, time_text or None]
        for key in EVENT_COLUMNS[2:-1]:
            value = in_cycle if key == "cycle" else record.get(key)
            row.append(value if value is None or isinstance(value, str | int | float) else
                       json.dumps(value, ensure_ascii=False))
        row.append(json.dumps(record, ensure_ascii=False))
        rows.append(row)
    return rows


def _events_csv(path: Path, events: Iterable[dict[str, Any]],
                wall_start: datetime | None) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EVENT_COLUMNS)
        for row in _event_rows(events, wall_start):
            writer.writerow(["" if v is None else v for v in row])


def pyarrow_modules() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, or one line saying which extra to install."""
    from monitor.extras import require

    return require("pyarrow", extra="parquet"), require("pyarrow.parquet", extra="parquet")


def parquet_metadata(session: SessionFile) -> dict[str, str]:
    """What the session knew, for the Parquet file's key-value metadata (JSON values)."""
    from monitor import __version__

    config = session.config
    channels = [{"id": c.id, "label": c.label, "role": None if c.role is None else str(c.role),
                 "device": c.device, "index": c.index, "tc_type": c.tc_type,
                 "configured": c.configured} for c in session.channels]
    software = {k: v for k, v in session.meta.items()
                if k.endswith("_version") or k == "platform"}
    software["exported_by"] = f"cryoguard {__version__}"
    meta = {"station": session.station, "started": session.meta.get("started", ""),
            "t_end": session.t_end, "closed_cleanly": session.closed_cleanly,
            "channels": channels, "config": config, "thresholds": thresholds_in_force(session),
            "software": software, "source": session.path.name}
    return {META_PREFIX + k: json.dumps(v, ensure_ascii=False, default=str)
            for k, v in meta.items()}


def thresholds_in_force(session: SessionFile) -> dict[str, Any]:
    """Per channel, every condition's settings as the recording's config resolved them."""
    from monitor.config.schema import default_config, parse_config
    from monitor.errors import ConfigError
    from monitor.replay.whatif import replay_spec

    try:
        config = parse_config(session.config, "recorded config") if session.config else \
            default_config()
    except ConfigError:
        return {}
    spec = replay_spec(config.engine_spec(), list(session.channels))
    out: dict[str, Any] = {}
    for channel in spec.channels:
        out[channel.id] = {str(cond): _condition(cs) for cond, cs in channel.conditions.items()}
    return out


def _condition(spec: Any) -> dict[str, Any]:
    values = {k: v for k, v in asdict(spec).items() if v is not None and k != "condition"}
    values["priority"] = spec.priority.label
    return values


def _readings_parquet(path: Path, session: SessionFile, cols: ReadingColumns) -> None:
    pa, pq = pyarrow_modules()
    not_ok = cols.status != int(Status.OK)
    label_of, role_of = _channel_columns(session)
    table = pa.table({
        "t": pa.array(session_times(cols.t), type=pa.float64()),
        "channel": _dictionary(pa, cols.channel, list(session.channel_names)),
        "temp_c": pa.array(cols.temp_c, type=pa.float64(), mask=not_ok),
        "status": _dictionary(pa, cols.status.astype(np.int32), STATUS_NAMES),
        "time": _timestamps(pa, session.wall_start, cols.t),
        "label": _dictionary(pa, cols.channel, label_of),
        "role": _dictionary(pa, cols.channel, role_of),
    })
    table = table.replace_schema_metadata(parquet_metadata(session))
    pq.write_table(table, path)


def _dictionary(pa: Any, codes: NDArray[Any], values: Sequence[str]) -> Any:
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int32()),
                                          pa.array(list(values), type=pa.string()))


def _timestamps(pa: Any, wall_start: datetime | None, t: NDArray[np.float64]) -> Any:
    """A UTC timestamp column for session times ``t`` (null where unknown)."""
    kind = pa.timestamp("us", tz="UTC")
    unknown = ~np.isfinite(t)
    if wall_start is None:
        return pa.nulls(len(t), type=kind)
    times = wall_times(wall_start, np.where(unknown, 0.0, t))
    return pa.array(times, type=kind, mask=unknown if unknown.any() else None)


def _events_parquet(path: Path, events: Sequence[dict[str, Any]],
                    wall_start: datetime | None) -> None:
    pa, pq = pyarrow_modules()
    rows = _event_rows(events, wall_start)
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
