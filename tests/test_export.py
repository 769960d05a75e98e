"""``cryoguard export``: CSV and Parquet files that match the session, read back without pandas."""

from __future__ import annotations

import csv
import json
import math
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from monitor.cli import main
from monitor.model import Event, EventType, Reading, Role, Status, wall_time
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo

WALL = datetime(2025, 6, 1, 8, 0, 0, 250000, tzinfo=UTC)
LABELS_ROLES = {"L4R": ("L4 right neuroforamen", "nerve"), "probe": ("cryoprobe", "probe")}


def record_session(path: Path) -> tuple[list[Reading], list[dict[str, Any]]]:
    faults: list[str] = []
    rec = Recorder.open(path, config_snapshot={}, channels=[
                            ChannelInfo("L4R", "L4 right neuroforamen", Role.NERVE),
                            ChannelInfo("probe", "cryoprobe", Role.PROBE)],
                        station="ct", wall_start=WALL, on_fault=faults.append)
    readings: list[Reading] = []
    events: list[dict[str, Any]] = []
    for i in range(40):
        t = i * 0.1
        batch = [Reading(t, "L4R", 37.0 - i * 0.7), Reading(t, "probe", -20.0 - i)]
        if i == 5:
            batch[1] = Reading(t, "probe", None, Status.OPEN)
        if i == 6:
            batch[0] = Reading(t, "L4R", None, Status.OVER_RANGE)
        if i == 30:
            batch.append(Reading(t, "skin ° 2", 33.25))
        rec.readings(batch)
        readings.extend(batch)
        if i == 20:
            event = Event(t, EventType.ALARM_RAISED, {
                "alarm": "L4R.below_critical", "channel": "L4R", "condition": "below_critical",
                "category": "physiological", "priority": "high", "value": 9.0, "limit": 10.0,
                "message": "*** L4R below critical, 9.0 °C ≤ 10 °C"})
            events.append(event.to_record(WALL))
            rec.event(event, events[-1])
        if i == 25:
            event = Event(t, EventType.CYCLE_PHASE, {"phase": "freeze", "cycle": 1,
                                                     "extra": {"k": [1, 2]}})
            events.append(event.to_record(WALL))
            rec.event(event, events[-1])
    rec.close(4.0)
    assert faults == []
    return readings, events


