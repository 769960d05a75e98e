"""When to ring the terminal bell: IEC 60601-1-8-style bursts, as a pure scheduler.

A burst is 10 pulses for a high-priority alarm, 3 for medium and 1 for low. High repeats every
5 s and medium every 15 s while the engine says that priority is sounding (not acknowledged, not
paused); low rings once when it starts. A higher priority starting rings at once. The scheduler
reads no clock: the caller passes the time, so tests run without waiting.
"""

from __future__ import annotations

from collections.abc import Mapping

from monitor.model import Priority

PULSES: Mapping[Priority, int] = {Priority.HIGH: 10, Priority.MEDIUM: 3, Priority.LOW: 1}
REPEAT_S: Mapping[Priority, float | None] = {
    Priority.HIGH: 5.0, Priority.MEDIUM: 15.0, Priority.LOW: None}
PULSE_SPACING_S = 0.1  # between pulses of one burst, at least (one per frame at 10 Hz)


class BellScheduler:
    """Call :meth:`due` on every frame with the time and ``snapshot.audio.sounding``."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._sounding: Priority | None = None
        self._last_burst: float | None = None

    def due(self, now: float, sounding: Priority | None) -> int:
        """Pulses to ring now (0 for none)."""
        previous = self._sounding
        self._sounding = sounding
        if not self.enabled or sounding is None:
            self._last_burst = None
            return 0
        if previous is None or sounding > previous:
            return self._ring(now, sounding)
        # Same or lower priority (after an acknowledge of the louder one): medium keeps its
        # interval counted from the last burst; low was heard when it started.
        repeat = REPEAT_S[sounding]
        if repeat is None or self._last_burst is None:
            return 0
        if now - self._last_burst >= repeat:
            return self._ring(now, sounding)
        return 0

    def _ring(self, now: float, sounding: Priority) -> int:
        self._last_burst = now
        return PULSES[sounding]
