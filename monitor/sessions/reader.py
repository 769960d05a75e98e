"""Reading a session file back: for replay, export and reports; every value checked first.

The file is opened read-only (``mode=ro``): it works on a file that is still being written (WAL
readers never block the writer) and on a file left by a process killed with SIGKILL (SQLite's WAL
recovery makes everything committed visible). Nothing here modifies the file. One read
transaction spans the whole :class:`SessionFile`, so what was checked is what is read.

A file that is not a readable session gets ONE line naming the problem and the table, row or
field — :class:`SessionFileError`, a usage error (exit status 2) — never a traceback from
deeper down: :func:`open_session` checks the meta and the channel map, the readings are checked
in the pass that reads them, the inputs and events as they are parsed. Limits (``MAX_T_S`` ...)
are far beyond any real session and keep every later computation finite. Why and how this is
fuzzed: docs/sessions.md.

Replay has two paths: :meth:`SessionFile.iter_inputs` yields readings and inputs merged in ``seq``
order as objects (simple), :meth:`SessionFile.columns` plus :meth:`SessionFile.inputs` gives numpy
columns for the fast path (one C-level pass over the cursor, no per-row Python objects kept).
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from monitor.errors import UsageError
from monitor.model import Reading, Status
from monitor.sessions.schema import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    TABLES,
    ChannelInfo,
    channel_from_row,
)
from monitor.text import control_characters, printable

_FLOAT_ROWS = np.dtype([(name, np.float64) for name in ("seq", "t", "channel", "temp_c",
                                                          "status")])
_BLOCK = 4096

MAX_T_S = 1e9
"""Session times beyond ±31 years are damage, not data."""
MAX_SEQ = 1 << 38
"""Sequence numbers fit the packed replay key (seq << 24) in 63 bits."""
MAX_CHANNELS = 4096
"""More channels than any station has (64 is a big one): beyond, the file is damaged, and
replaying it would give each one an engine channel."""
MAX_INT_DIGITS = 300
"""JSON integers with more digits are damage (they would turn into infinities as floats); the
writer stores such numbers as text (``monitor.sessions.schema.dumps``)."""
MAX_CYCLE = 1 << 53
YEARS = (1900, 9000)
"""A ``started`` date outside these years is damage (and would overflow wall-time sums)."""


SQLITE_MAGIC = b"SQLite format 3\x00"


class SessionFileError(UsageError):
    """A file that is not a readable session: one line naming the problem (exit status 2)."""


@dataclass(frozen=True, slots=True)
class SessionInput:
    """One recorded non-reading engine input (see :class:`monitor.sessions.schema.InputKind`)."""

    seq: int
    t: float
    kind: str
    payload: dict[str, Any]


class ReadingColumns(NamedTuple):
    """All readings as columns in ``seq`` order; ``channel`` indexes ``channel_names``.

    ``temp_c`` is NaN where the file holds NULL (status not OK): check ``status``, never the NaN.
    """

    seq: NDArray[np.int64]
    t: NDArray[np.float64]
    channel: NDArray[np.int32]
    temp_c: NDArray[np.float64]
    status: NDArray[np.int8]


class SessionFile:
    """An open, checked session file. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        with self._sql("meta"):
            rows = conn.execute("SELECT key, value FROM meta").fetchall()
        self.meta: dict[str, str] = _check_meta(path, rows)
        self._wall_start = _started(path, self.meta)
        self._config = _config(path, self.meta)
        self._t_end = _number(path, self.meta, "t_end")
        with self._sql("channels"):
            rows = conn.execute("SELECT num, id, label, role, device, device_index, tc_type, "
                                "configured FROM channels ORDER BY num").fetchall()
        infos, names = _channels(path, rows)
        self.channels: tuple[ChannelInfo, ...] = tuple(infos)
        self.channel_names: tuple[str, ...] = tuple(names)
        self._readings_checked = False

    @contextlib.contextmanager
    def _sql(self, table: str) -> Iterator[None]:
        """Turn any SQLite error while reading ``table`` into one line."""
        try:
            yield
        except sqlite3.Error as exc:
            raise SessionFileError(f"{self.path}: the {table} table cannot be read: "
                                   f"{_sqlite_reason(exc)}") from exc
        except UnicodeDecodeError as exc:
            raise SessionFileError(f"{self.path}: the {table} table is damaged (text that is "
                                   f"not UTF-8: {exc.reason})") from exc
        except (OverflowError, ValueError, TypeError) as exc:
            raise SessionFileError(f"{self.path}: the {table} table holds a value of the "
                                   f"wrong type or size ({exc})") from exc

    def check_readings(self) -> None:
        """One SQL pass over every reading; the first bad row is named with what is wrong.

        :meth:`columns` makes the same checks with numpy in its own pass (and calls this only
        to name the row); :meth:`iter_readings` calls it first."""
        if self._readings_checked:
            return
        with self._sql("readings"):
            row = self._conn.execute(f"SELECT seq, t, channel, temp_c, status FROM readings "
                                     f"WHERE NOT ({_VALID_READING}) LIMIT 1",
                                     self._limits()).fetchone()
        if row is not None:
            raise SessionFileError(f"{self.path}: readings row seq={_show(row[0])}: "
                                   f"{_reading_problem(row, len(self.channel_names))}")
        self._readings_checked = True

    def _limits(self) -> dict[str, Any]:  # the parameters of _VALID_READING
        return {"max_seq": MAX_SEQ, "max_t": MAX_T_S,
                "max_channel": len(self.channel_names) - 1, "max_status": int(max(Status))}

    # ------------------------------------------------------------------ meta

    @property
    def schema_version(self) -> int:
        return int(self.meta.get("schema_version", "0"))

    @property
    def station(self) -> str:
        return self.meta.get("station", "")

    @property
    def wall_start(self) -> datetime | None:
        """Wall time of session time 0 (UTC), as recorded at the start."""
        return self._wall_start

    @property
    def config(self) -> dict[str, Any]:
        """The config snapshot taken when the session started."""
        return dict(self._config)

    @property
    def audio(self) -> str | None:
        """The alarm sound output in use (``speaker``, ``bell``, ``off``); None in older files."""
        return self.meta.get("audio")

    @property
    def ended_reason(self) -> str | None:
        """Why the session ended, in words; None in older files and killed sessions."""
        return self.meta.get("ended_reason")

    @property
    def closed_cleanly(self) -> bool:
        """False for a file whose writer was killed (or is still writing)."""
        return self.meta.get("closed_cleanly") == "1"

    @property
    def t_end(self) -> float | None:
        """Session time at close; for a file never closed, the last time found in it."""
        if self._t_end is not None:
            return self._t_end
        with self._sql("readings, inputs and events"):
            row = self._conn.execute(
                "SELECT max(x) FROM (SELECT max(t) AS x FROM readings UNION ALL "
                "SELECT max(t) FROM inputs UNION ALL SELECT max(t) FROM events) "
                "WHERE typeof(x) IN ('integer', 'real')").fetchone()
        if row is None or row[0] is None:
            return None
        value = float(row[0])
        return value if abs(value) <= MAX_T_S else None

    def reading_count(self) -> int:
        with self._sql("readings"):
            row = self._conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0

    # -------------------------------------------------------------- contents

    def columns(self) -> ReadingColumns:
        """Every reading as numpy columns in ``seq`` order (the replay fast path), checked.

        One pass: the five columns come as float64 (a NULL becomes NaN, text that is not a
        number stops the pass) and numpy checks them all at once — a second SQL pass for the
        checks would cost almost as much as the read itself (measured: docs/sessions.md). The
        SQL check (:meth:`check_readings`) only runs to name a bad row. A NULL ``temp_c``
        becomes NaN.
        """
        count = self.reading_count()
        try:
            with self._sql("readings"):
                cursor = self._conn.execute(
                    "SELECT seq, t, channel, temp_c, status FROM readings ORDER BY seq")
                table = np.fromiter(cursor, dtype=_FLOAT_ROWS, count=count)
        except SessionFileError:
            self.check_readings()  # names the row with a value of the wrong type
            raise
        seq, t, channel, temp_c, status = (table[name] for name in _FLOAT_ROWS.names or ())
        with np.errstate(invalid="ignore"):
            good = ((seq >= 0) & (seq <= MAX_SEQ) & (seq == np.floor(seq))
                    & (np.abs(t) <= MAX_T_S)
                    & (channel >= 0) & (channel < len(self.channel_names))
                    & (channel == np.floor(channel))
                    & (status >= 0) & (status <= max(Status)) & (status == np.floor(status))
                    & (np.isfinite(temp_c) | (np.isnan(temp_c) & (status != 0))))
        if not good.all():
            self.check_readings()
            k = int(np.argmin(good))
            raise SessionFileError(f"{self.path}: readings row seq={seq[k]:g}: a value is out of "
                                   f"range (t {t[k]:g}, channel {channel[k]:g}, temp_c "
                                   f"{temp_c[k]:g}, status {status[k]:g})")
        self._readings_checked = True
        return ReadingColumns(
            seq=seq.astype(np.int64),
            t=np.ascontiguousarray(t),
            channel=channel.astype(np.int32),
            temp_c=np.ascontiguousarray(temp_c),
            status=status.astype(np.int8),
        )

    def inputs(self) -> list[SessionInput]:
        """Every recorded non-reading input, in ``seq`` order (checked row by row)."""
        with self._sql("inputs"):
            rows = self._conn.execute(
                "SELECT seq, t, kind, payload FROM inputs ORDER BY seq").fetchall()
        return [_input(self.path, row) for row in rows]

    def events(self) -> list[dict[str, Any]]:
        """Every recorded event as the JSON object of the event stream, in order."""
        return [record for _seq, record in self.event_rows()]

    def event_rows(self) -> list[tuple[int, dict[str, Any]]]:
        """Events with their ``seq``: which readings and inputs came before each one."""
        with self._sql("events"):
            rows = self._conn.execute("SELECT seq, t, type, json FROM events ORDER BY seq"
                                      ).fetchall()
        return [_event(self.path, row) for row in rows]

    def iter_readings(self) -> Iterator[tuple[int, Reading]]:
        """``(seq, Reading)`` in ``seq`` order."""
        names = self.channel_names
        self.check_readings()
        with self._sql("readings"):
            cursor = self._conn.execute(
                "SELECT seq, t, channel, temp_c, status FROM readings ORDER BY seq")
            while block := cursor.fetchmany(_BLOCK):
                for seq, t, channel, temp_c, status in block:
                    yield seq, Reading(t, names[channel], temp_c, Status(status))

    def iter_inputs(self) -> Iterator[Reading | SessionInput]:
        """Readings and inputs merged in ``seq`` order: feed them to an engine, in order."""
        inputs = iter(self.inputs())
        pending = next(inputs, None)
        for seq, reading in self.iter_readings():
            while pending is not None and pending.seq < seq:
                yield pending
                pending = next(inputs, None)
            yield reading
        while pending is not None:
            yield pending
            pending = next(inputs, None)

    # ------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SessionFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_session(path: Path | str) -> SessionFile:
    """Open and check a session file read-only; :class:`SessionFileError` (one line)
    otherwise."""
    target = Path(path)
    if not target.exists():
        raise SessionFileError(f"session file {target} does not exist")
    if target.is_dir():
        raise SessionFileError(f"{target} is a directory, not a session file")
    try:
        with target.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise SessionFileError(f"cannot read {target}: {exc.strerror or exc}") from exc
    if head != SQLITE_MAGIC:
        raise SessionFileError(f"{target} is not a session file (not an SQLite database)")
    try:
        uri = target.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    except (sqlite3.Error, OSError, ValueError) as exc:
        raise SessionFileError(f"cannot open session file {target}: {exc}") from exc
    try:
        conn.execute("BEGIN")  # one snapshot for the checks and every read after them
        _check(target, conn)
        return SessionFile(target, conn)
    except sqlite3.Error as exc:
        conn.close()
        raise SessionFileError(f"{target} is not a readable CryoGuard session file: "
                               f"{_sqlite_reason(exc)}") from exc
    except UnicodeDecodeError as exc:
        conn.close()
        raise SessionFileError(f"{target} is not a readable CryoGuard session file: the file "
                               f"is damaged (text that is not UTF-8: {exc.reason})") from exc
    except BaseException:
        conn.close()
        raise


