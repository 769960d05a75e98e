"""Each scenario's own expectations hold on its raw sensor traces.

The checks use margins: a condition a scenario says is raised must be clearly crossed, one it
says is not raised must be clearly avoided, so the oracle does not depend on how an engine
rounds. The evaluator here is deliberately simple (thresholds, 15 s least-squares slope).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from monitor.engine.spec import Condition
from monitor.model import Role, Status
from simulators.scenarios import SCENARIOS, Scenario
from simulators.trace import Trace

LOW = {"below_warning": 15.0, "below_critical": 10.0, "freezing": 0.0}
HIGH = {"above_warning": 42.0, "above_critical": 45.0}
MARGIN_C = 0.3


@functools.lru_cache(maxsize=64)
def trace_of(name: str, seed: int = 0) -> Trace:
    return SCENARIOS[name].generate(seed=seed)


def window_slopes(t: npt.NDArray[np.float64], v: npt.NDArray[np.float64],
                  window_s: float = 15.0, min_points: int = 5,
                  min_span_s: float = 5.0) -> npt.NDArray[np.float64]:
    """Least-squares slope (°C/s) over the trailing window at every sample (NaN = missing).

    Like the engine's TrendSpec defaults: at least ``min_points`` over at least ``min_span_s``.
    """
    ok = ~np.isnan(v)
    y = np.where(ok, v, 0.0)
    tt = np.where(ok, t - t[0], 0.0)

    def csum(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.concatenate([[0.0], np.cumsum(a)])

    n_c, t_c, y_c = csum(ok.astype(float)), csum(tt), csum(y)
    tt_c, ty_c = csum(tt * tt), csum(tt * y)
    hi = np.arange(1, len(t) + 1)
    lo = np.searchsorted(t, t - window_s, side="left")
    n = n_c[hi] - n_c[lo]
    st, sy = t_c[hi] - t_c[lo], y_c[hi] - y_c[lo]
    stt, sty = tt_c[hi] - tt_c[lo], ty_c[hi] - ty_c[lo]
    den = n * stt - st * st
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * sty - st * sy) / den
    short = (t - t[np.minimum(lo, len(t) - 1)]) < min_span_s
    slope[(n < min_points) | (den <= 1e-9) | ~ok | short] = np.nan
    return slope


def verdict(trace: Trace, alarm: str) -> bool | None:
    """True: clearly raised; False: clearly not raised; None: too close to call."""
    channel, condition = alarm.split(".", 1)
    if condition == Condition.DEVICE_LOST:
        return any(e.kind == "unplug" for e in trace.events)
    c = trace.column(channel)
    v, status = trace.values[:, c], trace.status[:, c]
    if condition == Condition.SENSOR_OPEN:
        return bool((status == Status.OPEN).any())
    if condition == Condition.IMPLAUSIBLE_JUMP:
        steps = np.abs(np.diff(v))
        return bool(np.nanmax(steps) >= 3.0)
    if condition in LOW:
        low = float(np.nanmin(v))
        return _side(LOW[condition] - low)
    if condition in HIGH:
        high = float(np.nanmax(v))
        return _side(high - HIGH[condition])
    slope = window_slopes(trace.t, v) * 60.0
    if condition == Condition.FALLING_FAST:
        worst = float(np.nanmin(slope))
        return True if worst <= -6.5 else False if worst >= -5.5 else None
    if condition == Condition.PREDICTED_BELOW_CRITICAL:
        falling = (slope < 0) & (v > 10.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.where(falling, (v - 10.0) / (-slope / 60.0), np.inf)
        soonest = float(np.nanmin(eta))
        return True if soonest <= 45.0 else False if soonest >= 90.0 else None
    raise AssertionError(f"no evaluator for {alarm}")


def _side(excess: float) -> bool | None:
    """excess > 0: the threshold was crossed by that much."""
    if excess >= MARGIN_C:
        return True
    if excess <= -MARGIN_C:
        return False
    return None


CASES = [(name, alarm, True) for name, sc in SCENARIOS.items() for alarm in sorted(
    sc.expected.raised)] + [(name, alarm, False) for name, sc in SCENARIOS.items()
                            for alarm in sorted(sc.expected.not_raised)]


@pytest.mark.parametrize(("name", "alarm", "raised"), CASES)
def test_expectation_holds_on_raw_trace(name: str, alarm: str, raised: bool) -> None:
    assert verdict(trace_of(name), alarm) is raised


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_expectations_hold_for_another_seed(name: str) -> None:
    trace = trace_of(name, seed=12345)
    sc = SCENARIOS[name]
    assert all(verdict(trace, a) is True for a in sc.expected.raised)
    assert all(verdict(trace, a) is False for a in sc.expected.not_raised)


def test_every_alarm_id_names_a_channel_and_a_condition() -> None:
    conditions = {c.value for c in Condition}
    for sc in SCENARIOS.values():
        ids = {c.id for c in sc.channels} | {c.device for c in sc.channels}
        assert sc.expected.raised.isdisjoint(sc.expected.not_raised)
        for alarm in sc.expected.raised | sc.expected.not_raised:
            channel, condition = alarm.split(".", 1)
            assert channel in ids and condition in conditions, (sc.name, alarm)


@pytest.mark.parametrize("sc", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_layout_and_schedule(sc: Scenario) -> None:
    trace = trace_of(sc.name)
    assert any(c.role is Role.PROBE for c in sc.channels)
    assert sorted(c.index for c in sc.channels) == list(range(len(sc.channels)))
    assert any(p.phase == "freeze" for p in sc.phases)
    assert trace.values.shape == trace.status.shape == (len(trace.t), len(sc.channels))
    assert np.allclose(np.diff(trace.t), 0.1)
    assert trace.duration_s == pytest.approx(sc.duration_s)
    ok = trace.status == Status.OK
    assert np.isnan(trace.values[~ok]).all() and not np.isnan(trace.values[ok]).any()
    quantised = trace.values[ok] * 10.0
    assert np.allclose(quantised, np.round(quantised), atol=1e-6)


def test_probe_channel_follows_the_console() -> None:
    trace = trace_of("routine")
    probe = trace.values[:, trace.column("P1")]
    in_freeze = (trace.t > 200) & (trace.t < 600)
    assert probe[in_freeze].max() < -120.0
    active = (trace.t > 1800) & (trace.t < 1860)
    assert probe[active][-1] > 10.0


def test_seeded_and_deterministic() -> None:
    sc = SCENARIOS["routine"]
    a, b, c = sc.generate(seed=1), sc.generate(seed=1), sc.generate(seed=2)
    assert np.array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_noise_level_at_baseline() -> None:
    trace = trace_of("routine")
    idle = trace.values[trace.t < 55.0, trace.column("N1")]
    assert 0.03 <= float(np.std(idle)) <= 0.12
    assert abs(float(np.mean(idle)) - 37.0) < 0.05


def test_brief_figures() -> None:
    """The headline numbers each scenario promises in its summary."""
    def nerve(name: str, ch: str = "N1") -> npt.NDArray[np.float64]:
        tr = trace_of(name)
        return tr.values[:, tr.column(ch)]

    assert np.nanmin(nerve("routine")) > 20.0 and np.nanmin(nerve("routine", "N2")) > 20.0
    assert 10.5 < np.nanmin(nerve("approach")) < 15.0
    assert np.nanmin(nerve("breach")) < 0.0
    assert 45.0 < np.nanmax(nerve("warm-saline")) < 48.0
    assert 10.5 < np.nanmin(nerve("co2-rescue")) < 15.0
    assert 12.0 < np.nanmin(nerve("multi-probe")) < 15.0


def test_co2_is_injected_near_15_and_stops_the_fall() -> None:
    trace = trace_of("co2-rescue")
    event = next(e for e in trace.events if e.kind == "co2")
    v = trace.values[:, trace.column("N1")]
    at = v[trace.index_at(event.start_s)]
    assert 14.5 <= at <= 17.0
    unprotected = SCENARIOS["co2-rescue"]
    assert np.nanmin(v) > 10.5
    assert unprotected.expected.raised == {"N1.below_warning"}


def test_demo_alarms_within_five_minutes() -> None:
    trace = trace_of("demo")
    v = trace.values[:, trace.column("N1")]
    assert trace.t[np.argmax(v <= 15.0)] < 200.0
    assert trace.t[np.argmax(v <= 10.0)] < 240.0
    assert trace.duration_s <= 600.0


def test_open_tc_reports_open_never_a_number() -> None:
    trace = trace_of("open-tc")
    readings = [r for r in trace.readings() if r.channel == "N1"]
    opened = [r for r in readings if r.status is Status.OPEN]
    assert opened and all(r.temp_c is None for r in opened)
    assert opened[0].t == pytest.approx(360.0)
    assert all(r.status is Status.OPEN for r in readings if r.t >= 360.0)


def test_unplug_window_has_no_readings() -> None:
    trace = trace_of("unplug")
    window = next(e for e in trace.events if e.kind == "unplug")
    assert window.end_s - window.start_s == pytest.approx(5.0)
    times = sorted({r.t for r in trace.readings()})
    gaps = np.diff(times)
    assert gaps.max() == pytest.approx(5.0 + 0.1, abs=0.01)
    assert len(list(trace.readings(include_unplugged=True))) == trace.values.size


def test_noisy_spikes_are_single_samples() -> None:
    trace = trace_of("noisy")
    spikes = [e for e in trace.events if e.kind == "spike"]
    assert len(spikes) > 20
    for e in spikes:
        assert e.channel is not None
        c, i = trace.column(e.channel), trace.index_at(e.start_s)
        before, at, after = trace.values[i - 1, c], trace.values[i, c], trace.values[i + 1, c]
        assert abs(at - before) >= 3.0 and abs(after - before) < 1.0


def test_multi_probe_layout() -> None:
    roles = [c.role for c in SCENARIOS["multi-probe"].channels]
    assert roles.count(Role.PROBE) == 2 and roles.count(Role.NERVE) == 4
    assert roles.count(Role.SKIN) == 1


def test_readings_and_csv(tmp_path: Path) -> None:
    trace = trace_of("open-tc")
    readings = list(trace.readings())
    assert [r.t for r in readings] == sorted(r.t for r in readings)
    path = tmp_path / "open-tc.csv"
    trace.to_csv(path)
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["t", "channel", "temp_c", "status"]
    assert len(rows) - 1 == len(readings)
    opened = [r for r in rows[1:] if r[3] == "OPEN"]
    assert opened and all(r[2] == "" for r in opened)
    ok = [r for r in rows[1:] if r[3] == "OK"]
    assert all(float(r[2]) == pytest.approx(float(r[2]), abs=0.05) for r in ok[:50])
    assert Status.parse(rows[1][3]) is Status.OK


def test_bad_rate_is_rejected() -> None:
    with pytest.raises(ValueError, match="rate_hz"):
        SCENARIOS["demo"].generate(rate_hz=0.0)


@pytest.mark.parametrize("name", ["co2-rescue", "warm-saline"])
def test_the_operator_marks_each_injection_when_the_physics_injects(name: str) -> None:
    sc = SCENARIOS[name]
    injected = [(e.start_s, e.kind) for e in trace_of(name).events if e.kind in ("co2", "saline")]
    assert injected, "the scenario injects something"
    assert [(t, line) for t, line in sc.operator_actions] == \
        [(t, f"mark {kind}") for t, kind in injected]


def test_operator_actions_are_stdin_command_lines_in_time_order() -> None:
    for sc in SCENARIOS.values():
        times = [t for t, _ in sc.operator_actions]
        assert times == sorted(times)
        for t, line in sc.operator_actions:
            assert 0.0 <= t <= sc.duration_s
            words = line.split()
            assert words[0] in ("mark", "note", "ack", "pause"), line
            if words[0] == "mark":
                assert words[1] in ("co2", "saline", "freeze", "thaw", "active-thaw", "end")
            assert "\n" not in line and line == line.strip()
