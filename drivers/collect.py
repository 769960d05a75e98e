"""A :class:`DriverSink` that keeps what it is told, for ``cryoguard probe`` and tests."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from monitor.model import Reading


@dataclass(frozen=True, slots=True)
class SinkEvent:
    """One call the driver made: ``kind`` is scan, bad_data, connected or lost."""

    kind: str
    t: float
    device: str
    detail: str = ""
    readings: tuple[Reading, ...] = ()


class CollectingSink:
    """Records the most recent ``maxlen`` calls and lets a coroutine wait for them."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.events: deque[SinkEvent] = deque(maxlen=maxlen)
        self._changed = asyncio.Event()

    def _add(self, event: SinkEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def scan(self, readings: Sequence[Reading]) -> None:
        if readings:
            self._add(SinkEvent("scan", readings[0].t, "", "", tuple(readings)))

    def bad_data(self, t: float, device: str, detail: str) -> None:
        self._add(SinkEvent("bad_data", t, device, detail))

    def connected(self, t: float, device: str, detail: str) -> None:
        self._add(SinkEvent("connected", t, device, detail))

    def lost(self, t: float, device: str, reason: str) -> None:
        self._add(SinkEvent("lost", t, device, reason))

    def of(self, kind: str) -> list[SinkEvent]:
        return [e for e in self.events if e.kind == kind]

    def clear(self) -> None:
        self.events.clear()

    async def wait_until(self, predicate: Callable[[CollectingSink], bool],
                         timeout_s: float) -> bool:
        """Wait until ``predicate(self)`` holds; False after ``timeout_s`` without it."""
        async def loop() -> None:
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
        try:
            await asyncio.wait_for(loop(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def wait_for(self, kind: str, count: int = 1, timeout_s: float = 2.0) -> bool:
        return await self.wait_until(lambda s: len(s.of(kind)) >= count, timeout_s)
