"""The session recorder and reader on real SQLite files: round trip, commits, faults, backlog."""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import CryoGuardError
from monitor.model import Event, EventType, Reading, Role, Status
from monitor.sessions.reader import SessionInput, open_session
from monitor.sessions.recorder import Recorder, SaveResult
from monitor.sessions.schema import SCHEMA_VERSION, ChannelInfo, default_session_path

WALL = datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)
CHANNELS = [
    ChannelInfo("L4R", label="L4 right neuroforamen", role=Role.NERVE, device="tcbox", index=0,
                tc_type="T"),
    ChannelInfo("probe", label="cryoprobe", role=Role.PROBE, device="tcbox", index=1,
                tc_type="T"),
]


class Faults:
    """Collects on_fault / on_recover messages (called from the writer thread)."""

    def __init__(self) -> None:
        self.faults: list[str] = []
        self.recovered: list[str] = []

    def has(self, text: str) -> bool:
        return any(text in m for m in list(self.faults))


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def open_recorder(path: Path, faults: Faults, **kwargs: Any) -> Recorder:
    options: dict[str, Any] = {"commit_interval_s": 0.05, "retry_interval_s": 0.05}
    options.update(kwargs)
    return Recorder.open(path, config_snapshot={"station": {"name": "ct-2"}, "trend":
                                                {"window_s": 15}},
                         channels=CHANNELS, station="ct-2", wall_start=WALL,
                         on_fault=faults.faults.append, on_recover=faults.recovered.append,
                         **options)


def alarm(t: float, name: str = "L4R.below_critical") -> tuple[Event, dict[str, Any]]:
    event = Event(t, EventType.ALARM_RAISED, {
        "alarm": name, "channel": name.split(".")[0], "condition": name.split(".")[1],
        "category": "physiological", "priority": "high", "value": 9.5, "limit": 10.0,
        "message": "*** L4R below critical: 9.5 °C ≤ 10 °C"})
    return event, event.to_record(WALL)


def scan(t: float, values: list[float | None], names: tuple[str, ...] = ("L4R", "probe")
         ) -> list[Reading]:
    return [Reading(t, n, v, Status.OK if v is not None else Status.OPEN)
            for n, v in zip(names, values, strict=True)]


def test_round_trip_keeps_everything_in_seq_order(tmp_path: Path) -> None:
    faults = Faults()
    path = tmp_path / "sessions" / "s.cgsession"
    rec = open_recorder(path, faults)
    handed: list[Reading | SessionInput] = []
    events: list[dict[str, Any]] = []
    seq = 0
    for i in range(50):
        t = i * 0.1
        batch = scan(t, [37.0 - i * 0.25, -40.0 + i * 0.001])
        if i == 7:
            batch[0] = Reading(t, "L4R", None, Status.SHORT)
        if i == 20:  # a channel nobody configured: recorded, added to the channel map
            batch.append(Reading(t, "extra", 21.5))
        rec.readings(batch)
        handed.extend(batch)
        seq += len(batch)
        if i == 10:
            rec.input(t, "ack", {"alarm": "L4R.below_warning"})
            handed.append(SessionInput(seq, t, "ack", {"alarm": "L4R.below_warning"}))
            seq += 1
        if i == 30:
            event, record = alarm(t)
            rec.event(event, record)
            events.append(record)
            event_seq = seq
            seq += 1
        if i == 31:
            rec.input(t, "mark", {"mark": "freeze"})
            handed.append(SessionInput(seq, t, "mark", {"mark": "freeze"}))
            seq += 1
    rec.close(5.25)
    assert faults.faults == []
    stats = rec.stats
    assert (stats.written_readings, stats.written_events, stats.pending) == (101, 1, 0)

    with open_session(path) as session:
        assert list(session.iter_inputs()) == handed
        assert session.events() == events
        assert session.event_rows() == [(event_seq, events[0])]
        assert session.t_end == 5.25
        assert session.closed_cleanly
        assert session.station == "ct-2"
        assert session.config == {"station": {"name": "ct-2"}, "trend": {"window_s": 15}}
        assert session.wall_start == WALL
        assert session.schema_version == SCHEMA_VERSION
        for key in ("cryoguard_version", "python_version", "numpy_version", "sqlite_version"):
            assert session.meta[key]
        assert session.channel_names == ("L4R", "probe", "extra")
        assert session.channels[:2] == tuple(CHANNELS)
        assert session.channels[2] == ChannelInfo("extra", configured=False)

        cols = session.columns()
        assert [c.dtype for c in cols] == [np.int64, np.float64, np.int32, np.float64, np.int8]
        readings = [h for h in handed if isinstance(h, Reading)]
        assert len(cols.seq) == len(readings) == 101
        assert np.all(np.diff(cols.seq) > 0)
        for k, reading in enumerate(readings):
            assert cols.t[k] == reading.t
            assert session.channel_names[cols.channel[k]] == reading.channel
            assert Status(int(cols.status[k])) is reading.status
            if reading.temp_c is None:
                assert math.isnan(cols.temp_c[k])
            else:
                assert cols.temp_c[k] == reading.temp_c
    # No sentinel numbers in the file: NULL where the status is not OK.
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM readings WHERE status != 0 AND temp_c IS NOT NULL"
                        ).fetchone() == (0,)
    assert conn.execute("SELECT temp_c, status FROM readings WHERE status != 0").fetchall() == [
        (None, int(Status.SHORT))]
    conn.close()
    # A cleanly closed session is one file: nothing left beside it, also after reading it.
    assert sorted(p.name for p in path.parent.iterdir()) == ["s.cgsession"]


