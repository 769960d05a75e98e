"""A plain reference model of CryoGuard's detection rules, one sample at a time.

Written from the alarm contract (docs/engine.md, docs/clinical-defaults.md), not from the
engine's code: no NumPy, no blocks, no fast path, no prefix sums. It is slow and meant to be
read as the specification. ``tests/test_engine_reference.py`` feeds it and the engine the
same inputs and requires the same alarm events.

Inputs, in order: readings ``(t, channel, value, status)``, ``tick(t)`` (time passes) and
``acknowledge(t, alarm)``. The clock is the largest time seen so far. For every input:

1. *Time first.* Every channel with a stale delay whose last accepted reading is ``after_s``
   or more behind the clock becomes stale, dated when it became due; several at once are
   reported by due time, then channel order.
2. *Then the reading*, through the steps below; its events are reported in condition order
   (the order of :class:`~monitor.engine.spec.Condition`).

A reading's steps:

* a time earlier than the channel's latest is bad data, and its status events are dated at
  that latest time; an OK value below absolute zero or above 2000 °C is out of range;
* status conditions trip on their status and clear on an OK reading;
* ``stuck`` trips when OK readings have kept exactly one value for ``after_s`` (measured from
  the first reading of that value) and clears on any other value;
* the jump check holds back an OK reading that moved more than ``min_step_c`` *and* faster
  than ``max_c_per_s`` from the last accepted one (unless a non-OK reading came in between);
  the next OK reading accepts it if it is plausible from either, or departs the old level on
  the same side; ``implausible_jump`` is raised while readings are held back;
* an accepted reading clears ``stale`` and feeds the trend: the least-squares slope over the
  accepted readings of the last ``window_s`` (at most ``max_points``, never across a gap
  longer than ``max_gap_s``), usable with at least ``min_points`` over ``min_span_s``;
* temperature conditions see accepted readings only. Levels trip at or beyond ``trip_c`` and
  clear at or beyond ``clear_c`` (hysteresis: nothing changes in between); ``falling_fast``
  trips at a slope at or below ``trip_c_per_min`` and clears at or above ``clear_c_per_min``;
  ``predicted_below_critical`` trips when the reading is above the critical clear level and
  falling toward the critical limit, to reach it within ``horizon_s``, and clears at or below
  the limit, when the slope is not falling, or beyond ``clear_horizon_s``.

Every condition has an optional delay: once its trip is met it is raised on the first
reading at least ``delay_s`` later unless a reading past the clear level came first (a
reading between the levels neither raises early nor cancels). A high-priority cold condition
is raised at the latest on the reading after the trip.

Alarms (IEC 60601-1-8): a raise of a standing alarm says nothing new; a non-latching alarm
is cleared with its condition; a latching one stays, with its trip value, until the condition
has ended *and* it was acknowledged, in either order, and its clear is reported then, with
the value and level it cleared at. Acknowledge (all, or one alarm) reports each unacknowledged
alarm, oldest first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.engine.spec import ChannelSpec, Condition, ConditionSpec, Kind, TrendSpec
from monitor.model import Category, Priority, Status

ABSOLUTE_ZERO_C = -273.15
HIGHEST_C = 2000.0
STATUS_TRIPS = {
    Condition.SENSOR_OPEN: {Status.OPEN},
    Condition.SENSOR_SHORT: {Status.SHORT},
    Condition.OUT_OF_RANGE: {Status.OVER_RANGE, Status.UNDER_RANGE},
    Condition.BAD_DATA: {Status.BAD_DATA},
}


@dataclass(frozen=True)
class RefEvent:
    """What the comparison looks at: time, type, alarm, value and limit, priority."""

    t: float
    type: str  # "alarm.raised" | "alarm.cleared" | "alarm.acknowledged"
    alarm: str
    value: float | None
    limit: float | None
    priority: str


# One condition's trip/clear state machine ---------------------------------------------------

@dataclass
class Machine:
    """Trip, clear, delay and the one-sample cap, one sample at a time."""

    delay_s: float
    cap: bool  # high-priority cold condition: raised at the latest on the next sample
    active: bool = False
    pending_t: float | None = None
    pending_fresh: bool = False  # the trip was met on the previous sample

    def step(self, t: float, trip: bool, clear: bool) -> str | None:
        """"raise", "clear" or None for this sample."""
        if self.active:
            if clear:
                self.active = False
                return "clear"
            return None
        if self.pending_t is None:
            if not trip:
                return None
            self.pending_t, first = t, True
        else:
            first = False
        if clear:  # a reading past the clear level cancels a pending trip
            self.pending_t = None
            return None
        due = self.delay_s <= 0 or t >= self.pending_t + self.delay_s or (self.cap and not first)
        if due:
            self.active, self.pending_t = True, None
            return "raise"
        return None


# The trend ------------------------------------------------------------------------------------

def least_squares_slope(points: list[tuple[float, float]]) -> float:
    """Slope (°C/s) of the least-squares line through ``points``, by the centred formula."""
    n = len(points)
    mean_t = math.fsum(p[0] for p in points) / n
    mean_v = math.fsum(p[1] for p in points) / n
    sxx = math.fsum((p[0] - mean_t) ** 2 for p in points)
    sxy = math.fsum((p[0] - mean_t) * (p[1] - mean_v) for p in points)
    return sxy / sxx if sxx > 0 else math.nan


@dataclass
class Trend:
    spec: TrendSpec
    points: list[tuple[float, float]] = field(default_factory=list)
    gap_start: int = 0  # index of the first point after the last long gap

    def add(self, t: float, v: float) -> float:
        """The slope at this accepted reading, NaN when the window is not usable."""
        g = len(self.points)
        if self.points and t - self.points[-1][0] > self.spec.max_gap_s:
            self.gap_start = g
        self.points.append((t, v))
        lo = next(i for i, (ti, _) in enumerate(self.points) if ti >= t - self.spec.window_s)
        lo = max(lo, self.gap_start, g - self.spec.max_points + 1)
        window = self.points[lo:]
        if len(window) < self.spec.min_points or t - window[0][0] < self.spec.min_span_s:
            return math.nan
        return least_squares_slope(window)


# One channel ----------------------------------------------------------------------------------

@dataclass
class Channel:
    index: int
    spec: ChannelSpec
    trend: Trend
    machines: dict[Condition, Machine]
    last_t: float = -math.inf
    last_valid_t: float = 0.0  # the last accepted reading (session start before the first)
    stale: bool = False
    run_v: float | None = None  # stuck: the value repeated since run_t
    run_t: float = 0.0
    ref: tuple[float, float] | None = None  # last accepted reading (jump check)
    cand: tuple[float, float] | None = None  # held-back reading
    fault_since_valid: bool = False

    def on(self, condition: Condition) -> ConditionSpec | None:
        spec = self.spec.conditions.get(condition)
        return spec if spec is not None and spec.enabled else None


def _predict_limit(spec: ChannelSpec) -> tuple[float, float]:
    """The limit the prediction aims at (the critical level) and the level above which it is
    armed (the critical alarm's clear level, when above the limit)."""
    predicted = spec.conditions.get(Condition.PREDICTED_BELOW_CRITICAL)
    critical = spec.conditions.get(Condition.BELOW_CRITICAL)
    if predicted is not None and predicted.trip_c is not None:
        limit = predicted.trip_c
    elif critical is not None and critical.trip_c is not None:
        limit = critical.trip_c
    else:
        limit = 10.0
    arm = limit
    if critical is not None and critical.clear_c is not None and critical.clear_c > limit:
        arm = critical.clear_c
    return limit, arm


class ReferenceModel:
    """Alarm events of a session, computed one input at a time."""

    def __init__(self, channels: tuple[ChannelSpec, ...], trend: TrendSpec,
                 t0: float = 0.0) -> None:
        self.channels: list[Channel] = []
        for i, spec in enumerate(channels):
            machines = {}
            for condition, cs in spec.conditions.items():
                cap = condition.cold and cs.priority is Priority.HIGH
                machines[condition] = Machine(cs.delay_s, cap)
            self.channels.append(Channel(i, spec, Trend(trend), machines, last_valid_t=t0,
                                         run_t=t0))
        self.now = -math.inf
        self.events: list[RefEvent] = []
        self.alarms: dict[str, dict[str, Any]] = {}  # insertion order = oldest first
        self.ambiguous: set[str] = set()  # alarms a float rounding could decide either way

    # Inputs -------------------------------------------------------------------------------

    def reading(self, t: float, channel: int, value: float | None, status: Status) -> None:
        self.now = max(self.now, t)
        self._time_passes()
        ch = self.channels[channel]
        changes: list[tuple[Condition, str, float | None, float | None]] = []
        st = status
        if t < ch.last_t:
            st = Status.BAD_DATA  # time ran backwards on this channel
        ch.last_t = max(ch.last_t, t)
        clock = ch.last_t  # a late reading is dated at the channel's latest time
        if st is Status.OK and value is not None and value < ABSOLUTE_ZERO_C:
            st = Status.UNDER_RANGE
        if st is Status.OK and value is not None and value > HIGHEST_C:
            st = Status.OVER_RANGE
        ok = st is Status.OK
        status_changes: list[tuple[Condition, str, float | None, float | None]] = []
        for condition, trips in STATUS_TRIPS.items():
            if ch.on(condition):
                self._step(ch, condition, clock, st in trips, ok, None, None, None,
                           status_changes)
        if not ok:
            ch.fault_since_valid = True
        else:
            assert value is not None
            self._stuck(ch, t, value, changes)
            accepted = self._jump_check(ch, t, value)
            ch.fault_since_valid = False
            if ch.on(Condition.IMPLAUSIBLE_JUMP):
                self._step(ch, Condition.IMPLAUSIBLE_JUMP, t, not accepted, accepted,
                           value, None, None, changes)
            if accepted:
                if ch.stale:
                    ch.stale = False
                    changes.append((Condition.STALE, "clear", None, None))
                ch.last_valid_t = t
                slope = ch.trend.add(t, value)
                self._temperature(ch, t, value, slope, changes)
        ordered = sorted([(c, clock) for c in status_changes] + [(c, t) for c in changes],
                         key=lambda c: c[0][0].order)
        for (condition, what, v, limit), when in ordered:
            self._alarm(ch, condition, what, when, v, limit)

    def tick(self, t: float) -> None:
        self.now = max(self.now, t)
        self._time_passes()

    def acknowledge(self, t: float, alarm: str | None = None) -> None:
        self.tick(t)
        for alarm_id, a in list(self.alarms.items()):
            if a["acknowledged"] or (alarm is not None and alarm != alarm_id):
                continue
            a["acknowledged"] = True
            self._emit("alarm.acknowledged", alarm_id, a["value"], a["limit"], a["priority"])
            if not a["active"]:
                del self.alarms[alarm_id]
                cleared_value, cleared_limit = a["cleared"]
                self._emit("alarm.cleared", alarm_id, cleared_value, cleared_limit,
                           a["priority"])

    # Rules --------------------------------------------------------------------------------

    def _time_passes(self) -> None:
        due = []
        for ch in self.channels:
            stale = ch.on(Condition.STALE)
            if stale is None or not stale.after_s or ch.stale:
                continue
            when = ch.last_valid_t + stale.after_s
            if self.now >= when:
                due.append((when, ch.index, ch))
        for when, _, ch in sorted(due, key=lambda d: (d[0], d[1])):
            ch.stale = True
            self._alarm(ch, Condition.STALE, "raise", when, None, None)

    def _stuck(self, ch: Channel, t: float, v: float,
               changes: list[tuple[Condition, str, float | None, float | None]]) -> None:
        spec = ch.on(Condition.STUCK)
        if spec is None or not spec.after_s:
            return
        changed = ch.run_v is None or v != ch.run_v
        if changed:
            ch.run_v, ch.run_t = v, t
        self._step(ch, Condition.STUCK, t, t >= ch.run_t + spec.after_s, changed, v, None,
                   None, changes)

    def _jump_check(self, ch: Channel, t: float, v: float) -> bool:
        """Whether this OK reading is accepted (not held back as an implausible jump)."""
        spec = ch.on(Condition.IMPLAUSIBLE_JUMP)
        if spec is None or spec.max_c_per_s is None:
            ch.ref, ch.cand = (t, v), None
            return True

        def plausible(frm: tuple[float, float]) -> bool:
            step = abs(v - frm[1])
            return not (step > (spec.min_step_c or 0.0)
                        and step > spec.max_c_per_s * (t - frm[0]))  # type: ignore[operator]

        here = (t, v)
        if ch.cand is None:
            if ch.fault_since_valid or ch.ref is None or plausible(ch.ref):
                ch.ref = here
                return True
            ch.cand = here
            return False
        ref, cand = ch.ref, ch.cand
        assert ref is not None
        if (ch.fault_since_valid or plausible(ref) or plausible(cand)
                or (v - ref[1]) * (cand[1] - ref[1]) > 0):
            ch.ref, ch.cand = here, None
            return True
        ch.cand = here
        return False

    def _temperature(self, ch: Channel, t: float, v: float, slope: float,
                     changes: list[tuple[Condition, str, float | None, float | None]]) -> None:
        limit, arm = _predict_limit(ch.spec)
        for condition, spec in ch.spec.conditions.items():
            if not spec.enabled or condition.category is not Category.PHYSIOLOGICAL:
                continue
            kind = condition.kind
            if kind in (Kind.LOW, Kind.HIGH):
                if spec.trip_c is None or spec.clear_c is None:
                    continue
                if kind is Kind.LOW:
                    trip, clear = v <= spec.trip_c, v >= spec.clear_c
                else:
                    trip, clear = v >= spec.trip_c, v <= spec.clear_c
                self._step(ch, condition, t, trip, clear, v, spec.trip_c, spec.clear_c,
                           changes)
            elif kind is Kind.SLOPE and spec.trip_c_per_min is not None:
                rate = slope * 60.0
                clear_rate = (spec.clear_c_per_min if spec.clear_c_per_min is not None
                              else spec.trip_c_per_min)
                ready = not math.isnan(rate)
                if ready and (_near(rate, spec.trip_c_per_min) or _near(rate, clear_rate)):
                    self.ambiguous.add(f"{ch.spec.id}.{condition}")
                trip = ready and rate <= spec.trip_c_per_min
                clear = ready and rate >= clear_rate and not trip
                self._step(ch, condition, t, trip, clear, v, None, None, changes)
            elif kind is Kind.PREDICTED and spec.horizon_s is not None:
                clear_h = (spec.clear_horizon_s if spec.clear_horizon_s is not None
                           else spec.horizon_s)
                ready = not math.isnan(slope)
                falling = ready and slope < 0 and v > limit
                ttl = (limit - v) / slope if falling else math.inf
                if falling and (_near(ttl, spec.horizon_s) or _near(ttl, clear_h)):
                    self.ambiguous.add(f"{ch.spec.id}.{condition}")
                trip = falling and ttl <= spec.horizon_s and v > arm
                clear = (v <= limit or (ready and slope >= 0) or (falling and ttl > clear_h))
                self._step(ch, condition, t, trip, clear and not trip, v, limit, limit,
                           changes)

    # Plumbing -----------------------------------------------------------------------------

    def _step(self, ch: Channel, condition: Condition, t: float, trip: bool, clear: bool,
              v: float | None, up_limit: float | None, down_limit: float | None,
              changes: list[tuple[Condition, str, float | None, float | None]]) -> None:
        what = ch.machines[condition].step(t, trip, clear)
        if what is not None:
            changes.append((condition, what, v, up_limit if what == "raise" else down_limit))

    def _alarm(self, ch: Channel, condition: Condition, what: str, t: float,
               v: float | None, limit: float | None) -> None:
        spec = ch.spec.conditions[condition]
        alarm_id = f"{ch.spec.id}.{condition}"
        a = self.alarms.get(alarm_id)
        if what == "raise":
            if a is not None and a["active"]:
                return
            record = {"active": True, "acknowledged": False, "value": v, "limit": limit,
                      "priority": spec.priority.label, "latching": spec.latching,
                      "cleared": (None, None)}
            if a is not None:
                a.update(record)  # a latched alarm raised again keeps its place
            else:
                self.alarms[alarm_id] = record
            self._emit("alarm.raised", alarm_id, v, limit, spec.priority.label, t)
            return
        if a is None or not a["active"]:
            return
        a["active"] = False
        if a["latching"] and not a["acknowledged"]:
            a["cleared"] = (v, limit)  # reported when acknowledged; the trip value stays
            return
        del self.alarms[alarm_id]
        self._emit("alarm.cleared", alarm_id, v, limit, spec.priority.label, t)

    def _emit(self, kind: str, alarm: str, value: float | None, limit: float | None,
              priority: str, t: float | None = None) -> None:
        self.events.append(RefEvent(self.now if t is None else t, kind, alarm,
                                    _r(value), _r(limit), priority))


def _near(x: float, level: float) -> bool:
    """Within float rounding of a decision level: either answer is right."""
    return abs(x - level) <= 1e-6 * max(1.0, abs(level))


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def engine_alarm_events(events: list[Any]) -> list[RefEvent]:
    """The engine's alarm events in the reference's terms."""
    out = []
    for e in events:
        kind = str(e.type)
        if kind not in ("alarm.raised", "alarm.cleared", "alarm.acknowledged"):
            continue
        f: Mapping[str, Any] = e.fields
        out.append(RefEvent(e.t, kind, f["alarm"], f["value"], f["limit"], f["priority"]))
    return out
