"""The session core: one monitoring session with no IO, no threads and no event loop.

It holds the engine and the outputs. Scans, typed inputs, operator command lines and the
passing of time go in; events come out to every output, in order, the moment they exist. The
asyncio shell (:mod:`monitor.daemon.shell`) owns tasks, signals, stdin and files and calls in
here; tests call in here directly with an injected clock (docs/architecture.md).

Rules kept here, in one place:

* the recorder sees each scan before detection and each input before it is applied, so a
  replay of the session file feeds the engine exactly as live;
* an output that raises is reported as ``<output>.output_failed`` after the current dispatch
  (never re-entrantly) and the other outputs still get every event;
* the watchdog: an output whose write has not completed within ``watch.after_s`` raises
  ``<output>.output_failed`` at the output's priority, and clears it when the write completes;
* :meth:`SessionCore.end` writes ``session.ended`` last: nothing is dispatched after it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from monitor.daemon.grammar import CommandError, Quit, parse_command
from monitor.engine import Engine, ReadingBlock, Snapshot
from monitor.engine.inputs import Input
from monitor.model import Event, EventType, Priority, Reading
from monitor.outputs.base import Output, RecordingOutput, fault_priority, write_watch

SNAPSHOT_S = 0.1  # outputs get the latest state at most ten times a second


def _ignore(_text: str) -> None:
    return None


class SessionCore:
    """One session: ``clock()`` gives session seconds (the shell's, or a test's)."""

    def __init__(self, engine: Engine, outputs: Sequence[Output], *, wall_start: datetime,
                 clock: Callable[[], float], operator: str | None = None,
                 say: Callable[[str], None] = _ignore,
                 script: Sequence[tuple[float, str]] = (),
                 duration_s: float | None = None) -> None:
        self.engine = engine
        self.outputs = list(outputs)
        self._recording = [o for o in self.outputs if isinstance(o, RecordingOutput)]
        self.wall_start = wall_start
        self.clock = clock
        self.operator_name = operator or "operator"
        self.say = say
        self.duration_s = duration_s
        self._script = sorted(script, key=lambda item: item[0])
        self._script_times = [t for t, _ in self._script]
        self._script_done = 0
        self.readings = 0
        self.events = 0
        self.started = False
        self.ended = False
        self.quit_reason: str | None = None
        self.after_end: list[str] = []  # faults reported once session.ended was written
        self._pending: list[tuple[str, str, Priority]] = []
        self._dispatching = False
        self._raised_by_exception: set[str] = set()
        self._stalled: set[str] = set()
        self._last_snapshot: float | None = None

    # Who acted --------------------------------------------------------------------------

    def operator(self, via: str) -> str:
        """Who acted, for the log: the station's operator (or "operator"), and where from."""
        return f"{self.operator_name} ({via})"

    # Inputs -----------------------------------------------------------------------------

    def start(self, fields: Mapping[str, Any]) -> None:
        """``session.started`` at session time 0, before anything else."""
        if self.started:
            return
        self.started = True
        self._dispatch([Event(0.0, EventType.SESSION_STARTED, dict(fields))])

    def scan(self, device: str, readings: Sequence[Reading]) -> None:
        """A scan from a driver: recorded, then detected, then handed out. Never waits."""
        if not readings or self.ended:
            return
        for output in self._recording:
            self._call(output, output.on_readings, readings)
        engine = self.engine
        block = ReadingBlock.from_readings(
            readings, lambda cid: engine.channel_index(cid, device))
        self.readings += len(readings)
        self._dispatch(engine.process(block))

    def submit(self, value: Input, t: float | None = None) -> None:
        """An operator action or a device event: recorded, then applied (replay does both)."""
        if self.ended:
            return
        when = self.clock() if t is None else t
        payload = value.payload()
        for output in self._recording:
            self._call(output, output.on_input, when, str(value.kind), payload)
        self._dispatch(value.apply(self.engine, when))

    def command(self, line: str, via: str) -> None:
        """One operator command line (docs/architecture.md has the grammar)."""
        by = "simulator" if via == "simulator" else self.operator(via)
        try:
            parsed = parse_command(line, by)
        except CommandError as exc:
            self.say(str(exc))
            return
        if isinstance(parsed, Quit):
            self.request_quit("quit command" if via == "stdin" else f"quit ({via})")
        elif parsed is not None:
            self.submit(parsed)

    def request_quit(self, reason: str) -> None:
        """Ask the shell to end the session (the first reason wins)."""
        if self.quit_reason is None:
            self.quit_reason = reason

    def tick(self, t: float | None = None) -> None:
        if not self.ended:
            self._dispatch(self.engine.tick(self.clock() if t is None else t))

    def heartbeat(self, now: float) -> None:
        """What the shell's ticker does ten times a second. ``now`` is monotonic seconds
        (the watchdog's and the snapshot rate's clock); session time is ``clock()``."""
        if self.ended:
            return
        t = self.clock()
        self.tick(t)
        self._run_script(t)
        self.watchdog(now)
        if self._last_snapshot is None or now - self._last_snapshot >= SNAPSHOT_S:
            self._last_snapshot = now
            self.publish_snapshot()
        if self.duration_s is not None and t >= self.duration_s:
            self.request_quit(f"duration of {self.duration_s:g} s reached")

    def _run_script(self, t: float) -> None:
        """Scripted operator actions (a demo scenario's) whose session time has come."""
        due = bisect.bisect_right(self._script_times, t)
        while self._script_done < due and not self.ended:
            _at, line = self._script[self._script_done]
            self._script_done += 1
            self.command(line, "simulator")

    def publish_snapshot(self) -> None:
        if self.ended or not self.outputs:
            return
        snapshot = self.engine.snapshot()
        for output in self.outputs:
            self._call(output, output.on_snapshot, snapshot)

    def snapshot(self) -> Snapshot:
        return self.engine.snapshot()

    # Outputs' health --------------------------------------------------------------------

    def watchdog(self, now: float) -> None:
        """Raise ``<output>.output_failed`` for a write that has not completed in time."""
        for output in self.outputs:
            watch = write_watch(output)
            if watch is None:
                continue
            busy = watch.busy_for(now)
            if busy >= watch.after_s and output.name not in self._stalled:
                self._stalled.add(output.name)
                self.fault(output.name, f"stalled: a write has not completed for "
                           f"{busy:.0f} s (is anyone reading?)", fault_priority(output))
            elif busy == 0.0 and output.name in self._stalled:
                self._stalled.discard(output.name)
                self.recovered(output.name, "writing again")

    def fault(self, output: str, message: str, priority: Priority) -> None:
        """Raise (or keep) ``<output>.output_failed``; after the end, kept for the last lines."""
        if self.ended:
            self.after_end.append(f"{output}: {message}")
            return
        if self._dispatching:
            self._pending.append((output, message, priority))
            return
        self._dispatch(self.engine.output_fault(self.clock(), output, message, priority))

    def recovered(self, output: str, message: str) -> None:
        if self.ended:
            return
        self._raised_by_exception.discard(output)
        self._dispatch(self.engine.output_recovered(self.clock(), output, message))

    # The end ----------------------------------------------------------------------------

    def end(self, reason: str | None = None, *, t: float | None = None) -> None:
        """A last tick, then ``session.ended``; nothing is dispatched after it.

        ``t`` is when the end was asked for (the shell's stop); stopping the devices and tasks
        afterwards takes time that is not session time, and a last tick at its end would call
        every channel stale (at x60 a 35 ms stop is 2 s)."""
        if self.ended:
            return
        why = reason or self.quit_reason or "stopped"
        t_end = max(self.clock() if t is None else t, self.engine.now)
        self._dispatch(self.engine.tick(t_end))
        self._dispatch([Event(max(t_end, self.engine.now), EventType.SESSION_ENDED, {
            "reason": why, "readings": self.readings, "message": f"session ended: {why}"})])
        self.ended = True

    @property
    def t_end(self) -> float:
        return max(self.clock(), self.engine.now)

    # Dispatch ---------------------------------------------------------------------------

    def _dispatch(self, events: Sequence[Event]) -> None:
        if not events or self.ended:
            return
        records = [event.to_record(self.wall_start) for event in events]
        self.events += len(records)
        outer = not self._dispatching
        self._dispatching = True
        try:
            for output in self.outputs:
                self._call(output, output.on_events, records)
        finally:
            if outer:
                self._dispatching = False
        if outer:
            while self._pending and not self.ended:
                name, message, priority = self._pending.pop(0)
                self.fault(name, message, priority)

    def _call(self, output: Output | RecordingOutput, method: Callable[..., None],
              *args: Any) -> None:
        """Call an output; one that raises is a technical alarm, never the end of detection."""
        try:
            method(*args)
        except Exception as exc:
            if output.name in self._raised_by_exception:
                return
            self._raised_by_exception.add(output.name)
            message = f"failed: {type(exc).__name__}: {exc}"
            if self.ended:
                self.after_end.append(f"{output.name}: {message}")
            else:
                self._pending.append((output.name, message, fault_priority(output)))
                if not self._dispatching:
                    pending, self._pending = self._pending, []
                    for name, text, priority in pending:
                        self.fault(name, text, priority)
