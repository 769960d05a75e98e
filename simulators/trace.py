"""A scenario's sensor traces: sample times, values and statuses per channel, plus events.

Faults are statuses, never numbers: ``values`` is NaN wherever ``status`` is not OK, so code that
forgets the status sees NaN rather than a plausible temperature, and :meth:`Trace.readings`
turns every sample into a :class:`monitor.model.Reading` that carries the status.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from monitor.model import Reading, Role, Status
from simulators.physics import PhaseSpan

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int8]

EventKind = Literal["unplug", "co2", "saline", "spike"]


@dataclass(frozen=True, slots=True)
class Channel:
    """One thermocouple of a scenario, as a config file would name it."""

    id: str
    label: str
    role: Role
    index: int
    device: str = "sim"


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """Something that happens to the procedure or the device between ``start_s`` and ``end_s``.

    ``unplug``: the device is gone (the emulator unplugs its pty; :meth:`Trace.readings` yields
    nothing in that window). ``co2`` / ``saline``: a protection manoeuvre. ``spike``: mains
    interference on ``channel`` for one sample.
    """

    kind: EventKind
    start_s: float
    end_s: float
    channel: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Trace:
    """Sampled output of a scenario: ``t`` (n,), ``values`` and ``status`` (n, channels)."""

    scenario: str
    channels: tuple[Channel, ...]
    t: FloatArray
    values: FloatArray
    status: IntArray
    events: tuple[TraceEvent, ...]
    phases: tuple[PhaseSpan, ...]
    rate_hz: float

    @property
    def duration_s(self) -> float:
        return float(self.t[-1]) if len(self.t) else 0.0

    def column(self, channel_id: str) -> int:
        for i, ch in enumerate(self.channels):
            if ch.id == channel_id:
                return i
        raise KeyError(f"no channel {channel_id!r} in scenario {self.scenario!r}")

    def unplugged(self, t: float) -> bool:
        """True while the device is unplugged at session time ``t``."""
        return any(e.kind == "unplug" and e.start_s <= t < e.end_s for e in self.events)

    def index_at(self, t: float) -> int:
        """Index of the last sample taken at or before ``t`` (-1 before the first)."""
        return int(np.searchsorted(self.t, t, side="right")) - 1

    def readings(self, *, include_unplugged: bool = False) -> Iterator[Reading]:
        """Every sample as a Reading, in time order, channel order within a scan.

        Samples inside unplug windows are left out (the monitor never receives them) unless
        ``include_unplugged`` is set.
        """
        windows = [(e.start_s, e.end_s) for e in self.events if e.kind == "unplug"]
        ids = [ch.id for ch in self.channels]
        statuses = [Status(s) for s in range(len(Status))]
        for i in range(len(self.t)):
            t = float(self.t[i])
            if not include_unplugged and any(a <= t < b for a, b in windows):
                continue
            row = self.values[i]
            srow = self.status[i]
            for c, cid in enumerate(ids):
                status = statuses[int(srow[c])]
                value = float(row[c]) if status is Status.OK else None
                yield Reading(t=t, channel=cid, temp_c=value, status=status)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """The long CSV that replay reads (README.md "Replay"): ``t,channel,temp_c,status``; empty
        temp_c unless OK."""
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["t", "channel", "temp_c", "status"])
            for r in self.readings():
                temp = "" if r.temp_c is None else f"{r.temp_c:.1f}"
                writer.writerow([f"{r.t:.3f}", r.channel, temp, r.status.name])
