"""The daemon as a user meets it: commands on stdin, kill -9, a full disk. Real
pseudo-terminals, real session files, real child processes (stalled outputs, signals and the
terminal: tests/test_daemon_faults.py and tests/test_daemon_tmux.py; everything the core
decides: tests/test_daemon_core.py)."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.sessions.reader import open_session
from tests.daemon_helpers import CLI, ENV, cryoguard, spawn


def _wait_for(predicate: Any, timeout: float = 20.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError("condition not met in time")


def _read_events_until(proc: subprocess.Popen[str], want: Any, timeout: float = 30.0
                       ) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(json.loads(line))
        if want(seen[-1]):
            return seen
    raise AssertionError(f"not seen; got {[e['type'] for e in seen][-10:]}")


@pytest.mark.timeout(60)
def test_quick_mode_run_takes_operator_commands_on_stdin(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB-sim"
    sim = spawn("simulate", "--scenario", "demo", "--protocol", "line", "--link", str(link),
                "--speed", "50", env=ENV)
    try:
        _wait_for(link.exists)
        run = spawn("run", "--port", str(link), "--protocol", "line", "--channel", "P1:probe",
                    "--channel", "N1", "--channel", "N2", "--headless", "--events-out", "-",
                    "--session", str(tmp_path / "s.cgsession"), stdin=subprocess.PIPE, env=ENV)
        assert run.stdin is not None
        try:
            _read_events_until(run, lambda e: e.get("alarm") == "N1.below_warning"
                               and e["type"] == "alarm.raised")
            for command in ("ack N1.below_warning", "pause", "mark freeze", "bogus words"):
                run.stdin.write(command + "\n")
            run.stdin.flush()
            seen = _read_events_until(run, lambda e: e["type"] == "cycle.mark")
            acked = [e for e in seen if e["type"] == "alarm.acknowledged"]
            assert [e["alarm"] for e in acked] == ["N1.below_warning"]
            assert any(e["type"] == "audio.paused" for e in seen)
            run.stdin.close()  # end of input is not a quit
            run.stdin = None
            time.sleep(0.5)
            assert run.poll() is None
            run.send_signal(signal.SIGINT)  # Ctrl-C ends cleanly
            out, err = run.communicate(timeout=20)
            assert run.returncode == 0, err
            assert json.loads(out.splitlines()[-1])["type"] == "session.ended"
            assert "unknown command 'bogus words'" in err
        finally:
            if run.poll() is None:
                run.kill()
    finally:
        sim.terminate()
        sim.wait(10)
    with open_session(tmp_path / "s.cgsession") as session:
        assert session.closed_cleanly
        kinds = [i.kind for i in session.inputs()]
        assert {"ack", "pause", "mark", "device.connected"} <= set(kinds)


@pytest.mark.timeout(60)
def test_quit_command_and_learned_channels(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    sim = spawn("simulate", "--scenario", "demo", "--protocol", "line", "--link", str(link),
                "--speed", "5", env=ENV)
    try:
        _wait_for(link.exists)
        run = spawn("run", "--port", str(link), "--protocol", "line", "--headless",
                    "--events-out", "-", "--session", str(tmp_path / "q.cgsession"),
                    stdin=subprocess.PIPE, env=ENV)
        assert run.stdin is not None
        _read_events_until(run, lambda e: e["type"] == "device.connected")
        time.sleep(1.0)
        run.stdin.write("quit\n")
        run.stdin.flush()
        _out, err = run.communicate(timeout=20)
        assert run.returncode == 0, err
    finally:
        sim.terminate()
        sim.wait(10)
    with open_session(tmp_path / "q.cgsession") as session:
        names = set(session.channel_names)
    assert {"ch0", "ch1", "ch2"} <= names  # quick mode names channels by position


@pytest.mark.timeout(60)
def test_kill_9_leaves_a_session_that_opens_exports_and_replays(tmp_path: Path) -> None:
    session = tmp_path / "killed.cgsession"
    proc = spawn("demo", "--headless", "--speed", "10", "--session", str(session), env=ENV)
    assert proc.stderr is not None
    _wait_for(session.exists)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait until the device is being read
        if "device.connected" in proc.stderr.readline():
            break
    connected = time.monotonic()
    time.sleep(3.0)
    elapsed_session_s = (time.monotonic() - connected) * 10
    proc.kill()
    proc.wait(10)
    with open_session(session) as s:
        cols = s.columns()
        assert not s.closed_cleanly
    # everything up to about a second (10 s of session time at 10x) before the kill is there
    assert cols.t.max() >= elapsed_session_s - 10 - 2
    export = cryoguard("export", str(session), "--format", "csv", "--out",
                       str(tmp_path / "k.csv"))
    assert export.returncode == 0, export.stderr
    assert len((tmp_path / "k.csv").read_text().splitlines()) == cols.t.shape[0] + 1
    replay = cryoguard("replay", str(session), "--events-out", "-", "--quiet")
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout.splitlines()[0])["type"] == "session.started"


@pytest.mark.timeout(90)
def test_full_disk_is_a_technical_alarm_while_alarms_keep_flowing(tmp_path: Path) -> None:
    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (120_000, 120_000))

    proc = subprocess.run(
        [*CLI, "demo", "--headless", "--speed", "50", "--duration", "200", "--events-out",
         "-", "--session", str(tmp_path / "full.cgsession")], capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=80, preexec_fn=small_disk, env=ENV)
    # The disk stayed full until the end: the file does not hold everything, and says so.
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "session NOT completely saved to" in last and "could not be written" in last
    assert "session saved to" not in proc.stderr
    records = [json.loads(x) for x in proc.stdout.splitlines()]
    assert records[-1]["type"] == "session.ended"
    fault = next(e for e in records if e.get("alarm") == "recorder.output_failed"
                 and e["type"] == "alarm.raised")
    critical = next(e for e in records if e.get("alarm") == "N1.below_critical"
                    and e["type"] == "alarm.raised")
    assert fault["t"] < critical["t"]  # the disk filled first; detection went on
