"""An exported Parquet file (``cryoguard export --format parquet``) as engine input.

The readings columns ``t, channel, temp_c, status`` replay like a long CSV; ``label`` and
``role`` (and the ``cryoguard.channels`` metadata) give the recorded channel map, and the
``cryoguard.config`` metadata the thresholds the session ran with, so the replay raises the
session's alarms. Operator and device inputs are not in the readings file (they are in the
events file beside it): acknowledgements and marks are not replayed. docs/replay.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from monitor.engine.block import F64, I8, I32
from monitor.errors import UsageError
from monitor.model import Role, Status
from monitor.sessions.schema import ChannelInfo, parse_iso

PARQUET_MAGIC = b"PAR1"
META_PREFIX = "cryoguard."
REQUIRED = ("t", "channel", "temp_c", "status")


@dataclass
class ParquetData:
    channels: list[str]
    t: F64
    channel: I32
    temp_c: F64
    status: I8
    channel_info: list[ChannelInfo] = field(default_factory=list)
    config: dict[str, Any] | None = None
    station: str | None = None
    wall_start: datetime | None = None
    t_end: float | None = None


def read_parquet(path: Path) -> ParquetData:
    """Read an export; a file that is not one raises :class:`UsageError` with one line."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise UsageError(f"{path} is a Parquet file: reading it needs pyarrow: "
                         "pip install 'cryoguard[parquet]'") from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises many types for a broken file
        raise UsageError(f"{path}: not a readable Parquet file ({type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise UsageError(f"{path}: a Parquet file to replay needs the columns "
                         f"{', '.join(REQUIRED)} (an export of cryoguard); missing: "
                         f"{', '.join(missing)}")
    meta = _metadata(table.schema.metadata or {})
    names = [str(x) if x is not None else "" for x in table.column("channel").to_pylist()]
    status_text = [str(x) if x is not None else "BAD_DATA"
                   for x in table.column("status").to_pylist()]
    t = np.asarray(table.column("t").to_numpy(zero_copy_only=False), np.float64)
    temps = table.column("temp_c").to_pylist()
    channels: dict[str, int] = {}
    codes = np.fromiter((channels.setdefault(n, len(channels)) for n in names), np.int32,
                        len(names))
    status = np.fromiter((_status(s) for s in status_text), np.int8, len(status_text))
    temp = np.array([np.nan if v is None else float(v) for v in temps], np.float64)
    bad = (status == Status.OK) & ~np.isfinite(temp)
    status[bad] = int(Status.BAD_DATA)
    bad_t = ~np.isfinite(t)
    if bad_t.any():
        keep = ~bad_t
        t, codes, temp, status = t[keep], codes[keep], temp[keep], status[keep]
    temp[status != Status.OK] = np.nan
    data = ParquetData(list(channels), t, codes, temp, status)
    data.channel_info = _channel_map(meta, table, names)
    config = meta.get("config")
    data.config = config if isinstance(config, dict) and config else None
    station = meta.get("station")
    data.station = station if isinstance(station, str) and station else None
    started = meta.get("started")
    if isinstance(started, str) and started:
        try:
            data.wall_start = parse_iso(started)
        except ValueError:
            data.wall_start = None
    t_end = meta.get("t_end")
    data.t_end = float(t_end) if isinstance(t_end, int | float) else None
    return data


def _status(text: str) -> int:
    try:
        return int(Status.parse(text))
    except KeyError:
        return int(Status.BAD_DATA)


def _metadata(raw: dict[bytes, bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode("utf-8", "replace")
        if not name.startswith(META_PREFIX):
            continue
        try:
            out[name[len(META_PREFIX):]] = json.loads(value.decode("utf-8", "replace"))
        except ValueError:
            continue
    return out


def _channel_map(meta: dict[str, Any], table: Any, names: list[str]) -> list[ChannelInfo]:
    recorded = meta.get("channels")
    if isinstance(recorded, list):
        out = []
        for item in recorded:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            role = str(item.get("role") or "")
            index = item.get("index")
            out.append(ChannelInfo(
                id=item["id"], label=str(item.get("label") or ""),
                role=Role(role) if role in Role.__members__.values() else None,
                device=item.get("device") if isinstance(item.get("device"), str) else None,
                index=index if isinstance(index, int | str) else None,
                configured=bool(item.get("configured", True))))
        return out
    if "role" not in table.column_names:
        return []
    labels = table.column("label").to_pylist() if "label" in table.column_names else []
    roles = table.column("role").to_pylist()
    seen: dict[str, ChannelInfo] = {}
    for i, name in enumerate(names):
        if name in seen:
            continue
        role = str(roles[i] or "")
        seen[name] = ChannelInfo(id=name, label=str(labels[i] or "") if labels else "",
                                 role=Role(role) if role in Role.__members__.values() else None)
    return list(seen.values())