def test_csv_export_matches_the_session(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    session = tmp_path / "s.cgsession"
    readings, events = record_session(session)
    out = tmp_path / "exports" / "run1.csv"
    assert main(["export", str(session), "--format", "csv", "--out", str(out)]) == 0
    assert "81 readings" in capsys.readouterr().out

    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["t", "channel", "temp_c", "status", "time", "label", "role"]
    assert len(rows) == 1 + len(readings)
    for row, reading in zip(rows[1:], readings, strict=True):
        assert row[0] == repr(round(reading.t, 6))  # 0.3, never 0.30000000000000004
        assert row[1] == reading.channel
        assert (row[5], row[6]) == LABELS_ROLES.get(reading.channel, ("", ""))
        assert row[3] == reading.status.name
        if reading.temp_c is None:
            assert row[2] == ""
        else:
            assert float(row[2]) == reading.temp_c  # full precision, no rounding
        assert row[4] == wall_time(WALL, reading.t)
    assert ["0.5", "probe", "", "OPEN", "2025-06-01T08:00:00.750Z", "cryoprobe", "probe"] in rows

    events_file = tmp_path / "exports" / "run1.events.csv"
    with events_file.open(encoding="utf-8", newline="") as handle:
        event_rows = list(csv.DictReader(handle))
    assert [json.loads(r["json"]) for r in event_rows] == events
    first, second = event_rows
    assert first["type"] == "alarm.raised" and first["alarm"] == "L4R.below_critical"
    assert float(first["value"]) == 9.0 and float(first["limit"]) == 10.0
    assert first["message"] == "*** L4R below critical, 9.0 °C ≤ 10 °C"
    assert first["time"] == "2025-06-01T08:00:02.250Z"
    assert second["phase"] == "freeze" and second["cycle"] == "1" and second["value"] == ""
    assert first["cycle"] == "0"  # before the first freeze: an integer in every row
    # Written atomically: no temporary files left; private files in a private directory.
    assert sorted(p.name for p in out.parent.iterdir()) == ["run1.csv", "run1.events.csv"]
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    for path in out.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_parquet_export_matches_the_session(tmp_path: Path) -> None:
    session = tmp_path / "s.cgsession"
    readings, events = record_session(session)
    out = tmp_path / "run1.parquet"
    assert main(["export", str(session), "--format", "parquet", "--out", str(out)]) == 0

    table = pq.read_table(out)
    assert table.column_names == ["t", "channel", "temp_c", "status", "time", "label", "role"]
    got = table.to_pylist()
    assert len(got) == len(readings)
    for row, reading in zip(got, readings, strict=True):
        assert (row["t"], row["channel"], row["temp_c"], row["status"]) == (
            round(reading.t, 6), reading.channel, reading.temp_c, reading.status.name)
        assert (row["label"], row["role"]) == LABELS_ROLES.get(reading.channel, ("", ""))
        assert row["time"].utcoffset() == timedelta(0)  # tz-aware UTC
        expected = wall_time(WALL, reading.t)
        assert expected is not None
        assert row["time"].isoformat(timespec="milliseconds").replace("+00:00", "Z") == expected
    assert table.column("temp_c").null_count == 2  # null, never NaN or a sentinel
    assert not any(isinstance(v, float) and math.isnan(v) for v in
                   table.column("temp_c").to_pylist())

    event_table = pq.read_table(tmp_path / "run1.events.parquet").to_pylist()
    assert [json.loads(r["json"]) for r in event_table] == events
    assert event_table[0]["value"] == 9.0 and event_table[0]["priority"] == "high"
    assert event_table[1]["cycle"] == 1 and event_table[1]["value"] is None
    assert pq.read_schema(tmp_path / "run1.events.parquet").field("cycle").type == "int64"
    assert event_table[0]["cycle"] == 0
    meta = {k.decode(): json.loads(v) for k, v in table.schema.metadata.items()}
    assert meta["cryoguard.station"] == "ct"
    assert meta["cryoguard.started"] == "2025-06-01T08:00:00.250Z"
    assert [(c["id"], c["role"], c["label"]) for c in meta["cryoguard.channels"]] == [
        ("L4R", "nerve", "L4 right neuroforamen"), ("probe", "probe", "cryoprobe"),
        ("skin ° 2", None, "")]
    crit = meta["cryoguard.thresholds"]["L4R"]["below_critical"]
    assert (crit["trip_c"], crit["clear_c"], crit["priority"]) == (10.0, 11.0, "high")
    assert not meta["cryoguard.thresholds"]["probe"]["freezing"]["enabled"]
    assert meta["cryoguard.software"]["cryoguard_version"] and \
        meta["cryoguard.software"]["exported_by"].startswith("cryoguard ")


def test_bad_session_or_format_is_a_clear_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.csv"
    assert main(["export", str(tmp_path / "missing.cgsession"), "--format", "csv",
                 "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    junk = tmp_path / "junk.cgsession"
    junk.write_text("t,channel,temp_c\n0,a,1\n")
    assert main(["export", str(junk), "--format", "csv", "--out", str(out)]) == 2
    assert "not a" in capsys.readouterr().err
    assert not out.exists()
    session = tmp_path / "s.cgsession"
    record_session(session)
    assert main(["export", str(session), "--format", "xlsx", "--out", str(out)]) == 2
    assert main(["export", str(session), "--format", "csv", "--out", str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_an_export_is_never_written_through_a_symlink(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "s.cgsession"
    record_session(session)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.csv").symlink_to(victim)
    assert main(["export", str(session), "--format", "csv", "--out", str(out / "run.csv")]) == 0
    assert victim.read_text() == "keep me"  # the link was replaced, not followed
    assert not (out / "run.csv").is_symlink()
    assert stat.S_IMODE((out / "run.csv").stat().st_mode) == 0o600


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_replays_with_the_recorded_roles_and_the_sessions_alarms(
        fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.replay.whatif import compare_alarms
    from monitor.report.simulated import record_scenario
    from monitor.sessions.reader import open_session

    session = tmp_path / "breach.cgsession"
    # A site threshold recorded with the session: Parquet carries the config, CSV does not.
    extra = {"roles": {"nerve": {"below_warning": {"trip_c": 20, "clear_c": 21}}}} \
        if fmt == "parquet" else None
    record_scenario(session, "breach", rate_hz=2.0, extra_config=extra)
    out = tmp_path / f"breach.{fmt}"
    assert main(["export", str(session), "--format", fmt, "--out", str(out)]) == 0
    events = tmp_path / "replayed.jsonl"
    capsys.readouterr()
    assert main(["replay", str(out), "--events-out", str(events)]) == 0
    replayed = [json.loads(line) for line in events.read_text().splitlines()]
    with open_session(session) as s:
        recorded = s.events()
    raised = [e for e in recorded if e["type"] == "alarm.raised"]
    assert any(e["alarm"] == "N1.below_critical" for e in raised)
    assert not [e for e in replayed if str(e.get("alarm", "")).startswith("P1.")]  # a probe
    from monitor.model import Event as Ev
    from monitor.model import EventType as Et
    again = [Ev(float(e["t"]), Et.ALARM_RAISED, {"alarm": e["alarm"]})
             for e in replayed if e["type"] == "alarm.raised"]
    changes = compare_alarms(recorded, again)
    assert changes and {c.change for c in changes} == {"same"}, changes
    if fmt == "parquet":  # the recorded 20 °C warning level came back from the metadata
        warning = next(e for e in replayed if e.get("alarm") == "N1.below_warning")
        assert warning["limit"] == 20.0
        assert replayed[0]["station"] == "ct-suite-sim"
        assert replayed[1]["time"].startswith("2025-03-14T08:3")
