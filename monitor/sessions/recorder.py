"""The session recorder: every reading, input and event into the session file, off the alarm path.

The public methods only append to an in-memory list under a lock (no I/O, no waiting), so the
asyncio loop and the engine are never delayed by the disk. ONE writer thread owns the SQLite
connection and does all the work:

* readings are committed at least once per ``commit_interval_s``;
* every event (alarm, device, session, audio, cycle: all rare) is committed at once, together with
  everything handed over before it;
* a write that fails (full disk, vanished directory or file, read-only file, locked database, any
  ``sqlite3`` error) is reported through ``on_fault`` and retried every ``retry_interval_s`` while
  the data waits in memory. The backlog is bounded: past ``max_backlog_readings`` the OLDEST
  READINGS are dropped (inputs and events never are), counted, and the count is reported through
  ``on_fault``. ``on_recover`` (optional) hears when writing works again.

Nothing here raises into the caller after :meth:`Recorder.open`. ``on_fault``/``on_recover`` are
called from the writer thread (or, if the writer is stuck inside a system call, once from the
caller's thread): the daemon must hand them to its loop with ``call_soon_threadsafe``.

Sequence numbers: readings, inputs and events share one counter, assigned in call order (see
:mod:`monitor.sessions.schema`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from monitor.errors import CryoGuardError
from monitor.model import Event, Reading, utc_now
from monitor.sessions.schema import (
    APPLICATION_ID,
    ChannelInfo,
    channel_row,
    configure_writer,
    create_schema,
    iso_utc,
    start_meta,
)

FaultHandler = Callable[[str], None]

_READINGS, _INPUT, _EVENT = 0, 1, 2
_INSERT_READING = "INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?)"
_INSERT_INPUT = "INSERT OR IGNORE INTO inputs VALUES (?, ?, ?, ?)"
_INSERT_EVENT = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)"
_INSERT_CHANNEL = "INSERT OR REPLACE INTO channels VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"

_ReadingRow = tuple[int, float, int, float | None, int]
_Row4 = tuple[int, float, str, str]


class RecorderStats(NamedTuple):
    """``pending``: handed over but not yet committed; ``faults``: reports made via on_fault."""

    written_readings: int
    written_events: int
    pending: int
    faults: int


class _WriteError(Exception):
    """The session file cannot be written right now (wraps the cause in a readable message)."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class Recorder:
    """Records one session into one SQLite file; create it with :meth:`Recorder.open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection, meta: dict[str, str],
                 channels: Sequence[ChannelInfo], *, commit_interval_s: float,
                 on_fault: FaultHandler, on_recover: FaultHandler | None,
                 max_backlog_readings: int, retry_interval_s: float, busy_timeout_s: float,
                 drop_report_interval_s: float, close_timeout_s: float) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = conn
        self._ident = self._stat_ident()
        self._meta = meta
        self._on_fault = on_fault
        self._on_recover = on_recover
        self._interval = commit_interval_s
        self._max_backlog = max(1, max_backlog_readings)
        self._retry_s = retry_interval_s
        self._busy_s = busy_timeout_s
        self._drop_report_s = drop_report_interval_s
        self._close_timeout_s = close_timeout_s
        # Shared with callers, guarded by _lock.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._items: list[tuple[int, int, Any]] = []
        self._queued_readings = 0
        self._seq = 0
        self._close_t: float | None = None
        self._closing = False
        self._late = 0
        self._late_readings = 0
        self._shed = 0
        self._stall_reported = False
        # Owned by the writer thread.
        self._channels: dict[str, int] = {c.id: n for n, c in enumerate(channels)}
        self._infos: list[ChannelInfo] = list(channels)
        self._unsaved_channels: list[int] = []
        self._meta_pending: dict[str, str] = {}
        self._rows: list[_ReadingRow] = []
        self._inputs: list[_Row4] = []
        self._events: list[_Row4] = []
        self._written_readings = 0
        self._written_events = 0
        self._dropped = 0
        self._dropped_reported = 0
        self._last_drop_report = float("-inf")
        self._faults = 0
        self._in_fault = False
        self._fault_text = ""
        self._next_retry = 0.0
        self._thread = threading.Thread(target=self._run, name="cryoguard-recorder", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: Path | str, *, config_snapshot: Mapping[str, Any],
             channels: Sequence[ChannelInfo], station: str, wall_start: datetime,
             commit_interval_s: float = 1.0, on_fault: FaultHandler,
             on_recover: FaultHandler | None = None, max_backlog_readings: int = 200_000,
             retry_interval_s: float = 1.0, busy_timeout_s: float = 1.0,
             drop_report_interval_s: float = 5.0, close_timeout_s: float = 5.0) -> Recorder:
        """Create the session file (schema, meta, channel map) and start the writer thread.

        Raises :class:`CryoGuardError` when the file cannot be created: an existing file is
        never overwritten. ``max_backlog_readings`` bounds what is kept in memory while the
        file cannot be written (200,000 readings is about 20 min at 16 channels × 10 Hz).
        """
        target = Path(path)
        _check_new_file(target)
        meta = start_meta(station=station, wall_start=wall_start,
                          config_snapshot=config_snapshot, commit_interval_s=commit_interval_s)
        ids = [c.id for c in channels]
        if len(set(ids)) != len(ids):
            raise CryoGuardError(f"session file {target}: duplicate channel ids in {ids}")
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False,
                                   timeout=busy_timeout_s)
            configure_writer(conn)
            conn.execute("BEGIN IMMEDIATE")
            create_schema(conn)
            conn.executemany(_INSERT_META, sorted(meta.items()))
            conn.executemany(_INSERT_CHANNEL,
                             [channel_row(n, c) for n, c in enumerate(channels)])
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise CryoGuardError(f"cannot create the session file {target}: {exc}") from exc
        return cls(target, conn, meta, channels, commit_interval_s=commit_interval_s,
                   on_fault=on_fault, on_recover=on_recover,
                   max_backlog_readings=max_backlog_readings, retry_interval_s=retry_interval_s,
                   busy_timeout_s=busy_timeout_s, drop_report_interval_s=drop_report_interval_s,
                   close_timeout_s=close_timeout_s)

    # ------------------------------------------------------- the caller's side

    @property
    def path(self) -> Path:
        return self._path

    def readings(self, readings: Sequence[Reading]) -> None:
        """Hand over readings (seq numbers in call order). Never blocks on I/O, never raises."""
        if not readings:
            return
        batch = tuple(readings)
        report: str | None = None
        with self._lock:
            if self._closing:
                self._late += len(batch)
                self._late_readings += len(batch)
                report = self._late_message() if self._late == len(batch) else None
            else:
                self._items.append((_READINGS, self._seq, batch))
                self._seq += len(batch)
                self._queued_readings += len(batch)
                if self._queued_readings > self._max_backlog:
                    report = self._shed_queue()
        if report is not None:
            self._report(report)

    def input(self, t: float, kind: str, payload: Mapping[str, Any]) -> None:
        """Hand over one non-reading engine input (operator action, device state, bad data)."""
        self._put(_INPUT, (t, kind, dict(payload)), wake=False)

    def event(self, event: Event, record: Mapping[str, Any]) -> None:
        """Hand over one event; ``record`` is the JSON object of the event stream.

        Events are committed at once (with everything handed over before them)."""
        self._put(_EVENT, (event.t, str(event.type), dict(record)), wake=True)

    def close(self, t_end: float) -> None:
        """Flush, commit, write the end meta, checkpoint and close. Idempotent.

        Blocks until the writer is done (at most ``close_timeout_s`` of retries when the disk
        fails): call it at shutdown, or through ``asyncio.to_thread``."""
        with self._lock:
            if not self._closing:
                self._closing = True
                self._close_t = float(t_end)
        self._wake.set()
        if threading.current_thread() is self._thread:
            return
        self._thread.join(self._close_timeout_s + 2 * self._busy_s + 5.0)
        if self._thread.is_alive():
            self._report(f"session file {self._path}: the writer did not finish in time; "
                         f"{self.stats.pending} item(s) may not be saved")

    @property
    def stats(self) -> RecorderStats:
        with self._lock:
            queued = sum(len(i[2]) if i[0] == _READINGS else 1 for i in self._items)
        pending = queued + len(self._rows) + len(self._inputs) + len(self._events)
        return RecorderStats(self._written_readings, self._written_events, pending, self._faults)

    @property
    def dropped_readings(self) -> int:
        """Readings lost because the backlog was full or they came after close (all reported)."""
        with self._lock:
            return self._dropped + self._shed + self._late_readings

    def _put(self, kind: int, payload: tuple[float, str, dict[str, Any]], *, wake: bool) -> None:
        report: str | None = None
        with self._lock:
            if self._closing:
                self._late += 1
                report = self._late_message() if self._late == 1 else None
            else:
                self._items.append((kind, self._seq, payload))
                self._seq += 1
        if wake:
            self._wake.set()
        if report is not None:
            self._report(report)

    def _late_message(self) -> str:
        return (f"session file {self._path}: data handed over after close is not recorded "
                f"({self._late} item(s) so far)")

    def _shed_queue(self) -> str | None:
        """The writer is stuck (it drains the list at every commit): drop the oldest readings."""
        target = self._max_backlog - self._max_backlog // 10
        kept: list[tuple[int, int, Any]] = []
        for item in self._items:
            if item[0] == _READINGS and self._queued_readings > target:
                self._queued_readings -= len(item[2])
                self._shed += len(item[2])
            else:
                kept.append(item)
        self._items = kept
        if self._stall_reported:
            return None
        self._stall_reported = True
        return (f"session file {self._path}: the writer is stalled; dropped {self._shed} "
                f"oldest reading(s) to stay within {self._max_backlog} in memory")

    # ------------------------------------------------------- the writer thread

    def _run(self) -> None:
        try:
            t_end = self._loop()
            self._finish(t_end)
        except BaseException as exc:  # the writer must never die silently
            self._report(f"session recorder stopped unexpectedly: {exc!r}; "
                         "readings are no longer recorded")
            self._drop_connection()
            with self._lock:
                self._closing = True

    def _loop(self) -> float:
        next_commit = time.monotonic() + self._interval
        while True:
            deadline = self._next_retry if self._in_fault else next_commit
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            with self._lock:
                items, self._items = self._items, []
                self._queued_readings = 0
                close_t = self._close_t
            urgent = self._absorb(items)
            if close_t is not None:
                return close_t
            now = time.monotonic()
            if self._in_fault:
                if now >= self._next_retry:
                    self._flush()
            elif urgent or now >= next_commit:
                self._flush()
                next_commit = time.monotonic() + self._interval
            self._limit_backlog()

    def _absorb(self, items: list[tuple[int, int, Any]]) -> bool:
        """Turn handed-over items into table rows; True when one of them must be committed now."""
        urgent = False
        for kind, seq, payload in items:
            if kind == _READINGS:
                self._add_readings(seq, payload)
            elif kind == _INPUT:
                t, name, data = payload
                self._inputs.append((seq, float(t), str(name), _dumps(data)))
            else:
                t, name, record = payload
                self._events.append((seq, float(t), str(name), _dumps(record)))
                urgent = True
        return urgent

    def _add_readings(self, seq: int, batch: tuple[Reading, ...]) -> None:
        rows = self._rows
        channels = self._channels
        bad = 0
        for reading in batch:
            try:
                num = channels.get(reading.channel)
                if num is None:
                    num = self._new_channel(str(reading.channel))
                temp = reading.temp_c
                rows.append((seq, float(reading.t), num, None if temp is None else float(temp),
                             int(reading.status)))
            except (AttributeError, TypeError, ValueError):
                bad += 1
            seq += 1
        if bad:
            self._report(f"session file {self._path}: {bad} reading(s) could not be recorded "
                         "(not a valid Reading)")

    def _new_channel(self, channel: str) -> int:
        num = len(self._infos)
        self._infos.append(ChannelInfo(id=channel, configured=False))
        self._channels[channel] = num
        self._unsaved_channels.append(num)
        return num

    def _flush(self) -> bool:
        """Write everything pending in one transaction; on failure keep it and report."""
        if not (self._rows or self._inputs or self._events or self._unsaved_channels
                or self._meta_pending):
            return True
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._unsaved_channels:
                    conn.executemany(_INSERT_CHANNEL, [channel_row(n, self._infos[n])
                                                       for n in self._unsaved_channels])
                if self._meta_pending:
                    conn.executemany(_INSERT_META, sorted(self._meta_pending.items()))
                if self._rows:
                    conn.executemany(_INSERT_READING, self._rows)
                if self._inputs:
                    conn.executemany(_INSERT_INPUT, self._inputs)
                if self._events:
                    conn.executemany(_INSERT_EVENT, self._events)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            self._check_identity()  # committed into a file that was deleted meanwhile?
        except (sqlite3.Error, OSError, _WriteError) as exc:
            self._drop_connection()
            self._failed(exc)
            return False
        self._written_readings += len(self._rows)
        self._written_events += len(self._events)
        self._rows = []
        self._inputs = []
        self._events = []
        self._unsaved_channels = []
        self._meta_pending = {}
        self._recovered()
        return True

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._reconnect()
        self._check_identity()
        return self._conn

    def _reconnect(self) -> sqlite3.Connection:
        """Open the file again after a failure; re-create it if it vanished (dir still there)."""
        if not self._path.parent.is_dir():
            raise _WriteError(f"directory {self._path.parent} is gone")
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False,
                               timeout=self._busy_s)
        try:
            configure_writer(conn)
            row = conn.execute("PRAGMA application_id").fetchone()
            app_id = int(row[0]) if row else 0
            if app_id == 0:
                conn.execute("BEGIN IMMEDIATE")
                create_schema(conn)
                first_seq = self._first_pending_seq()
                meta = {**self._meta, "resumed_at_seq": str(first_seq)}
                conn.executemany(_INSERT_META, sorted(meta.items()))
                conn.execute("COMMIT")
                self._unsaved_channels = list(range(len(self._infos)))
                self._report(f"session file {self._path} was re-created: data before "
                             f"seq {first_seq} is not in it")
            elif app_id != APPLICATION_ID:
                raise _WriteError(f"{self._path} is no longer a CryoGuard session file")
        except BaseException:
            conn.close()
            raise
        self._ident = self._stat_ident()
        return conn

    def _first_pending_seq(self) -> int:
        seqs = [rows[0][0] for rows in (self._rows, self._inputs, self._events) if rows]
        return min(seqs, default=self._seq)

    def _stat_ident(self) -> tuple[int, int]:
        info = os.stat(self._path)
        return (info.st_dev, info.st_ino)

    def _check_identity(self) -> None:
        try:
            ident = self._stat_ident()
        except FileNotFoundError as exc:
            raise _WriteError("the file vanished") from exc
        if ident != self._ident:
            raise _WriteError("the file was replaced")

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _pending_count(self) -> int:
        return len(self._rows) + len(self._inputs) + len(self._events)

    def _failed(self, exc: BaseException) -> None:
        text = _describe(exc)
        self._next_retry = time.monotonic() + self._retry_s
        if self._in_fault and text == self._fault_text:
            return
        self._in_fault = True
        self._fault_text = text
        self._report(f"session file {self._path}: cannot write ({text}{self._free_space()}); "
                     f"keeping {self._pending_count()} item(s) in memory, retrying every "
                     f"{self._retry_s:g} s")

    def _free_space(self) -> str:
        try:
            free = shutil.disk_usage(self._path.parent).free
        except OSError:
            return ""
        return f"; {free / 1e6:.1f} MB free on its disk"


    def _recovered(self) -> None:
        with self._lock:
            self._stall_reported = False
            shed = self._shed
        self._report_drops(shed, force=True)
        if not self._in_fault:
            return
        self._in_fault = False
        self._fault_text = ""
        lost = self._dropped + shed
        message = (f"session file {self._path}: writing again"
                   + (f"; {lost} reading(s) were dropped meanwhile" if lost else ""))
        if self._on_recover is not None:
            try:
                self._on_recover(message)
            except Exception as exc:  # a failing callback must not stop the recorder
                print(f"cryoguard: on_recover failed: {exc!r}", file=sys.stderr)

    def _limit_backlog(self) -> None:
        """Past the limit, drop the oldest readings (never inputs or events) and say so."""
        excess = len(self._rows) - self._max_backlog
        if excess > 0:
            count = min(len(self._rows), excess + self._max_backlog // 10)
            del self._rows[:count]
            self._dropped += count
        with self._lock:
            shed = self._shed
        self._report_drops(shed, force=False)

    def _report_drops(self, shed: int, *, force: bool) -> None:
        total = self._dropped + shed
        if total == self._dropped_reported:
            return
        now = time.monotonic()
        first = self._dropped_reported == 0
        if not (force or first or now - self._last_drop_report >= self._drop_report_s):
            return
        self._dropped_reported = total
        self._last_drop_report = now
        self._report(f"session file {self._path}: {total} reading(s) dropped so far "
                     f"(backlog limit {self._max_backlog} while the file could not be written)")

    def _finish(self, t_end: float) -> None:
        """Last flush with the end meta, a checkpoint, and close (retrying for a while)."""
        deadline = time.monotonic() + self._close_timeout_s
        while True:
            with self._lock:
                shed = self._shed
            self._meta_pending.update({
                "ended": iso_utc(utc_now()),
                "t_end": repr(float(t_end)),
                "readings_written": str(self._written_readings + len(self._rows)),
                "events_written": str(self._written_events + len(self._events)),
                "readings_dropped": str(self._dropped + shed),
                "closed_cleanly": "1",
            })
            if self._flush():
                break
            if time.monotonic() >= deadline:
                self._report(f"session file {self._path}: closed without saving "
                             f"{len(self._rows)} reading(s), {len(self._inputs)} input(s) and "
                             f"{len(self._events)} event(s)")
                break
            time.sleep(self._retry_s)
        conn = self._conn
        if conn is not None:
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                self._report(f"session file {self._path}: final checkpoint failed ({exc}); "
                             "the data is safe in the -wal file beside it")
            else:
                # A closed session is one self-contained file: read-only openers then need no
                # -wal/-shm beside it. Fails harmlessly (stays WAL) while a reader is attached.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA journal_mode=DELETE")
        self._drop_connection()

    def _report(self, message: str) -> None:
        self._faults += 1
        try:
            self._on_fault(message)
        except Exception as exc:  # a failing callback must not stop the recorder
            print(f"cryoguard: {message} (on_fault failed: {exc!r})", file=sys.stderr)


def _describe(exc: BaseException) -> str:
    """The error text plus SQLite's precise code (``SQLITE_FULL``, ``SQLITE_IOERR_WRITE``...)."""
    text = str(exc) or type(exc).__name__
    code = getattr(exc, "sqlite_errorname", None)
    return f"{text} [{code}]" if code else text


def _rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def _check_new_file(path: Path) -> None:
    """A session file is always new: refuse to overwrite one, create missing directories."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CryoGuardError(f"cannot create the session directory {path.parent}: "
                             f"{exc.strerror or exc}") from exc
    if path.is_dir():
        raise CryoGuardError(f"session path {path} is a directory; give a file name")
    if path.exists() and path.stat().st_size > 0:
        raise CryoGuardError(f"session file {path} already exists; choose another path")
    for suffix in ("-wal", "-journal"):
        leftover = path.with_name(path.name + suffix)
        if leftover.exists():
            raise CryoGuardError(f"{leftover} is left over from another session; move it away "
                                 "or choose another path")
