"""The session file in a real child process: killed with SIGKILL, and on a disk that fills up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.model import Status
from monitor.sessions.reader import open_session

COMMON = '''
import json, sys, time
from datetime import datetime, UTC
from monitor.model import Event, EventType, Reading, Status
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo

CH = ["n0", "n1", "p0", "s0"]

def scan(i):
    """Scan i (deterministic): the parent recomputes it to check what came back."""
    out = []
    for c, name in enumerate(CH):
        if (i + c) % 97 == 0:
            out.append(Reading(i * 0.01, name, None, Status.OPEN))
        else:
            out.append(Reading(i * 0.01, name, 37.0 - i * 0.001 - c))
    return out

def alarm(k, t):
    ev = Event(t, EventType.ALARM_RAISED, {"alarm": f"n0.a{k}", "channel": "n0",
               "condition": "below_critical", "priority": "high", "value": 9.0, "limit": 10.0,
               "message": f"alarm {k}"})
    return ev, ev.to_record(datetime(2025, 1, 1, tzinfo=UTC))

def say(*parts):
    print(*parts, flush=True)
'''

KILL_CHILD = COMMON + '''
path, interval, alarm_every = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rec = Recorder.open(path, config_snapshot={"k": 1}, channels=[ChannelInfo(c) for c in CH],
                    station="kill", wall_start=datetime.now(UTC), commit_interval_s=interval,
                    on_fault=lambda m: say("FAULT", m))
say("READY")
i = n = k = 0
while True:
    rec.readings(scan(i))
    n += len(CH)
    if alarm_every and i % alarm_every == alarm_every - 1:
        k += 1
        rec.event(*alarm(k, i * 0.01))
        say("A", k, n)
    else:
        say("R", n)
    i += 1
    time.sleep(0.01)
'''

FULL_DISK_CHILD = COMMON + '''
import os, resource, signal
path = sys.argv[1]
faults, recovered = [], []
rec = Recorder.open(path, config_snapshot={}, channels=[ChannelInfo(c) for c in CH],
                    station="full", wall_start=datetime.now(UTC), commit_interval_s=0.05,
                    retry_interval_s=0.05, max_backlog_readings=2000,
                    drop_report_interval_s=0.1, on_fault=faults.append,
                    on_recover=recovered.append)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (96 * 1024, hard))  # a disk that fills up
calls = events = 0
i = 0

def hand(count):
    global i, calls, events
    for _ in range(count):
        rec.readings(scan(i))
        calls += 1
        if i % 200 == 0:
            rec.event(*alarm(i, i * 0.01))
            events += 1
        i += 1
        if i % 50 == 0:
            time.sleep(0.005)

hand(3000)
deadline = time.monotonic() + 10
while not any("dropped" in m for m in faults) and time.monotonic() < deadline:
    hand(100)
handed_while_full = i
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space again
deadline = time.monotonic() + 10
while not recovered and time.monotonic() < deadline:
    time.sleep(0.01)
hand(10)
result = rec.close(i * 0.01)
say(json.dumps({"faults": faults, "recovered": recovered, "calls": calls, "scans": i,
                "complete": result.complete, "lost": result.lost,
                "in_file": [result.readings_written, result.events_written],
                "events": events, "dropped": rec.dropped_readings,
                "handed_while_full": handed_while_full, "stats": list(rec.stats)}))
'''


def scan_values(i: int) -> list[tuple[float, str, float | None, Status]]:
    """The parent's copy of the child's ``scan``."""
    out: list[tuple[float, str, float | None, Status]] = []
    for c, name in enumerate(["n0", "n1", "p0", "s0"]):
        if (i + c) % 97 == 0:
            out.append((i * 0.01, name, None, Status.OPEN))
        else:
            out.append((i * 0.01, name, 37.0 - i * 0.001 - c, Status.OK))
    return out


def run_and_kill(tmp_path: Path, interval: float, alarm_every: int, run_for: float
                 ) -> tuple[Path, list[tuple[float, list[str]]], float]:
    script = tmp_path / "child.py"
    script.write_text(KILL_CHILD)
    session = tmp_path / "killed.cgsession"
    child = subprocess.Popen([sys.executable, str(script), str(session), str(interval),
                              str(alarm_every)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    lines: list[tuple[float, list[str]]] = []
    try:
        assert child.stdout.readline().strip() == "READY"
        start = time.monotonic()
        while True:
            line = child.stdout.readline()
            assert line, "the child stopped early"
            lines.append((time.monotonic(), line.split()))
            if time.monotonic() - start >= run_for and (not alarm_every
                                                         or lines[-1][1][0] == "A"):
                break
        if alarm_every:
            time.sleep(0.05)  # far less than the 1 s commit interval
        killed_at = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        rest = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    lines.extend((float("inf"), line.split()) for line in rest.splitlines())
    assert not [words for _, words in lines if words[0] == "FAULT"]
    return session, lines, killed_at


def check_prefix(session_path: Path, must_have: int) -> int:
    """Everything recovered is exactly what was handed over, in order; returns the count."""
    with open_session(session_path) as session:
        assert not session.closed_cleanly
        cols = session.columns()
        count = len(cols.seq)
        assert count >= must_have
        expected = [r for i in range(count // 4 + 1) for r in scan_values(i)][:count]
        names = session.channel_names
        got = [(float(cols.t[k]), names[cols.channel[k]],
                None if cols.status[k] else float(cols.temp_c[k]), Status(int(cols.status[k])))
               for k in range(count)]
        assert got == expected
        return count


@pytest.mark.timeout(30)
def test_kill_9_keeps_readings_up_to_about_a_second_before(tmp_path: Path) -> None:
    session, lines, killed_at = run_and_kill(tmp_path, interval=0.2, alarm_every=0,
                                             run_for=1.6)
    handed_a_second_before = max(
        (int(w[1]) for t, w in lines if w[0] == "R" and t <= killed_at - 1.0), default=0)
    handed_total = max(int(w[1]) for _, w in lines if w[0] == "R")
    assert handed_a_second_before > 0
    count = check_prefix(session, handed_a_second_before)
    assert count <= handed_total
    with open_session(session) as reopened:  # opening did not change or break it
        assert reopened.reading_count() == count
        assert reopened.config == {"k": 1}
        assert reopened.t_end is not None and reopened.t_end >= (count // 4 - 1) * 0.01


@pytest.mark.timeout(30)
def test_kill_9_keeps_every_alarm_event_handed_over(tmp_path: Path) -> None:
    # Commit interval 1 s, killed 50 ms after the last alarm: only the at-once commit of alarm
    # events can have saved it (and every reading handed over before it).
    session, lines, _ = run_and_kill(tmp_path, interval=1.0, alarm_every=25, run_for=1.2)
    alarms = [(int(w[1]), int(w[2])) for _, w in lines if w[0] == "A"]
    assert len(alarms) >= 3
    last_alarm, readings_before_it = alarms[-1]
    check_prefix(session, readings_before_it)
    with open_session(session) as reopened:
        assert [e["alarm"] for e in reopened.events()] == [f"n0.a{k}" for k, _ in alarms]
        assert reopened.events()[-1]["message"] == f"alarm {last_alarm}"


@pytest.mark.timeout(60)
def test_full_disk_is_reported_never_blocks_and_recovers(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(FULL_DISK_CHILD)
    session = tmp_path / "full.cgsession"
    done = subprocess.run([sys.executable, str(script), str(session)], capture_output=True,
                          text=True, timeout=50)
    assert done.returncode == 0, done.stderr  # nothing was raised into the caller
    report = json.loads(done.stdout.splitlines()[-1])
    faults: list[str] = report["faults"]
    assert any("cannot write" in m and str(session) in m for m in faults), faults
    assert any("SQLITE_IOERR" in m or "SQLITE_FULL" in m for m in faults), faults
    dropped = report["dropped"]
    assert dropped > 0
    assert any(f"{dropped} reading(s) dropped" in m for m in faults), faults
    # It may have worked for a moment in between (a write that fit); it works again at the end.
    assert report["recovered"]
    assert f"{dropped} reading(s) were dropped" in report["recovered"][-1]
    assert report["calls"] >= 3000  # every call returned
    written, events_written, pending, _ = report["stats"]
    assert pending == 0
    # Saved to the end, but not complete: close says what the full disk cost.
    assert not report["complete"]
    assert f"{dropped:,} readings from " in report["lost"] and "were dropped" in report["lost"]
    assert report["in_file"] == [written, events_written]
    assert written == report["scans"] * 4 - dropped
    with open_session(session) as reopened:
        assert reopened.closed_cleanly
        assert reopened.reading_count() == written
        assert len(reopened.events()) == report["events"] == events_written
        assert reopened.meta["readings_dropped"] == str(dropped)
        cols = reopened.columns()
        # The newest readings (after the disk had room again) are all there.
        assert float(cols.t[-1]) == (report["scans"] - 1) * 0.01
