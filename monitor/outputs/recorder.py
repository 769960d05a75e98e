"""The session file as an output: every reading, input and event, and an honest last word.

The recorder (:mod:`monitor.sessions.recorder`) queues without waiting and writes on its own
thread. This output hands it the raw readings and inputs in order (before detection, so the
shared sequence numbers let a replay feed the engine exactly as live), the events, and at the
end asks it to close within a deadline and tells what it could not save
(:class:`~monitor.sessions.recorder.SaveResult`): the daemon says "session saved" only when
everything was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.engine import Snapshot
from monitor.model import Event, EventType, Priority, Reading
from monitor.outputs.background import StillRunning, in_daemon_thread
from monitor.outputs.base import OutputContext
from monitor.sessions.recorder import Recorder, SaveResult
from monitor.sessions.schema import ChannelInfo

CLOSE_TIMEOUT_S = 1.5  # the recorder's own close budget (it retries a failing disk this long)
CLOSE_WAIT_S = 1.9  # how long we wait for it, inside the shell's 2 s close budget


class RecorderOutput:
    """``recorder``: open with :meth:`open`; ``result`` is set once :meth:`close` returns."""

    name = "recorder"
    fault_priority = Priority.MEDIUM

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.faults: list[str] = []  # what the recorder reported, in order
        self.result: SaveResult | None = None
        self._t_end = 0.0
        self._ended_reason: str | None = None

    @classmethod
    def open(cls, path: Path, *, config_snapshot: Mapping[str, Any],
             channels: Sequence[ChannelInfo], station: str, wall_start: datetime,
             commit_interval_s: float, on_fault: Callable[[str], None],
             on_recover: Callable[[str], None]) -> RecorderOutput:
        """Create the session file; raises ``CryoGuardError`` (one line) when it cannot.
        ``on_fault``/``on_recover`` are called from the recorder's thread."""
        holder: list[RecorderOutput] = []

        def fault(message: str) -> None:
            if holder:
                holder[0].faults.append(message)
            on_fault(message)

        recorder = Recorder.open(
            path, config_snapshot=config_snapshot, channels=channels, station=station,
            wall_start=wall_start, commit_interval_s=commit_interval_s, on_fault=fault,
            on_recover=on_recover, close_timeout_s=CLOSE_TIMEOUT_S)
        output = cls(recorder)
        holder.append(output)
        return output

    @property
    def path(self) -> Path:
        return self.recorder.path

    # The alarm path: hand over only ----------------------------------------------------

    def on_readings(self, readings: Sequence[Reading]) -> None:
        self.recorder.readings(readings)

    def on_input(self, t: float, kind: str, payload: Mapping[str, Any]) -> None:
        self.recorder.input(t, kind, payload)

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        for record in records:
            event = Event(float(record["t"]), EventType(record["type"]))
            if event.type is EventType.SESSION_ENDED:
                self._t_end = event.t
                reason = record.get("reason")
                self._ended_reason = str(reason) if reason is not None else None
            self.recorder.event(event, record)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        return None

    async def run(self, context: OutputContext) -> None:
        return None  # the recorder's thread does the work

    async def close(self) -> None:
        """Close the file within :data:`CLOSE_WAIT_S`; sets :attr:`result`."""
        try:
            self.result = await in_daemon_thread(
                lambda: self.recorder.close(self._t_end, ended_reason=self._ended_reason),
                CLOSE_WAIT_S, "recorder-close")
        except StillRunning:
            self.result = self._unfinished(f"the writer did not finish within {CLOSE_WAIT_S:g} s:"
                                           " what it had not written is lost")
        except Exception as exc:
            self.faults.append(f"closing failed: {exc}")
            self.result = self._unfinished(f"closing the file failed ({exc})")

    def _unfinished(self, lost: str) -> SaveResult:
        """The result when the recorder's own close could not report one."""
        stats = self.recorder.stats
        return SaveResult(self.path, False, stats.written_readings, stats.written_events, lost)
