"""An alarm keeps what raised it: value, limit, rate and message never follow later readings.

A rate alarm raised at -6 °C/min must not read as the current rate when the fall reaches
-12 °C/min: the display shows the live value beside the trip value, from the channel view.
"""

from __future__ import annotations

import numpy as np
import pytest

from monitor.engine import AlarmView
from monitor.model import EventType
from tests.engine_helpers import channel, engine, readings

RAISED, CLEARED = EventType.ALARM_RAISED, EventType.ALARM_CLEARED
ACKED = EventType.ALARM_ACKNOWLEDGED


def view(eng_snapshot_alarms: tuple[AlarmView, ...], alarm_id: str) -> AlarmView:
    found = [a for a in eng_snapshot_alarms if a.id == alarm_id]
    assert found, alarm_id
    return found[0]


def test_rate_alarm_keeps_its_trip_rate_while_the_fall_speeds_up() -> None:
    eng = engine(channel(predicted_below_critical={"enabled": False}))
    # 37 °C steady, then -6.6 °C/min for 30 s, then -12 °C/min for 30 s (10 Hz).
    t = np.arange(0.0, 90.0, 0.1)
    v = np.where(t < 30, 37.0, 37.0 - 0.11 * (t - 30))
    v = np.where(t < 60, v, 37.0 - 0.11 * 30 - 0.2 * (t - 60))
    events = eng.feed(readings([round(float(x), 2) for x in v]))
    raised = [e for e in events if e.type is RAISED and e.fields["condition"] == "falling_fast"]
    assert len(raised) == 1
    trip_rate = raised[0].fields["slope_c_per_min"]
    assert -7.0 < trip_rate <= -6.0
    snap = eng.snapshot()
    alarm = view(snap.alarms, "N1.falling_fast")
    live = snap.channels[0].slope_c_per_min
    assert live is not None and live == pytest.approx(-12.0, abs=0.3)
    assert alarm.trip_rate_c_per_min == trip_rate  # not the live -12
    assert alarm.message == raised[0].fields["message"] and f"{trip_rate}" in alarm.message
    assert alarm.trip_value == raised[0].fields["value"]


def test_latched_alarm_keeps_its_trip_value_after_the_condition_clears() -> None:
    eng = engine()
    values = [v for x in (12.0, 11.0, 10.0, 9.0, 10.5, 11.5, 12.0) for v in [x] * 10]
    events = eng.feed(readings(values))
    raised = [e for e in events if e.type is RAISED and e.fields["alarm"] == "N1.below_critical"]
    assert len(raised) == 1 and raised[0].fields["value"] == 10.0
    alarm = view(eng.snapshot().alarms, "N1.below_critical")
    assert not alarm.active and alarm.latched  # condition over, waiting for an acknowledge
    assert (alarm.trip_value, alarm.trip_limit) == (10.0, 10.0)  # not the clearing 11.5
    assert alarm.message == raised[0].fields["message"]
    assert alarm.condition_cleared_t == pytest.approx(5.0)
    after = eng.acknowledge(7.5)
    acked = [e for e in after if e.type is ACKED and e.fields["alarm"] == "N1.below_critical"]
    cleared = [e for e in after if e.type is CLEARED and e.fields["alarm"] == "N1.below_critical"]
    assert acked[0].fields["value"] == 10.0 and acked[0].fields["limit"] == 10.0
    # The clear is reported with the reading and level it cleared at, like a plain clear.
    assert cleared[0].fields["value"] == 11.5 and cleared[0].fields["limit"] == 11.0


def test_a_latched_alarm_raised_again_records_the_new_trip() -> None:
    eng = engine()
    first = [v for x in (12.0, 10.0, 11.5, 12.0) for v in [x] * 10]
    eng.feed(readings(first))
    again = eng.feed(readings([9.5] * 5, start=4.0))
    raised = [e for e in again if e.type is RAISED and e.fields["alarm"] == "N1.below_critical"]
    assert raised and raised[0].fields["value"] == 9.5
    alarm = view(eng.snapshot().alarms, "N1.below_critical")
    assert alarm.active and alarm.trip_value == 9.5 and alarm.raised_t == 4.0


def test_output_fault_keeps_its_message_and_shows_the_latest_detail() -> None:
    eng = engine()
    eng.feed(readings([37.0] * 3))
    eng.output_fault(1.0, "events", "3 line(s) dropped")
    eng.output_fault(2.0, "events", "40 line(s) dropped")
    alarm = view(eng.snapshot().alarms, "events.output_failed")
    assert "3 line(s)" in alarm.message
    assert alarm.detail is not None and "40 line(s)" in alarm.detail


def test_a_reading_just_below_zero_reads_0_0_not_minus_0_0_in_the_message() -> None:
    """-0.04 °C trips `freezing` (at or below 0 °C); the message shows 0.0, as the screen does."""
    eng = engine(channel(predicted_below_critical={"enabled": False},
                         falling_fast={"enabled": False}))
    events = eng.feed(readings([12.0] * 20 + [-0.04] * 5))
    freezing = [e for e in events if e.type is RAISED and e.fields["condition"] == "freezing"]
    assert len(freezing) == 1
    message = str(freezing[0].fields["message"])
    assert "0.0 °C at or below 0 °C" in message and "-0.0" not in message, message
