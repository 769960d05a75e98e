"""When to ring the terminal bell: the alarm bursts of :mod:`monitor.audio` as BEL characters.

A terminal bell cannot shape a pulse, but it keeps the rhythm of the sound output: 10 pulses for
a high-priority alarm, 3 for medium, 1 for low, repeated as :mod:`monitor.audio.spec` says (high
every ``BURSTS[HIGH].repeat_s``, medium every ``BURSTS[MEDIUM].repeat_s``, low once when it
starts). A higher priority rings at once. The scheduler reads no clock: the caller passes the
time, so tests run without waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from monitor.audio.schedule import BurstScheduler
from monitor.audio.spec import BURSTS
from monitor.model import Priority

PULSES: Mapping[Priority, int] = MappingProxyType({p: b.pulses for p, b in BURSTS.items()})
REPEAT_S: Mapping[Priority, float | None] = MappingProxyType(
    {p: b.repeat_s for p, b in BURSTS.items()})
PULSE_SPACING_S = 0.1  # between pulses of one burst, at least (one per frame at 10 Hz)


class BellScheduler:
    """Call :meth:`due` on every frame with the time and ``snapshot.audio.sounding``."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bursts = BurstScheduler()

    def due(self, now: float, sounding: Priority | None, new_alarm: bool = False) -> int:
        """Pulses to ring now (0 for none)."""
        start = self._bursts.due(now, sounding, new_alarm)
        if not self.enabled or start is None:
            return 0
        return PULSES[start]
