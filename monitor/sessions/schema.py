"""The session file format: one SQLite file per session, versioned, shared by writer and reader.

Why SQLite: it survived kill -9 tests where Parquet and HDF5 did not (README.md, "Sessions").
The file is opened in WAL mode with ``synchronous=NORMAL``: a commit is safe against a killed
process, and readers (replay, export, a live ``report``) never block the writer. At a clean
close the file is checkpointed and switched back to a rollback journal, so a finished session
is ONE file.

Tables (schema version 1):

``meta(key, value)``
    Text values. Written at open: ``schema_version``, ``application`` (``cryoguard``),
    ``cryoguard_version``, ``python_version``, ``numpy_version``, ``sqlite_version``,
    ``platform``, ``hostname``, ``pid``, ``started`` (ISO 8601 UTC wall time of session time 0),
    ``station``, ``config`` (JSON snapshot), ``commit_interval_s``, ``seq_policy``.
    Written at close: ``ended`` (ISO UTC wall time of the close), ``t_end`` (session seconds),
    ``readings_written``, ``events_written``, ``readings_dropped``, ``closed_cleanly`` (``1``).
    ``resumed_at_seq`` is present when the file had vanished and was re-created mid-session.
    Set by the daemon through the recorder (``Recorder.set_meta``, ``Recorder.open(audio=)``,
    ``Recorder.close(ended_reason=)``; absent in older files): ``audio`` (the alarm sound
    output in use: ``speaker``, ``bell`` or ``off``) and ``ended_reason`` (why the session
    ended, in words: ``quit``, ``SIGTERM``, ``SIGHUP``, ``duration of 900 s reached``...).
``channels(num, id, label, role, device, device_index, tc_type, configured)``
    The channel map. ``num`` (0, 1, 2, ...) is the small integer ``readings.channel`` refers to,
    so the big table stays small; ``configured`` is 0 for a channel first seen in the data.
``readings(seq, t, channel, temp_c, status)``
    Every raw reading. ``status`` is a :class:`monitor.model.Status` value; ``temp_c`` is NULL
    unless the status is OK. No sentinel numbers.
``inputs(seq, t, kind, payload)``
    Every non-reading input of the engine (operator actions, device connected/lost, bad data),
    ``payload`` is JSON. Ticks are not recorded: replay regenerates them from reading times.
``events(seq, t, type, json)``
    Every event, ``json`` being the object written to the event stream.

Sequence numbers: readings, inputs and events share ONE counter (``seq``), assigned in the order
they were handed to the recorder. Replay merges readings and inputs by ``seq`` to feed the engine
exactly as live; an event's ``seq`` says which inputs preceded it.
"""

from __future__ import annotations

import enum
import json
import math
import os
import platform
import re
import socket
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.engine.spec import ChannelSpec
from monitor.model import Role

SCHEMA_VERSION = 1
APPLICATION_ID = 0x43475331  # "CGS1": lets a reader tell a session file from any SQLite file
SESSION_SUFFIX = ".cgsession"
DEFAULT_SESSION_DIR = Path("sessions")

