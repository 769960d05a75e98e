"""The event stream and the headless log: two line outputs, each on its own writer thread.

``events`` writes one JSON object per event (``--events-out``); ``log`` writes one readable
line per event, the session header, operator-command errors and library warnings on stderr,
filtered by ``--log-level``. Both queue lines without waiting (bounded: the event stream keeps a
million lines, the log a hundred thousand, oldest dropped and counted beyond that) and are
watched: a write that does not complete within ``STALL_AFTER_S`` raises
``events.output_failed`` (medium) or ``log.output_failed`` (low).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from monitor.engine import Snapshot
from monitor.model import EventType, Priority, record_line
from monitor.outputs.background import StillRunning, in_daemon_thread
from monitor.outputs.base import STALL_AFTER_S, OutputContext, WriteWatch
from monitor.outputs.threaded import ThreadedLineWriter
from monitor.text import printable

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
_WARNING_TYPES = frozenset({EventType.ALARM_RAISED, EventType.DEVICE_LOST})

FaultCallback = Callable[[str, str, Priority], None]
RecoverCallback = Callable[[str, str], None]


class _LineOutput:
    name = "lines"
    fault_priority = Priority.MEDIUM

    def __init__(self, stream: IO[str], *, owned: bool, limit: int,
                 on_fault: FaultCallback, on_recover: RecoverCallback) -> None:
        """``on_fault``/``on_recover`` are called from the writer thread."""
        self.watch = WriteWatch(STALL_AFTER_S)
        self.writer = ThreadedLineWriter(
            self.name, stream, close_stream=owned, limit=limit, watch=self.watch,
            on_fault=lambda m: on_fault(self.name, m, self.fault_priority),
            on_recover=lambda m: on_recover(self.name, m))

    def on_snapshot(self, snapshot: Snapshot) -> None:
        return None

    async def run(self, context: OutputContext) -> None:
        return None  # the writer thread does the work

    def close_now(self, timeout_s: float) -> bool:
        """Write what is queued within ``timeout_s``; False when a write is still blocked."""
        return self.writer.close(timeout_s)

    async def close(self) -> None:
        # StillRunning: the watch still shows the blocked write; the shell exits without it.
        with contextlib.suppress(StillRunning):
            await in_daemon_thread(lambda: self.close_now(1.5), 1.9, f"{self.name}-close")


class EventStreamOutput(_LineOutput):
    """``--events-out``: JSON Lines, flushed per event; ``-`` is standard output."""

    name = "events"
    fault_priority = Priority.MEDIUM

    def __init__(self, stream: IO[str], *, owned: bool, on_fault: FaultCallback,
                 on_recover: RecoverCallback) -> None:
        super().__init__(stream, owned=owned, limit=1_000_000, on_fault=on_fault,
                         on_recover=on_recover)

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        for record in records:
            self.writer.put(record_line(record))


class LogOutput(_LineOutput):
    """The headless log on stderr: event lines, the header, messages, library warnings."""

    name = "log"
    fault_priority = Priority.LOW

    def __init__(self, stream: IO[str], *, level: int = logging.INFO, on_fault: FaultCallback,
                 on_recover: RecoverCallback) -> None:
        super().__init__(stream, owned=False, limit=100_000, on_fault=on_fault,
                         on_recover=on_recover)
        self.level = level
        self._handler: logging.Handler | None = None
        self._saved_level: int | None = None

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        for record in records:
            if record.get("type") == EventType.SESSION_STARTED:
                continue  # the header says it at length
            if event_level(record) >= self.level:
                self.writer.put(log_line(record))

    def say(self, text: str, level: int = logging.WARNING) -> None:
        """A line for the operator (a mistyped command, the header)."""
        if level >= self.level:
            self.writer.put(printable(text))

    def attach_logging(self) -> None:
        """Library log records (drivers, MQTT) go through this writer too: a synchronous write
        to a stalled stderr must not block the loop. Undone by :meth:`detach_logging`."""
        if self._handler is not None:
            return
        handler = _WriterHandler(self)
        handler.setLevel(max(self.level, logging.DEBUG))
        logging.getLogger().addHandler(handler)
        ours = logging.getLogger("cryoguard")
        self._saved_level = ours.level
        if self.level < logging.WARNING:
            ours.setLevel(self.level)
        self._handler = handler

    def detach_logging(self) -> None:
        handler, self._handler = self._handler, None
        if handler is None:
            return
        logging.getLogger().removeHandler(handler)
        if self._saved_level is not None:
            logging.getLogger("cryoguard").setLevel(self._saved_level)

    def close_now(self, timeout_s: float) -> bool:
        self.detach_logging()
        return super().close_now(timeout_s)


class HeldWarnings(logging.Handler):
    """Keeps the last library warnings in memory while the display owns the terminal."""

    def __init__(self, keep: int = 10) -> None:
        super().__init__(logging.WARNING)
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self.count = 0
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(printable(self.format(record)))
            self.count += 1
        except Exception:
            self.handleError(record)


class _WriterHandler(logging.Handler):
    def __init__(self, output: LogOutput) -> None:
        super().__init__()
        self._output = output
        self.setFormatter(logging.Formatter("        %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._output.writer.put(printable(self.format(record)))
        except Exception:
            self.handleError(record)


def event_level(record: Mapping[str, Any]) -> int:
    """The log level of an event line: alarms raised and lost devices are warnings."""
    return logging.WARNING if record.get("type") in _WARNING_TYPES else logging.INFO


def log_line(record: Mapping[str, Any]) -> str:
    """One readable line per event for the headless log."""
    message = record.get("message") or record.get("type", "")
    t = record.get("t")
    clock = _clock_text(float(t)) if isinstance(t, (int, float)) else "   --:--.-"
    return f"{clock}  {record.get('type', '')!s:<19} {printable(message)}"


def _clock_text(t: float) -> str:
    if not math.isfinite(t):
        return "   --:--.-"
    minutes, seconds = divmod(max(t, 0.0), 60.0)
    return f"{int(minutes):4d}:{seconds:04.1f}"
