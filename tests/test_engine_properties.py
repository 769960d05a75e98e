"""Invariants of the engine, checked on generated inputs (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.engine import Engine, ReadingBlock
from monitor.engine.spec import Condition, EngineSpec, TrendSpec
from monitor.model import EventType, Status
from tests.engine_helpers import alarms, channel, key

FAST = settings(max_examples=int(__import__("os").environ.get("CG_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STATUSES = [Status.OK] * 12 + [Status.OPEN, Status.SHORT, Status.OVER_RANGE,
                                Status.UNDER_RANGE, Status.BAD_DATA]


@dataclass
class Stream:
    t: np.ndarray
    ch: np.ndarray
    v: np.ndarray
    st: np.ndarray


@st.composite
def streams(draw: st.DrawFn, channels: int = 3, max_len: int = 400) -> Stream:
    n = draw(st.integers(1, max_len))
    dts = draw(st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.1, 0.1, 0.3, 2.5]), min_size=n,
                        max_size=n))
    t = np.cumsum(np.array(dts))
    ch = np.array(draw(st.lists(st.integers(0, channels - 1), min_size=n, max_size=n)),
                  np.int32)
    start = draw(st.floats(-5, 50))
    steps = draw(st.lists(st.floats(-4, 4), min_size=n, max_size=n))
    v = start + np.cumsum(np.array(steps))
    spikes = draw(st.lists(st.integers(0, n - 1), max_size=3))
    v[spikes] += draw(st.sampled_from([-30.0, 25.0]))
    status = np.array(draw(st.lists(st.sampled_from(STATUSES), min_size=n, max_size=n)),
                      np.int8)
    return Stream(t, ch, v, status)


def make_engine(channels: int = 3) -> Engine:
    trend = TrendSpec(window_s=3.0, min_points=3, min_span_s=0.5, max_points=64)
    spec = EngineSpec(channels=tuple(channel(f"C{i}") for i in range(channels)), trend=trend,
                      audio_pause_s=5.0)
    return Engine(spec, t0=0.0)


def block(s: Stream) -> ReadingBlock:
    return ReadingBlock.from_arrays(s.t, s.ch, s.v, s.st)


@FAST
@given(streams(), st.lists(st.integers(1, 50), min_size=1, max_size=40), st.booleans())
def test_same_readings_in_any_blocks_give_identical_events(
        s: Stream, sizes: list[int], ticks: bool) -> None:
    whole = make_engine().process(block(s))
    eng = make_engine()
    pieces = []
    i, k = 0, 0
    b = block(s)
    while i < len(b):
        size = sizes[k % len(sizes)]
        piece = b.slice(i, i + size)
        pieces += eng.process(piece)
        if ticks:  # a live daemon ticks between scans; the clock never runs ahead of data
            pieces += eng.tick(float(piece.t[-1]))
        i += size
        k += 1
    assert key(pieces) == key(whole)


@FAST
@given(st.lists(st.floats(14.0, 15.99), min_size=5, max_size=300))
def test_wobble_inside_the_hysteresis_band_raises_at_most_once(values: list[float]) -> None:
    eng = make_engine(1)
    t = np.arange(len(values) + 20) * 0.1
    v = np.concatenate((np.full(20, 20.0), np.array(values)))
    # approach gently so the jump check is not involved
    v[15:20] = np.linspace(20.0, values[0], 5)
    events = eng.process(ReadingBlock.from_arrays(t, np.zeros(t.size, np.int32), v,
                                                  np.zeros(t.size, np.int8)))
    assert alarms(events).count("C0.below_warning") <= 1
    assert "C0.below_warning" not in alarms(events, EventType.ALARM_CLEARED)


@FAST
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=400),
       st.sampled_from([0.05, 0.1, 0.25, 1.0]))
def test_monotone_fall_raises_each_cold_alarm_once_in_order(
        fractions: list[float], dt: float) -> None:
    inner = sorted(fractions, reverse=True)
    # The end level is held for two samples: an implausible jump is confirmed by the next one.
    v = np.array([37.0, *(-10.0 + 47.0 * f for f in inner), -10.0, -10.0])
    t = np.arange(v.size) * dt
    eng = make_engine(1)
    events = eng.process(ReadingBlock.from_arrays(t, np.zeros(v.size, np.int32), v,
                                                  np.zeros(v.size, np.int8)))
    cold = [a for a in alarms(events) if a in ("C0.below_warning", "C0.below_critical",
                                               "C0.freezing")]
    assert cold == ["C0.below_warning", "C0.below_critical", "C0.freezing"]


@FAST
@given(st.lists(st.sampled_from([s for s in Status if s is not Status.OK]), min_size=1,
                max_size=200), st.floats(-20, 9.9))
def test_sensor_faults_never_clear_a_physiological_alarm(
        faults: list[Status], cold: float) -> None:
    eng = make_engine(1)
    n = 40
    t = np.arange(n + len(faults)) * 0.1
    v = np.concatenate((np.linspace(12.0, cold, n), np.full(len(faults), np.nan)))
    status = np.concatenate((np.zeros(n, np.int8), np.array(faults, np.int8)))
    events = eng.process(ReadingBlock.from_arrays(t, np.zeros(t.size, np.int32), v, status))
    assert "C0.below_critical" in alarms(events)
    physiological = {str(c) for c in Condition if c.category.value == "physiological"}
    cleared = [e for e in events if e.type is EventType.ALARM_CLEARED
               and e.fields["condition"] in physiological and e.t >= t[n]]
    assert cleared == []
    active = {a.id for a in eng.snapshot().alarms}
    assert "C0.below_critical" in active


@FAST
@given(streams(channels=2, max_len=200))
def test_no_ok_reading_without_a_temperature_and_no_alarm_without_cause(s: Stream) -> None:
    eng = make_engine(2)
    events = eng.process(block(s))
    for e in events:
        if e.type is EventType.ALARM_RAISED and e.fields["category"] == "physiological":
            assert e.fields["value"] is not None
    for view in eng.snapshot().channels:
        if view.temp_c is not None:
            assert view.status is Status.OK and not view.stale
