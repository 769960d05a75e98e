"""The session file as an output: every reading, input and event, and an honest last word.

The recorder (:mod:`monitor.sessions.recorder`) queues without waiting and writes on its own
thread. This output hands it the raw readings and inputs in order (before detection, so the
shared sequence numbers let a replay feed the engine exactly as live), the events, and at the
end asks it to close within a deadline and tells what it could not save
(:class:`SaveOutcome`): the daemon says "session saved" only when everything was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from monitor.engine import Snapshot
from monitor.model import Event, EventType, Priority, Reading
from monitor.outputs.background import StillRunning, in_daemon_thread
from monitor.outputs.base import OutputContext
from monitor.sessions.schema import ChannelInfo

CLOSE_TIMEOUT_S = 1.5  # the recorder's own close budget (it retries a failing disk this long)
CLOSE_WAIT_S = 1.9  # how long we wait for it, inside the shell's 2 s close budget


@runtime_checkable
class SaveOutcome(Protocol):
    """What ``Recorder.close()`` returns (``monitor.sessions.recorder.SaveResult``)."""

    @property
    def path(self) -> Path: ...

    @property
    def complete(self) -> bool: ...

    @property
    def readings_written(self) -> int: ...

    @property
    def events_written(self) -> int: ...

    @property
    def lost(self) -> str:
        """One sentence of what is NOT in the file; empty when complete."""


class SessionRecorder(Protocol):
    """The part of ``monitor.sessions.recorder.Recorder`` the daemon uses."""

    @property
    def path(self) -> Path: ...

    def readings(self, readings: Sequence[Reading]) -> None: ...

    def input(self, t: float, kind: str, payload: Mapping[str, Any]) -> None: ...

    def event(self, event: Event, record: Mapping[str, Any]) -> None: ...

    def close(self, t_end: float) -> object: ...


@dataclass(frozen=True, slots=True)
class SaveSummary:
    """A :class:`SaveOutcome` made here when the recorder's ``close()`` returns nothing."""

    path: Path
    complete: bool
    readings_written: int
    events_written: int
    lost: str


class RecorderOutput:
    """``recorder``: open with :meth:`open`; ``result`` is set once :meth:`close` returns."""

    name = "recorder"
    fault_priority = Priority.MEDIUM

    def __init__(self, recorder: SessionRecorder) -> None:
        self.recorder = recorder
        self.faults: list[str] = []  # what the recorder reported, in order
        self.result: SaveOutcome | None = None
        self._t_end = 0.0

    @classmethod
    def open(cls, path: Path, *, config_snapshot: Mapping[str, Any],
             channels: Sequence[ChannelInfo], station: str, wall_start: datetime,
             commit_interval_s: float, on_fault: Callable[[str], None],
             on_recover: Callable[[str], None]) -> RecorderOutput:
        """Create the session file; raises ``CryoGuardError`` (one line) when it cannot.
        ``on_fault``/``on_recover`` are called from the recorder's thread."""
        from monitor.sessions.recorder import Recorder

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
            self.recorder.event(event, record)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        return None

    async def run(self, context: OutputContext) -> None:
        return None  # the recorder's thread does the work

    async def close(self) -> None:
        """Close the file within :data:`CLOSE_WAIT_S`; sets :attr:`result`."""
        try:
            outcome = await in_daemon_thread(lambda: self.recorder.close(self._t_end),
                                             CLOSE_WAIT_S, "recorder-close")
        except StillRunning:
            self.result = self._summary(None, stuck=True)
            return
        except Exception as exc:
            self.faults.append(f"closing failed: {exc}")
            self.result = self._summary(None, stuck=False)
            return
        self.result = outcome if isinstance(outcome, SaveOutcome) else self._summary(
            outcome, stuck=False)

    def _summary(self, _nothing: object, *, stuck: bool) -> SaveSummary:
        """Judge a recorder whose ``close()`` says nothing from what it can tell: anything
        still pending or dropped, a file gone, re-created or replaced, is not complete."""
        stats = getattr(self.recorder, "stats", None)
        written_r = int(getattr(stats, "written_readings", 0))
        written_e = int(getattr(stats, "written_events", 0))
        pending = int(getattr(stats, "pending", 0))
        dropped = int(getattr(self.recorder, "dropped_readings", 0))
        broken = [m for m in self.faults if any(
            word in m for word in ("re-created", "replaced", "vanished", "is gone",
                                   "no longer", "stopped unexpectedly"))]
        causes = [m for m in self.faults if "cannot write" in m]
        missing: list[str] = []
        if pending:
            missing.append(f"{pending:,} reading(s)/event(s) still waiting")
        if dropped:
            missing.append(f"{dropped:,} reading(s) dropped")
        problems: list[str] = []
        if missing:
            problems.append(" and ".join(missing) + " could not be written")
        if stuck:
            problems.append(f"the writer did not finish within {CLOSE_WAIT_S:g} s")
        if not self.path.exists():
            problems.append("the file does not exist any more")
        problems += [_strip_path(m, self.path) for m in broken[-1:]]
        if problems and causes and not broken:
            problems.append(f"first error: {_strip_path(causes[0], self.path)}")
        return SaveSummary(self.path, not problems, written_r, written_e, "; ".join(problems))


def _strip_path(message: str, path: Path) -> str:
    """A recorder message without its leading "session file PATH: " (the line names it)."""
    return message.removeprefix(f"session file {path}: ")
