"""Readings below absolute zero (or above 2000 °C, or at ±infinity) are out_of_range, from every
source: the engine decides, the parsers and readers pass the number through.

out_of_range is a high-priority technical alarm on a nerve channel; bad_data is medium. A
thermocouple box reading -300 °C has a sensor or converter fault, not malformed data.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from drivers.line import LineParser
from monitor.engine import Engine, ReadingBlock
from monitor.engine.spec import EngineSpec
from monitor.model import EventType, Reading, Role, Status
from monitor.replay.csvsource import parse_csv
from monitor.sessions.reader import open_session
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo
from tests.engine_helpers import alarms, engine, readings

RAISED = EventType.ALARM_RAISED


def technical(events: list) -> dict[str, str]:  # type: ignore[type-arg]
    """alarm id -> priority of the technical alarms raised."""
    return {e.fields["alarm"]: e.fields["priority"] for e in events
            if e.type is RAISED and e.fields["category"] == "technical"}


@pytest.mark.parametrize("value", [-273.16, -300.0, -1e308, 2000.5, 1e308])
def test_impossible_temperatures_are_high_priority_out_of_range(value: float) -> None:
    eng = engine()
    events = eng.feed(readings([37.0, 37.0, value]))
    assert technical(events) == {"N1.out_of_range": "high"}
    view = eng.snapshot().channels[0]
    assert view.temp_c is None  # never shown as a temperature
    assert view.status is (Status.UNDER_RANGE if value < 0 else Status.OVER_RANGE)


def test_absolute_zero_itself_is_a_reading() -> None:
    eng = engine()
    events = eng.feed(readings([-273.15]))
    assert "N1.out_of_range" not in alarms(events)


def test_the_highest_plausible_temperature_itself_is_a_reading() -> None:
    """2000 °C is the top of the range (config/defaults.py HIGHEST_PLAUSIBLE_C), not beyond it."""
    from monitor.config.defaults import HIGHEST_PLAUSIBLE_C

    eng = engine()
    events = eng.feed(readings([37.0, 37.0, HIGHEST_PLAUSIBLE_C]))
    assert "N1.out_of_range" not in alarms(events)


def test_infinity_is_out_of_range_and_nan_is_bad_data() -> None:
    assert Reading(0.0, "N1", -math.inf).status is Status.UNDER_RANGE
    assert Reading(0.0, "N1", math.inf).status is Status.OVER_RANGE
    assert Reading(0.0, "N1", -math.inf).temp_c is None
    with pytest.raises(ValueError, match="finite"):
        Reading(0.0, "N1", math.nan)
    block = ReadingBlock.from_arrays(np.array([0.0, 0.1, 0.2]), np.zeros(3, np.int32),
                                     np.array([-np.inf, np.inf, np.nan]), np.zeros(3, np.int8))
    assert block.status.tolist() == [Status.UNDER_RANGE, Status.OVER_RANGE, Status.BAD_DATA]
    eng = engine()
    events = eng.process(ReadingBlock.from_arrays(
        np.array([0.0, 0.1]), np.zeros(2, np.int32), np.array([37.0, -np.inf]),
        np.zeros(2, np.int8)))
    assert technical(events) == {"N1.out_of_range": "high"}


def test_a_line_device_reading_below_absolute_zero_is_out_of_range() -> None:
    scans = LineParser().feed(b"20.0,-300,22.0\n")
    assert len(scans) == 1
    value = scans[0].values[1]
    assert (value.temp_c, value.status) == (-300.0, Status.OK)  # passed to the engine as read
    eng = engine()
    events = eng.feed([Reading(0.0, "N1", 37.0), Reading(0.1, "N1", value.temp_c)])
    assert technical(events) == {"N1.out_of_range": "high"}


def test_a_csv_row_below_absolute_zero_is_out_of_range() -> None:
    data = parse_csv("t,channel,temp_c\n0,N1,37.0\n0.1,N1,-300\n0.2,N1,37.0\n")
    assert data.errors == [] and data.fatal is None
    eng = Engine(EngineSpec(), t0=0.0)
    index = {name: eng.channel_index(name) for name in data.channels}
    block = ReadingBlock.from_arrays(data.t, np.array([index[data.channels[c]]
                                                      for c in data.channel], np.int32),
                                     data.temp_c, data.status)
    events = eng.process(block)
    assert technical(events) == {"N1.out_of_range": "high"}


def test_a_recorded_reading_below_absolute_zero_replays_as_out_of_range(tmp_path: Path) -> None:
    path = tmp_path / "s.cgsession"
    faults: list[str] = []
    rec = Recorder.open(path, config_snapshot={}, station="t",
                        channels=[ChannelInfo("N1", role=Role.NERVE)],
                        wall_start=datetime.now(UTC), on_fault=faults.append)
    rec.readings([Reading(0.0, "N1", 37.0)])
    rec.readings([Reading(0.1, "N1", -300.0)])
    rec.close(0.2)
    assert faults == []
    session = open_session(path)
    eng = Engine(EngineSpec(), t0=0.0)
    events = []
    for item in session.iter_inputs():
        assert isinstance(item, Reading)
        events += eng.feed([item])
    assert technical(events) == {"N1.out_of_range": "high"}
