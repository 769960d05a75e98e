"""Freeze–thaw cycles: detection from probes, operator marks, protocol reminders, statistics,
and the engine's promise that any split of the same inputs gives identical events."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config.schema import default_config, parse_config
from monitor.engine import Engine, ReadingBlock
from monitor.engine.spec import CycleSpec, EngineSpec, TrendSpec
from monitor.model import Event, EventType, Priority, Role
from simulators.scenarios import SCENARIOS, Scenario
from simulators.trace import Trace
from tests.engine_helpers import channel, key

FAST = settings(max_examples=int(os.environ.get("CG_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def scenario_engine(sc: Scenario, **cycles: Any) -> Engine:
    data: dict[str, Any] = {
        "devices": [{"id": "sim", "protocol": "line", "port": "/dev/null"}],
        "channels": [{"id": c.id, "label": c.label, "device": "sim", "index": c.index,
                      "role": str(c.role)} for c in sc.channels]}
    if cycles:
        data["cycles"] = cycles
    return Engine(parse_config(data, "test").engine_spec(), t0=0.0)


@cache
def trace(name: str) -> Trace:
    return SCENARIOS[name].generate(seed=1, rate_hz=10.0)


def scan_block(tr: Trace, t_from: float = -1.0, t_to: float = float("inf")) -> ReadingBlock:
    """The trace's scans with ``t_from < t <= t_to`` as one block, in scan order."""
    rows = np.flatnonzero((tr.t > t_from) & (tr.t <= t_to))
    c = tr.values.shape[1]
    t = np.repeat(tr.t[rows], c)
    ch = np.tile(np.arange(c, dtype=np.int32), rows.size)
    return ReadingBlock.from_arrays(t, ch, tr.values[rows].reshape(-1),
                                    tr.status[rows].reshape(-1))


def phases(events: list[Event]) -> list[tuple[float, str, int, str]]:
    return [(e.t, e.fields["phase"], e.fields["cycle"], e.fields["source"]) for e in events
            if e.type is EventType.CYCLE_PHASE]


def run_routine(*marks: tuple[float, str], **cycles: Any) -> tuple[Engine, list[Event]]:
    tr = trace("routine")
    eng = scenario_engine(SCENARIOS["routine"], **cycles)
    events: list[Event] = []
    last = -1.0
    for t, mark in sorted(marks):
        events += eng.process(scan_block(tr, last, t))
        events += eng.mark(t, mark, by="dr-a")
        last = t
    events += eng.process(scan_block(tr, last))
    return eng, events


# Detection on a scenario with known phase times --------------------------------------------

def test_routine_double_freeze_gives_the_protocol_phases_and_cycle_numbers() -> None:
    # Console: freeze 60-660, passive thaw 660-1140, freeze 1140-1740, active thaw 1740-1860.
    eng, events = run_routine()
    found = phases(events)
    assert [(p, c) for _, p, c, _ in found] == [
        ("freeze", 1), ("thaw_passive", 1), ("freeze", 2), ("thaw_passive", 2),
        ("thaw_active", 2)]
    starts = [t for t, *_ in found]
    assert 60.0 < starts[0] <= 75.0  # the probe passes -20 °C about 9 s into the freeze
    assert 660.0 < starts[1] <= 665.0
    assert 1140.0 < starts[2] <= 1150.0
    # An active thaw looks like a passive one until the probe passes 0 °C rising fast.
    assert 1740.0 < starts[3] <= 1745.0 and 1770.0 < starts[4] <= 1800.0
    assert all(source == "probe P1" for *_, source in found)
    snap = eng.snapshot()
    assert (snap.cycle, snap.phase, snap.phase_started_t) == (2, "thaw_active", starts[4])
    summary = eng.cycles_summary()
    assert [s.cycle for s in summary] == [1, 2]
    assert summary[0].start_t == starts[0] and summary[0].end_t == starts[2]
    assert [p.phase for p in summary[1].phases] == ["freeze", "thaw_passive", "thaw_active"]