reading_values = st.one_of(
    st.floats(min_value=-200, max_value=1300, allow_nan=False, allow_infinity=False),
    st.sampled_from([Status.OPEN, Status.SHORT, Status.OVER_RANGE, Status.UNDER_RANGE,
                     Status.BAD_DATA]))
steps = st.lists(st.one_of(
    st.tuples(st.just("r"), st.sampled_from(["L4R", "probe", "skin", "ch 4 °"]), reading_values),
    st.tuples(st.just("i"), st.sampled_from(["ack", "pause", "mark", "device.lost"]),
              st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5),
                              max_size=3)),
    st.tuples(st.just("e"), st.sampled_from(list(EventType)), st.text(max_size=10)),
), max_size=60)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_any_mix_of_inputs_comes_back_identical(tmp_path: Path, steps: list[tuple[Any, ...]]
                                                ) -> None:
    path = default_session_path(tmp_path, "prop", datetime.now(UTC))
    faults = Faults()
    rec = open_recorder(path, faults)
    expected: list[Reading | SessionInput] = []
    events: list[dict[str, Any]] = []
    for n, (what, name, value) in enumerate(steps):
        t = n * 0.01
        if what == "r":
            reading = (Reading(t, name, None, value) if isinstance(value, Status)
                       else Reading(t, name, value))
            rec.readings([reading])
            expected.append(reading)
        elif what == "i":
            rec.input(t, name, value)
            expected.append(SessionInput(n, t, name, value))
        else:
            event = Event(t, name, {"message": value})
            rec.event(event, event.to_record(WALL))
            events.append(event.to_record(WALL))
    rec.close(len(steps) * 0.01)
    assert faults.faults == []
    with open_session(path) as session:
        assert list(session.iter_inputs()) == expected
        assert session.events() == events
        assert len(session.columns().seq) == sum(isinstance(e, Reading) for e in expected)


def test_alarm_events_are_committed_at_once_readings_within_the_interval(tmp_path: Path
                                                                         ) -> None:
    faults = Faults()
    path = tmp_path / "s.cgsession"
    rec = open_recorder(path, faults, commit_interval_s=60.0)
    rec.readings(scan(0.0, [20.0, -30.0]))
    event, record = alarm(0.1)
    rec.event(event, record)

    def seen(target: Path) -> tuple[int, int, bool]:
        """What a reader opening the live file now finds (a reader sees one snapshot)."""
        with open_session(target) as session:
            return session.reading_count(), len(session.events()), session.closed_cleanly

    # A reader on the live file sees the alarm (and what came before it) long before the
    # 60 s commit interval; nothing else forced a commit.
    assert wait_until(lambda: seen(path)[1] == 1, timeout=3.0)
    assert seen(path) == (2, 1, False)
    rec.readings(scan(0.2, [19.0, -31.0]))
    time.sleep(0.2)
    assert seen(path) == (2, 1, False)  # plain readings wait for the interval
    rec.close(1.0)

    path2 = tmp_path / "s2.cgsession"
    rec2 = open_recorder(path2, faults, commit_interval_s=0.2)
    rec2.readings(scan(0.0, [20.0, -30.0]))
    assert wait_until(lambda: seen(path2) == (2, 0, False), timeout=3.0)
    rec2.close(1.0)
    assert faults.faults == []


