"""The one backlog between the callers of the recorder and its writer thread.

Everything handed over waits here, in order, until the writer thread takes it, and the writer
takes nothing new while it cannot write (it keeps retrying what it already has). So this is the
only place where data waits, and the only backlog policy:

* at most ``max_readings`` readings are held in memory, counting those the writer took and
  could not write yet (``held``); when a new batch goes past that, the OLDEST waiting readings
  are dropped until 90 % of the limit is left (so dropping is not done on every call), and the
  count and session-time span of what was dropped are kept;
* inputs, events and meta are never dropped (they are rare);
* what the writer has taken is never dropped (it is at most one backlog's worth).

All counters live here under one lock; the callers' methods only append and count, so they
never wait for the disk. Sequence numbers (shared by readings, inputs and events, see
:mod:`monitor.sessions.schema`) are assigned here, in call order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.model import Reading

READINGS, INPUT, EVENT, META = 0, 1, 2, 3

Item = tuple[int, int, Any]
"""``(kind, seq, payload)``: readings ``tuple[Reading, ...]``; input, event ``(t, name,
dict)``; meta ``(key, value)``."""


@dataclass
class Dropped:
    """Readings dropped by the backlog policy: how many, and their session-time span."""

    count: int = 0
    first_t: float | None = None
    last_t: float | None = None

    def add(self, batch: Sequence[Reading]) -> None:
        if not batch:
            return
        self.count += len(batch)
        times = [_t(r) for r in batch]
        low, high = min(times), max(times)
        self.first_t = low if self.first_t is None else min(self.first_t, low)
        self.last_t = high if self.last_t is None else max(self.last_t, high)


def _t(reading: Reading) -> float:
    try:
        return float(reading.t)
    except (AttributeError, TypeError, ValueError):
        return float("nan")


class Backlog:
    """What callers handed over and the writer has not taken yet (thread-safe)."""

    def __init__(self, max_readings: int) -> None:
        self.max_readings = max(1, int(max_readings))
        self._keep = self.max_readings - self.max_readings // 10
        self.lock = threading.Lock()
        self._wake = threading.Event()
        self._items: list[Item] = []
        self._waiting_readings = 0
        self._seq = 0
        self.closing = False
        self.close_t: float | None = None
        self.dropped = Dropped()
        self.late = 0
        """Items handed over after close (not recorded)."""
        self.late_readings = 0
        self.held = 0
        """Readings the writer took and has not committed (set by the writer thread)."""
        self.handed_readings = 0
        self.handed_inputs = 0
        self.handed_events = 0

    # -------------------------------------------------------------- callers' side

    def put_readings(self, batch: Sequence[Reading]) -> bool:
        """Append a batch; False (and counted) after close. Drops oldest readings past the
        limit."""
        items = tuple(batch)
        if not items:
            return True
        with self.lock:
            if self.closing:
                self.late += len(items)
                self.late_readings += len(items)
                return False
            self._items.append((READINGS, self._seq, items))
            self._seq += len(items)
            self.handed_readings += len(items)
            self._waiting_readings += len(items)
            if self._waiting_readings + self.held > self.max_readings:
                self._drop_oldest()
        return True

    def put(self, kind: int, payload: Any, *, wake: bool) -> bool:
        """Append one input, event or meta item; ``wake`` the writer for it at once."""
        with self.lock:
            if self.closing:
                self.late += 1
                return False
            seq = self._seq
            if kind != META:
                self._seq += 1
            if kind == EVENT:
                self.handed_events += 1
            elif kind == INPUT:
                self.handed_inputs += 1
            self._items.append((kind, seq, payload))
        if wake:
            self._wake.set()
        return True

    def close(self, t_end: float) -> bool:
        """Stop accepting; True the first time."""
        with self.lock:
            first = not self.closing
            if first:
                self.closing = True
                self.close_t = float(t_end)
        self._wake.set()
        return first

    def _drop_oldest(self) -> None:
        excess = self._waiting_readings - max(self._keep - self.held, 0)
        kept: list[Item] = []
        for kind, seq, payload in self._items:
            if kind == READINGS and excess > 0:
                cut = min(excess, len(payload))
                self.dropped.add(payload[:cut])
                excess -= cut
                self._waiting_readings -= cut
                if cut < len(payload):
                    kept.append((READINGS, seq + cut, payload[cut:]))
            else:
                kept.append((kind, seq, payload))
        self._items = kept

    # ------------------------------------------------------------- writer's side

    def wait(self, timeout: float) -> None:
        """Sleep until an urgent item, close, or ``timeout`` seconds."""
        self._wake.wait(max(0.0, timeout))
        self._wake.clear()

    def take(self, held: int) -> list[Item]:
        """Everything waiting, in order; it is the writer's from now on. ``held``: readings
        the writer holds uncommitted before taking these."""
        with self.lock:
            items, self._items = self._items, []
            self.held = held + self._waiting_readings
            self._waiting_readings = 0
        return items

    def waiting_count(self) -> int:
        """Items waiting to be taken, readings counted one by one (call under ``lock``)."""
        return sum(len(p) if k == READINGS else 1 for k, _s, p in self._items if k != META)
