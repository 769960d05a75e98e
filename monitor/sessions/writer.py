"""The session file writer: synchronous, single-threaded, no queue and no thread of its own.

:class:`SessionWriter` owns the SQLite connection of one session file. Rows are buffered by
``write_*`` (no I/O) and committed by :meth:`SessionWriter.flush` in one transaction; a failed
flush raises :class:`WriteFault` and keeps every row for the next attempt. It checks before and
after each commit that the path still names the file it created (a deleted or replaced file is
a fault, not a silent write into nothing), reconnects after a failure, re-creates a deleted file
(never a deleted directory), and :meth:`SessionWriter.finish` writes the end meta, checkpoints
and leaves ONE file. When a flush is due (commit interval, an event, a retry) is decided here
too, from an injected clock, so all of it is tested without threads or sleeps
(``tests/test_session_writer.py``). The thread around it: :mod:`monitor.sessions.recorder`.

Files are created 0600 (directories 0700) whatever the umask, never through a symlink: the file
is created privately with ``O_EXCL|O_NOFOLLOW`` first (:mod:`monitor.files`) and only then
opened by SQLite, which gives its ``-wal`` and ``-shm`` files the database file's mode.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.errors import CryoGuardError
from monitor.files import UnsafePathError, create_private, private_dir
from monitor.model import Reading, utc_now
from monitor.sessions.schema import (
    APPLICATION_ID,
    ChannelInfo,
    channel_row,
    configure_writer,
    create_schema,
    dumps,
    iso_utc,
)

Clock = Callable[[], float]
ConnectHook = Callable[[sqlite3.Connection], None]

INSERT_READING = "INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?)"
INSERT_INPUT = "INSERT OR IGNORE INTO inputs VALUES (?, ?, ?, ?)"
INSERT_EVENT = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)"
INSERT_CHANNEL = "INSERT OR REPLACE INTO channels VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_META = "INSERT OR REPLACE INTO meta VALUES (?, ?)"

ReadingRow = tuple[int, float, int, float | None, int]
Row4 = tuple[int, float, str, str]


class WriteFault(Exception):
    """The session file cannot be written now. ``reason`` is short ("disk full"), the message
    says more (with SQLite's error code)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} ({detail})" if detail and detail != reason else reason)
        self.reason = reason


def file_identity(path: Path) -> tuple[int, int]:
    """``(device, inode)`` of what ``path`` names now (a symlink is never ours)."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return (-1, -1)
    return (info.st_dev, info.st_ino)


def check_new_path(path: Path) -> None:
    """A session file is always new: refuse an existing file, a symlink, a leftover journal."""
    if path.is_dir():
        raise CryoGuardError(f"session path {path} is a directory; give a file name")
    if path.is_symlink():
        raise UnsafePathError(f"session path {path} is a symbolic link; CryoGuard does not "
                              "write through links: give the real path")
    if path.exists():
        raise CryoGuardError(f"session file {path} already exists; choose another path")
    for suffix in ("-wal", "-shm", "-journal"):
        leftover = path.with_name(path.name + suffix)
        if os.path.lexists(leftover):
            raise CryoGuardError(f"{leftover} is left over from another session; move it away "
                                 "or choose another path")


def _create_file(path: Path) -> tuple[int, int]:
    """Create the empty file privately (0600, O_EXCL|O_NOFOLLOW); its identity."""
    fd = create_private(path, exclusive=True)
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    return (info.st_dev, info.st_ino)


class SessionWriter:
    """Writes one session file. Create with :meth:`SessionWriter.create`; one thread at a time.

    Scheduling (no I/O): :meth:`flush_due` says whether a commit is due now — an event was
    written, ``commit_interval_s`` passed since the last commit, or, after a fault, the next
    retry (every ``retry_interval_s``) has come; :meth:`next_due` says when.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, identity: tuple[int, int],
                 meta: Mapping[str, str], channels: Sequence[ChannelInfo], *,
                 commit_interval_s: float, retry_interval_s: float, busy_timeout_s: float,
                 clock: Clock, wall_clock: Callable[[], datetime],
                 on_connect: ConnectHook | None) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._identity = identity
        self._meta = dict(meta)
        self._interval = commit_interval_s
        self._retry_s = retry_interval_s
        self._busy_s = busy_timeout_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._on_connect = on_connect
        self._infos: list[ChannelInfo] = list(channels)
        self._nums: dict[str, int] = {c.id: n for n, c in enumerate(channels)}
        self._unsaved_channels: list[int] = []
        self._meta_pending: dict[str, str] = {}
        self._rows: list[ReadingRow] = []
        self._inputs: list[Row4] = []
        self._events: list[Row4] = []
        self._urgent = False
        self._next_seq = 0  # one past the greatest seq written so far
        self._last_commit = clock()
        self._next_retry = 0.0
        self.fault: WriteFault | None = None
        """The current fault (None while writing works)."""
        self.readings_in_file = 0
        self.events_in_file = 0
        self.inputs_in_file = 0
        self.committed = [0, 0, 0]
        """Readings, inputs, events committed in this session, in any file (the file may have
        been deleted and re-created since)."""
        self.last_t_in_file: float | None = None
        """The greatest session time committed into the current file."""
        self.recreated_at_seq: int | None = None
        """Set when the file vanished and was re-created: what came before is not in it."""
        self.recreated_after_t: float | None = None
        """The last session time that was in the deleted file."""
        self.finished = False
        self.invalid_readings = 0

    @property
    def identity(self) -> tuple[int, int]:
        """``(device, inode)`` of the file this writer made (after a re-creation: the new one)."""
        return self._identity

    # ----------------------------------------------------------------- opening

    @classmethod
    def create(cls, path: Path | str, *, meta: Mapping[str, str],
               channels: Sequence[ChannelInfo], commit_interval_s: float = 1.0,
               retry_interval_s: float = 1.0, busy_timeout_s: float = 1.0,
               clock: Clock = time.monotonic, wall_clock: Callable[[], datetime] = utc_now,
               on_connect: ConnectHook | None = None) -> SessionWriter:
        """Create the file (0600, never through a symlink) with schema, meta and channel map.

        Raises :class:`CryoGuardError` with one line when it cannot; an existing file is never
        touched. ``on_connect`` runs on every new connection (tests set pragmas there).
        """
        target = Path(path)
        ids = [c.id for c in channels]
        if len(set(ids)) != len(ids):
            raise CryoGuardError(f"session file {target}: duplicate channel ids in {ids}")
        try:
            private_dir(target.parent)
        except CryoGuardError as exc:
            raise CryoGuardError(f"cannot create the session directory: {exc}") from exc
        check_new_path(target)
        try:
            identity = _create_file(target)
        except FileExistsError as exc:
            raise CryoGuardError(f"session file {target} already exists; choose another path"
                                 ) from exc
        except OSError as exc:
            raise CryoGuardError(f"cannot create the session file {target}: "
                                 f"{exc.strerror or exc}") from exc
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(target, busy_timeout_s, on_connect)
            if file_identity(target) != identity:
                raise CryoGuardError(f"session file {target} was replaced while it was being "
                                     "created; not writing into it")
            conn.execute("BEGIN IMMEDIATE")
            create_schema(conn)
            conn.executemany(INSERT_META, sorted(meta.items()))
            conn.executemany(INSERT_CHANNEL, [channel_row(n, c) for n, c in enumerate(channels)])
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError, CryoGuardError) as exc:
            if conn is not None:
                conn.close()
            with contextlib.suppress(OSError):
                if file_identity(target) == identity:
                    os.unlink(target)
            if isinstance(exc, CryoGuardError):
                raise
            raise CryoGuardError(f"cannot create the session file {target}: "
                                 f"{describe(exc)}") from exc
        return cls(target, conn, identity, meta, channels, commit_interval_s=commit_interval_s,
                   retry_interval_s=retry_interval_s, busy_timeout_s=busy_timeout_s,
                   clock=clock, wall_clock=wall_clock, on_connect=on_connect)

    # ------------------------------------------------------------------- write

    def write_readings(self, seq: int, batch: Iterable[Reading]) -> None:
        """Buffer readings numbered from ``seq``; what is not a valid Reading is counted."""
        rows = self._rows
        nums = self._nums
        for reading in batch:
            try:
                num = nums.get(reading.channel)
                if num is None:
                    num = self._new_channel(str(reading.channel))
                temp = reading.temp_c
                rows.append((seq, float(reading.t), num, None if temp is None else float(temp),
                             int(reading.status)))
            except (AttributeError, TypeError, ValueError):
                self.invalid_readings += 1
            seq += 1
        self._next_seq = max(self._next_seq, seq)

    def write_input(self, seq: int, t: float, kind: str, payload: Mapping[str, Any]) -> None:
        self._inputs.append((seq, float(t), str(kind), dumps(dict(payload))))
        self._next_seq = max(self._next_seq, seq + 1)

    def write_event(self, seq: int, t: float, kind: str, record: Mapping[str, Any]) -> None:
        """Buffer an event: it makes a commit due at once (with everything before it)."""
        self._events.append((seq, float(t), str(kind), dumps(dict(record))))
        self._next_seq = max(self._next_seq, seq + 1)
        self._urgent = True

    def write_meta(self, key: str, value: str) -> None:
        self._meta_pending[key] = str(value)
        self._meta[key] = str(value)

    def _new_channel(self, channel: str) -> int:
        num = len(self._infos)
        self._infos.append(ChannelInfo(id=channel, configured=False))
        self._nums[channel] = num
        self._unsaved_channels.append(num)
        return num

    @property
    def pending(self) -> int:
        """Rows buffered and not yet committed (readings, inputs, events)."""
        return len(self._rows) + len(self._inputs) + len(self._events)

    @property
    def pending_readings(self) -> int:
        return len(self._rows)

    @property
    def pending_events(self) -> int:
        return len(self._events)

    def first_pending_t(self) -> float | None:
        times = [rows[0][1] for rows in (self._rows, self._inputs, self._events) if rows]
        return min(times, default=None)

    # -------------------------------------------------------------- scheduling

    def flush_due(self) -> bool:
        return self._clock() >= self.next_due()

    def next_due(self) -> float:
        """Monotonic time at which :meth:`flush` should run next."""
        if self.fault is not None:
            return self._next_retry
        if self._urgent:
            return self._last_commit  # now
        return self._last_commit + self._interval

    # ------------------------------------------------------------------- flush

    def flush(self) -> None:
        """Commit everything buffered in one transaction, or raise :class:`WriteFault`.

        On failure nothing buffered is lost and the connection is dropped, so the next attempt
        (due ``retry_interval_s`` later) reconnects and checks the file again.
        """
        now = self._clock()
        if not (self.pending or self._unsaved_channels or self._meta_pending):
            self._last_commit = now
            self._urgent = False
            self.fault = None
            return
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._unsaved_channels:
                    conn.executemany(INSERT_CHANNEL, [channel_row(n, self._infos[n])
                                                      for n in self._unsaved_channels])
                if self._meta_pending:
                    conn.executemany(INSERT_META, sorted(self._meta_pending.items()))
                if self._rows:
                    conn.executemany(INSERT_READING, self._rows)
                if self._inputs:
                    conn.executemany(INSERT_INPUT, self._inputs)
                if self._events:
                    conn.executemany(INSERT_EVENT, self._events)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            self.check_identity()  # committed into a file that was deleted meanwhile?
        except (sqlite3.Error, OSError, WriteFault) as exc:
            self.drop_connection()
            self.fault = exc if isinstance(exc, WriteFault) else _fault(exc, self.path)
            self._next_retry = self._clock() + self._retry_s
            raise self.fault from exc
        last = max((row[1] for rows in (self._rows, self._inputs, self._events) for row in rows),
                   default=None)
        if last is not None:
            self.last_t_in_file = last if self.last_t_in_file is None else max(
                self.last_t_in_file, last)
        self.readings_in_file += len(self._rows)
        self.events_in_file += len(self._events)
        self.inputs_in_file += len(self._inputs)
        self.committed[0] += len(self._rows)
        self.committed[1] += len(self._inputs)
        self.committed[2] += len(self._events)
        self._rows, self._inputs, self._events = [], [], []
        self._unsaved_channels = []
        self._meta_pending = {}
        self._urgent = False
        self._last_commit = self._clock()
        self.fault = None

    # ------------------------------------------------------ connection, identity

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self.reconnect()
        self.check_identity()
        return self._conn

    def check_identity(self) -> None:
        """Raise :class:`WriteFault` unless the path still names the file this writer made."""
        try:
            identity = file_identity(self.path)
        except FileNotFoundError as exc:
            gone = not self.path.parent.is_dir()
            raise WriteFault("the session directory was deleted" if gone
                             else "the file was deleted") from exc
        except OSError as exc:
            raise WriteFault("cannot check the file", exc.strerror or str(exc)) from exc
        if identity != self._identity:
            raise WriteFault("the file was replaced by another file")

    def reconnect(self) -> sqlite3.Connection:
        """Open the file again after a failure; re-create it privately if it was deleted.

        A deleted directory is not re-created (it may have been a removed disk); a file that
        is now another file (replaced, or a symlink) is never written.
        """
        if not self.path.parent.is_dir():
            raise WriteFault("the session directory was deleted")
        created = False
        if not os.path.lexists(self.path):
            try:
                self._identity = _create_file(self.path)
            except OSError as exc:
                raise WriteFault("cannot re-create the deleted file",
                                 exc.strerror or str(exc)) from exc
            for suffix in ("-wal", "-shm"):  # the old file's, if they are still there
                with contextlib.suppress(OSError):
                    os.unlink(self.path.with_name(self.path.name + suffix))
            created = True
        self.check_identity()
        conn = _connect(self.path, self._busy_s, self._on_connect)
        try:
            row = conn.execute("PRAGMA application_id").fetchone()
            if created or (row and int(row[0]) == 0):
                self._recreate(conn)
            elif not row or int(row[0]) != APPLICATION_ID:
                raise WriteFault("the file is no longer a CryoGuard session file")
        except BaseException:
            conn.close()
            raise
        return conn

    def _recreate(self, conn: sqlite3.Connection) -> None:
        first = min((rows[0][0] for rows in (self._rows, self._inputs, self._events) if rows),
                    default=self._next_seq)
        conn.execute("BEGIN IMMEDIATE")
        create_schema(conn)
        meta = {**self._meta, "resumed_at_seq": str(first)}
        conn.executemany(INSERT_META, sorted(meta.items()))
        conn.execute("COMMIT")
        self._unsaved_channels = list(range(len(self._infos)))
        self.recreated_at_seq = first
        self.recreated_after_t = self.last_t_in_file
        self.readings_in_file = self.events_in_file = self.inputs_in_file = 0
        self.last_t_in_file = None

    def drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # ------------------------------------------------------------------ finish

    def finish(self, t_end: float) -> None:
        """Flush with the end meta, checkpoint into one file and close; :class:`WriteFault`
        when the last flush fails (call again to retry; :meth:`abandon` to give up)."""
        self.write_meta("ended", iso_utc(self._wall_clock()))
        self.write_meta("t_end", repr(float(t_end)))
        self.write_meta("readings_written", str(self.readings_in_file + len(self._rows)))
        self.write_meta("events_written", str(self.events_in_file + len(self._events)))
        self.write_meta("closed_cleanly", "1")
        self.flush()
        conn = self._conn
        self.finished = True
        if conn is None:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            # A closed session is one self-contained file: read-only openers then need no
            # -wal/-shm beside it. Fails harmlessly (stays WAL) while a reader is attached.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error:
            pass  # the data is committed in the -wal file beside it: safe, just two files
        self.drop_connection()

    def abandon(self) -> None:
        """Give up: close the connection, keep nothing buffered (counts say what was lost)."""
        self.drop_connection()