def test_calls_never_block_while_the_writer_is_stalled(tmp_path: Path) -> None:
    faults = Faults()
    path = tmp_path / "s.cgsession"
    rec = open_recorder(path, faults, busy_timeout_s=0.3)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # nobody else can write until we let go
    done = {"readings": 0, "events": 0}
    total = 2000

    def produce() -> None:
        for i in range(total):
            rec.readings(scan(i * 0.1, [float(i % 50), -40.0]))
            done["readings"] += 1
            if i % 100 == 0:
                event, record = alarm(i * 0.1, f"L4R.a{i}")
                rec.event(event, record)
                done["events"] += 1

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join(timeout=20)
    assert done == {"readings": total, "events": 20}  # every call returned
    assert wait_until(lambda: faults.has("cannot write"))
    assert faults.has("locked")
    assert faults.has(str(path))
    stats = rec.stats
    assert stats.written_readings == 0 and stats.written_events == 0
    assert stats.pending == total * 2 + 20
    assert stats.faults >= 1
    blocker.execute("ROLLBACK")
    blocker.close()
    assert wait_until(lambda: rec.stats.written_readings == total * 2)
    assert faults.recovered and "writing again" in faults.recovered[-1]
    rec.close(200.0)
    with open_session(path) as session:
        assert session.reading_count() == total * 2
        assert len(session.events()) == 20


def test_backlog_limit_drops_oldest_readings_only_and_says_so(tmp_path: Path) -> None:
    faults = Faults()
    path = tmp_path / "s.cgsession"
    rec = open_recorder(path, faults, busy_timeout_s=0.01, max_backlog_readings=1000,
                        drop_report_interval_s=0.0)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    for i in range(1500):
        rec.readings(scan(i * 0.1, [float(i % 50), -40.0]))
        if i % 300 == 0:
            rec.input(i * 0.1, "pause", {})
            event, record = alarm(i * 0.1, f"L4R.a{i}")
            rec.event(event, record)
        if i % 100 == 0:
            time.sleep(0.01)  # let the writer take what is queued, as it does live
    assert wait_until(lambda: faults.has("dropped"))
    # Once the writer has taken everything handed over, at most the limit stays in memory.
    assert wait_until(lambda: rec.stats.pending <= 1000 + 10)
    dropped = rec.dropped_readings
    assert dropped >= 2000 - 10
    blocker.execute("ROLLBACK")
    blocker.close()
    result = rec.close(150.0)
    assert rec.dropped_readings == dropped
    assert not result.complete
    assert f"{dropped:,} readings from " in result.lost and "were dropped" in result.lost
    reported = [m for m in faults.faults if "dropped" in m]
    assert reported and f"{dropped} reading(s) dropped" in reported[-1]
    with open_session(path) as session:
        assert session.reading_count() == 3000 - dropped
        assert len(session.events()) == 5  # events and inputs are never dropped
        assert len(session.inputs()) == 5
        assert session.meta["readings_dropped"] == str(dropped)
        cols = session.columns()
        # The oldest readings went; the newest are all there.
        newest = [r for i in range(1250, 1500) for r in scan(i * 0.1, [float(i % 50), -40.0])]
        assert list(cols.t[-500:]) == [r.t for r in newest]
        assert list(cols.temp_c[-500:]) == [r.temp_c for r in newest]
        assert faults.has("cannot write")