SCHEMA_SQL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE channels (
    num          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    label        TEXT NOT NULL DEFAULT '',
    role         TEXT,
    device       TEXT,
    device_index,
    tc_type      TEXT,
    configured   INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE readings (
    seq     INTEGER PRIMARY KEY,
    t       REAL NOT NULL,
    channel INTEGER NOT NULL REFERENCES channels(num),
    temp_c  REAL,
    status  INTEGER NOT NULL
);
CREATE TABLE inputs (
    seq     INTEGER PRIMARY KEY,
    t       REAL NOT NULL,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE events (
    seq  INTEGER PRIMARY KEY,
    t    REAL NOT NULL,
    type TEXT NOT NULL,
    json TEXT NOT NULL
);
"""

TABLES = ("meta", "channels", "readings", "inputs", "events")
RECORDER_META_KEYS = frozenset({"audio", "ended_reason"})
"""The meta keys a caller of the recorder may set (the others are the recorder's own)."""


class InputKind(enum.StrEnum):
    """The input kinds the daemon records (any string is stored; these are the agreed ones).

    Payloads: ``ack`` ``{"alarm": name or null}``; ``pause`` ``{}``; ``mark`` ``{"mark":
    "freeze"|"thaw"|"active-thaw"|"end"}``; ``device.connected`` / ``device.lost``
    ``{"device": id, ...}``; ``device.bad_data`` ``{"device": id, "detail": text, ...}``;
    ``intervention`` ``{"kind": "co2"|"saline", "by": ...}``; ``note`` ``{"text": ..., "by": ...}``.
    """

    ACK = "ack"
    PAUSE = "pause"
    MARK = "mark"
    DEVICE_CONNECTED = "device.connected"
    DEVICE_LOST = "device.lost"
    DEVICE_BAD_DATA = "device.bad_data"
    INTERVENTION = "intervention"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One row of the channel map: what a channel id in the readings stands for."""

    id: str
    label: str = ""
    role: Role | None = None
    device: str | None = None
    index: int | str | None = None
    tc_type: str | None = None
    configured: bool = True

    @classmethod
    def from_spec(cls, spec: ChannelSpec, tc_type: str | None = None) -> ChannelInfo:
        return cls(id=spec.id, label=spec.label, role=spec.role, device=spec.device,
                   index=spec.index, tc_type=tc_type)


_MAX_INT = 10 ** 300


def _plain(value: Any) -> Any:
    """JSON a reader accepts: a non-finite float becomes null, an integer too large for a
    float becomes text (the reader refuses NaN, Infinity and such integers as damage)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) < _MAX_INT else str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, default=str, allow_nan=False)


def channel_row(num: int, info: ChannelInfo) -> tuple[Any, ...]:
    """The ``channels`` row of ``info`` (in column order)."""
    role = None if info.role is None else str(info.role)
    return (num, info.id, info.label, role, info.device, info.index, info.tc_type,
            1 if info.configured else 0)


def channel_from_row(row: tuple[Any, ...]) -> ChannelInfo:
    """Inverse of :func:`channel_row` (without ``num``); an unknown role reads as ``None``."""
    _num, cid, label, role, device, index, tc_type, configured = row
    try:
        parsed_role = None if role is None else Role(role)
    except ValueError:
        parsed_role = None
    return ChannelInfo(id=str(cid), label=str(label or ""), role=parsed_role,
                       device=None if device is None else str(device), index=index,
                       tc_type=None if tc_type is None else str(tc_type),
                       configured=bool(configured))


def configure_writer(conn: sqlite3.Connection) -> None:
    """WAL and ``synchronous=NORMAL``: commits survive a killed process, readers never block."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
    if mode is None or str(mode[0]).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch the session file to WAL mode ({mode!r})")
    conn.execute("PRAGMA synchronous=NORMAL")


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables in an empty database (inside the caller's transaction)."""
    for statement in SCHEMA_SQL.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def iso_utc(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``, like the event stream's ``time``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def software_versions() -> dict[str, str]:
    """Versions recorded in every session, so a replay can say what produced the file."""
    import numpy

    from monitor import __version__

    return {
        "cryoguard_version": __version__,
        "python_version": sys.version.split()[0],
        "numpy_version": str(numpy.__version__),
        "sqlite_version": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def start_meta(*, station: str, wall_start: datetime, config_snapshot: Mapping[str, Any],
               commit_interval_s: float) -> dict[str, str]:
    """The ``meta`` rows written when a session file is created."""
    meta = {
        "schema_version": str(SCHEMA_VERSION),
        "application": "cryoguard",
        **software_versions(),
        "hostname": socket.gethostname(),
        "pid": str(os.getpid()),
        "started": iso_utc(wall_start),
        "station": station,
        "config": dumps(dict(config_snapshot)),
        "commit_interval_s": repr(float(commit_interval_s)),
        "seq_policy": "shared",
    }
    return meta


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def default_session_path(directory: Path, station: str, wall_start: datetime) -> Path:
    """``<directory>/<station>-YYYYmmdd-HHMMSS.cgsession`` (UTC), made unique with ``-2``, ...

    The station name is reduced to ``[A-Za-z0-9_.-]`` so it is safe in any file system.
    """
    safe = _UNSAFE.sub("_", station).strip("._") or "station"
    moment = wall_start if wall_start.tzinfo is not None else wall_start.replace(tzinfo=UTC)
    stamp = moment.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    candidate = directory / f"{safe}-{stamp}{SESSION_SUFFIX}"
    number = 2
    while candidate.exists():
        candidate = directory / f"{safe}-{stamp}-{number}{SESSION_SUFFIX}"
        number += 1
    return candidate
