"""Sparklines of the last minutes with the alarm levels as colour bands, and their history.

A one-line sparkline cannot draw a horizontal rule, so the warning and critical levels are shown
by the zone each cell falls in (green, yellow, red; bold and reversed without colour) and by a
short legend (``w15 c10``). Each cell shows the coldest value of its time slice, because in a
cryoablation the cold extreme is the one that hurts; a slice with no valid reading is a gap,
never an invented number.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text

from monitor.engine import Snapshot
from monitor.engine.spec import Condition, EngineSpec, role_conditions
from monitor.model import Role

BLOCKS = "▁▂▃▄▅▆▇█"
GAP = " "

Point = tuple[float, float | None]


@dataclass(frozen=True, slots=True)
class Levels:
    """A channel's alarm levels in °C (``None`` when the condition is off for its role)."""

    warning_low: float | None = None
    critical_low: float | None = None
    warning_high: float | None = None
    critical_high: float | None = None

    def zone(self, value: float) -> int:
        """0 normal, 1 warning, 2 critical."""
        if (self.critical_low is not None and value <= self.critical_low) or (
                self.critical_high is not None and value >= self.critical_high):
            return 2
        if (self.warning_low is not None and value <= self.warning_low) or (
                self.warning_high is not None and value >= self.warning_high):
            return 1
        return 0

    def legend(self) -> str:
        """The cold levels, which matter during a freeze: ``w15 c10``."""
        parts = []
        if self.warning_low is not None:
            parts.append(f"w{self.warning_low:g}")
        if self.critical_low is not None:
            parts.append(f"c{self.critical_low:g}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, float | None]:
        return {"warning_low_c": self.warning_low, "critical_low_c": self.critical_low,
                "warning_high_c": self.warning_high, "critical_high_c": self.critical_high}

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Levels:
        def get(key: str) -> float | None:
            value = values.get(key)
            return float(value) if isinstance(value, int | float) else None
        return cls(get("warning_low_c"), get("critical_low_c"), get("warning_high_c"),
                   get("critical_high_c"))


def _trip(conditions: Mapping[Condition, object], condition: Condition) -> float | None:
    spec = conditions.get(condition)
    if spec is None:
        return None
    enabled = getattr(spec, "enabled", None)
    if enabled is None and isinstance(spec, Mapping):
        enabled = spec.get("enabled", True)
        trip = spec.get("trip_c")
    else:
        trip = getattr(spec, "trip_c", None)
    if enabled is False or not isinstance(trip, int | float):
        return None
    return float(trip)


def _levels(conditions: Mapping[Condition, object]) -> Levels:
    return Levels(_trip(conditions, Condition.BELOW_WARNING),
                  _trip(conditions, Condition.BELOW_CRITICAL),
                  _trip(conditions, Condition.ABOVE_WARNING),
                  _trip(conditions, Condition.ABOVE_CRITICAL))


def role_levels(role: str) -> Levels:
    """The built-in levels of a role (an unknown role has none)."""
    try:
        conditions = role_conditions(Role(role))
    except ValueError:
        return Levels()
    return _levels(conditions)


def spec_levels(spec: EngineSpec) -> dict[str, dict[str, float | None]]:
    """Per-channel levels of the thresholds in force, for the session header's ``levels`` key."""
    return {c.id: _levels(c.conditions).as_dict() for c in spec.channels}


def levels_for(channel_id: str, role: str, header: Mapping[str, object]) -> Levels:
    """The header's ``levels`` entry for the channel if the daemon gave one, else the role's."""
    table = header.get("levels")
    if isinstance(table, Mapping):
        entry = table.get(channel_id)
        if isinstance(entry, Levels):
            return entry
        if isinstance(entry, Mapping):
            return Levels.from_mapping(entry)
    return role_levels(role)


def sparkline(points: Sequence[Point], *, width: int, span_s: float, now: float,
              levels: Levels, monochrome: bool = False) -> Text:
    """``width`` cells covering ``[now - span_s, now]``; each cell the slice's coldest value."""
    if width <= 0:
        return Text()
    start = now - span_s
    cells: list[float | None] = [None] * width
    step = span_s / width if span_s > 0 else 1.0
    for t, value in points:
        if value is None or not math.isfinite(value) or t < start or t > now:
            continue
        i = min(width - 1, max(0, int((t - start) / step)))
        held = cells[i]
        cells[i] = value if held is None else min(held, value)
    valid = [v for v in cells if v is not None]
    text = Text(no_wrap=True, overflow="crop")
    if not valid:
        text.append(GAP * width)
        return text
    lo, hi = min(valid), max(valid)
    # Keep the cold critical level on the scale: a fall toward it then looks like one, and a
    # steady body-temperature line sits high rather than filling the cell with noise.
    if levels.critical_low is not None:
        lo = min(lo, levels.critical_low - 2.0)
    if hi - lo < 2.0:  # noise on a flat line is not a trend
        mid = (hi + lo) / 2.0
        lo, hi = mid - 1.0, mid + 1.0
    styles = (("", "bold", "bold reverse") if monochrome
              else ("green", "bold yellow", "bold red"))
    run: list[str] = []
    run_zone = -1
    top = len(BLOCKS) - 1
    for value in cells:
        if value is None:
            glyph, zone = GAP, -1
        else:
            glyph = BLOCKS[min(top, max(0, round((value - lo) / (hi - lo) * top)))]
            zone = levels.zone(value)
        if zone != run_zone and run:  # one span per run of a zone: cheaper to draw
            text.append("".join(run), style=styles[run_zone] if run_zone >= 0 else "")
            run = []
        run.append(glyph)
        run_zone = zone
    if run:
        text.append("".join(run), style=styles[run_zone] if run_zone >= 0 else "")
    return text


class History(Mapping[str, Sequence[Point]]):
    """Recent ``(t, temp_c)`` per channel, decimated so memory stays flat whatever the scan rate.

    The display records every snapshot; a point is kept at most every ``span_s / points`` seconds
    per channel (a faulty or stale reading is kept as ``None`` so the sparkline shows the gap).
    """

    def __init__(self, span_s: float, points: int = 240) -> None:
        self.span_s = float(span_s)
        self.interval_s = self.span_s / max(1, points)
        self._data: dict[str, deque[Point]] = {}

    def record(self, snapshot: Snapshot) -> None:
        now = snapshot.t
        for channel in snapshot.channels:
            series = self._data.get(channel.id)
            if series is None:
                series = self._data[channel.id] = deque()
            if series and now - series[-1][0] < self.interval_s:
                last_t, last_v = series[-1]
                value = channel.temp_c
                # Within one slice keep the colder value; a fault replaces nothing.
                if value is not None and (last_v is None or value < last_v):
                    series[-1] = (last_t, value)
                continue
            series.append((now, channel.temp_c))
            horizon = now - self.span_s
            while series and series[0][0] < horizon:
                series.popleft()

    def __getitem__(self, key: str) -> Sequence[Point]:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)
