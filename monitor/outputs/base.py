"""The contract between the daemon and its outputs (docs/architecture.md, "Outputs").

The session core runs detection and hands results to every output through calls that must
return at once: an output keeps its own bounded queue (or only the latest snapshot) and does its
slow work in its own task or thread. The recorder, the event stream, the log, the display, MQTT
and audio are all outputs of this one interface.

What an output implements (:class:`Output`):

* ``name`` — the alarm it raises is ``<name>.output_failed``;
* ``on_events(records)`` / ``on_snapshot(snapshot)`` — never block, never wait for IO;
* ``async run(context)`` — its background work until cancelled (may return at once);
* ``async close()`` — flush what can be flushed; the shell bounds it (docs/reliability.md).

Optional, read with ``getattr`` so an output without them still works:

* ``fault_priority: Priority`` — priority of ``<name>.output_failed`` when a call raises or
  the watchdog fires (default medium; the display's is high: the screen is an alarm signal);
* ``watch: WriteWatch`` — brackets each blocking write so the shell's watchdog raises
  ``<name>.output_failed`` when one does not complete within ``watch.after_s``; a write still
  blocked after ``close()`` tells the shell the process must exit without waiting for it;
* ``on_readings(readings)`` and ``on_input(t, kind, payload)`` (:class:`RecordingOutput`) —
  the raw readings before detection and every input before it is applied (the recorder).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from monitor.engine import Snapshot
from monitor.model import Priority, Reading

# A write blocked this long is a stalled output: the watchdog raises <output>.output_failed
# (engineering choice: well above a frame or a line, well under the display's 5 s promise).
STALL_AFTER_S = 2.0


class OutputContext(Protocol):
    """What the daemon offers an output. Safe to call from the event loop thread only,
    except the ``*_threadsafe`` variants."""

    def fault(self, output: str, message: str, priority: Priority) -> None:
        """Raise (or keep) the technical alarm ``<output>.output_failed``."""

    def recovered(self, output: str, message: str) -> None:
        """Clear ``<output>.output_failed``."""

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None: ...

    def recovered_threadsafe(self, output: str, message: str) -> None: ...

    # Operator actions, as the headless stdin commands (display keys use these).
    def acknowledge(self, alarm: str | None = None) -> None: ...

    def pause_audio(self) -> None: ...

    def mark(self, mark: str) -> None:
        """``freeze``, ``thaw``, ``active-thaw`` or ``end``."""

    def intervention(self, kind: str) -> None:
        """``co2`` or ``saline`` given near the nerve (``mark co2`` on stdin)."""

    def note(self, text: str) -> None:
        """Free text from the operator (``note TEXT`` on stdin)."""

    def request_quit(self) -> None: ...

    def snapshot(self) -> Snapshot:
        """The engine's latest state (cheap; copies)."""

    @property
    def header(self) -> Mapping[str, Any]:
        """Session header: station, wall start, speed, devices, thresholds in force, ..."""


class Output(Protocol):
    """One output of the daemon."""

    name: str

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        """New events as event-stream records (``t``, ``time``, ``type``, fields). Never
        blocks; keeps them in order."""

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """The latest state after a scan; an output may keep only the newest."""

    async def run(self, context: OutputContext) -> None:
        """Background work until cancelled (rendering, publishing, writing)."""

    async def close(self) -> None:
        """Flush what can be flushed quickly; called once at shutdown."""


@runtime_checkable
class RecordingOutput(Protocol):
    """An output that also takes the raw inputs of the engine, in order (the recorder)."""

    name: str

    def on_readings(self, readings: Sequence[Reading]) -> None:
        """Readings of one scan, before the engine sees them. Never blocks."""

    def on_input(self, t: float, kind: str, payload: Mapping[str, Any]) -> None:
        """An operator or device input (its recorded kind and payload), before it is
        applied. Never blocks."""


class WriteWatch:
    """Brackets an output's blocking writes so a watchdog on another thread can see one stall.

    The writing thread calls :meth:`begin` before and :meth:`end` after each write (or uses
    ``with watch.writing():``); the shell's ticker asks :meth:`busy_for`. A write into a pipe
    or terminal nobody reads blocks inside the system call: only another thread can notice.
    """

    def __init__(self, after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after_s = after_s
        self._clock = clock
        self._started: float | None = None
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self._started = self._clock()

    def end(self) -> None:
        with self._lock:
            self._started = None

    def writing(self) -> _Writing:
        return _Writing(self)

    @property
    def busy(self) -> bool:
        return self._started is not None

    def busy_for(self, now: float | None = None) -> float:
        """Seconds the write in progress has lasted (0 when none is in progress)."""
        started = self._started
        if started is None:
            return 0.0
        return max(0.0, (self._clock() if now is None else now) - started)


class _Writing:
    def __init__(self, watch: WriteWatch) -> None:
        self._watch = watch

    def __enter__(self) -> None:
        self._watch.begin()

    def __exit__(self, *exc: object) -> None:
        self._watch.end()


def fault_priority(output: object) -> Priority:
    """The priority of ``<output>.output_failed`` (``fault_priority``, default medium)."""
    value = getattr(output, "fault_priority", Priority.MEDIUM)
    return value if isinstance(value, Priority) else Priority.MEDIUM


def write_watch(output: object) -> WriteWatch | None:
    value = getattr(output, "watch", None)
    return value if isinstance(value, WriteWatch) else None
