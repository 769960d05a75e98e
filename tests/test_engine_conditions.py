"""Each alarm condition as the operator would see it: when it trips, when it clears."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from monitor.engine import Engine
from monitor.engine.spec import EngineSpec
from monitor.model import EventType, Priority, Reading, Status
from tests.engine_helpers import alarms, channel, engine, readings

RAISED, CLEARED = EventType.ALARM_RAISED, EventType.ALARM_CLEARED
ACKED = EventType.ALARM_ACKNOWLEDGED


def steps(values: list[float]) -> list[float]:
    """Values held for 1 s each at 10 Hz, so no jump check is involved."""
    return [v for v in values for _ in range(10)]


@pytest.mark.parametrize(("condition", "trip", "clear", "before", "after_clear"), [
    ("below_warning", 15.0, 16.0, 15.5, 15.9),
    ("below_critical", 10.0, 11.0, 10.4, 10.9),
    ("freezing", 0.0, 1.0, 0.4, 0.9),
])
def test_cold_threshold_trips_at_level_and_clears_only_past_clear_level(
        condition: str, trip: float, clear: float, before: float, after_clear: float) -> None:
    eng = engine(channel(**{c: {"enabled": False} for c in (
        "predicted_below_critical", "falling_fast")}))
    seq = [37.0, 30.0, 25.0, 20.0, 17.0, before, trip, after_clear, clear]
    # walk down gently so only the thresholds speak
    values = [v for a, b in itertools.pairwise(seq) for v in np.linspace(a, b, 40)]
    events = eng.feed(readings(values))
    raised = [e for e in events if e.type is RAISED and e.fields["condition"] == condition]
    assert len(raised) == 1
    assert raised[0].fields["value"] == pytest.approx(trip)  # the first reading at the level
    assert raised[0].fields["limit"] == trip
    latched = condition != "below_warning"
    cleared = [e for e in events if e.type is CLEARED and e.fields["condition"] == condition]
    if latched:
        assert cleared == []  # latched: stays until acknowledged
        assert any(a.id == f"N1.{condition}" and not a.active for a in eng.snapshot().alarms)
    else:
        assert len(cleared) == 1
        assert cleared[0].fields["value"] == pytest.approx(clear)
        assert cleared[0].t > raised[0].t


@pytest.mark.parametrize(("condition", "trip", "clear"), [
    ("above_warning", 42.0, 41.0), ("above_critical", 45.0, 44.0)])
def test_hot_thresholds(condition: str, trip: float, clear: float) -> None:
    eng = engine()
    values = list(np.linspace(37, trip - 0.05, 60)) + [trip] * 5 + list(
        np.linspace(trip, clear - 0.5, 60))
    events = eng.feed(readings(values))
    raised = [e for e in events if e.type is RAISED and e.fields["condition"] == condition]
    assert len(raised) == 1 and raised[0].fields["value"] == trip


def test_hysteresis_band_does_not_clear_or_re_raise() -> None:
    eng = engine(channel(**{"predicted_below_critical": {"enabled": False},
                            "falling_fast": {"enabled": False}}))
    values = steps([16.5, 15.0, 15.8, 15.2, 15.9, 15.1, 15.95])
    events = eng.feed(readings(values))
    assert alarms(events) == ["N1.below_warning"]
    assert alarms(events, CLEARED) == []


def test_condition_delay_holds_back_a_medium_alarm() -> None:
    eng = engine(channel(below_warning={"delay_s": 3.0}))
    # 2 s below, back above clear: no alarm; then 5 s below: raised 3 s after the first.
    values = steps([17, 14.5, 14.5, 16.5, 16.5, 14.5, 14.5, 14.5, 14.5, 14.5])
    events = eng.feed(readings(values))
    raised = [e for e in events if e.fields.get("condition") == "below_warning"]
    assert len(raised) == 1
    assert raised[0].t == pytest.approx(5.0 + 3.0)


def test_high_priority_cold_delay_is_capped_at_one_sample() -> None:
    eng = engine(channel(below_critical={"delay_s": 30.0}))
    values = steps([12, 11.5]) + [9.5] * 30
    events = eng.feed(readings(values))
    raised = [e for e in events if e.fields.get("condition") == "below_critical"]
    assert raised and raised[0].t == pytest.approx(2.1)  # the second sample below 10 °C


def test_latching_alarm_needs_clear_and_acknowledge_in_either_order() -> None:
    # clear first, then acknowledge
    eng = engine()
    eng.feed(readings(steps([12, 11, 10, 9, 10.5, 11.5, 12])))
    ids = [a.id for a in eng.snapshot().alarms]
    assert "N1.below_critical" in ids
    events = eng.acknowledge(7.5)
    assert "N1.below_critical" in alarms(events, ACKED)
    assert "N1.below_critical" in alarms(events, CLEARED)
    assert "N1.below_critical" not in [a.id for a in eng.snapshot().alarms]
    # acknowledge first, then clear
    eng = engine()
    eng.feed(readings(steps([12, 11, 10, 9])))
    eng.acknowledge(4.0)
    assert "N1.below_critical" in [a.id for a in eng.snapshot().alarms]  # still active
    events = eng.feed(readings(steps([10.5, 11.5, 12]), start=4.1))
    assert "N1.below_critical" in alarms(events, CLEARED)


def test_acknowledge_one_alarm_leaves_the_others_audible() -> None:
    eng = engine()
    eng.feed(readings(steps([16, 14, 12, 9.5])))
    events = eng.acknowledge(4.0, "N1.below_warning")
    assert alarms(events, ACKED) == ["N1.below_warning"]
    audio = eng.snapshot().audio
    assert audio.sounding is Priority.HIGH  # below_critical is not acknowledged


def test_audio_pause_silences_then_times_out() -> None:
    eng = engine(audio_pause_s=10.0)
    eng.feed(readings(steps([16, 14.5, 14.5])))
    assert eng.snapshot().audio.sounding is Priority.MEDIUM
    events = eng.pause_audio(3.0)
    assert [e.type for e in events] == [EventType.AUDIO_PAUSED]
    assert eng.snapshot().audio.sounding is None
    events = eng.feed(readings([14.5] * 200, start=3.1))
    resumed = [e for e in events if e.type is EventType.AUDIO_RESUMED]
    assert len(resumed) == 1 and resumed[0].t == pytest.approx(13.0)
    assert eng.snapshot().audio.sounding is Priority.MEDIUM


def test_higher_priority_alarm_sounds_through_a_pause() -> None:
    eng = engine(audio_pause_s=120.0)
    eng.feed(readings(steps([16, 14, 13])))
    eng.pause_audio(3.0)
    events = eng.feed(readings(steps([12, 11, 10, 9.5]), start=3.1))
    kinds = [(e.type, e.fields.get("alarm")) for e in events]
    i_raise = kinds.index((RAISED, "N1.below_critical"))
    assert kinds[i_raise + 1][0] is EventType.AUDIO_RESUMED
    assert eng.snapshot().audio.sounding is Priority.HIGH


def test_same_priority_alarm_stays_silent_during_pause() -> None:
    eng = engine(channel("N1"), channel("N2"), audio_pause_s=120.0)
    both = readings(steps([16, 14, 14]), "N1") + readings(steps([17, 17, 17]), "N2")
    eng.feed(sorted(both, key=lambda r: r.t))
    eng.pause_audio(3.0)
    later = readings(steps([14, 14]), "N1", start=3.1) + readings(steps([16, 14.5]), "N2",
                                                                  start=3.1)
    events = eng.feed(sorted(later, key=lambda r: r.t))
    assert "N2.below_warning" in alarms(events)
    assert not [e for e in events if e.type is EventType.AUDIO_RESUMED]


def test_falling_fast_uses_the_least_squares_slope() -> None:
    eng = engine()
    t = np.arange(0, 60, 0.1)
    values = np.where(t < 20, 37.0, 37.0 - (t - 20) * 8 / 60)  # -8 °C/min after 20 s
    events = eng.feed([Reading(float(a), "N1", float(b)) for a, b in zip(t, values,
                                                                       strict=True)])
    raised = [e for e in events if e.fields.get("condition") == "falling_fast"]
    assert len(raised) == 1
    assert raised[0].fields["slope_c_per_min"] <= -6.0
    assert 20 < raised[0].t < 35


def test_prediction_warns_a_minute_before_the_critical_level() -> None:
    eng = engine()
    t = np.arange(0, 400, 0.1)
    values = 30.0 - t * 5 / 60  # 5 °C/min: reaches 10 °C at 240 s
    events = eng.feed([Reading(float(a), "N1", float(b)) for a, b in zip(t, values,
                                                                       strict=True)])
    pred = [e for e in events if e.fields.get("condition") == "predicted_below_critical"]
    assert pred[0].type is RAISED
    assert pred[0].t == pytest.approx(180.0, abs=0.2)
    assert pred[0].fields["seconds_to_limit"] == pytest.approx(60.0, abs=0.5)
    crit = [e for e in events if e.fields.get("alarm") == "N1.below_critical"]
    assert crit[0].t == pytest.approx(240.0, abs=0.2)


def test_open_sensor_raises_technical_alarm_and_keeps_cold_alarm() -> None:
    eng = engine()
    eng.feed(readings(steps([12, 11, 10, 9])))
    events = eng.feed(readings([Status.OPEN] * 50, start=4.0))
    assert "N1.sensor_open" in alarms(events)
    assert "N1.stale" in alarms(events)
    assert not alarms(events, CLEARED)
    view = eng.snapshot().channels[0]
    assert view.temp_c is None and view.status is Status.OPEN
    events = eng.feed(readings([9.0] * 5, start=9.0))
    assert set(alarms(events, CLEARED)) == {"N1.sensor_open", "N1.stale"}


def test_stale_is_dated_when_readings_stopped() -> None:
    eng = engine()
    eng.feed(readings([30.0] * 10))
    assert eng.tick(1.5) == []
    events = eng.tick(5.0)
    assert alarms(events) == ["N1.stale"]
    assert events[0].t == pytest.approx(0.9 + 2.0)
    # and the same detection through another channel's readings
    eng = Engine(EngineSpec(channels=(channel("A"), channel("B"))), t0=0.0)
    eng.feed(sorted(readings([30.0] * 10, "A") + readings([30.0] * 10, "B"),
                    key=lambda r: r.t))
    events = eng.feed(readings([30.0] * 20, "B", start=1.0))  # B goes on, A has stopped
    assert alarms(events) == ["A.stale"]
    assert events[0].t == pytest.approx(2.9)


def test_a_spike_is_held_back_and_a_real_step_is_accepted() -> None:
    eng = engine()
    events = eng.feed(readings([30.0] * 20 + [-5.0] + [30.0] * 20))
    assert alarms(events) == ["N1.implausible_jump"]
    assert "N1.freezing" not in alarms(events)
    eng = engine()
    events = eng.feed(readings([20.0] * 20 + [8.0] * 20))
    assert "N1.below_critical" in alarms(events)
    critical = next(e for e in events if e.fields.get("alarm") == "N1.below_critical")
    assert critical.t == pytest.approx(2.1)  # one sample late, never more


def test_device_lost_is_high_priority_and_clears_on_data() -> None:
    spec = channel()
    from dataclasses import replace
    eng = Engine(EngineSpec(channels=(replace(spec, device="box"),)), t0=0.0)
    eng.feed(readings([30.0] * 10))
    events = eng.device_lost(1.0, "box", "read error")
    assert [e.type for e in events] == [EventType.DEVICE_LOST, RAISED]
    assert events[1].fields["priority"] == "high"
    eng.device_connected(2.0, "box")
    events = eng.feed(readings([30.0] * 3, start=2.1))
    assert alarms(events, CLEARED) == ["box.device_lost"]


def test_unknown_channel_is_monitored_as_a_nerve() -> None:
    eng = Engine(EngineSpec(), t0=0.0)
    events = eng.feed(readings(steps([12, 9.5]), "X9"))
    assert "X9.below_critical" in alarms(events)


def test_alarm_event_has_the_contract_fields() -> None:
    eng = engine()
    events = eng.feed(readings(steps([16, 14.5])))
    event = next(e for e in events if e.type is RAISED)
    record = event.to_record(None)
    for field in ("t", "time", "type", "alarm", "channel", "condition", "category",
                  "priority", "value", "limit", "message"):
        assert field in record
    assert record["category"] == "physiological" and record["priority"] == "medium"
    assert record["message"].startswith("** ")


def test_output_failure_is_a_technical_alarm_that_clears() -> None:
    eng = Engine(EngineSpec(), t0=0.0)
    events = eng.output_fault(1.0, "recorder", "disk full", Priority.MEDIUM)
    assert alarms(events) == ["recorder.output_failed"]
    assert events[0].fields["category"] == "technical"
    assert eng.output_fault(2.0, "recorder", "still full") == []  # no re-raise
    events = eng.output_recovered(3.0, "recorder", "writing again")
    assert alarms(events, CLEARED) == ["recorder.output_failed"]


def test_prediction_does_not_chatter_while_hovering_at_the_critical_level() -> None:
    eng = engine()
    t = np.arange(0, 400, 0.1)
    rng = np.random.default_rng(1)
    fall = 30.0 - t * 5 / 60
    hover = 10.05 + rng.normal(0, 0.08, t.size)
    values = np.where(fall > 10.05, fall, hover)
    events = eng.feed([Reading(float(a), "N1", float(b)) for a, b in zip(t, values,
                                                                       strict=True)])
    assert alarms(events).count("N1.predicted_below_critical") == 1


# Decision levels of the trend alarms, hit exactly ----------------------------------------------
# Times and values below are multiples of 1/16, so the least-squares slope is exact in binary
# floating point and the readings land exactly on the configured rate and horizon.

def dyadic_fall(rate_c_per_s: float, start_c: float, seconds: float) -> list[Reading]:
    n = int(seconds / 0.5) + 1
    return [Reading(0.5 * i, "N1", start_c + rate_c_per_s * max(0.0, 0.5 * i - 20.0))
            for i in range(n)]


def test_falling_fast_trips_at_exactly_its_rate() -> None:
    """'Slope at or below trip_c_per_min': -7.5 °C/min is -0.125 °C/s, exact in binary."""
    eng = engine(channel(falling_fast={"trip_c_per_min": -7.5, "clear_c_per_min": -5.0},
                         predicted_below_critical={"enabled": False}))
    events = eng.feed(dyadic_fall(-0.125, 40.0, 60.0))
    raised = [e for e in events if e.type is RAISED and e.fields["condition"] == "falling_fast"]
    assert len(raised) == 1
    assert raised[0].fields["slope_c_per_min"] == -7.5  # raised on the first exact slope
    assert eng.snapshot().channels[0].slope_c_per_min == -7.5


def test_prediction_trips_at_exactly_its_horizon() -> None:
    """'Reaches the limit within horizon_s': at 12 °C falling 0.125 °C/s, 10 °C is 16 s away."""
    eng = engine(channel(predicted_below_critical={"horizon_s": 16.0, "clear_horizon_s": 30.0},
                         falling_fast={"enabled": False}))
    events = eng.feed(dyadic_fall(-0.125, 14.0, 40.0))
    raised = [e for e in events if e.type is RAISED
              and e.fields["condition"] == "predicted_below_critical"]
    assert len(raised) == 1
    assert raised[0].fields["value"] == 12.0 and raised[0].fields["seconds_to_limit"] == 16.0


@pytest.mark.parametrize(("level", "armed"), [(11.0, False), (11.125, True)])
def test_prediction_is_armed_only_above_the_critical_clear_level(level: float,
                                                                 armed: bool) -> None:
    """A reading that falls to the critical alarm's clear level (11 °C) and stays there does not
    start a prediction; one a step above does."""
    eng = engine(channel(predicted_below_critical={"horizon_s": 600.0, "clear_horizon_s": 900.0},
                         falling_fast={"enabled": False}, below_warning={"enabled": False}))
    readings_ = [Reading(0.5 * i, "N1", 11.25) for i in range(40)]
    readings_ += [Reading(20.0 + 0.5 * i, "N1", level) for i in range(40)]
    events = eng.feed(readings_)
    assert ("N1.predicted_below_critical" in alarms(events)) is armed
