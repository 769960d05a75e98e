"""``stuck``: a channel whose valid readings keep exactly one value for ``after_s``.

A frozen converter or firmware shows a plausible constant value with status OK; a live needle
thermocouple moves. Default 300 s, low priority, on nerve and skin channels only.
"""

from __future__ import annotations

import pytest

from monitor.config.schema import parse_config
from monitor.engine import Engine
from monitor.model import EventType, Priority, Reading, Role, Status
from tests.engine_helpers import alarms, channel, engine, key, readings

RAISED, CLEARED = EventType.ALARM_RAISED, EventType.ALARM_CLEARED
DT = 0.25  # 4 Hz, the default polling rate


def constant(value: float, seconds: float, start: float = 0.0, cid: str = "N1") -> list[Reading]:
    return readings([value] * int(seconds / DT + 1), cid=cid, dt=DT, start=start)


def test_a_frozen_value_raises_stuck_after_300_s_and_any_change_clears_it() -> None:
    eng = engine()
    events = eng.feed(constant(37.0, 310.0))
    raised = [e for e in events if e.type is RAISED and e.fields["condition"] == "stuck"]
    assert len(raised) == 1
    assert raised[0].t == 300.0  # the first reading 300 s after the value first appeared
    assert raised[0].fields["priority"] == Priority.LOW.label
    assert raised[0].fields["category"] == "technical"
    assert raised[0].fields["value"] == 37.0 and "unchanged" in raised[0].fields["message"]
    assert alarms(events) == ["N1.stuck"]  # nothing else: 37 °C is fine
    after = eng.feed(readings([37.1], dt=DT, start=310.25))
    assert alarms(after, CLEARED) == ["N1.stuck"]


def test_a_jittering_needle_is_never_stuck() -> None:
    eng = engine()
    values = [37.0 if (i // 3) % 2 else 37.1 for i in range(int(900 / DT))]
    assert "N1.stuck" not in alarms(eng.feed(readings(values, dt=DT)))


def test_a_change_restarts_the_count() -> None:
    eng = engine()
    events = eng.feed(constant(37.0, 200.0) + constant(36.9, 200.0, start=200.25))
    assert "N1.stuck" not in alarms(events)
    events = eng.feed(constant(36.9, 110.0, start=400.5))
    raised = [e for e in events if e.fields.get("alarm") == "N1.stuck" and e.type is RAISED]
    assert raised and raised[0].t == 500.25  # 300 s after 36.9 first appeared


def test_a_sensor_fault_in_between_does_not_restart_the_count() -> None:
    eng = engine()
    seq = [*constant(37.0, 100.0), Reading(100.25, "N1", None, Status.OPEN),
           *constant(37.0, 210.0, start=100.5)]
    events = eng.feed(seq)
    assert [e.t for e in events if e.fields.get("alarm") == "N1.stuck"
            and e.type is RAISED] == [300.0]


@pytest.mark.parametrize("role", [Role.PROBE, Role.REFERENCE, Role.OTHER])
def test_probe_reference_and_other_channels_may_be_constant(role: Role) -> None:
    eng = engine(channel("C1", role=role))
    assert "C1.stuck" not in alarms(eng.feed(constant(-140.0, 900.0, cid="C1")))


def test_skin_channels_get_it_too() -> None:
    eng = engine(channel("S1", role=Role.SKIN))
    assert "S1.stuck" in alarms(eng.feed(constant(33.0, 301.0, cid="S1")))


def test_after_s_and_enabled_come_from_the_config() -> None:
    base = {"devices": [{"id": "d", "protocol": "line", "port": "/dev/x"}],
            "channels": [{"id": "N1", "device": "d", "index": 0},
                         {"id": "N2", "device": "d", "index": 1,
                          "alarms": {"stuck": {"enabled": False}}},
                         {"id": "P1", "device": "d", "index": 2, "role": "probe",
                          "alarms": {"stuck": {"enabled": True, "after_s": "1 min"}}}],
            "roles": {"nerve": {"stuck": {"after_s": 60}}}}
    eng = Engine(parse_config(base, "t").engine_spec(), t0=0.0)
    scans = [r for i in range(int(120 / DT) + 1)
             for r in (Reading(i * DT, "N1", 37.0), Reading(i * DT, "N2", 37.0),
                       Reading(i * DT, "P1", -140.0))]
    events = eng.feed(scans)
    stuck = {(e.fields["alarm"], e.t) for e in events if e.type is RAISED
             and e.fields["condition"] == "stuck"}
    assert stuck == {("N1.stuck", 60.0), ("P1.stuck", 60.0)}


def test_live_one_reading_at_a_time_equals_one_block() -> None:
    seq = constant(37.0, 305.0) + readings([37.2, 37.2], dt=DT, start=305.25)
    live = engine()
    one_by_one = [e for r in seq for e in live.feed([r])]
    assert key(one_by_one) == key(engine().feed(seq))
    assert "N1.stuck" in alarms(one_by_one) and "N1.stuck" in alarms(one_by_one, CLEARED)


def test_one_count_of_change_restarts_the_count_live_and_replayed() -> None:
    """A 0.01 °C step is a change: the converter is alive (MAX31856 boxes resolve 0.0078 °C)."""
    seq = constant(37.0, 200.0) + constant(37.01, 320.0, start=200.25)
    live = engine()
    one_by_one = [e for r in seq for e in live.feed([r])]
    for events in (one_by_one, engine().feed(seq)):
        raised = [e.t for e in events if e.type is RAISED and e.fields["alarm"] == "N1.stuck"]
        assert raised == [500.25]