def test_vanished_directory_is_a_fault_and_recording_resumes(tmp_path: Path) -> None:
    faults = Faults()
    directory = tmp_path / "sessions"
    path = directory / "s.cgsession"
    rec = open_recorder(path, faults)
    rec.readings(scan(0.0, [30.0, -20.0]))
    assert wait_until(lambda: rec.stats.written_readings == 2)
    shutil.rmtree(directory)
    rec.readings(scan(0.1, [29.0, -21.0]))
    event, record = alarm(0.15)
    rec.event(event, record)
    assert wait_until(lambda: faults.has("cannot write (the session directory was deleted)"))
    assert rec.stats.pending == 3
    directory.mkdir()
    assert wait_until(lambda: bool(faults.recovered))
    rec.readings(scan(0.2, [28.0, -22.0]))
    result = rec.close(0.3)
    assert faults.has("re-created")
    assert not result.complete and (result.readings_written, result.events_written) == (4, 1)
    assert result.lost == ("the file was deleted at 0.0 s and re-created: what came before "
                           "(2 readings, 0 events) is not in it")
    with open_session(path) as session:
        # What had been committed went with the deleted file; everything after it is here.
        assert [r.t for r in session.iter_inputs() if isinstance(r, Reading)] == [0.1] * 2 + [
            0.2] * 2
        assert session.events() == [record]
        assert session.meta["resumed_at_seq"] == "2"
        assert session.channel_names == ("L4R", "probe")
        assert session.closed_cleanly


def test_close_is_idempotent_and_late_calls_are_reported_not_raised(tmp_path: Path) -> None:
    faults = Faults()
    path = tmp_path / "s.cgsession"
    rec = open_recorder(path, faults)
    rec.readings(scan(0.0, [30.0, -20.0]))
    rec.close(1.0)
    rec.close(2.0)
    rec.readings(scan(3.0, [30.0, -20.0]))
    event, record = alarm(3.0)
    rec.event(event, record)
    assert faults.has("after close")
    assert rec.dropped_readings == 2
    with open_session(path) as session:
        assert session.t_end == 1.0
        assert session.reading_count() == 2


def test_open_refuses_an_existing_file_and_an_impossible_path(tmp_path: Path) -> None:
    faults = Faults()
    existing = tmp_path / "old.cgsession"
    existing.write_bytes(b"precious")
    with pytest.raises(CryoGuardError, match="already exists"):
        open_recorder(existing, faults)
    assert existing.read_bytes() == b"precious"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CryoGuardError, match="cannot create the session directory"):
        open_recorder(blocker / "sub" / "s.cgsession", faults)
    with pytest.raises(CryoGuardError, match="is a directory"):
        open_recorder(tmp_path, faults)


def test_open_session_rejects_what_is_not_a_session(tmp_path: Path) -> None:
    with pytest.raises(CryoGuardError, match="does not exist"):
        open_session(tmp_path / "missing.cgsession")
    garbage = tmp_path / "garbage.cgsession"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(CryoGuardError, match="not a"):
        open_session(garbage)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE x (a)")
    conn.commit()
    conn.close()
    with pytest.raises(CryoGuardError, match="not a CryoGuard session file"):
        open_session(other)

    faults = Faults()
    newer = tmp_path / "newer.cgsession"
    rec = open_recorder(newer, faults)
    rec.close(0.0)
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(CryoGuardError, match="newer CryoGuard"):
        open_session(newer)


def test_default_session_path_is_timestamped_safe_and_unique(tmp_path: Path) -> None:
    first = default_session_path(tmp_path, "ct suite/2", WALL)
    assert first == tmp_path / "ct_suite_2-20250314-092653.cgsession"
    first.write_bytes(b"")
    assert default_session_path(tmp_path, "ct suite/2", WALL).name == (
        "ct_suite_2-20250314-092653-2.cgsession")
    local = WALL.astimezone(timezone(timedelta(hours=5)))
    assert default_session_path(tmp_path / "x", "a", local).name == "a-20250314-092653.cgsession"


# ------------------------------------------------------------------ close() tells the truth


def test_close_of_a_complete_session_says_complete_with_the_files_counts(tmp_path: Path
                                                                         ) -> None:
    faults = Faults()
    path = tmp_path / "s.cgsession"
    rec = open_recorder(path, faults, audio="bell")
    for i in range(30):
        rec.readings(scan(i * 0.1, [30.0, -20.0]))
    rec.event(*alarm(1.0))
    rec.set_meta("audio", "speaker")
    with pytest.raises(ValueError):
        rec.set_meta("closed_cleanly", "1")  # the recorder's own keys are not for callers
    result = rec.close(3.0, ended_reason="SIGHUP")
    assert result == SaveResult(path, complete=True, readings_written=60, events_written=1,
                                lost="")
    assert rec.close(4.0) is result
    with open_session(path) as session:
        assert session.reading_count() == 60 and len(session.events()) == 1
        assert session.meta["ended_reason"] == session.ended_reason == "SIGHUP"
        assert session.meta["audio"] == session.audio == "speaker"
        assert session.meta["readings_written"] == "60"


