"""One channel's detection: quality, plausibility, thresholds, trend and staleness.

Works on the channel's rows of a block at once and returns the condition changes it found, each
tagged with the block position where it happened. Sensor faults change no physiological
condition: only accepted temperatures can clear a temperature alarm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from monitor.config import defaults
from monitor.engine.block import F64, I8, I64
from monitor.engine.hysteresis import ConditionState, transitions
from monitor.engine.spec import ChannelSpec, Condition, ConditionSpec, Kind, TrendSpec
from monitor.engine.trend import TrendState
from monitor.model import Category, Priority, Status, celsius

ABSOLUTE_ZERO_C = -273.15  # a physical constant, not a default
HIGHEST_PLAUSIBLE_C = defaults.HIGHEST_PLAUSIBLE_C

PHASE_BEFORE = 0  # detected when time passed (stale): ordered before the reading's own changes
PHASE_READING = 1

_STATUS_CONDITIONS: dict[Condition, tuple[int, ...]] = {
    Condition.SENSOR_OPEN: (Status.OPEN,),
    Condition.SENSOR_SHORT: (Status.SHORT,),
    Condition.OUT_OF_RANGE: (Status.OVER_RANGE, Status.UNDER_RANGE),
    Condition.BAD_DATA: (Status.BAD_DATA,),
}
_STATUS_WORDS = {
    Condition.SENSOR_OPEN: "sensor open (thermocouple broken or unplugged)",
    Condition.SENSOR_SHORT: "sensor short-circuited",
    Condition.OUT_OF_RANGE: "reading out of the sensor's range",
    Condition.BAD_DATA: "bad data from the device",
}


# The rules, written once -------------------------------------------------------------------
# Each predicate takes one value (the live fast path) or an array (the block path): both paths
# call the same comparison, so neither can drift from the other.

def below_range(v: Any) -> Any:
    """Below absolute zero: no thermocouple reads this; the reading is out of range."""
    return v < ABSOLUTE_ZERO_C


def above_range(v: Any) -> Any:
    """Above every thermocouple type's range: out of range."""
    return v > HIGHEST_PLAUSIBLE_C


def level_trip_clear(kind: Kind, v: Any, trip_c: float, clear_c: float) -> tuple[Any, Any]:
    """Where a level condition is met (trip) and where it is clearly over (clear).

    Cold side: trips at or below ``trip_c``, clears at or above ``clear_c``; hot side mirrored.
    Between the two levels neither holds (hysteresis).
    """
    if kind is Kind.LOW:
        return v <= trip_c, v >= clear_c
    return v >= trip_c, v <= clear_c


def slope_trip_clear(spec: ConditionSpec, slope: Any) -> tuple[Any, Any, Any]:
    """``falling_fast``: trips at a slope (°C/min) at or below ``trip_c_per_min``, clears at or
    above ``clear_c_per_min``; no usable slope (NaN) does neither. Also returns the rate."""
    assert spec.trip_c_per_min is not None
    usable = abs(slope) < math.inf
    rate = slope * 60.0
    clear_rate = spec.clear_c_per_min if spec.clear_c_per_min is not None else spec.trip_c_per_min
    trip = usable & (rate <= spec.trip_c_per_min)
    return trip, usable & (rate >= clear_rate) & (trip ^ True), rate


def predicted_trip_clear(spec: ConditionSpec, v: Any, slope: Any, limit: float, arm_c: float
                         ) -> tuple[Any, Any, Any]:
    """``predicted_below_critical``: trips when the reading, above ``arm_c`` (the critical
    alarm's clear level), falls toward ``limit`` fast enough to reach it within ``horizon_s``;
    clears at or below the limit, when not falling, or beyond ``clear_horizon_s``. Also returns
    the time to the limit (s). Arming above the clear level keeps a reading hovering at the
    limit after the critical alarm from making the prediction chatter."""
    assert spec.horizon_s is not None
    clear_h = spec.clear_horizon_s if spec.clear_horizon_s is not None else spec.horizon_s
    usable = abs(slope) < math.inf
    if isinstance(slope, float):  # one sample: Python raises on a division by zero
        ttl: Any = (limit - v) / slope if slope != 0.0 else math.nan
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            ttl = (limit - v) / slope
    falling = usable & (slope < 0) & (v > limit)
    trip = falling & (ttl <= spec.horizon_s) & (v > arm_c)
    clear = (v <= limit) | (usable & (slope >= 0)) | (falling & (ttl > clear_h))
    return trip, clear & (trip ^ True), ttl


