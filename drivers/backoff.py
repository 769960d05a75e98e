"""Capped exponential backoff between reconnect attempts (injectable for tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from monitor.config import defaults


@dataclass
class Backoff:
    """0.2 s doubling to 5 s by default; :meth:`reset` after a successful connection."""

    initial_s: float = defaults.RECONNECT_INITIAL_S
    factor: float = defaults.RECONNECT_FACTOR
    max_s: float = defaults.RECONNECT_MAX_S
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _next: float = field(default=-1.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s and self.factor >= 1):
            raise ValueError("backoff needs 0 < initial_s <= max_s and factor >= 1")

    def next_delay(self) -> float:
        """The delay to wait now; each call grows the following one up to ``max_s``."""
        delay = self.initial_s if self._next < 0 else self._next
        self._next = min(delay * self.factor, self.max_s)
        return delay

    def reset(self) -> None:
        self._next = -1.0

    async def wait(self) -> float:
        delay = self.next_delay()
        await self.sleep(delay)
        return delay