def test_a_disk_full_until_exit_is_not_called_saved(tmp_path: Path) -> None:
    faults = Faults()
    path = tmp_path / "s.cgsession"
    # SQLite's own SQLITE_FULL: the database may not grow past 12 pages (about 20 s here).
    rec = open_recorder(path, faults, close_timeout_s=0.3,
                        on_connect=lambda c: c.execute("PRAGMA max_page_count=12"))
    for i in range(600):
        rec.readings(scan(i * 0.1, [30.0 - i * 0.01, -20.0]))
        if i % 100 == 0:
            rec.event(*alarm(i * 0.1, f"L4R.a{i}"))
        if i % 50 == 0:
            time.sleep(0.01)
    assert wait_until(lambda: faults.has("disk full"))
    result = rec.close(60.0)
    assert not result.complete
    assert "could not be written: disk full" in result.lost
    with open_session(path) as session:
        in_file = session.reading_count()
        assert (result.readings_written, result.events_written) == (in_file,
                                                                     len(session.events()))
        assert not session.closed_cleanly
        last_t = float(session.columns().t[-1])
    assert 0 < in_file < 1200
    lost_readings = 1200 - in_file
    assert f"the last {60.0 - last_t - 0.1:,.0f} s ({lost_readings:,} readings" in result.lost


def test_a_deleted_directory_until_exit_is_not_called_saved(tmp_path: Path) -> None:
    faults = Faults()
    directory = tmp_path / "sessions"
    path = directory / "s.cgsession"
    rec = open_recorder(path, faults, close_timeout_s=0.2)
    rec.readings(scan(0.0, [30.0, -20.0]))
    assert wait_until(lambda: rec.stats.written_readings == 2)
    shutil.rmtree(directory)
    rec.readings(scan(0.1, [29.0, -21.0]))
    rec.event(*alarm(0.15))
    assert wait_until(lambda: faults.has("directory was deleted"))
    result = rec.close(0.3)
    assert result.path == path and not result.complete
    assert result.lost.startswith("the session directory was deleted: nothing of this "
                                  "session is on disk")
    assert "(2 readings, 1 event) could not be written" in result.lost
    assert (result.readings_written, result.events_written) == (0, 0)
    assert not directory.exists()  # not silently re-created


def test_close_returns_in_time_when_the_disk_does_not_answer(tmp_path: Path) -> None:
    faults = Faults()
    path = tmp_path / "s.cgsession"
    # Every write waits up to 30 s for a lock another program holds: a hung disk.
    rec = open_recorder(path, faults, busy_timeout_s=30.0, close_timeout_s=0.3)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        rec.readings(scan(0.0, [30.0, -20.0]))
        rec.event(*alarm(0.1))
        started = time.monotonic()
        result = rec.close(5.0)
        returned_after = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert returned_after < 10.0  # not the 30 s the writer is stuck for (not a timing test)
    assert not result.complete
    assert result.lost == ("the end of the session (2 readings, 1 event) could not be written: "
                           "closing ran out of time (0.3 s) while the disk was still busy")
    assert (result.readings_written, result.events_written) == (0, 0)


def test_a_replaced_file_is_not_called_saved(tmp_path: Path) -> None:
    faults = Faults()
    path = tmp_path / "s.cgsession"
    rec = open_recorder(path, faults, close_timeout_s=0.2)
    rec.readings(scan(0.0, [30.0, -20.0]))
    assert wait_until(lambda: rec.stats.written_readings == 2)
    other = tmp_path / "other"
    other.write_bytes(b"another program's file")
    os.replace(other, path)
    rec.readings(scan(0.1, [29.0, -21.0]))
    rec.event(*alarm(0.15))
    assert wait_until(lambda: faults.has("cannot write (the file was replaced"))
    result = rec.close(0.3)
    assert result.lost.startswith("the file was replaced by another file: this session is not "
                                  "in it; ")
    assert not result.complete and (result.readings_written, result.events_written) == (0, 0)
    assert path.read_bytes() == b"another program's file"
