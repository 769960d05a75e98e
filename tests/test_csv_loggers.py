"""Other loggers' CSV exports replay without editing; what cannot be read gets one line.

The corpus (tests/corpus/loggers/, described in its README.md) follows the layouts of public
manuals and programs: PicoLog/PicoScope CSV exports (units in the header or in a row under it),
Artisan's CSV export (tab-separated, a ``Date:…\tUnit:F`` line, ``Time1`` in mm:ss, an Event
column), a handheld 4-channel thermocouple logger (a preamble, quoted values, ``dd-mm-yyyy``
times, ``T1 (°C)`` headers, an unused channel), a Raspberry Pi logger (ISO timestamps, ragged
rows) and a European calibration table (``;``, decimal commas, no time column). Replays run
in-process through the CLI's code path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.model import Status
from monitor.replay.csvsource import parse_csv

LOGGERS = Path(__file__).resolve().parent / "corpus" / "loggers"


def replay(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
           ) -> tuple[int, list[dict[str, Any]], str]:
    out = tmp_path / f"{path.stem}.jsonl"
    out.unlink(missing_ok=True)
    code = main(["replay", str(path), "--speed", "max", "--events-out", str(out), *extra])
    err = capsys.readouterr().err
    events = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    return code, events, err


def raised(events: list[dict[str, Any]]) -> list[str]:
    return [e["alarm"] for e in events if e["type"] == "alarm.raised"]


def test_handheld_logger_with_preamble_quoted_values_and_an_empty_channel(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, events, err = replay(LOGGERS / "handheld-4ch-preamble.csv", tmp_path, capsys)
    assert code == 0, err
    assert "8 line(s) before the header" in err and "dd-mm-yyyy hh:mm:ss" in err
    assert "column 'T4 (°C)' is empty in every row: not replayed" in err
    alarms = raised(events)
    # A 5 s logger: no stale storm (2 s would raise one per sample), its real alarms once.
    assert not [a for a in alarms if a.endswith(".stale")]
    assert alarms.count("T1.below_warning") == 1 and alarms.count("T1.below_critical") == 1
    assert "stale after 12.5 s" in err
    crit = next(e for e in events if e.get("alarm") == "T1.below_critical")
    assert crit["time"].startswith("2025-03-14T08:4")  # the file's own clock
    assert "bad rows: 0" in err


def test_raspberry_pi_logger_with_iso_times_and_ragged_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = LOGGERS / "raspberry-pi-iso.csv"
    code, events, err = replay(path, tmp_path, capsys)
    assert code == 0, err
    for line in (402, 403, 779):  # rows that lost their last field: reported, never shifted
        assert f"{path}:{line}: 3 fields where the header has 4" in err
    data = parse_csv(path.read_text())
    probe_3 = data.channels.index("probe_3")
    assert data.temp_c[(data.channel == probe_3) & (data.status == Status.OK)].min() > 30.0
    assert raised(events).count("probe_1.below_critical") == 1
    assert events[1]["time"].startswith("2024-05-01T09:1")


def test_picolog_clock_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, events, err = replay(LOGGERS / "picolog-hhmmss.csv", tmp_path, capsys)
    assert code == 0, err
    alarms = raised(events)
    assert "TC-08 Ch1.below_critical" in alarms and not [a for a in alarms if "stale" in a]
    crit = next(e for e in events if e.get("alarm") == "TC-08 Ch1.below_critical")
    assert 700 < crit["t"] < 900  # seconds from the first row, across 10:00:00


def test_artisan_export_in_fahrenheit_is_converted(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, events, err = replay(LOGGERS / "artisan-fahrenheit.csv", tmp_path, capsys)
    assert code == 0, err
    assert "channels ET (°F), BT (°F)" in err and "column 'Event'" in err
    crit = next(e for e in events if e.get("alarm") == "BT.below_critical")
    assert 5.0 < crit["value"] <= 10.0  # °C, not the file's 50 °F


def test_picoscope_units_row_and_milliseconds(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, events, err = replay(LOGGERS / "picoscope-units-row.csv", tmp_path, capsys)
    assert code == 0, err
    assert events[-1]["t"] == pytest.approx(299.5)  # 599,500 ms
    assert "Channel B.freezing" in raised(events)


@pytest.mark.parametrize(("name", "says"), [
    ("picolog-volts.csv", "'Channel 1 (V)', 'Channel 2 (V)' in V, not a temperature"),
    ("calibration-eu.csv", "no time column: column 'Messpunkt' holds '1', not a time"),
])
def test_files_that_are_not_temperatures_over_time_get_one_line(
        name: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, events, err = replay(LOGGERS / name, tmp_path, capsys)
    assert code == 2 and events == []
    assert err.count("\n") == 1 and says in err and "Traceback" not in err


def test_volts_beside_temperatures_are_never_taken_for_celsius() -> None:
    data = parse_csv("time,N1 (°C),Ref (mV),N2 (°F)\n0,20,1.5,50\n1,19,1.4,50\n")
    assert data.channels == ["N1", "N2"]
    assert data.temp_c.tolist() == [20.0, 10.0, 19.0, 10.0]
    assert "column 'Ref (mV)' is in mV, not a temperature" in " ".join(data.notes)


def test_semicolons_tabs_decimal_commas_and_kelvin() -> None:
    data = parse_csv("Zeit;T1 (°C);T2 (K)\n0;23,5;300,15\n1;-1,25;273,15\n")
    assert data.temp_c.tolist() == pytest.approx([23.5, 27.0, -1.25, 0.0])
    assert "decimal comma" in data.notes[0]
    tabbed = parse_csv("time\tA [degC]\n00:00:01\t20.5\n00:00:02\t21\n")
    assert tabbed.channels == ["A"] and tabbed.t.tolist() == [0.0, 1.0]


def test_day_first_dates_and_month_first_when_the_file_says_so() -> None:
    day_first = parse_csv("Date/Time,T1\n01-02-2025 10:00:00,20\n01-02-2025 10:00:05,20\n")
    assert day_first.wall_start is not None and day_first.wall_start.month == 2
    month_first = parse_csv("Date/Time,T1\n02/01/2025 10:00:00,20\n02/13/2025 10:00:00,20\n")
    assert month_first.wall_start is not None and month_first.wall_start.month == 2
    assert "mm-dd-yyyy" in month_first.notes[0]


def test_clock_times_across_midnight_keep_going_forward() -> None:
    data = parse_csv("time,T1\n23:59:58,20\n23:59:59,20\n00:00:00,20\n00:00:01,20\n")
    assert data.t.tolist() == [0.0, 1.0, 2.0, 3.0] and data.errors == []


def test_a_separate_date_column_is_joined_to_the_time() -> None:
    data = parse_csv("No.,Date,Time,T1 (°C)\n1,14-03-2025,08:30:00,20\n2,14-03-2025,08:30:05,19\n")
    assert data.t.tolist() == [0.0, 5.0]
    assert data.wall_start is not None and data.wall_start.isoformat().startswith(
        "2025-03-14T08:30:00")


def test_duplicate_columns_and_a_short_row(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("t,A,B,B\n0,1,2\n")
    code, _events, err = replay(path, tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "line 2: 3 fields where the header has 4" in err
    path.write_text("t,A,B,B\n0,1,2,3\n1,1,2\n2,5,6,7\n")
    code, _events, err = replay(path, tmp_path, capsys)
    assert code == 0
    assert "column 4 is also named 'B': replayed as 'B#2'" in err
    assert f"{path}:3: 3 fields where the header has 4" in err
    data = parse_csv(path.read_text())
    assert data.channels == ["A", "B", "B#2"]
    ok = data.status == Status.OK
    assert data.temp_c[ok & (data.channel == 2)].tolist() == [3.0, 7.0]  # never misassigned


@pytest.mark.parametrize("times", ["0\n1e300\n2", "0\nnan\n2", "0\n5\n3\n6", "0\ninf\n2"])
def test_absurd_times_are_reported_by_row(times: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "times.csv"
    path.write_text("t,A\n" + "".join(f"{t},20\n" for t in times.split("\n")))
    code, events, err = replay(path, tmp_path, capsys)
    assert code == 0, err
    bad_line = 3 if "5\n3" not in times else 4
    assert f"{path}:{bad_line}: " in err and "Traceback" not in err
    assert all(e["t"] < 10 for e in events)