def implausible(step: Any, dt: Any, spec: ConditionSpec) -> Any:
    """A change no needle can make: larger than ``min_step_c`` *and* faster than
    ``max_c_per_s`` (``step`` is the absolute change, ``dt`` the time it took)."""
    rate = spec.max_c_per_s if spec.max_c_per_s is not None else math.inf
    return (step > (spec.min_step_c or 0.0)) & (step > rate * dt)


def stuck_trip_clear(t: Any, run_start_t: Any, changed: Any, after_s: float) -> tuple[Any, Any]:
    """``stuck``: the reading has kept one value since ``run_start_t`` for at least
    ``after_s`` (trip); any change of value (``changed``) clears it."""
    return t >= run_start_t + after_s, changed


def stale_due(last_valid_t: Any, after_s: float) -> Any:
    """When a channel whose last valid reading was at ``last_valid_t`` becomes stale: the
    first clock time at or after it (``searchsorted(..., "left")`` on the block clock)."""
    return last_valid_t + after_s


class Change(NamedTuple):
    """A condition raised or cleared at block row ``row``."""

    row: int
    phase: int
    t: float
    channel: int
    condition: Condition
    raised: bool
    value: float | None
    limit: float | None
    message: str
    extra: dict[str, Any]

    def key(self) -> tuple[int, int, float, int, int]:
        return (self.row, self.phase, self.t, self.channel, self.condition.order)


@dataclass(slots=True)
class ChannelView:
    """The latest state of a channel, for displays and MQTT."""

    id: str
    label: str
    role: str
    t: float | None = None
    temp_c: float | None = None
    status: Status = Status.OK
    stale: bool = True
    slope_c_per_min: float | None = None
    seconds_to_limit: float | None = None
    limit_c: float | None = None
    min_c: float | None = None
    max_c: float | None = None
    readings: int = 0