def test_per_cycle_minimum_is_the_lowest_sample_of_the_cycle() -> None:
    tr = trace("routine")
    eng, _ = run_routine()
    summary = eng.cycles_summary()
    dt = 1.0 / tr.rate_hz
    for cyc in summary:
        end = cyc.end_t if cyc.end_t is not None else float(tr.t[-1]) + dt
        for stats in cyc.channels:
            col = tr.values[:, tr.column(stats.channel)]
            inside = col[(tr.t >= cyc.start_t + dt) & (tr.t < end - dt)]
            around = col[(tr.t >= cyc.start_t - dt) & (tr.t < end + dt)]
            assert stats.min_c is not None
            assert float(around.min()) <= stats.min_c <= float(inside.min())
    # The nerves of the routine case stay warm; the probe spends the freeze far below 0 °C.
    n1 = {s.channel: s for s in summary[0].channels}["N1"]
    assert n1.below == ((15.0, 0.0), (10.0, 0.0), (0.0, 0.0))
    p1 = {s.channel: s for s in summary[0].channels}["P1"]
    assert p1.below[2][1] > 600.0  # freeze plus the frozen part of the thaw
    assert abs(summary[0].duration_s - p1.covered_s) < 0.2


def test_time_below_levels_and_alarms_of_a_nerve_that_gets_cold() -> None:
    sc = SCENARIOS["demo"]
    tr = sc.generate(seed=1, rate_hz=10.0)
    eng = scenario_engine(sc)
    events = eng.process(scan_block(tr))
    (cyc,) = eng.cycles_summary()
    n1 = {s.channel: s for s in cyc.channels}["N1"]
    col = tr.values[:, tr.column("N1")]
    in_cycle = tr.t >= cyc.start_t
    for level, seconds in n1.below:
        expected = np.count_nonzero(in_cycle & (col <= level)) / tr.rate_hz
        assert abs(seconds - expected) <= 0.25, (level, seconds, expected)
    assert n1.below[0][1] > 60.0 and n1.below[1][1] > 30.0 and n1.below[2][1] == 0.0
    raised = {e.fields["alarm"] for e in events if e.type is EventType.ALARM_RAISED
              and e.t >= cyc.start_t}
    assert {"N1.below_warning", "N1.below_critical"} <= set(n1.alarms) <= raised
    assert {a.alarm for a in cyc.alarms} == raised


def test_per_channel_levels_follow_the_channels_own_thresholds() -> None:
    spec = EngineSpec(channels=(channel("P1", Role.PROBE),
                                channel("N1", below_warning={"trip_c": 20.0, "clear_c": 21.0})),
                      trend=TrendSpec(window_s=2.0, min_points=3, min_span_s=0.5))
    eng = Engine(spec, t0=0.0)
    eng.mark(0.0, "freeze", by="op")
    t = np.arange(0, 10, 0.5)
    block = ReadingBlock.from_arrays(np.repeat(t, 2), np.tile(np.array([0, 1], np.int32), t.size),
                                     np.tile(np.array([-100.0, 18.0]), t.size),
                                     np.zeros(2 * t.size, np.int8))
    eng.process(block)
    n1 = {s.channel: s for s in eng.cycles_summary()[0].channels}["N1"]
    assert [level for level, _ in n1.below] == [20.0, 10.0, 0.0]
    assert n1.below[0][1] == 9.5 and n1.below[1][1] == 0.0


# Operator marks ----------------------------------------------------------------------------

def test_operator_marks_set_the_phase_at_once_and_detection_follows_on() -> None:
    _, events = run_routine((55.0, "freeze"), (650.0, "thaw"))
    found = phases(events)
    assert found[:2] == [(55.0, "freeze", 1, "operator"), (650.0, "thaw_passive", 1, "operator")]
    # Detection confirms rather than repeats the marked phases, then takes the next steps.
    assert [(p, c) for _, p, c, _ in found[2:]] == [
        ("freeze", 2), ("thaw_passive", 2), ("thaw_active", 2)]
    marks = [e for e in events if e.type is EventType.CYCLE_MARK]
    assert [(e.t, e.fields["mark"], e.fields["by"]) for e in marks] == [
        (55.0, "freeze", "dr-a"), (650.0, "thaw", "dr-a")]


