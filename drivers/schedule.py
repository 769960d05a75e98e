"""Polling slots anchored to absolute times: t0 + k·interval, so polls never drift.

A slot that has already passed (a slow reply, a busy loop) is skipped rather than polled late
in a burst; ``skipped`` counts them.
"""

from __future__ import annotations

import math


class Schedule:
    def __init__(self, interval_s: float, t0: float) -> None:
        if not interval_s > 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.t0 = t0
        self._k = 0
        self.skipped = 0

    def next_slot(self, now: float) -> float:
        """The time of the next poll at or after ``now`` (never an earlier slot again)."""
        due = self.t0 + self._k * self.interval_s
        if due < now:
            k = math.ceil((now - self.t0) / self.interval_s - 1e-9)
            self.skipped += k - self._k
            self._k = k
            due = self.t0 + k * self.interval_s
        self._k += 1
        return due
