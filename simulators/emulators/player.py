"""Plays a scenario trace on a session clock and decides when faults happen.

Shared by the three emulators: session time = (clock() - start) × speed, the scan at a session
time is the last trace sample taken by then (held after the trace ends), and a :class:`Faults`
schedule says when the device is unplugged, silent, sends garbage or cuts a frame short.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitor.model import Status
from simulators.ptylink import PtyLink
from simulators.sensors import NOISE_SD_C, RESOLUTION_C
from simulators.trace import Trace

Clock = Callable[[], float]
Window = tuple[float, float]

# Above this, a busy machine's ordinary scheduling delay (10-20 ms between turns of the event
# loop at a load of 10 on 2 cores) is itself more than 1 s of session time, and the monitor can
# see a gap no clock can hide. Measured: docs/simulator.md ("Pacing at high speed").
MAX_DEMO_SPEED = 60.0


@dataclass(frozen=True, slots=True)
class Faults:
    """Device faults on top of the scenario's own (its unplug events are always applied).

    Times are session seconds. ``garbage_every_s`` / ``partial_every_s``: from that time on,
    once per period the next frame is replaced by random bytes / cut short.
    ``open_from``: (channel index, session time) pairs: that input reads open from then on.
    """

    unplug: tuple[Window, ...] = ()
    silent: tuple[Window, ...] = ()
    garbage_every_s: float | None = None
    partial_every_s: float | None = None
    open_from: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Scan:
    """One reading of every input: a status and, when OK, a value in °C."""

    statuses: tuple[Status, ...]
    values: tuple[float | None, ...]


class SessionClock:
    """Session seconds from an injectable monotonic clock, scaled by ``speed``."""

    def __init__(self, speed: float = 1.0, clock: Clock | None = None) -> None:
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError(f"speed must be a positive number, got {speed}")
        self.speed = speed
        self._clock = clock or time.monotonic
        self._start = self._clock()

    def now(self) -> float:
        return (self._clock() - self._start) * self.speed

    def wall_delay(self, session_s: float) -> float:
        """Wall seconds until ``session_s`` session seconds have passed."""
        return max(0.0, session_s / self.speed)


class SteadyClock:
    """A monotonic clock for a simulated session that stops while the process is stalled.

    ``cryoguard demo`` runs the emulated device and the daemon in one process, both on session
    time = wall time × speed. When the process is not scheduled for a moment (a busy machine,
    a garbage collection), wall time runs on while neither side can act: at ×60 a 50 ms pause
    is 3 s of session time, and the daemon, whose clock reads first after the pause, declares
    every channel stale (its delay is 2 s) before the device has had a chance to write. Given
    to both sides as their monotonic clock, this clock lets at most ``grace_s`` of wall time
    pass without a heartbeat; beyond that it stands still until the heartbeat (:meth:`run`,
    every ``beat_s``) comes back, and then goes on from where it stood, never jumping. A pause
    thus moves session time by at most ``grace_s × speed``. For simulated sessions only: a real
    monitor must see real gaps. Measurements: docs/simulator.md ("Pacing at high speed").
    """

    def __init__(self, grace_s: float = 0.02, beat_s: float = 0.005,
                 clock: Clock = time.monotonic) -> None:
        if not 0 < beat_s < grace_s:
            raise ValueError(f"need 0 < beat_s < grace_s, got {beat_s} and {grace_s}")
        self.grace_s = grace_s
        self.beat_s = beat_s
        self._clock = clock
        self._last_beat = clock()
        self.stalled_s = 0.0  # wall time taken out so far
        self.stalls = 0  # heartbeats that came late (each a pause taken out)
        self.longest_stall_s = 0.0

    @classmethod
    def for_speed(cls, speed: float, max_step_session_s: float = 1.0) -> SteadyClock:
        """A clock whose pauses move session time at ``speed`` by at most
        ``max_step_session_s`` (half the default 2 s stale delay)."""
        grace = min(0.02, max_step_session_s / speed)
        return cls(grace_s=grace, beat_s=min(0.005, grace / 4))

    def __call__(self) -> float:
        return min(self._clock(), self._last_beat + self.grace_s) - self.stalled_s

    def reset_counts(self) -> None:
        """Forget the pauses counted so far (those of start-up, before the session began);
        the time taken out stays taken out."""
        self.stalls = 0
        self.longest_stall_s = 0.0

    def beat(self) -> None:
        now = self._clock()
        late = now - self._last_beat - self.grace_s
        if late > 0:
            self.stalled_s += late
            self.stalls += 1
            self.longest_stall_s = max(self.longest_stall_s, late + self.grace_s)
        self._last_beat = now

    async def run(self) -> None:
        """The heartbeat: run it as a task of the session's event loop until cancelled."""
        while True:
            self.beat()
            await asyncio.sleep(self.beat_s)