def test_detection_never_overrules_a_mark_with_what_was_already_true_at_the_mark() -> None:
    # Marked thaw at 75 s while the probe is still plunging: no new freeze from that fall.
    _, events = run_routine((75.0, "thaw"))
    found = phases(events)
    assert found[0][1:] == ("freeze", 1, "probe P1") and found[0][0] < 75.0
    assert found[1] == (75.0, "thaw_passive", 1, "operator")
    assert found[2][1:3] == ("freeze", 2) and found[2][0] > 1140.0


def test_a_mark_holds_the_same_way_when_the_data_comes_one_scan_at_a_time() -> None:
    tr = trace("routine")
    spec = scenario_engine(SCENARIOS["routine"]).spec
    whole, split = Engine(spec, t0=0.0), Engine(spec, t0=0.0)
    a = whole.process(scan_block(tr, -1.0, 75.0)) + whole.mark(75.0, "thaw", "op")
    b = split.process(scan_block(tr, -1.0, 75.0)) + split.mark(75.0, "thaw", "op")
    a += whole.process(scan_block(tr, 75.0))
    b += split.process(scan_block(tr, 75.0, 1100.0))
    for i in range(1000):  # the live path around the next freeze: one scan, then a tick
        lo = 1100.0 + i * 0.1 + 1e-6
        b += split.process(scan_block(tr, lo, lo + 0.1))
        b += split.tick(lo + 0.1)
    b += split.process(scan_block(tr, 1200.0 + 1e-6))
    assert phases(a)[2][1:3] == ("freeze", 2)
    assert key(a) == key(b)


def test_a_thaw_the_operator_called_passive_is_not_turned_into_an_active_one() -> None:
    _, events = run_routine((1745.0, "thaw"))
    found = [(p, c) for _, p, c, _ in phases(events)]
    assert found[-1] == ("thaw_passive", 2)
    assert ("thaw_active", 2) not in found


def test_end_mark_finishes_the_procedure_and_stops_detection() -> None:
    eng, events = run_routine((700.0, "end"))
    found = phases(events)
    assert found[-1] == (700.0, "done", 1, "operator")
    assert eng.snapshot().phase == "done"
    (cyc,) = eng.cycles_summary()
    assert cyc.end_t == 700.0 and cyc.duration_s == 700.0 - cyc.start_t
    assert cyc.phases[-1].end_t == 700.0


def test_a_new_freeze_mark_after_the_end_starts_the_next_cycle() -> None:
    _, events = run_routine((700.0, "end"), (800.0, "freeze"))
    found = phases(events)
    assert found[2:4] == [(700.0, "done", 1, "operator"), (800.0, "freeze", 2, "operator")]
    # Detection is back on after the new freeze: the scenario's thaw at 1140 s is not lost
    # (the console froze again at 1140 s, so the operator's cycle 2 runs from 800 s).
    assert [p for _, p, *_ in found[4:]] == ["thaw_passive", "thaw_active"]


# Protocol reminders ------------------------------------------------------------------------

def test_freeze_reminder_at_its_target_is_a_low_alarm_that_acks_and_clears_with_the_phase(
        ) -> None:
    _, events = run_routine((60.0, "freeze"))
    raised = [e for e in events if e.type is EventType.ALARM_RAISED
              and e.fields["alarm"] == "cycle.freeze_target"]
    assert len(raised) == 1
    assert raised[0].t == 660.0 and raised[0].fields["priority"] == Priority.LOW.label
    assert raised[0].fields["cycle"] == 1 and raised[0].fields["category"] == "technical"
    cleared = [e for e in events if e.type is EventType.ALARM_CLEARED
               and e.fields["alarm"] == "cycle.freeze_target"]
    thaw = next(t for t, p, *_ in phases(events) if p == "thaw_passive")
    assert len(cleared) == 1 and cleared[0].t == thaw
    # The second freeze of the protocol has its own target (second_freeze_s).
    _, events2 = run_routine((60.0, "freeze"), (700.0, "freeze"), second_freeze_s=120.0)
    second = [e.t for e in events2 if e.type is EventType.ALARM_RAISED
              and e.fields["alarm"] == "cycle.freeze_target"]
    assert second[-1] == 820.0


