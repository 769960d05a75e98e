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
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


def _cells(points: Sequence[Point], width: int, span_s: float, now: float
           ) -> list[float | None]:
    """The coldest valid value of each of ``width`` time slices of ``[now - span_s, now]``.

    Runs for every channel on every frame: kept to plain comparisons (no function calls)."""
    start = now - span_s
    scale = width / span_s if span_s > 0 else 1.0
    last = width - 1
    cells: list[float | None] = [None] * width
    for t, value in points:
        if value is None or t < start or t > now or value != value or value in _INFINITE:
            continue
        i = int((t - start) * scale)
        if i > last:
            i = last
        held = cells[i]
        if held is None or value < held:
            cells[i] = value
    return cells


_INFINITE = (math.inf, -math.inf)


def _scale(cells: Sequence[float | None], levels: Levels) -> tuple[float, float] | None:
    valid = [v for v in cells if v is not None]
    if not valid:
        return None
    lo, hi = min(valid), max(valid)
    # Keep the cold critical level on the scale: a fall toward it then looks like one, and a
    # steady body-temperature line sits high rather than filling the cell with noise.
    if levels.critical_low is not None:
        lo = min(lo, levels.critical_low - 2.0)
    if hi - lo < 2.0:  # noise on a flat line is not a trend
        mid = (hi + lo) / 2.0
        lo, hi = mid - 1.0, mid + 1.0
    return lo, hi


def _zone_styles(monochrome: bool) -> tuple[str, str, str]:
    return ("", "bold", "bold reverse") if monochrome else ("green", "bold yellow", "bold red")


def _append_runs(text: Text, glyphs: Sequence[str], zones: Sequence[int],
                 styles: tuple[str, str, str]) -> None:
    """One span per run of a zone (cheaper to draw than one per cell)."""
    run: list[str] = []
    run_zone = -1
    for glyph, zone in zip(glyphs, zones, strict=True):
        if zone != run_zone and run:
            text.append("".join(run), style=styles[run_zone] if run_zone >= 0 else "")
            run = []
        run.append(glyph)
        run_zone = zone
    if run:
        text.append("".join(run), style=styles[run_zone] if run_zone >= 0 else "")


def sparkline(points: Sequence[Point], *, width: int, span_s: float, now: float,
              levels: Levels, monochrome: bool = False) -> Text:
    """``width`` cells covering ``[now - span_s, now]``; each cell the slice's coldest value."""
    return sparkline_rows(points, width=width, rows=1, span_s=span_s, now=now, levels=levels,
                          monochrome=monochrome)[0]


def sparkline_rows(points: Sequence[Point], *, width: int, rows: int, span_s: float,
                   now: float, levels: Levels, monochrome: bool = False) -> list[Text]:
    """The sparkline ``rows`` text rows tall (eight steps per row), top row first."""
    if width <= 0:
        return [Text() for _ in range(rows)]
    cells = _cells(points, width, span_s, now)
    scale = _scale(cells, levels)
    if scale is None:
        return [Text(GAP * width, no_wrap=True, overflow="crop") for _ in range(rows)]
    lo, hi = scale
    steps = len(BLOCKS) * rows
    heights = [None if v is None else 1 + min(steps - 1, max(0, round(
        (v - lo) / (hi - lo) * (steps - 1)))) for v in cells]
    zones = [-1 if v is None else levels.zone(v) for v in cells]
    styles = _zone_styles(monochrome)
    out: list[Text] = []
    for row in range(rows - 1, -1, -1):  # top row first
        glyphs = []
        for h in heights:
            if h is None:
                glyphs.append(GAP)
                continue
            fill = h - row * len(BLOCKS)
            glyphs.append(BLOCKS[-1] if fill >= len(BLOCKS) else BLOCKS[fill - 1] if fill > 0
                          else " ")
        text = Text(no_wrap=True, overflow="crop")
        _append_runs(text, glyphs, [z if g.strip() else -1 for g, z in zip(glyphs, zones,
                                                                           strict=True)], styles)
        out.append(text)
    return out


MARKS: Mapping[str, str] = {"co2": "C", "saline": "S"}


def _marker_cells(interventions: Sequence[tuple[float, str]], width: int, span_s: float,
                  now: float) -> dict[int, str]:
    cells: dict[int, str] = {}
    start = now - span_s
    step = span_s / width if width > 0 and span_s > 0 else 1.0
    for t, kind in interventions:
        if width > 0 and start <= t <= now:
            cells[min(width - 1, max(0, int((t - start) / step)))] = MARKS.get(kind, "?")
    return cells


def marker_row(interventions: Sequence[tuple[float, str]], *, width: int, span_s: float,
               now: float, monochrome: bool = False) -> Text:
    """A row under a sparkline with ``C`` (carbon dioxide) or ``S`` (warm saline) under the
    cell of each injection in the window; the rest blank."""
    cells = _marker_cells(interventions, width, span_s, now)
    plain = "".join(cells.get(i, " ") for i in range(max(0, width)))
    text = Text(plain, no_wrap=True, overflow="crop")
    style = "bold reverse" if monochrome else "bold magenta"
    for i in cells:
        text.stylize(style, i, i + 1)
    return text


def overlay_markers(line: Text, interventions: Sequence[tuple[float, str]], *, width: int,
                    span_s: float, now: float, monochrome: bool = False) -> Text:
    """A one-row sparkline with the injection cells replaced by their letter (no room for a
    marker row)."""
    cells = _marker_cells(interventions, width, span_s, now)
    if not cells:
        return line
    plain = list(line.plain)
    for i, glyph in cells.items():
        if i < len(plain):
            plain[i] = glyph
    out = Text("".join(plain), no_wrap=True, overflow="crop", spans=list(line.spans))
    for i in cells:
        out.stylize("bold reverse" if monochrome else "bold magenta reverse", i, i + 1)
    return out


class History(Mapping[str, Sequence[Point]]):
    """Recent ``(t, temp_c)`` per channel, decimated so memory stays flat whatever the scan rate.

    The display records every snapshot; a point is kept at most every ``span_s / points`` seconds
    per channel (a faulty or stale reading is kept as ``None`` so the sparkline shows the gap).
    """

    def __init__(self, span_s: float, points: int = 240) -> None:
        self.span_s = float(span_s)
        self.interval_s = self.span_s / max(1, points)
        self._data: dict[str, deque[Point]] = {}
        # (session time, "co2" | "saline") of every intervention, for the sparkline markers and
        # the header's time since the last injection. Bounded: a session has a few dozen.
        self.interventions: deque[tuple[float, str]] = deque(maxlen=1000)

    def note_events(self, records: Iterable[Mapping[str, object]]) -> None:
        """Keep the interventions among event-stream records (``type`` "intervention")."""
        for record in records:
            if record.get("type") != "intervention":
                continue
            t, kind = record.get("t"), record.get("kind")
            if isinstance(t, int | float) and math.isfinite(t) and isinstance(kind, str):
                self.interventions.append((float(t), kind))

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