def _check(target: Path, conn: sqlite3.Connection) -> None:
    row = conn.execute("PRAGMA application_id").fetchone()
    app_id = int(row[0]) if row else 0
    if app_id != APPLICATION_ID:
        raise SessionFileError(f"{target} is not a CryoGuard session file (another SQLite "
                               "database)")
    tables = {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in TABLES if t not in tables]
    if missing:
        raise SessionFileError(f"{target}: damaged session file: the table "
                               f"{', '.join(missing)} is missing")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise SessionFileError(f"{target}: damaged session file: meta schema_version is "
                               "missing")
    try:
        version = int(str(row[0]).strip())
    except ValueError:
        version = 0
    if version < 1:
        raise SessionFileError(f"{target}: damaged session file: meta schema_version is not "
                               f"a schema number: {_show(row[0])}")
    if version > SCHEMA_VERSION:
        raise SessionFileError(f"{target} was written by a newer CryoGuard (session schema "
                               f"{version}); this version reads up to schema {SCHEMA_VERSION}")


# ------------------------------------------------------------------------------ checks

_VALID_READING = """(
    typeof(seq) = 'integer' AND seq BETWEEN 0 AND :max_seq
    AND typeof(t) IN ('integer', 'real') AND t BETWEEN -:max_t AND :max_t
    AND typeof(channel) = 'integer' AND channel BETWEEN 0 AND :max_channel
    AND typeof(status) = 'integer' AND status BETWEEN 0 AND :max_status
    AND (temp_c IS NULL OR (typeof(temp_c) IN ('integer', 'real')
                            AND temp_c BETWEEN -1.7976931348623157e308
                                           AND 1.7976931348623157e308))
    AND (status != 0 OR temp_c IS NOT NULL)
)"""