def test_reminder_is_acknowledged_like_any_alarm() -> None:
    tr = trace("routine")
    eng = scenario_engine(SCENARIOS["routine"], passive_thaw_s=60.0)
    eng.process(scan_block(tr, -1.0, 725.0))
    assert "cycle.thaw_passive_target" in {a.id for a in eng.snapshot().alarms}
    acked = eng.acknowledge(726.0, "cycle.thaw_passive_target", by="nurse-b")
    assert [(e.type, e.fields["by"]) for e in acked] == [(EventType.ALARM_ACKNOWLEDGED,
                                                          "nurse-b")]
    assert eng.snapshot().audio.sounding is None


def test_reminder_time_is_the_target_moment_with_or_without_ticks() -> None:
    tr = trace("routine")
    spec = scenario_engine(SCENARIOS["routine"]).spec
    ticked = Engine(spec, t0=0.0)
    plain = Engine(spec, t0=0.0)
    a = ticked.process(scan_block(tr, -1.0, 600.0)) + ticked.mark(600.0, "thaw", "op")
    b = plain.process(scan_block(tr, -1.0, 600.0)) + plain.mark(600.0, "thaw", "op")
    # Nothing arrives for 10 minutes: only ticks can tell the passive thaw reached 8 min.
    for t in np.arange(600.5, 1100.0, 0.5):
        a += ticked.tick(float(t))
    due = [e for e in a if e.type is EventType.ALARM_RAISED and e.fields["channel"] == "cycle"]
    assert [(e.fields["alarm"], e.t) for e in due] == [("cycle.thaw_passive_target", 1080.0)]
    assert ticked.snapshot().phase_target_s == 480.0
    a += ticked.process(scan_block(tr, 1100.0))
    b += plain.process(scan_block(tr, 1100.0))
    assert key(a) == key(b)


def test_cycle_spec_defaults_match_the_config_defaults() -> None:
    assert default_config().engine_spec().cycles == CycleSpec()


def test_detection_can_be_switched_off() -> None:
    _, events = run_routine(detect=False)
    assert phases(events) == []


# Block invariance with probes, marks and ticks -----------------------------------------------

@dataclass
class Procedure:
    t: np.ndarray
    ch: np.ndarray
    v: np.ndarray
    st: np.ndarray
    marks: list[tuple[int, str]]  # (reading position before which the mark comes, mark)


@st.composite
def procedures(draw: st.DrawFn) -> Procedure:
    """A probe doing random freezes and thaws, a nerve drifting, faults and marks."""
    segments = draw(st.lists(st.tuples(st.sampled_from([-140.0, -10.0, 15.0, 37.0]),
                                       st.integers(5, 60)), min_size=2, max_size=8))
    probe: list[float] = []
    level = 37.0
    for target, n in segments:
        ramp = np.linspace(level, target, min(n, 6))
        probe += [*ramp, *([target] * (n - ramp.size))]
        level = target
    n = len(probe)
    dts = draw(st.lists(st.sampled_from([0.1, 0.1, 0.2, 0.5, 3.0]), min_size=n, max_size=n))
    t = np.cumsum(np.array(dts))
    noise = np.array(draw(st.lists(st.floats(-0.5, 0.5), min_size=n, max_size=n)))
    nerve = 30.0 + np.cumsum(noise)
    statuses = draw(st.lists(st.sampled_from([0] * 15 + [1, 5]), min_size=2 * n,
                             max_size=2 * n))
    tt = np.repeat(t, 2)
    ch = np.tile(np.array([0, 1], np.int32), n)
    v = np.column_stack((np.array(probe) + noise * 0.2, nerve)).reshape(-1)
    marks = draw(st.lists(st.tuples(st.integers(1, 2 * n - 1),
                                    st.sampled_from(["freeze", "thaw", "active-thaw", "end"])),
                          max_size=4))
    return Procedure(tt, ch, v, np.array(statuses, np.int8), sorted(marks))


def procedure_engine() -> Engine:
    trend = TrendSpec(window_s=2.0, min_points=3, min_span_s=0.3, max_points=64)
    cycles = CycleSpec(freeze_s=4.0, passive_thaw_s=3.0, second_freeze_s=5.0,
                       active_thaw_s=2.0)
    spec = EngineSpec(channels=(channel("P1", Role.PROBE), channel("N1")), trend=trend,
                      audio_pause_s=5.0, cycles=cycles)
    return Engine(spec, t0=0.0)