class Periodic:
    """Fires once per ``period_s`` of session time (never when the period is None)."""

    def __init__(self, period_s: float | None) -> None:
        self.period_s = period_s
        self._next = period_s if period_s else math.inf

    def due(self, t: float) -> bool:
        if t < self._next or self.period_s is None:
            return False
        self._next = (math.floor(t / self.period_s) + 1) * self.period_s
        return True


class Player:
    """The emulated instrument's view of a trace plus the fault schedule."""

    def __init__(self, trace: Trace, faults: Faults | None = None, seed: int = 0) -> None:
        self.trace = trace
        self.faults = faults or Faults()
        self.rng = np.random.default_rng(seed + 7919)
        self.unplug_windows = tuple(
            (e.start_s, e.end_s) for e in trace.events if e.kind == "unplug"
        ) + self.faults.unplug
        self.garbage = Periodic(self.faults.garbage_every_s)
        self.partial = Periodic(self.faults.partial_every_s)
        self.period_s = 1.0 / trace.rate_hz

    @property
    def n_channels(self) -> int:
        return len(self.trace.channels)

    def unplugged(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.unplug_windows)

    def silent(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.faults.silent)

    def sample_number(self, t: float) -> int:
        """Number of the scan due at ``t`` (counting on past the end of the trace)."""
        return max(0, math.floor(t / self.period_s + 1e-9))

    def scan(self, t: float) -> Scan:
        """What the inputs read at session time ``t``."""
        i = min(max(self.trace.index_at(t), 0), len(self.trace.t) - 1)
        return self.scan_at(i, t)

    def scan_at(self, i: int, t: float) -> Scan:
        last = len(self.trace.t) - 1
        past_end = i > last or t > float(self.trace.t[-1]) + self.period_s
        i = min(max(i, 0), last)
        statuses = [Status(int(s)) for s in self.trace.status[i]]
        for channel, since in self.faults.open_from:
            if 0 <= channel < len(statuses) and t >= since:
                statuses[channel] = Status.OPEN
        values = [float(v) if s is Status.OK else None
                  for v, s in zip(self.trace.values[i], statuses, strict=True)]
        if past_end:  # after the scenario the tissue rests where it ended; a needle still jitters
            values = [None if v is None else _quantised(v + float(self.rng.normal(0, NOISE_SD_C)))
                      for v in values]
        return Scan(tuple(statuses), tuple(values))

    def garbage_bytes(self) -> bytes:
        """Random bytes with no frame terminators, like noise on an RS-485 line."""
        size = int(self.rng.integers(6, 24))
        raw = self.rng.integers(0, 256, size=size).astype(np.uint8).tobytes()
        return raw.replace(b"\n", b"?").replace(b"\r", b"?")


def follow_plug(player: Player, link: PtyLink, t: float, loop: asyncio.AbstractEventLoop,
                watched: int | None, on_readable: Callable[[], None]) -> tuple[int | None, bool]:
    """Unplug or replug ``link`` as the fault schedule says at session time ``t``.

    Returns the file descriptor now watched for readability (``None`` while unplugged) and
    whether the link was pulled just now (so a caller can drop half-read input).
    """
    pulled = False
    if player.unplugged(t):
        if link.plugged:
            if watched is not None:
                loop.remove_reader(watched)
                watched = None
            link.unplug()
            pulled = True
    elif not link.plugged:
        link.plug()
    if link.plugged and watched is None:
        watched = link.fileno()
        loop.add_reader(watched, on_readable)
    return watched, pulled


def _quantised(value: float) -> float:
    """``value`` at the emulated instruments' resolution."""
    return round(round(value / RESOLUTION_C) * RESOLUTION_C, 6)
