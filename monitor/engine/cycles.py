"""Freeze–thaw cycles: phases from the probe channels and operator marks, timers, statistics.

Sans-IO like the rest of the engine. Detection reads the *accepted* samples of ``probe``-role
channels (after the quality and jump checks) with their trend slopes:

* a probe at or below ``freeze_below_c`` falling at least as fast as ``freeze_fall_c_per_min``
  starts a freeze, and a freeze starts a new numbered cycle;
* a probe rising at least ``thaw_rise_c_per_min`` while still at or below
  ``active_thaw_above_c`` ends a freeze: passive thaw;
* a probe at or above ``active_thaw_above_c`` rising at least ``active_thaw_rise_c_per_min``
  is an active thaw (from a freeze or a passive thaw).

Operator marks win: a mark sets the phase at once; afterwards detection may only take the next
step of the procedure (a marked freeze may be ended by a detected thaw, a marked thaw by a
detected freeze), never re-decide the marked phase (a thaw the operator called passive is not
turned into an active one), and only on a condition that first appears *after* the mark, so a
probe still falling or rising when the key was pressed cannot overrule it. ``end`` ends the
procedure (``done``); detection then stops until the operator marks a new freeze.

Every change is found at a block row and sorted with the channel changes, and the protocol timer
fires at the moment the target is reached, found like staleness from the block clock: the same
inputs give the same events however they are split into blocks or interleaved with ticks.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from monitor.config import defaults
from monitor.engine.block import F64, I64
from monitor.engine.channel import PHASE_BEFORE, PHASE_READING
from monitor.engine.spec import ChannelSpec, Condition, CycleSpec
from monitor.model import Event, EventType, celsius

CYCLE_CHANNEL = "cycle"  # the "channel" of the timer alarms: cycle.freeze_target, ...
TARGET_PRIORITY = defaults.CYCLE_TARGET_PRIORITY  # a reminder, not a patient risk
_ORDER_AFTER_CONDITIONS = len(Condition)  # after every condition change of the same reading
_TIMER_CHANNEL = 1 << 30  # timer changes sort after the stale changes of the same row
DEFAULT_LEVELS_C = defaults.NERVE_LEVELS_C  # below_warning, below_critical, freezing
_LEVEL_CONDITIONS = (Condition.BELOW_WARNING, Condition.BELOW_CRITICAL, Condition.FREEZING)
DEFAULT_HOLD_S = defaults.TIME_AT_LEVEL_HOLD_S  # when a channel has no stale delay


class Phase(enum.StrEnum):
    IDLE = "idle"
    FREEZE = "freeze"
    THAW_PASSIVE = "thaw_passive"
    THAW_ACTIVE = "thaw_active"
    DONE = "done"

    @property
    def words(self) -> str:
        return _WORDS[self]

    @property
    def in_cycle(self) -> bool:
        return self in (Phase.FREEZE, Phase.THAW_PASSIVE, Phase.THAW_ACTIVE)


_WORDS = {Phase.IDLE: "idle", Phase.FREEZE: "freeze", Phase.THAW_PASSIVE: "passive thaw",
          Phase.THAW_ACTIVE: "active thaw", Phase.DONE: "done"}
MARK_PHASES: Mapping[str, Phase] = {"freeze": Phase.FREEZE, "thaw": Phase.THAW_PASSIVE,
                                    "active-thaw": Phase.THAW_ACTIVE, "end": Phase.DONE}


class _Kind(enum.IntEnum):
    """Detected transitions; at the same sample the lower number wins."""

    FREEZE = 0
    ACTIVE = 1
    THAW = 2


_TARGET_PHASE = {_Kind.FREEZE: Phase.FREEZE, _Kind.ACTIVE: Phase.THAW_ACTIVE,
                 _Kind.THAW: Phase.THAW_PASSIVE}


def target_alarm_id(phase: Phase) -> str:
    return f"{CYCLE_CHANNEL}.{phase.value}_target"


class CycleChange(NamedTuple):
    """A phase change or a timer reaching its target, at block row ``row``.

    ``phase`` and ``key()`` follow :class:`monitor.engine.channel.Change` so both sort together.
    """

    row: int
    phase: int  # PHASE_BEFORE (timer) or PHASE_READING (detection)
    t: float
    channel: int
    kind: str  # "phase" or "target"
    new_phase: Phase
    cycle: int
    previous: Phase
    fields: dict[str, Any]

    def key(self) -> tuple[int, int, float, int, int]:
        return (self.row, self.phase, self.t, self.channel, _ORDER_AFTER_CONDITIONS)

    @property
    def label(self) -> int:
        """The cycle the session is in after this change (0 outside a cycle)."""
        return self.cycle if self.new_phase.in_cycle else 0


class ProbeSamples(NamedTuple):
    """Accepted probe samples of one block, merged in row order."""

    rows: I64
    t: F64
    v: F64
    slope: F64  # °C/s, NaN where the trend is not ready
    channel: NDArray[np.int32]

    @classmethod
    def empty(cls) -> ProbeSamples:
        return _EMPTY

    @classmethod
    def merge(cls, parts: list[tuple[int, I64, F64, F64, F64]]) -> ProbeSamples:
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            ch, rows, t, v, s = parts[0]
            return cls(rows, t, v, s, np.full(rows.shape[0], ch, np.int32))
        rows = np.concatenate([p[1] for p in parts])
        order = np.argsort(rows, kind="stable")
        chans = np.concatenate([np.full(p[1].shape[0], p[0], np.int32) for p in parts])
        return cls(rows[order], np.concatenate([p[2] for p in parts])[order],
                   np.concatenate([p[3] for p in parts])[order],
                   np.concatenate([p[4] for p in parts])[order], chans[order])


_EMPTY = ProbeSamples(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64),
                      np.empty(0, np.float64), np.empty(0, np.int32))


# Records ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PhaseRecord:
    phase: str
    start_t: float
    end_t: float | None  # None while it lasts
    source: str  # "probe P1" or "operator"
    target_s: float | None


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    t: float
    alarm: str
    channel: str
    priority: str
    message: str


@dataclass(frozen=True, slots=True)
class ChannelCycleStats:
    """One channel during one cycle. ``below`` pairs each level (°C) with seconds at or below it.

    Times count each accepted sample until the next one (at most the channel's stale delay), so
    a gap in the data is never counted as time at a temperature.
    """

    channel: str
    role: str
    samples: int
    min_c: float | None
    min_t: float | None
    covered_s: float
    below: tuple[tuple[float, float], ...]
    alarms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CycleSummary:
    cycle: int
    start_t: float
    end_t: float | None  # None while the cycle lasts
    duration_s: float  # up to the engine's clock for a cycle still running
    phases: tuple[PhaseRecord, ...]
    channels: tuple[ChannelCycleStats, ...]
    alarms: tuple[AlarmRecord, ...]


@dataclass(slots=True)
class _ChannelAcc:
    samples: int = 0
    min_c: float = math.inf
    min_t: float | None = None
    covered_s: float = 0.0
    below: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])


@dataclass(slots=True)
class _Cycle:
    number: int
    start_t: float
    end_t: float | None = None
    phases: list[list[Any]] = field(default_factory=list)  # [phase, start, end, source, target]
    channels: dict[int, _ChannelAcc] = field(default_factory=dict)
    alarms: list[AlarmRecord] = field(default_factory=list)


@dataclass(slots=True)
class _Carry:
    """A channel's last accepted sample: its interval ends at the next sample."""

    t: float
    v: float
    label: int


# The tracker --------------------------------------------------------------------------------

class CycleTracker:
    """Phase state, timers and per-cycle statistics for one session."""

    def __init__(self, spec: CycleSpec, channel_spec: Callable[[int], ChannelSpec]) -> None:
        self.spec = spec
        self._channel_spec = channel_spec
        self.phase = Phase.IDLE
        self.cycle = 0
        self.started_t: float | None = None
        self.source = ""
        self.held = False  # the phase was set (or confirmed) by the operator
        self._armed: set[_Kind] = set()
        self.due: float | None = None  # when the current phase reaches its target
        self.fired = False
        self.applied_label = 0  # the cycle of the events handed out so far (alarm accounting)
        self._cycles: list[_Cycle] = []
        self._by_number: dict[int, _Cycle] = {}  # the newest cycle of each number
        self._segments: list[tuple[int, int]] = [(-1, 0)]
        self._carry: dict[int, _Carry] = {}
        self._session: dict[int, _ChannelAcc] = {}  # whole-session statistics per channel
        self._levels: dict[int, tuple[float, float, float]] = {}
        self._hold: dict[int, float] = {}

    # State --------------------------------------------------------------------------------

    @property
    def label(self) -> int:
        return self.cycle if self.phase.in_cycle else 0

    def target_s(self, phase: Phase | None = None, cycle: int | None = None) -> float | None:
        phase = self.phase if phase is None else phase
        cycle = self.cycle if cycle is None else cycle
        if phase is Phase.FREEZE:
            return self.spec.freeze_s if cycle <= 1 else self.spec.second_freeze_s
        if phase is Phase.THAW_PASSIVE:
            return self.spec.passive_thaw_s
        if phase is Phase.THAW_ACTIVE:
            return self.spec.active_thaw_s
        return None

    # Detection ----------------------------------------------------------------------------

    def process(self, s: ProbeSamples, now: F64) -> list[CycleChange]:
        """Changes in this block: detected phases (at probe rows) and timers (block clock)."""
        out: list[CycleChange] = []
        self._segments = [(-1, self.label)]
        masks = self._masks(s) if self.spec.detect and s.rows.shape[0] else None
        start_row = -1  # block row where the current phase began (-1: before this block)
        i = 0
        while True:
            k, kind, armed = self._next(masks, i)
            if self.due is not None and not self.fired and now.shape[0]:
                d = max(int(np.searchsorted(now, self.due, "left")), start_row + 1)
                if d < now.shape[0] and (k < 0 or d <= int(s.rows[k])):
                    out.append(self._target_change(d))
            if k < 0 or kind is None:
                self._armed |= armed
                break
            change = self._detected(s, k, kind)
            out.append(change)
            start_row = change.row
            i = k + 1
        return out

    def _masks(self, s: ProbeSamples) -> dict[_Kind, NDArray[np.bool_]]:
        spec = self.spec
        rate = s.slope * 60.0
        with np.errstate(invalid="ignore"):
            freeze = (s.v <= spec.freeze_below_c) & (rate <= spec.freeze_fall_c_per_min)
            active = (s.v >= spec.active_thaw_above_c) & (rate >= spec.active_thaw_rise_c_per_min)
            thaw = (s.v <= spec.active_thaw_above_c) & (rate >= spec.thaw_rise_c_per_min)
        return {_Kind.FREEZE: freeze, _Kind.ACTIVE: active, _Kind.THAW: thaw}

    def _allowed(self) -> tuple[_Kind, ...]:
        phase = self.phase
        if phase is Phase.IDLE:
            return (_Kind.FREEZE,)
        if phase is Phase.FREEZE:
            return (_Kind.ACTIVE, _Kind.THAW)
        if phase is Phase.THAW_PASSIVE:
            return (_Kind.FREEZE,) if self.held else (_Kind.FREEZE, _Kind.ACTIVE)
        if phase is Phase.THAW_ACTIVE:
            return (_Kind.FREEZE,)
        return ()

    def _next(self, masks: dict[_Kind, NDArray[np.bool_]] | None, i: int
              ) -> tuple[int, _Kind | None, set[_Kind]]:
        """The first sample from ``i`` that triggers an allowed transition, and the kinds that
        became armed on the way (after an operator mark a condition must first be false)."""
        best, best_kind = -1, None
        armed: set[_Kind] = set()
        if masks is None:
            return best, best_kind, armed
        for kind in self._allowed():
            mask = masks[kind]
            start = i
            if self.held and kind not in self._armed:
                off = np.flatnonzero(~mask[i:])
                if off.shape[0] == 0:
                    continue
                start = i + int(off[0])
                armed.add(kind)
            hits = np.flatnonzero(mask[start:])
            if hits.shape[0] == 0:
                continue
            k = start + int(hits[0])
            if best < 0 or k < best or (k == best and best_kind is not None and kind < best_kind):
                best, best_kind = k, kind
        return best, best_kind, armed

    def _detected(self, s: ProbeSamples, k: int, kind: _Kind) -> CycleChange:
        row, t, v = int(s.rows[k]), float(s.t[k]), float(s.v[k])
        rate = float(s.slope[k]) * 60.0
        name = self._channel_spec(int(s.channel[k])).id
        phase = _TARGET_PHASE[kind]
        previous, cycle = self.phase, self.cycle
        if kind is _Kind.FREEZE:
            cycle += 1
        how = "falling" if rate < 0 else "rising"
        text = (f"cycle {cycle}: {phase.words} detected (probe {name} {celsius(v)} °C, "
                f"{how} {abs(rate):.0f} °C/min)")
        fields = {"phase": phase.value, "cycle": cycle, "previous": previous.value,
                  "source": f"probe {name}", "channel": name, "value": round(v, 3),
                  "slope_c_per_min": round(rate, 2)}
        return self._enter(row, PHASE_READING, t, int(s.channel[k]), phase, cycle, fields, text,
                           held=False)

    def _enter(self, row: int, order: int, t: float, channel: int, phase: Phase, cycle: int,
               fields: dict[str, Any], text: str, *, held: bool) -> CycleChange:
        previous = self.phase
        target = self.target_s(phase, cycle)
        fields = {**fields, "target_s": target, "message": text}
        if cycle != self.cycle:
            self._close_cycle(t)
            self._cycles.append(_Cycle(cycle, t))
            self._by_number[cycle] = self._cycles[-1]
        current = self._cycles[-1] if self._cycles else None
        if current is not None and current.number == cycle:
            if current.phases:
                current.phases[-1][2] = t
            if phase is Phase.DONE:
                current.end_t = t
            else:
                current.phases.append([phase.value, t, None, str(fields["source"]), target])
        self.phase, self.cycle, self.started_t = phase, cycle, t
        self.source = str(fields["source"])
        self.held = held
        self._armed = set()
        self.due = None if target is None else t + target
        self.fired = False
        change = CycleChange(row, order, t, channel, "phase", phase, cycle, previous, fields)
        self._segments.append((row, change.label))
        return change

    def _close_cycle(self, t: float) -> None:
        if self._cycles and self._cycles[-1].end_t is None:
            last = self._cycles[-1]
            last.end_t = t
            if last.phases and last.phases[-1][2] is None:
                last.phases[-1][2] = t

    def _target_change(self, row: int) -> CycleChange:
        assert self.due is not None
        self.fired = True
        target = self.target_s()
        minutes = f"{target / 60:g} min" if target is not None else ""
        text = (f"{TARGET_PRIORITY.marker} cycle {self.cycle}: {self.phase.words} reached its "
                f"{minutes} target")
        fields = {"phase": self.phase.value, "cycle": self.cycle, "target_s": target,
                  "message": text}
        return CycleChange(row, PHASE_BEFORE, self.due, _TIMER_CHANNEL, "target", self.phase,
                           self.cycle, self.phase, fields)

    # Operator marks -----------------------------------------------------------------------

    def mark(self, t: float, mark: str, by: str) -> CycleChange | None:
        """Apply an operator mark at ``t``; ``None`` when the phase does not change."""
        phase = MARK_PHASES.get(mark)
        if phase is None:
            return None
        if phase is self.phase:
            self.held = True  # confirmed: detection may no longer re-decide it
            self._armed = set()
            self.source = "operator"
            return None
        cycle = self.cycle
        if phase is Phase.FREEZE:
            cycle += 1
        elif phase.in_cycle:
            cycle = max(cycle, 1)
        text = (f"procedure ended after cycle {cycle} (operator {by})" if phase is Phase.DONE
                else f"cycle {cycle}: {phase.words} marked by operator {by}")
        fields = {"phase": phase.value, "cycle": cycle, "previous": self.phase.value,
                  "source": "operator", "by": by}
        return self._enter(0, PHASE_READING, t, -1, phase, cycle, fields, text, held=True)

    # Statistics ---------------------------------------------------------------------------

    def labels(self, rows: I64) -> NDArray[np.int64]:
        """The cycle each block row belongs to (0 outside a cycle), after :meth:`process`."""
        if len(self._segments) == 1:
            return np.full(rows.shape[0], self._segments[0][1], np.int64)
        starts = np.array([r for r, _ in self._segments], np.int64)
        values = np.array([c for _, c in self._segments], np.int64)
        return values[np.searchsorted(starts, rows, "right") - 1]

    def account(self, channel: int, rows: I64, t: F64, v: F64) -> None:
        """Add a channel's accepted samples of the block to the statistics of the session and
        of their cycles."""
        if t.shape[0] == 0:
            return
        if t.shape[0] == 1 and len(self._segments) == 1:
            self._account_one(channel, float(t[0]), float(v[0]), self._segments[0][1])
            return
        labels = self.labels(rows)
        carry = self._carry.get(channel)
        if carry is not None:
            t_all = np.concatenate(([carry.t], t))
            v_all = np.concatenate(([carry.v], v))
            lab_all = np.concatenate(([carry.label], labels))
        else:
            t_all, v_all, lab_all = t, v, labels
        self._carry[channel] = _Carry(float(t[-1]), float(v[-1]), int(labels[-1]))
        dt = np.diff(t_all)
        dt[dt > self._hold_s(channel)] = 0.0
        own_v, own_lab = v_all[:-1], lab_all[:-1]
        levels = self._levels_of(channel)
        _add_samples(self._session_acc(channel), dt, own_v, v, t, levels)
        if not lab_all.any():
            return
        for label in np.unique(lab_all).tolist():
            acc = self._acc(int(label), channel) if label else None
            if acc is None:
                continue
            sel, mine = own_lab == label, labels == label
            _add_samples(acc, dt[sel], own_v[sel], v[mine], t[mine], levels)

    def _account_one(self, channel: int, t: float, v: float, label: int) -> None:
        """The live path (one sample): the same float operations, in the same order, as the
        vectorised path, so live statistics equal those of a replay bit for bit."""
        carry = self._carry.get(channel)
        self._carry[channel] = _Carry(t, v, label)
        session = self._session_acc(channel)
        if carry is not None:
            dt = t - carry.t
            if dt > self._hold_s(channel):
                dt = 0.0
            owners = [session]
            if carry.label and (acc := self._acc(carry.label, channel)) is not None:
                owners.append(acc)
            for acc in owners:
                acc.covered_s += dt
                for j, level in enumerate(self._levels_of(channel)):
                    if carry.v <= level:
                        acc.below[j] += dt
        holders = [session]
        if label and (acc := self._acc(label, channel)) is not None:
            holders.append(acc)
        for acc in holders:
            acc.samples += 1
            if v < acc.min_c:
                acc.min_c, acc.min_t = v, t

    def _session_acc(self, channel: int) -> _ChannelAcc:
        acc = self._session.get(channel)
        if acc is None:
            acc = self._session[channel] = _ChannelAcc()
        return acc

    def note_alarm(self, event: Event, label: int) -> None:
        """Count an alarm raised while cycle ``label`` ran."""
        if label <= 0 or event.type is not EventType.ALARM_RAISED:
            return
        cycle = self._by_number.get(label)
        if cycle is not None:
            cycle.alarms.append(AlarmRecord(
                event.t, str(event.get("alarm", "")), str(event.get("channel", "")),
                str(event.get("priority", "")), str(event.get("message", ""))))

    def _acc(self, label: int, channel: int) -> _ChannelAcc | None:
        cycle = self._by_number.get(label)
        if cycle is None:
            return None
        acc = cycle.channels.get(channel)
        if acc is None:
            acc = cycle.channels[channel] = _ChannelAcc()
        return acc

    def _levels_of(self, channel: int) -> tuple[float, float, float]:
        levels = self._levels.get(channel)
        if levels is None:
            spec = self._channel_spec(channel)
            found = []
            for condition, default in zip(_LEVEL_CONDITIONS, DEFAULT_LEVELS_C, strict=True):
                cond = spec.conditions.get(condition)
                found.append(cond.trip_c if cond is not None and cond.trip_c is not None
                             else default)
            levels = (found[0], found[1], found[2])
            self._levels[channel] = levels
        return levels

    def _hold_s(self, channel: int) -> float:
        hold = self._hold.get(channel)
        if hold is None:
            stale = self._channel_spec(channel).enabled(Condition.STALE)
            hold = stale.after_s if stale is not None and stale.after_s else DEFAULT_HOLD_S
            self._hold[channel] = hold
        return hold

    # Views --------------------------------------------------------------------------------

    def session_summary(self, alarms: Mapping[str, tuple[str, ...]]) -> list[ChannelCycleStats]:
        """Whole-session statistics of every channel that had an accepted sample."""
        return [self._stats(index, acc, alarms.get(self._channel_spec(index).id, ()))
                for index, acc in sorted(self._session.items())]

    def _stats(self, index: int, acc: _ChannelAcc, alarms: tuple[str, ...]
               ) -> ChannelCycleStats:
        spec = self._channel_spec(index)
        return ChannelCycleStats(
            spec.id, str(spec.role), acc.samples, acc.min_c if acc.samples else None,
            acc.min_t, acc.covered_s, tuple(zip(self._levels_of(index), acc.below, strict=True)),
            alarms)

    def summary(self, now: float) -> list[CycleSummary]:
        out = []
        for cycle in self._cycles:
            end = cycle.end_t
            stop = end if end is not None else max(now, cycle.start_t)
            phases = tuple(PhaseRecord(p[0], p[1], p[2], p[3], p[4]) for p in cycle.phases)
            channels = [
                self._stats(index, acc, tuple(a.alarm for a in cycle.alarms
                                              if a.channel == self._channel_spec(index).id))
                for index, acc in sorted(cycle.channels.items())]
            out.append(CycleSummary(cycle.number, cycle.start_t, end, stop - cycle.start_t,
                                    phases, tuple(channels), tuple(cycle.alarms)))
        return out


def _add_samples(acc: _ChannelAcc, dt: F64, owner_v: F64, v: F64, t: F64,
                 levels: tuple[float, float, float]) -> None:
    """Intervals ``dt`` (each owned by the sample whose value is ``owner_v``) and new samples."""
    if dt.shape[0]:
        acc.covered_s = _add(acc.covered_s, dt)
        for j, level in enumerate(levels):
            acc.below[j] = _add(acc.below[j], dt[owner_v <= level])
    if v.shape[0]:
        j = int(np.argmin(v))
        acc.samples += int(v.shape[0])
        if float(v[j]) < acc.min_c:
            acc.min_c, acc.min_t = float(v[j]), float(t[j])


def _add(carry: float, values: F64) -> float:
    """``carry`` plus ``values`` added one by one, left to right: the same sum however the
    samples are split into blocks (``np.sum`` is pairwise and would differ in the last bit)."""
    if values.shape[0] == 0:
        return carry
    return float(np.add.accumulate(np.concatenate(([carry], values)))[-1])


def phase_event(change: CycleChange) -> Event:
    return Event(change.t, EventType.CYCLE_PHASE, dict(change.fields))
