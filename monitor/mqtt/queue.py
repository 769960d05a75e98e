"""The publisher's waiting room while the broker is away: bounded, events before states.

Channel states are superseded twice a second, so when room runs out the oldest state goes
first; events (alarms, acknowledgements, cycles) are the record of what happened and are only
dropped when the queue holds nothing else, and then counted. Everything leaves in the order it
came in, so a viewer that reconnects reads the missed events in order.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outgoing:
    seq: int
    topic: str
    payload: bytes
    qos: int
    is_event: bool


class OutboundQueue:
    """Not thread-safe: filled and drained on the event loop."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the queue limit must be at least 1")
        self.limit = limit
        self._events: collections.deque[Outgoing] = collections.deque()
        self._states: collections.deque[Outgoing] = collections.deque()
        self._seq = 0
        self.dropped_events = 0
        self.dropped_states = 0

    def __len__(self) -> int:
        return len(self._events) + len(self._states)

    @property
    def events_waiting(self) -> int:
        return len(self._events)

    @property
    def states_waiting(self) -> int:
        return len(self._states)

    def put_event(self, topic: str, payload: bytes, qos: int) -> None:
        self._seq += 1
        self._events.append(Outgoing(self._seq, topic, payload, qos, True))
        self._trim()

    def put_state(self, topic: str, payload: bytes) -> None:
        self._seq += 1
        self._states.append(Outgoing(self._seq, topic, payload, 0, False))
        self._trim()

    def take(self, n: int) -> list[Outgoing]:
        """Up to ``n`` items, oldest first, removed from the queue (``requeue`` puts them back)."""
        out: list[Outgoing] = []
        events, states = self._events, self._states
        while len(out) < n and (events or states):
            if not states or (events and events[0].seq < states[0].seq):
                out.append(events.popleft())
            else:
                out.append(states.popleft())
        return out

    def requeue(self, items: Iterable[Outgoing]) -> None:
        """Put back items that were taken but not confirmed, ahead of everything newer."""
        for item in sorted(items, key=lambda i: i.seq, reverse=True):
            (self._events if item.is_event else self._states).appendleft(item)
        self._trim()

    def _trim(self) -> None:
        while len(self._events) + len(self._states) > self.limit:
            if self._states:
                self._states.popleft()
                self.dropped_states += 1
            else:
                self._events.popleft()
                self.dropped_events += 1