class ChannelEngine:
    """Carries one channel's state from block to block."""

    def __init__(self, index: int, spec: ChannelSpec, trend: TrendSpec, t0: float) -> None:
        self.index = index
        self.spec = spec
        self.trend = TrendState(trend)
        self.states: dict[Condition, ConditionState] = {c: ConditionState() for c in Condition}
        self.last_t = -math.inf  # newest row time, for the time-order check
        self.ref: tuple[float, float] | None = None  # last accepted sample (jump reference)
        self.cand: tuple[float, float] | None = None  # rejected jump that may be a real step
        self.fault_since_ref = False
        self.last_valid_t = t0
        self.stale = False
        stale_spec = spec.enabled(Condition.STALE)
        self.stale_after_s = stale_spec.after_s if stale_spec and stale_spec.after_s else None
        self.stuck_spec = spec.enabled(Condition.STUCK)
        if self.stuck_spec is not None and not self.stuck_spec.after_s:
            self.stuck_spec = None
        self.run_v: float | None = None  # the value of the current run of equal readings
        self.run_t = t0  # when that run began
        self.view = ChannelView(spec.id, spec.name, str(spec.role))
        self._status_active = False
        empty_f = np.empty(0, np.float64)
        self.accepted: tuple[I64, F64, F64, F64] = (np.empty(0, np.int64), empty_f, empty_f,
                                                    empty_f)
        self._temperature_specs = [
            (c, cs, c.cold and cs.priority is Priority.HIGH)
            for c, cs in spec.conditions.items()
            if cs.enabled and c.category is Category.PHYSIOLOGICAL]
        self.predict_limit = _predict_limit(spec)
        self.predict_arm_c = _predict_arm(spec, self.predict_limit)
        self._cold_levels = sorted((c.trip_c for c in _enabled(spec, Kind.LOW)
                                    if c.trip_c is not None), reverse=True)
        self._hot_levels = sorted(c.trip_c for c in _enabled(spec, Kind.HIGH)
                                  if c.trip_c is not None)

    # The block step ----------------------------------------------------------------------

    def process(self, rows: I64, t: F64, v: F64, status: I8, now: F64) -> list[Change]:
        """``rows`` are this channel's positions in the block; ``now`` is the block's clock."""
        if rows.shape[0] == 1:
            quiet = self._one_quiet(rows, t, v, status, now)
            if quiet is not None:
                return quiet
        changes: list[Change] = []
        st, clock = self._effective_status(t, v, status)
        ok = st == Status.OK
        self._status_changes(rows, clock, st, changes)
        valid_rows = np.flatnonzero(ok)
        if self.stuck_spec is not None and valid_rows.size:
            self._stuck_changes(rows[valid_rows], t[valid_rows], v[valid_rows], changes)
        accepted = self._jump_filter(t[valid_rows], v[valid_rows], ok, valid_rows)
        jump = self.spec.enabled(Condition.IMPLAUSIBLE_JUMP)
        if jump is not None and valid_rows.size:
            # Judged on valid readings only: held back trips it, accepted clears it.
            tv, vv = t[valid_rows], v[valid_rows]
            self._emit(changes, jump, rows[valid_rows], tv, transitions(
                tv, ~accepted, accepted, self.states[Condition.IMPLAUSIBLE_JUMP],
                jump.delay_s, False), lambda i, up: (float(vv[i]), None, {}))
        acc_rows = valid_rows[accepted]
        ta, va = t[acc_rows], v[acc_rows]
        slope = self.trend.extend(ta, va) if ta.size else np.empty(0, np.float64)
        self.accepted = (rows[acc_rows], ta, va, slope)  # for cycles: block rows, t, v, °C/s
        self._stale_changes(rows, acc_rows, ta, now, changes)
        if ta.size:
            self._temperature_changes(rows[acc_rows], ta, va, slope, changes)
        self._update_view(t, st, ta, va, slope)
        return changes

    def _one_quiet(self, rows: I64, t_arr: F64, v_arr: F64, status: I8, now: F64
                   ) -> list[Change] | None:
        """The live fast path: one good reading that changes no threshold condition.

        Every precondition is checked before anything is mutated; if any could lead to a
        change, ``None`` hands the reading to the vectorised path, which then does everything.
        The state updates below are the ones the vectorised path makes in the quiet case, so
        results are identical (the block-invariance property test covers it).
        """
        t, v = float(t_arr[0]), float(v_arr[0])
        if (int(status[0]) != Status.OK or t < self.last_t or self._status_active
                or self.stale or self.fault_since_ref or self.cand is not None
                or below_range(v) or above_range(v)):
            return None
        jump_state = self.states[Condition.IMPLAUSIBLE_JUMP]
        if jump_state.active or jump_state.pending_t is not None:
            return None
        jump = self.spec.enabled(Condition.IMPLAUSIBLE_JUMP)
        ref = self.ref
        if jump is not None and jump.max_c_per_s is not None and ref is not None and \
                implausible(abs(v - ref[1]), t - ref[0], jump):
            return None
        stuck = self.stuck_spec
        if stuck is not None:
            changed = self.run_v is None or v != self.run_v
            run_t = t if changed else self.run_t
            trip, clear = stuck_trip_clear(t, run_t, changed, stuck.after_s or 0.0)
            if not self.states[Condition.STUCK].quiet(trip, clear):
                return None
        after = self.stale_after_s
        row = int(rows[0])
        if after is not None and (float(now[row]) >= stale_due(self.last_valid_t, after)
                                  or float(now[-1]) >= stale_due(t, after)):
            return None
        for condition, spec, _cap in self._temperature_specs:
            state = self.states[condition]
            if state.pending_t is not None:
                return None
            if spec.trip_c is None or spec.clear_c is None:
                continue  # slope and prediction: decided below, after the trend
            trip, clear = level_trip_clear(condition.kind, v, spec.trip_c, spec.clear_c)
            if not state.quiet(trip, clear):
                return None
        # Committed: the same updates the vectorised path makes for a quiet reading.
        if stuck is not None:
            self.run_v, self.run_t = v, run_t
        self.last_t = max(self.last_t, t)
        self.ref = (t, v)
        slope = self.trend.extend(t_arr, v_arr)
        self.accepted = (rows, t_arr, v_arr, slope)
        self.last_valid_t = t
        changes: list[Change] = []
        if self._trend_may_change(v, float(slope[0])):
            self._temperature_changes(rows, t_arr, v_arr, slope, changes)
        self._view_one(t, v, float(slope[0]))
        return changes

    def _trend_may_change(self, v: float, s: float) -> bool:
        """Could a slope or prediction condition trip or clear on this sample? (The same
        predicates as the block path, on one value.)"""
        for condition, spec, _cap in self._temperature_specs:
            kind = condition.kind
            if kind is Kind.SLOPE and spec.trip_c_per_min is not None:
                trip, clear, _ = slope_trip_clear(spec, s)
            elif kind is Kind.PREDICTED and spec.horizon_s is not None:
                trip, clear, _ = predicted_trip_clear(spec, v, s, self.predict_limit,
                                                      self.predict_arm_c)
            else:
                continue
            if not self.states[condition].quiet(trip, clear):
                return True
        return False

    def _view_one(self, t: float, v: float, s: float) -> None:
        view = self.view
        view.t = t
        view.status = Status.OK
        view.readings += 1
        view.stale = self.stale
        view.temp_c = v
        view.min_c = v if view.min_c is None else min(view.min_c, v)
        view.max_c = v if view.max_c is None else max(view.max_c, v)
        view.slope_c_per_min = round(s * 60.0, 3) if math.isfinite(s) else None
        view.limit_c, view.seconds_to_limit = self._nearest_limit(v, s)

    def _effective_status(self, t: F64, v: F64, status: I8) -> tuple[I8, F64]:
        """The status the engine judges each row by, and the channel's clock at each row.

        A row whose time runs backwards cannot be trusted (bad data) and is dated at the
        channel's clock (its latest time so far), so conditions see time only move forward.
        """
        st = status.copy()
        before = np.maximum.accumulate(np.concatenate(([self.last_t], t[:-1])))
        late = t < before
        st[late] = Status.BAD_DATA
        clock = np.where(late, before, t)
        self.last_t = max(self.last_t, float(t.max())) if t.size else self.last_t
        ok = st == Status.OK
        st[ok & below_range(v)] = Status.UNDER_RANGE
        st[ok & above_range(v)] = Status.OVER_RANGE
        return st, clock

    def _status_changes(self, rows: I64, t: F64, st: I8, changes: list[Change]) -> None:
        if not self._status_active and not st.any():
            return  # every row OK and no status alarm standing: nothing can change
        clear = st == Status.OK
        for condition, codes in _STATUS_CONDITIONS.items():
            spec = self.spec.enabled(condition)
            if spec is None:
                continue
            trip = st == codes[0]
            for code in codes[1:]:
                trip |= st == code
            state = self.states[condition]
            if not trip.any() and not state.active and state.pending_t is None:
                continue  # nothing met, nothing standing, nothing waiting on a delay
            found = transitions(t, trip, clear, state, spec.delay_s, False)
            self._emit(changes, spec, rows, t, found, lambda i, up: (None, None, {}))
        self._status_active = any(self.states[c].active or self.states[c].pending_t is not None
                                  for c in _STATUS_CONDITIONS)

    def _stuck_changes(self, rows: I64, tv: F64, vv: F64, changes: list[Change]) -> None:
        """Runs of exactly equal valid readings (a frozen converter repeats its last value)."""
        spec = self.stuck_spec
        assert spec is not None and spec.after_s is not None
        prev = np.empty_like(vv)
        prev[0] = self.run_v if self.run_v is not None else np.nan
        prev[1:] = vv[:-1]
        changed = vv != prev  # NaN (no reading yet) differs from everything
        idx = np.arange(vv.shape[0])
        last_change = np.maximum.accumulate(np.where(changed, idx, -1))
        run_t = np.where(last_change >= 0, tv[np.maximum(last_change, 0)], self.run_t)
        trip, clear = stuck_trip_clear(tv, run_t, changed, spec.after_s)
        state = self.states[Condition.STUCK]
        found = transitions(tv, trip, clear, state, spec.delay_s, False)
        self._emit(changes, spec, rows, tv, found,
                   lambda i, up: (float(vv[i]), None, {"since_t": round(float(run_t[i]), 6)}
                                  if up else {}))
        self.run_v, self.run_t = float(vv[-1]), float(run_t[-1])

    def _jump_filter(self, tv: F64, vv: F64, ok: NDArray[np.bool_], valid_rows: I64
                     ) -> NDArray[np.bool_]:
        """Accepted valid samples: a jump no needle can make is held back for one sample.

        If the next sample stays away from the old level in the same direction the change was
        real and is accepted; if it returns to the old level the jump was a spike. A sensor
        fault in between resets the check.
        """
        m = tv.shape[0]
        acc = np.ones(m, np.bool_)
        if m == 0:
            self.fault_since_ref = self.fault_since_ref or bool((~ok).any())
            return acc
        # Was there a non-OK row since the previous valid sample?
        faults = np.cumsum(~ok)
        fault_before = np.empty(m, np.bool_)
        fault_before[0] = self.fault_since_ref or bool(faults[valid_rows[0]] > 0)
        fault_before[1:] = faults[valid_rows[1:]] > faults[valid_rows[:-1]]
        self.fault_since_ref = bool(faults[-1] > faults[valid_rows[-1]])
        spec = self.spec.enabled(Condition.IMPLAUSIBLE_JUMP)
        if spec is None or spec.max_c_per_s is None:
            self.ref, self.cand = (float(tv[-1]), float(vv[-1])), None
            return acc
        prev_t = np.concatenate(([self.ref[0] if self.ref else tv[0]], tv[:-1]))
        prev_v = np.concatenate(([self.ref[1] if self.ref else vv[0]], vv[:-1]))
        bad = implausible(np.abs(vv - prev_v), tv - prev_t, spec) & ~fault_before
        bad_idx = np.flatnonzero(bad)

        def plausible(r: tuple[float, float], i: int) -> bool:
            return not implausible(abs(float(vv[i]) - r[1]), float(tv[i]) - r[0], spec)

        ref, cand = self.ref, self.cand
        i = 0
        while i < m:
            if cand is None:
                k = int(np.searchsorted(bad_idx, i))
                if k >= bad_idx.shape[0]:
                    ref = (float(tv[-1]), float(vv[-1]))
                    break
                j = int(bad_idx[k])
                ref = (float(tv[j - 1]), float(vv[j - 1])) if j > 0 else ref
                acc[j] = False
                cand = (float(tv[j]), float(vv[j]))
                i = j + 1
                continue
            here = (float(tv[i]), float(vv[i]))
            # Accepted unless it leaves the old level on the other side from the held-back
            # jump: a second sample departing the same way confirms the change, so a real
            # fall is never held back by more than one sample.
            if (fault_before[i] or ref is None or plausible(ref, i) or plausible(cand, i)
                    or (here[1] - ref[1]) * (cand[1] - ref[1]) > 0):
                ref, cand = here, None
            else:
                acc[i] = False
                cand = here
            i += 1
        self.ref, self.cand = ref, cand
        return acc

    def _stale_changes(self, rows: I64, acc_rows: I64, ta: F64, now: F64,
                       changes: list[Change]) -> None:
        after = self.stale_after_s
        n_block = now.shape[0]
        if after is None or n_block == 0:
            if ta.size:
                self.last_valid_t = float(ta[-1])
            return
        spec = self.spec.conditions[Condition.STALE]
        # Segments between valid readings: [last valid before, next valid or block end].
        starts_t = np.concatenate(([self.last_valid_t], ta))
        starts_row = np.concatenate(([-1], rows[acc_rows]))
        ends_row = np.concatenate((rows[acc_rows], [n_block - 1]))
        due = stale_due(starts_t, after)
        detect = np.searchsorted(now, due, "left")
        detect = np.maximum(detect, starts_row + 1)
        n_acc = ta.shape[0]
        # Segment s ends at accepted sample s (or runs past the block when s == n_acc).
        # It goes stale when the clock reaches its due time first; a valid reading clears it.
        segments = set(np.flatnonzero(detect <= ends_row).tolist())
        if self.stale:
            segments.add(0)  # stale carried in from the previous block
        stale_at_start = self.stale
        for s in sorted(segments):
            if not (s == 0 and stale_at_start):
                changes.append(Change(
                    int(detect[s]), PHASE_BEFORE, float(due[s]), self.index, Condition.STALE,
                    True, None, None,
                    f"{spec.priority.marker} {self.spec.name}: no valid reading for {after:g} s",
                    {"last_valid_t": round(float(starts_t[s]), 6), "after_s": after}))
            if s < n_acc:
                changes.append(Change(
                    int(ends_row[s]), PHASE_READING, float(ta[s]), self.index, Condition.STALE,
                    False, None, None, f"{self.spec.name}: valid readings again", {}))
        self.stale = n_acc in segments
        if ta.size:
            self.last_valid_t = float(ta[-1])

    def _temperature_changes(self, rows: I64, ta: F64, va: F64, slope: F64,
                             changes: list[Change]) -> None:
        lowest, highest = float(va.min()), float(va.max())
        for condition, spec, cap in self._temperature_specs:
            state = self.states[condition]
            if not state.active and state.pending_t is None and spec.trip_c is not None and (
                    (condition.kind is Kind.LOW and lowest > spec.trip_c)
                    or (condition.kind is Kind.HIGH and highest < spec.trip_c)):
                continue  # cannot trip in this block and nothing to clear
            masks = _condition_masks(spec, va, slope, self.predict_limit, self.predict_arm_c)
            if masks is None:
                continue
            if not state.active and state.pending_t is None and not masks.trip.any():
                continue
            found = transitions(ta, masks.trip, masks.clear, state, spec.delay_s, cap)
            for i, up in found:
                extra = {key: _r(arr[i]) for key, arr in masks.extra.items()
                         if math.isfinite(float(arr[i]))}
                limit = masks.limit_up if up else masks.limit_down
                value = float(va[i])
                changes.append(Change(int(rows[i]), PHASE_READING, float(ta[i]), self.index,
                                      condition, up, value, limit,
                                      self._message(spec, up, value, limit, extra), extra))

    # Events ------------------------------------------------------------------------------

    def _emit(self, changes: list[Change], spec: ConditionSpec, rows: I64, t: F64,
              found: list[tuple[int, bool]], info: Any) -> None:
        for i, up in found:
            value, limit, extra = info(i, up)
            changes.append(Change(int(rows[i]), PHASE_READING, float(t[i]), self.index,
                                  spec.condition, up, value, limit,
                                  self._message(spec, up, value, limit, extra), extra))

    def _message(self, spec: ConditionSpec, up: bool, value: float | None,
                 limit: float | None, extra: dict[str, Any]) -> str:
        name, words = self.spec.name, spec.condition.words
        kind = spec.condition.kind
        if kind is Kind.STATUS:
            text = _STATUS_WORDS[spec.condition]
            return f"{spec.priority.marker} {name}: {text}" if up else f"{name}: sensor OK again"
        if kind is Kind.STUCK:
            shown = f"{value:.2f} °C" if value is not None else "one value"
            return (f"{spec.priority.marker} {name}: reading unchanged at {shown} for "
                    f"{spec.after_s:g} s (converter or firmware frozen?)" if up
                    else f"{name}: reading changing again")
        if kind is Kind.JUMP:
            shown = f"{celsius(value)} °C" if value is not None else "a value"
            return (f"{spec.priority.marker} {name}: implausible jump to {shown} held back"
                    if up else f"{name}: plausible readings again")
        shown = f"{celsius(value)} °C" if value is not None else "?"
        if kind is Kind.SLOPE:
            slope = extra.get("slope_c_per_min")
            return (f"{spec.priority.marker} {name}: falling fast, {slope} °C/min at {shown}"
                    if up else f"{name}: no longer falling fast ({slope} °C/min)")
        if kind is Kind.PREDICTED:
            secs = extra.get("seconds_to_limit")
            return (f"{spec.priority.marker} {name}: {shown}, predicted to reach {limit:g} °C "
                    f"in {secs} s" if up else f"{name}: {shown}, {words} cleared")
        edge = "at or below" if kind is Kind.LOW else "at or above"
        back = "back above" if kind is Kind.LOW else "back below"
        return (f"{spec.priority.marker} {name}: {shown} {edge} {limit:g} °C ({words})" if up
                else f"{name}: {shown} {back} {limit:g} °C ({words} cleared)")

    # Snapshot ----------------------------------------------------------------------------

    def _update_view(self, t: F64, st: I8, ta: F64, va: F64, slope: F64) -> None:
        view = self.view
        if t.size:
            view.t = float(t[-1])
            view.status = Status(int(st[-1]))
            view.readings += int(t.shape[0])
        view.stale = self.stale
        if ta.size:
            view.temp_c = float(va[-1])
            lo, hi = float(va.min()), float(va.max())
            view.min_c = lo if view.min_c is None else min(view.min_c, lo)
            view.max_c = hi if view.max_c is None else max(view.max_c, hi)
            s = float(slope[-1])
            view.slope_c_per_min = round(s * 60.0, 3) if math.isfinite(s) else None
            view.limit_c, view.seconds_to_limit = self._nearest_limit(view.temp_c, s)
        if view.status is not Status.OK or self.stale:
            view.temp_c = None  # never show a last value as if it were current

    def _nearest_limit(self, value: float, slope: float) -> tuple[float | None, float | None]:
        if not math.isfinite(slope) or slope == 0:
            return None, None
        levels = ([x for x in self._cold_levels if x < value] if slope < 0
                  else [x for x in self._hot_levels if x > value])
        if not levels:
            return None, None
        limit = levels[0]
        return limit, round((limit - value) / slope, 1)

    def idle(self, now: F64) -> list[Change]:
        """No rows for this channel in a block (or a tick): only staleness can change."""
        after = self.stale_after_s
        if after is None or self.stale or now[-1] < stale_due(self.last_valid_t, after):
            return []
        changes: list[Change] = []
        none_i, none_f = np.empty(0, np.int64), np.empty(0, np.float64)
        self._stale_changes(none_i, none_i, none_f, now, changes)
        self.view.stale = self.stale
        if self.stale:
            self.view.temp_c = None
        return changes