def _connect(path: Path, busy_timeout_s: float, hook: ConnectHook | None) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=busy_timeout_s)
    try:
        configure_writer(conn)
        if hook is not None:
            hook(conn)
    except BaseException:
        conn.close()
        raise
    return conn


_REASONS = {
    "SQLITE_FULL": "disk full",
    "SQLITE_READONLY": "the file is read-only",
    "SQLITE_BUSY": "the file is locked by another program",
    "SQLITE_LOCKED": "the file is locked by another program",
    "SQLITE_CANTOPEN": "cannot open the file",
    "SQLITE_CORRUPT": "the file is corrupted",
    "SQLITE_NOTADB": "the file is no longer a database",
    "SQLITE_PERM": "permission denied",
}
_ERRNO_REASONS = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded",
                  errno.EFBIG: "file too large", errno.EROFS: "read-only file system",
                  errno.EACCES: "permission denied", errno.EIO: "input/output error"}


def describe(exc: BaseException) -> str:
    """The error text plus SQLite's precise code (``SQLITE_FULL``, ``SQLITE_IOERR_WRITE``...)."""
    text = str(exc) or type(exc).__name__
    code = getattr(exc, "sqlite_errorname", None)
    return f"{text} [{code}]" if code else text


def _fault(exc: BaseException, path: Path) -> WriteFault:
    code = str(getattr(exc, "sqlite_errorname", "") or "")
    reason = _REASONS.get(code)
    if reason is None and code.startswith("SQLITE_IOERR"):
        reason = "write error"
    if reason is None and code.startswith("SQLITE_READONLY"):
        reason = "the file is read-only"
    if reason is None and code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        reason = "the file is locked by another program"
    if reason is None and isinstance(exc, OSError) and exc.errno in _ERRNO_REASONS:
        reason = _ERRNO_REASONS[exc.errno]
    if reason is None and not path.parent.is_dir():
        reason = "the session directory was deleted"
    return WriteFault(reason or "cannot write", describe(exc))
