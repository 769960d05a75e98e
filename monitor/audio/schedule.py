"""When to start an alarm burst: a pure function of the time and the sounding priority.

Shared by the sound output and the terminal bell, so both follow one rhythm: a burst starts as
soon as a priority starts sounding or a higher one takes over (even during an audio pause: the
engine lets a higher priority through it), then repeats every ``Burst.repeat_s`` from the start
of the previous burst. A priority that does not repeat (low) sounds once when it starts and
once more for each new alarm of that priority. The scheduler reads no clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from monitor.audio.spec import BURSTS, Burst
from monitor.model import Priority


class BurstScheduler:
    """Call :meth:`due` often (every few tens of milliseconds) with the engine's
    ``snapshot.audio.sounding``; it returns the priority whose burst starts now, if any."""

    def __init__(self, bursts: Mapping[Priority, Burst] = BURSTS) -> None:
        self.bursts = bursts
        self._sounding: Priority | None = None
        self._last_start: float | None = None

    def due(self, now: float, sounding: Priority | None, new_alarm: bool = False
            ) -> Priority | None:
        previous = self._sounding
        self._sounding = sounding
        if sounding is None:
            self._last_start = None
            return None
        if previous is None or sounding > previous:
            return self._start(now, sounding)
        # The same priority, or a lower one after the louder was acknowledged: its rhythm
        # counts from the last burst, so an acknowledge never makes a burst come early.
        repeat = self.bursts[sounding].repeat_s
        if repeat is None:
            return self._start(now, sounding) if new_alarm else None
        if self._last_start is None or now - self._last_start >= repeat:
            return self._start(now, sounding)
        return None

    def next_at(self) -> float | None:
        """When the sounding priority's next burst is due (``None``: none is, until the
        sounding priority changes or a new alarm comes), so a caller can sleep till then."""
        if self._sounding is None or self._last_start is None:
            return None
        repeat = self.bursts[self._sounding].repeat_s
        return None if repeat is None else self._last_start + repeat

    def _start(self, now: float, priority: Priority) -> Priority:
        self._last_start = now
        return priority
