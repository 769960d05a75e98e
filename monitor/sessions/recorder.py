"""The session recorder: every reading, input and event into the session file, off the alarm path.

A thin thread around :class:`monitor.sessions.writer.SessionWriter`. The callers' methods only
append to the :class:`monitor.sessions.backlog.Backlog` (no I/O, no waiting, never raise); ONE
writer thread takes from it and writes:

* readings are committed at least once per ``commit_interval_s``;
* every event (alarm, device, session, audio, cycle: all rare) is committed at once, together
  with everything handed over before it;
* a write that fails (full disk, deleted file or directory, replaced or read-only file, locked
  database, any ``sqlite3`` error) is reported through ``on_fault`` and retried every
  ``retry_interval_s``; meanwhile the data waits in the backlog, whose one policy (drop the
  oldest readings past ``max_backlog_readings``, never inputs or events) is in backlog.py.
  ``on_recover`` (optional) hears when writing works again.

:meth:`Recorder.close` returns a :class:`SaveResult` that tells the truth: complete, or one
sentence saying what is NOT in the file. It returns within about ``close_timeout_s`` whatever
the disk does. ``on_fault``/``on_recover`` are called from the writer thread only: the daemon
hands them to its loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from monitor.model import Event, Reading
from monitor.sessions.backlog import EVENT, INPUT, META, READINGS, Backlog, Dropped, Item
from monitor.sessions.result import SaveResult, describe_file, describe_loss
from monitor.sessions.schema import RECORDER_META_KEYS, ChannelInfo, start_meta
from monitor.sessions.writer import (
    Clock,
    ConnectHook,
    SessionWriter,
    WriteFault,
)

FaultHandler = Callable[[str], None]
__all__ = ["Recorder", "RecorderStats", "SaveResult"]


class RecorderStats(NamedTuple):
    """``pending``: handed over but not yet committed; ``faults``: reports made via on_fault."""

    written_readings: int
    written_events: int
    pending: int
    faults: int


@dataclass
class _Tally:
    """The writer thread's published state (read by callers under the backlog's lock)."""

    committed: tuple[int, int, int] = (0, 0, 0)  # readings, inputs, events, in any file
    in_file: tuple[int, int] = (0, 0)  # readings, events in the file at the path now
    last_t: float | None = None  # the greatest session time committed into that file
    before_recreation: tuple[int, int] | None = None  # went with a deleted file
    recreated_t: float | None = None
    invalid: int = 0  # handed over but not a valid Reading (never recordable)
    faults: int = 0
    finished: bool = False
    fault_reason: str = ""
    stopped: str = ""  # the thread ended on an unexpected error
    late_reported: bool = False


class Recorder:
    """Records one session into one SQLite file; create it with :meth:`Recorder.open`."""

    def __init__(self, writer: SessionWriter, *, on_fault: FaultHandler,
                 on_recover: FaultHandler | None, max_backlog_readings: int,
                 drop_report_interval_s: float, close_timeout_s: float, clock: Clock) -> None:
        self._writer = writer
        self._path = writer.path
        self._on_fault = on_fault
        self._on_recover = on_recover
        self._backlog = Backlog(max_backlog_readings)
        self._drop_report_s = drop_report_interval_s
        self._close_timeout_s = close_timeout_s
        self._clock = clock
        self._tally = _Tally()
        self._result: SaveResult | None = None
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="cryoguard-recorder", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, path: Path | str, *, config_snapshot: Mapping[str, Any],
             channels: Sequence[ChannelInfo], station: str, wall_start: datetime,
             commit_interval_s: float = 1.0, on_fault: FaultHandler,
             on_recover: FaultHandler | None = None, max_backlog_readings: int = 200_000,
             retry_interval_s: float = 1.0, busy_timeout_s: float = 1.0,
             drop_report_interval_s: float = 5.0, close_timeout_s: float = 2.0,
             audio: str | None = None, clock: Clock = time.monotonic,
             on_connect: ConnectHook | None = None) -> Recorder:
        """Create the session file (0600, directories 0700, never through a symlink; schema,
        meta, channel map) and start the writer thread.

        Raises :class:`monitor.errors.CryoGuardError` with one line when the file cannot be
        created: an existing file is never touched. ``max_backlog_readings`` bounds what waits
        in memory while the file cannot be written (200,000 readings is about 20 min at
        16 channels × 10 Hz). ``audio`` is recorded in the meta (see the schema).
        ``on_connect`` runs on each new SQLite connection (tests set pragmas there).
        """
        meta = start_meta(station=station, wall_start=wall_start,
                          config_snapshot=config_snapshot, commit_interval_s=commit_interval_s)
        if audio is not None:
            meta["audio"] = str(audio)
        writer = SessionWriter.create(path, meta=meta, channels=channels,
                                      commit_interval_s=commit_interval_s,
                                      retry_interval_s=retry_interval_s,
                                      busy_timeout_s=busy_timeout_s, clock=clock,
                                      on_connect=on_connect)
        return cls(writer, on_fault=on_fault, on_recover=on_recover,
                   max_backlog_readings=max_backlog_readings,
                   drop_report_interval_s=drop_report_interval_s,
                   close_timeout_s=close_timeout_s, clock=clock)

    # ------------------------------------------------------- the caller's side

    @property
    def path(self) -> Path:
        return self._path

    def readings(self, readings: Sequence[Reading]) -> None:
        """Hand over readings (seq numbers in call order). Never blocks on I/O, never raises."""
        if not self._backlog.put_readings(readings):
            self._late()

    def input(self, t: float, kind: str, payload: Mapping[str, Any]) -> None:
        """Hand over one non-reading engine input (operator action, device state, bad data)."""
        if not self._backlog.put(INPUT, (t, kind, dict(payload)), wake=False):
            self._late()

    def event(self, event: Event, record: Mapping[str, Any]) -> None:
        """Hand over one event; ``record`` is the JSON object of the event stream.

        Events are committed at once (with everything handed over before them)."""
        if not self._backlog.put(EVENT, (event.t, str(event.type), dict(record)), wake=True):
            self._late()

    def set_meta(self, key: str, value: str) -> None:
        """Record a session-level fact in ``meta``, written with the next commit: one of
        ``RECORDER_META_KEYS`` (``audio``, ``ended_reason``; see the schema)."""
        if key not in RECORDER_META_KEYS:
            raise ValueError(f"meta key {key!r} is not one the recorder lets callers set")
        if not self._backlog.put(META, (key, str(value)), wake=False):
            self._late()

    def close(self, t_end: float, *, ended_reason: str | None = None) -> SaveResult:
        """Flush, write the end meta (with ``ended_reason``), checkpoint and close; idempotent.

        Returns within about ``close_timeout_s`` whatever the disk does: call it at shutdown
        or through ``asyncio.to_thread``. The result says whether everything was saved."""
        with self._close_lock:
            if self._result is not None:
                return self._result
            if ended_reason is not None:
                self._backlog.put(META, ("ended_reason", str(ended_reason)), wake=False)
            self._backlog.close(t_end)
            if threading.current_thread() is not self._thread:
                self._thread.join(self._close_timeout_s + 0.25)
            self._result = self._save_result(float(t_end))
            return self._result

    @property
    def stats(self) -> RecorderStats:
        backlog = self._backlog
        with backlog.lock:
            readings, inputs, events = self._tally.committed
            handed = backlog.handed_readings + backlog.handed_inputs + backlog.handed_events
            pending = (handed - backlog.dropped.count - self._tally.invalid - readings - inputs
                       - events)
            return RecorderStats(readings, events, max(pending, 0), self._tally.faults)

    @property
    def dropped_readings(self) -> int:
        """Readings lost because the backlog was full or they came after close (all reported)."""
        with self._backlog.lock:
            return self._backlog.dropped.count + self._backlog.late_readings

    def _late(self) -> None:
        with self._backlog.lock:
            late = self._backlog.late
            first = not self._tally.late_reported
            self._tally.late_reported = True
        if first:
            self._report(f"session file {self._path}: data handed over after close is not "
                         f"recorded ({late} item(s) so far)")

    # ------------------------------------------------------------- the result

    def _save_result(self, t_end: float) -> SaveResult:
        writer = self._writer
        alive = self._thread.is_alive()
        backlog = self._backlog
        with backlog.lock:
            tally = self._tally
            dropped = Dropped(backlog.dropped.count, backlog.dropped.first_t,
                              backlog.dropped.last_t)
            committed = tally.committed
            unsaved = (max(backlog.handed_readings - dropped.count - committed[0], 0),
                       max(backlog.handed_events - committed[2], 0))
            finished = tally.finished and not alive
            reason = tally.stopped or tally.fault_reason
            in_file, since = tally.in_file, tally.last_t
            before, recreated_t = tally.before_recreation, tally.recreated_t
        if finished:
            unsaved = (0, 0)
        if not alive:  # the thread is done: its state can be read
            since = writer.first_pending_t()
            if since is None:
                since = writer.last_t_in_file
        elif not reason:
            reason = (f"closing ran out of time ({self._close_timeout_s:g} s) while the disk "
                      "was still busy")
        file_state = describe_file(self._path, self._writer.identity)
        if file_state:
            in_file = (0, 0)
        lost = describe_loss(unsaved=unsaved, unsaved_since=since, t_end=t_end, reason=reason,
                             dropped=dropped, before_recreation=before,
                             recreated_t=recreated_t, file_state=file_state)
        return SaveResult(self._path, complete=not lost, readings_written=in_file[0],
                          events_written=in_file[1], lost=lost)

    # ------------------------------------------------------- the writer thread

    def _run(self) -> None:
        try:
            self._loop()
            self._finish()
        except BaseException as exc:  # the writer must never die silently
            with self._backlog.lock:
                self._tally.stopped = f"the recorder stopped unexpectedly ({exc!r})"
            self._report(f"session recorder stopped unexpectedly: {exc!r}; "
                         "readings are no longer recorded")
            self._writer.abandon()

    def _loop(self) -> None:
        writer = self._writer
        backlog = self._backlog
        reported_invalid = 0
        while True:
            backlog.wait(writer.next_due() - self._clock())
            closing = backlog.closing
            if writer.fault is None or closing:
                self._absorb(backlog.take(writer.pending_readings))
            if closing:
                return
            if writer.flush_due():
                self._attempt(writer.flush)
            self._report_drops(force=writer.fault is None)
            if writer.invalid_readings != reported_invalid:
                reported_invalid = writer.invalid_readings
                self._report(f"session file {self._path}: {reported_invalid} reading(s) could "
                             "not be recorded (not a valid Reading)")

    _reported_drops = 0
    _last_drop_report = float("-inf")

    def _report_drops(self, *, force: bool) -> None:
        """Say how many readings the backlog dropped: at once the first time and when writing
        works again, otherwise at most every ``drop_report_interval_s``."""
        with self._backlog.lock:
            drops = self._backlog.dropped.count
        now = self._clock()
        if drops == self._reported_drops or not (
                force or self._reported_drops == 0
                or now - self._last_drop_report >= self._drop_report_s):
            return
        self._reported_drops, self._last_drop_report = drops, now
        self._report(f"session file {self._path}: {drops} reading(s) dropped so far (backlog "
                     f"limit {self._backlog.max_readings} while the file could not be written)")

    def _absorb(self, items: list[Item]) -> None:
        writer = self._writer
        for kind, seq, payload in items:
            if kind == READINGS:
                writer.write_readings(seq, payload)
            elif kind == INPUT:
                writer.write_input(seq, *payload)
            elif kind == EVENT:
                writer.write_event(seq, *payload)
            elif kind == META:
                writer.write_meta(*payload)

    def _attempt(self, action: Callable[[], None]) -> WriteFault | None:
        """Run a flush (or the finish); report faults, re-creation and recovery."""
        writer = self._writer
        was = writer.fault
        recreated = writer.recreated_at_seq
        fault: WriteFault | None = None
        try:
            action()
        except WriteFault as exc:
            fault = exc
        if writer.recreated_at_seq != recreated:
            self._report(f"session file {self._path} was deleted and re-created: data before "
                         f"seq {writer.recreated_at_seq} is not in it")
        with self._backlog.lock:
            self._tally.committed = (writer.committed[0], writer.committed[1],
                                     writer.committed[2])
            self._tally.fault_reason = fault.reason if fault is not None else ""
            self._tally.invalid = writer.invalid_readings
            self._tally.in_file = (writer.readings_in_file, writer.events_in_file)
            self._tally.last_t = writer.last_t_in_file
            if writer.recreated_at_seq is not None:
                self._tally.before_recreation = (writer.committed[0] - writer.readings_in_file,
                                                 writer.committed[2] - writer.events_in_file)
                self._tally.recreated_t = writer.recreated_after_t
            self._backlog.held = writer.pending_readings
            dropped = self._backlog.dropped.count
            waiting = self._backlog.waiting_count()
        if fault is not None:
            if was is None or str(was) != str(fault):
                self._report(f"session file {self._path}: cannot write ({fault}); keeping "
                             f"{writer.pending + waiting} item(s) in memory, retrying")
            return fault
        if was is not None and self._on_recover is not None:
            message = (f"session file {self._path}: writing again"
                       + (f"; {dropped} reading(s) were dropped meanwhile" if dropped else ""))
            try:
                self._on_recover(message)
            except Exception as exc:  # a failing callback must not stop the recorder
                print(f"cryoguard: on_recover failed: {exc!r}", file=sys.stderr)
        return None

    def _finish(self) -> None:
        """Last flush with the end meta, a checkpoint, and close, retrying until the close
        deadline (then the data still buffered is given up, and the result says so)."""
        writer = self._writer
        deadline = self._clock() + self._close_timeout_s
        t_end = self._backlog.close_t or 0.0
        self._report_drops(force=True)
        with self._backlog.lock:
            dropped = self._backlog.dropped.count
        writer.write_meta("readings_dropped", str(dropped))
        while True:
            fault = self._attempt(lambda: writer.finish(t_end))
            if fault is None:
                with self._backlog.lock:
                    self._tally.finished = True
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                self._report(f"session file {self._path}: closed without saving "
                             f"{writer.pending_readings} reading(s) and "
                             f"{writer.pending_events} event(s): {fault}")
                writer.abandon()
                return
            time.sleep(min(max(writer.next_due() - self._clock(), 0.01), remaining))

    def _report(self, message: str) -> None:
        with self._backlog.lock:
            self._tally.faults += 1
        try:
            self._on_fault(message)
        except Exception as exc:  # a failing callback must not stop the recorder
            print(f"cryoguard: {message} (on_fault failed: {exc!r})", file=sys.stderr)
