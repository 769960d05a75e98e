"""Differential test: the engine and the plain reference model (tests/reference_model.py) must
raise, clear and acknowledge the same alarms at the same times with the same values.

Hypothesis draws per-channel settings (levels on the reading grid, hysteresis, delays, the
one-sample cap, priorities, latching, enabled or not), readings on the grids real devices
produce (0.1 °C, 0.01 °C, 0.25 °C) with runs, spikes, faults and late rows, operator
acknowledges and clock ticks, and cuts the readings into random blocks (one reading at a time
takes the live fast path). ``CG_EXAMPLES`` sets the number of examples (default 100).

A failure is reported as found, without shrinking: the examples are long and shrinking them
takes minutes, while a broken rule is found within a few examples. ``CG_SHRINK=1`` shrinks to a
minimal example for debugging (hypothesis's database replays the failure first either way).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from monitor.engine import Engine, ReadingBlock
from monitor.engine.spec import ChannelSpec, Condition, EngineSpec, Kind, TrendSpec, role_conditions
from monitor.model import Event, Priority, Role, Status
from tests.reference_model import ReferenceModel, RefEvent, engine_alarm_events

EXAMPLES = int(os.environ.get("CG_EXAMPLES", "100"))
PHASES = tuple(Phase) if os.environ.get("CG_SHRINK") else tuple(
    p for p in Phase if p not in (Phase.shrink, Phase.explain))
DIFF = settings(max_examples=EXAMPLES, deadline=None, phases=PHASES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GRIDS = (0.1, 0.01, 0.25)
FAULTS = (Status.OPEN, Status.SHORT, Status.OVER_RANGE, Status.UNDER_RANGE, Status.BAD_DATA)
DELAYS = (0.0, 0.0, 0.0, 0.1, 0.25, 0.3, 0.5, 1.0, 3.0)
PRIORITIES = (Priority.HIGH, Priority.MEDIUM, Priority.LOW)


# Settings -------------------------------------------------------------------------------------

@st.composite
def channel_specs(draw: st.DrawFn, cid: str, grid: float, centre: int,
                  visited: list[int]) -> ChannelSpec:
    """Random settings for one channel. Levels are multiples of the reading grid, often ones
    the readings visit (``visited``, in grid steps), so readings land exactly on them. A calm
    channel has long stale and stuck delays, so the live fast path gets to decide."""
    role = draw(st.sampled_from((Role.NERVE, Role.NERVE, Role.SKIN, Role.OTHER)))
    conditions = dict(role_conditions(role))
    span = max(3, round(3.0 / grid))  # levels within about ±3 °C of the start
    calm = draw(st.sampled_from(("no", "yes", "stale only")))
    calm_stale, calm_stuck = calm != "no", calm == "yes"

    def level() -> int:
        if visited and draw(st.booleans()):
            return draw(st.sampled_from(visited))
        return draw(st.integers(centre - span, centre + span))

    for condition, cs in list(conditions.items()):
        common: dict[str, Any] = {
            "enabled": draw(st.booleans()) or draw(st.booleans()),
            "latching": draw(st.booleans()),
            "delay_s": draw(st.sampled_from(DELAYS)),
            "priority": draw(st.sampled_from(PRIORITIES)),
        }
        kind = condition.kind
        if kind in (Kind.LOW, Kind.HIGH):
            trip = level()
            band = draw(st.sampled_from((1, 2, 4, max(1, round(1.0 / grid)))))
            clear = trip + band if kind is Kind.LOW else trip - band
            common |= {"trip_c": trip * grid, "clear_c": clear * grid}
        elif kind is Kind.SLOPE:
            trip_rate = draw(st.sampled_from((-120.0, -60.0, -30.0, -6.0)))
            common |= {"trip_c_per_min": trip_rate,
                       "clear_c_per_min": trip_rate + draw(st.sampled_from((1.0, 10.0, 30.0)))}
        elif kind is Kind.PREDICTED:
            horizon = draw(st.sampled_from((0.5, 2.0, 10.0, 60.0)))
            common |= {"horizon_s": horizon,
                       "clear_horizon_s": horizon + draw(st.sampled_from((0.0, 1.0, 10.0)))}
        elif kind is Kind.STALE:
            common |= {"after_s": 30.0 if calm_stale else
                       draw(st.sampled_from((0.3, 0.5, 1.0, 2.0, 3.0, 5.0)))}
        elif kind is Kind.STUCK:
            common |= {"after_s": 60.0 if calm_stuck else
                       draw(st.sampled_from((0.2, 0.25, 0.5, 1.0, 2.0, 3.0)))}
        elif kind is Kind.JUMP:
            common |= {"max_c_per_s": draw(st.sampled_from((1.0, 5.0, 10.0, 60.0))),
                       "min_step_c": draw(st.sampled_from((0.25, 1.0, 3.0)))}
        conditions[condition] = replace(cs, **common)
    critical = conditions[Condition.BELOW_CRITICAL]
    predicted = conditions[Condition.PREDICTED_BELOW_CRITICAL]
    if draw(st.booleans()):  # as the config does: the prediction aims at the critical level
        conditions[Condition.PREDICTED_BELOW_CRITICAL] = replace(predicted,
                                                                 trip_c=critical.trip_c)
    return ChannelSpec(id=cid, role=role, conditions=conditions)


# Inputs ---------------------------------------------------------------------------------------

@dataclass
class Session:
    channels: tuple[ChannelSpec, ...]
    trend: TrendSpec
    ops: list[tuple[Any, ...]]  # ("r", t, ch, value, status) | ("tick", t) | ("ack", t, id)
    cuts: list[int]  # block sizes for the engine's readings


@st.composite
def sessions(draw: st.DrawFn, n_channels: int = 3, max_len: int = 240) -> Session:
    grids = [draw(st.sampled_from(GRIDS)) for _ in range(n_channels)]
    centres = [draw(st.integers(5, 25)) * round(1 / g) for g in grids]
    trend = TrendSpec(window_s=draw(st.sampled_from((1.0, 3.0))),
                      min_points=draw(st.sampled_from((2, 3, 5))),
                      max_gap_s=draw(st.sampled_from((0.5, 1.0, 2.0))),
                      min_span_s=draw(st.sampled_from((0.2, 0.25, 0.5))),
                      max_points=draw(st.sampled_from((4, 16, 20, 64))))
    n = draw(st.integers(1, max_len))
    level = list(centres)
    visited: list[set[int]] = [set() for _ in range(n_channels)]
    # Steps of 1/8 s keep times exact, so readings land exactly on delays, windows and gaps;
    # decimal steps are what real clocks give.
    steps = draw(st.sampled_from(((0.0, 0.05, 0.1, 0.1, 0.1, 0.25, 0.3, 1.0, 2.5),
                                  (0.0, 0.125, 0.25, 0.25, 0.25, 0.5, 1.0, 2.0))))
    t = 0.0
    ops: list[tuple[Any, ...]] = []
    alarm_ids = [f"C{i}.{c}" for i in range(n_channels) for c in Condition]
    for _ in range(n):
        t += draw(st.sampled_from(steps))
        ch = draw(st.integers(0, n_channels - 1))
        move = draw(st.sampled_from(("hold", "hold", "step", "step", "down", "down", "down",
                                     "jump", "fault", "late", "tick", "ack")))
        if move == "tick":
            ops.append(("tick", t + draw(st.sampled_from((0.0, 0.2, 1.0, 3.0)))))
            continue
        if move == "ack":
            ops.append(("ack", t, draw(st.sampled_from([None, None, *alarm_ids]))))
            continue
        when = t - draw(st.sampled_from((0.125, 0.5))) if move == "late" else t
        if move == "fault":
            ops.append(("r", when, ch, None, draw(st.sampled_from(FAULTS))))
            continue
        if move == "step":
            level[ch] += draw(st.integers(-4, 4))
        elif move == "down":  # a steady fall, so slopes and predictions have work to do
            level[ch] -= draw(st.integers(1, 3)) * max(1, round(0.1 / grids[ch]))
        elif move == "jump":
            level[ch] += draw(st.sampled_from((-1, 1))) * round(
                draw(st.sampled_from((4.0, 12.0, 30.0))) / grids[ch])
        value = level[ch] * grids[ch]
        visited[ch].add(level[ch])
        ops.append(("r", when, ch, value, Status.OK))
    specs = tuple(draw(channel_specs(f"C{i}", grids[i], centres[i], sorted(visited[i])))
                  for i in range(n_channels))
    cuts = draw(st.lists(st.integers(1, 40), min_size=1, max_size=20))
    return Session(specs, trend, ops, cuts)


# Running both ---------------------------------------------------------------------------------

def run_reference(s: Session) -> ReferenceModel:
    ref = ReferenceModel(s.channels, s.trend, t0=0.0)
    for op in s.ops:
        if op[0] == "r":
            ref.reading(op[1], op[2], op[3], op[4])
        elif op[0] == "tick":
            ref.tick(op[1])
        else:
            ref.acknowledge(op[1], op[2])
    return ref


def run_engine(s: Session) -> list[Event]:
    eng = Engine(EngineSpec(channels=s.channels, trend=s.trend), t0=0.0)
    events: list[Event] = []
    pending: list[tuple[Any, ...]] = []
    k = 0

    def flush() -> None:
        nonlocal k, pending
        while pending:
            size = s.cuts[k % len(s.cuts)]
            k += 1
            part, pending = pending[:size], pending[size:]
            events.extend(eng.process(ReadingBlock.from_arrays(
                np.array([p[1] for p in part], np.float64),
                np.array([p[2] for p in part], np.int32),
                np.array([np.nan if p[3] is None else p[3] for p in part], np.float64),
                np.array([int(p[4]) for p in part], np.int8))))

    for op in s.ops:
        if op[0] == "r":
            pending.append(op)
            continue
        flush()
        if op[0] == "tick":
            events.extend(eng.tick(op[1]))
        else:
            events.extend(eng.acknowledge(op[1], op[2]))
    flush()
    return events


def compared(events: list[RefEvent], skip: set[str]) -> list[RefEvent]:
    return [e for e in events if e.alarm not in skip]


@DIFF
@given(sessions())
def test_engine_and_reference_model_raise_the_same_alarms(s: Session) -> None:
    ref = run_reference(s)
    got = engine_alarm_events(run_engine(s))
    assert compared(got, ref.ambiguous) == compared(ref.events, ref.ambiguous)


@DIFF
@given(sessions(n_channels=1, max_len=120))
def test_one_channel_read_live_one_reading_at_a_time(s: Session) -> None:
    """The live daemon hands the engine one scan at a time: every reading takes the fast
    path when nothing can change."""
    s = Session(s.channels, s.trend, s.ops, [1])
    ref = run_reference(s)
    got = engine_alarm_events(run_engine(s))
    assert compared(got, ref.ambiguous) == compared(ref.events, ref.ambiguous)