class _Masks(NamedTuple):
    trip: NDArray[np.bool_]
    clear: NDArray[np.bool_]
    limit_up: float | None
    limit_down: float | None
    extra: dict[str, F64]


def _condition_masks(spec: ConditionSpec, va: F64, slope: F64, predict_limit: float,
                     predict_arm_c: float
                     ) -> _Masks | None:
    """Where a temperature condition is met (trip) and where it is clearly over (clear)."""
    kind = spec.condition.kind
    if kind in (Kind.LOW, Kind.HIGH) and spec.trip_c is not None and spec.clear_c is not None:
        trip, clear = level_trip_clear(kind, va, spec.trip_c, spec.clear_c)
        return _Masks(trip, clear, spec.trip_c, spec.clear_c, {})
    if kind is Kind.SLOPE and spec.trip_c_per_min is not None:
        trip, clear, rate = slope_trip_clear(spec, slope)
        return _Masks(trip, clear, None, None, {"slope_c_per_min": rate})
    if kind is Kind.PREDICTED and spec.horizon_s is not None:
        trip, clear, ttl = predicted_trip_clear(spec, va, slope, predict_limit, predict_arm_c)
        return _Masks(trip, clear, predict_limit, predict_limit,
                      {"slope_c_per_min": slope * 60.0, "seconds_to_limit": ttl})
    return None


def _enabled(spec: ChannelSpec, kind: Kind) -> list[ConditionSpec]:
    return [c for c in spec.conditions.values() if c.enabled and c.condition.kind is kind]


def _predict_limit(spec: ChannelSpec) -> float:
    predicted = spec.conditions.get(Condition.PREDICTED_BELOW_CRITICAL)
    if predicted is not None and predicted.trip_c is not None:
        return predicted.trip_c
    critical = spec.conditions.get(Condition.BELOW_CRITICAL)
    if critical is not None and critical.trip_c is not None:
        return critical.trip_c
    return defaults.BELOW_CRITICAL_C


def _predict_arm(spec: ChannelSpec, limit: float) -> float:
    critical = spec.conditions.get(Condition.BELOW_CRITICAL)
    if critical is not None and critical.clear_c is not None and critical.clear_c > limit:
        return critical.clear_c
    return limit


def _r(x: float | np.floating[Any]) -> float:
    return round(float(x), 2)