def _show(value: object, limit: int = 40) -> str:
    """A value for an error line: printable, short."""
    text = printable(repr(value))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _finite_within(value: object, limit: float) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return False
    return math.isfinite(number) and abs(number) <= limit


def _reading_problem(row: tuple[Any, ...], channels: int) -> str:
    seq, t, channel, temp_c, status = row
    if not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        return f"seq is not a sequence number: {_show(seq)}"
    if not _finite_within(t, MAX_T_S):
        return f"t is not a session time in seconds: {_show(t)}"
    if not isinstance(channel, int) or not 0 <= channel < channels:
        return (f"channel {_show(channel)} is not in the channel map (0..{channels - 1})"
                if channels else f"channel {_show(channel)}: the channel map is empty")
    if not isinstance(status, int) or status not in set(Status):
        return f"status {_show(status)} is not a reading status (0..{max(Status)})"
    if temp_c is not None and not _finite_within(temp_c, float("inf")):
        return f"temp_c is not a finite temperature: {_show(temp_c)}"
    return f"status OK without a temperature (temp_c {_show(temp_c)})"


def _sqlite_reason(exc: sqlite3.Error) -> str:
    text = str(exc) or type(exc).__name__
    if "malformed" in text or "not a database" in text or "disk I/O" in text:
        return f"the file is damaged ({text})"
    return text