def run_procedure(p: Procedure, sizes: list[int] | None, ticks: bool) -> tuple[Engine, list[Event]]:
    eng = procedure_engine()
    block = ReadingBlock.from_arrays(p.t, p.ch, p.v, p.st)
    events: list[Event] = []
    cuts = [0, *[pos for pos, _ in p.marks], len(block)]
    for k in range(len(cuts) - 1):
        lo, hi = cuts[k], cuts[k + 1]
        if k > 0:
            _, mark = p.marks[k - 1]
            events += eng.mark(float(p.t[lo - 1]), mark, by="op")
        i, j = lo, 0
        while i < hi:
            size = (sizes[j % len(sizes)] if sizes else hi - lo)
            piece = block.slice(i, min(i + size, hi))
            events += eng.process(piece)
            if ticks:
                events += eng.tick(float(piece.t[-1]))
            i += size
            j += 1
    return eng, events


@FAST
@given(procedures(), st.lists(st.integers(1, 40), min_size=1, max_size=20), st.booleans())
def test_cycles_give_identical_events_and_summaries_in_any_blocks(
        p: Procedure, sizes: list[int], ticks: bool) -> None:
    whole_eng, whole = run_procedure(p, None, False)
    split_eng, split = run_procedure(p, sizes, ticks)
    assert key(split) == key(whole)
    assert split_eng.cycles_summary() == whole_eng.cycles_summary()
    assert split_eng.channels_summary() == whole_eng.channels_summary()
    assert split_eng.snapshot().phase == whole_eng.snapshot().phase


@FAST
@given(procedures())
def test_cycle_numbers_only_grow_and_every_phase_event_names_its_previous_phase(
        p: Procedure) -> None:
    _, events = run_procedure(p, None, False)
    previous, cycle = "idle", 0
    for e in events:
        if e.type is not EventType.CYCLE_PHASE:
            continue
        assert e.fields["previous"] == previous
        assert e.fields["cycle"] >= cycle
        if e.fields["phase"] == "freeze":
            assert e.fields["cycle"] == cycle + 1
        previous, cycle = e.fields["phase"], e.fields["cycle"]


# The snapshot carries the engine's own protocol targets ------------------------------------

def test_configured_freeze_target_reaches_the_snapshot_during_a_freeze() -> None:
    """[cycles] freeze_s = 480: the screen's freeze target comes from the engine (08:00),
    not from the built-in 10 minutes."""
    config = parse_config({"cycles": {"freeze_s": 480, "passive_thaw_s": "5 min",
                                      "second_freeze_s": 420}}, "test")
    eng = Engine(config.engine_spec(), t0=0.0)
    eng.feed([])
    assert eng.snapshot().phase_target_s is None  # idle: no timer
    events = eng.mark(10.0, "freeze")
    assert [e.fields.get("target_s") for e in events if e.type is EventType.CYCLE_PHASE] == [480]
    eng.tick(130.0)
    snap = eng.snapshot()
    assert (snap.phase, snap.cycle, snap.phase_started_t) == ("freeze", 1, 10.0)
    assert snap.phase_target_s == 480
    assert snap.phase_elapsed_s == 120.0
    due = [e for e in eng.tick(491.0) if e.type is EventType.ALARM_RAISED]
    assert [(e.fields["alarm"], e.t) for e in due] == [("cycle.freeze_target", 490.0)]
    eng.mark(500.0, "thaw")
    assert eng.snapshot().phase_target_s == 300.0
    eng.mark(900.0, "freeze")
    assert (eng.snapshot().cycle, eng.snapshot().phase_target_s) == (2, 420.0)
    eng.mark(1000.0, "end")
    assert eng.snapshot().phase_target_s is None


def test_a_detected_freeze_shows_the_configured_target() -> None:
    _, events = run_routine(freeze_s=480)
    first = next(e for e in events if e.type is EventType.CYCLE_PHASE)
    assert first.fields["phase"] == "freeze" and first.fields["target_s"] == 480
    eng = scenario_engine(SCENARIOS["routine"], freeze_s=480)
    eng.process(scan_block(trace("routine"), -1.0, 300.0))
    snap = eng.snapshot()
    assert snap.phase == "freeze" and snap.phase_target_s == 480
    assert snap.phase_source.startswith("probe ")