def _check_meta(path: Path, rows: list[tuple[Any, ...]]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for key, value in rows:
        if not isinstance(key, str):
            raise SessionFileError(f"{path}: meta key {_show(key)} is not text")
        if not isinstance(value, str):
            raise SessionFileError(f"{path}: meta {_show(key)}: the value is not text: "
                                   f"{_show(value)}")
        meta[key] = value
    return meta


def _started(path: Path, meta: dict[str, str]) -> datetime | None:
    text = meta.get("started")
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SessionFileError(f"{path}: meta started is not an ISO 8601 date: {_show(text)}"
                               ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise SessionFileError(f"{path}: meta started is out of range: {_show(text)}") from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise SessionFileError(f"{path}: meta started is out of range ({YEARS[0]}–{YEARS[1]}): "
                               f"{_show(text)}")
    return moment


def _number(path: Path, meta: dict[str, str], key: str) -> float | None:
    text = meta.get(key)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > MAX_T_S:
        raise SessionFileError(f"{path}: meta {key} is not a session time in seconds: "
                               f"{_show(text)}")
    return value


def _json(text: object, where: str) -> Any:
    """Strict JSON: no NaN/Infinity, no number that is not finite, no absurdly long integer."""
    if not isinstance(text, str):
        raise SessionFileError(f"{where} is not JSON text: {_show(text)}")

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    def number(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise ValueError(f"{token[:20]} is too large")
        return value

    def integer(token: str) -> int:
        if len(token.lstrip("-")) > MAX_INT_DIGITS:
            raise ValueError(f"an integer of {len(token)} digits is too large")
        return int(token)

    try:
        return json.loads(text, parse_constant=constant, parse_float=number, parse_int=integer)
    except (ValueError, RecursionError) as exc:
        raise SessionFileError(f"{where} is not valid JSON: {printable(str(exc))[:80]}"
                               ) from None


def _config(path: Path, meta: dict[str, str]) -> dict[str, Any]:
    text = meta.get("config")
    if not text:
        return {}
    value = _json(text, f"{path}: meta config")
    if not isinstance(value, dict):
        raise SessionFileError(f"{path}: meta config is not a JSON object")
    return value


def _channels(path: Path, rows: list[tuple[Any, ...]]) -> tuple[list[ChannelInfo], list[str]]:
    infos: list[ChannelInfo] = []
    seen: dict[str, int] = {}
    for row in rows:
        num, cid, label, role, device, index, tc_type, configured = row
        where = f"{path}: channels row num={_show(num)}"
        if not isinstance(num, int) or not 0 <= num < MAX_CHANNELS:
            raise SessionFileError(f"{where}: num is not a channel number "
                                   f"(0..{MAX_CHANNELS - 1})")
        if not isinstance(cid, str) or not cid.strip():
            raise SessionFileError(f"{where}: id is not a channel name: {_show(cid)}")
        if control_characters(cid):
            raise SessionFileError(f"{where}: id {_show(cid)} holds control characters")
        if cid in seen:
            raise SessionFileError(f"{where}: id {_show(cid)} is also channel {seen[cid]}")
        seen[cid] = num
        for name, value in (("label", label), ("role", role), ("device", device),
                            ("tc_type", tc_type)):
            if value is not None and not isinstance(value, str):
                raise SessionFileError(f"{where}: {name} is not text: {_show(value)}")
        if index is not None and not isinstance(index, int | str):
            raise SessionFileError(f"{where}: device_index is not a number or a key: "
                                   f"{_show(index)}")
        if configured is not None and not isinstance(configured, int):
            raise SessionFileError(f"{where}: configured is not 0 or 1: {_show(configured)}")
        infos.append(channel_from_row(tuple(row)))
    for expected, row in enumerate(rows):  # rows come ordered by num; the writer numbers
        if row[0] != expected:              # channels 0, 1, 2, ... without gaps
            raise SessionFileError(f"{path}: channels: channel number {expected} is missing "
                                   f"(the numbers run 0..{len(rows) - 1})")
    return infos, [info.id for info in infos]


def _seq_t(path: Path, table: str, seq: object, t: object) -> tuple[int, float]:
    if not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise SessionFileError(f"{path}: {table} row seq={_show(seq)}: seq is not a sequence "
                               "number")
    if not _finite_within(t, MAX_T_S):
        raise SessionFileError(f"{path}: {table} row seq={seq}: t is not a session time in "
                               f"seconds: {_show(t)}")
    return seq, float(t)  # type: ignore[arg-type]


def _input(path: Path, row: tuple[Any, ...]) -> SessionInput:
    seq, t, kind, payload = row
    seq, t = _seq_t(path, "inputs", seq, t)
    where = f"{path}: inputs row seq={seq}"
    if not isinstance(kind, str):
        raise SessionFileError(f"{where}: kind is not text: {_show(kind)}")
    data = _json(payload, f"{where}: payload")
    if not isinstance(data, dict):
        raise SessionFileError(f"{where}: payload is not a JSON object")
    return SessionInput(seq, t, kind, data)


def _event(path: Path, row: tuple[Any, ...]) -> tuple[int, dict[str, Any]]:
    seq, t, kind, text = row
    seq, _t = _seq_t(path, "events", seq, t)
    where = f"{path}: events row seq={seq}"
    if not isinstance(kind, str):
        raise SessionFileError(f"{where}: type is not text: {_show(kind)}")
    record = _json(text, f"{where}: json")
    if not isinstance(record, dict):
        raise SessionFileError(f"{where}: json is not a JSON object")
    if not isinstance(record.get("type"), str):
        raise SessionFileError(f"{where}: json has no type")
    if not _finite_within(record.get("t"), MAX_T_S):
        raise SessionFileError(f"{where}: json t is not a session time in seconds: "
                               f"{_show(record.get('t'))}")
    for key in ("value", "limit"):
        value = record.get(key)
        if value is not None and not _finite_within(value, float("inf")):
            raise SessionFileError(f"{where}: json {key} is not a temperature: {_show(value)}")
    cycle = record.get("cycle")
    if cycle is not None and not (isinstance(cycle, int) and not isinstance(cycle, bool)
                                  and abs(cycle) <= MAX_CYCLE):
        raise SessionFileError(f"{where}: json cycle is not a cycle number: {_show(cycle)}")
    return seq, record
