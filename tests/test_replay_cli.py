"""`cryoguard replay` on CSV files, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "monitor" / "data" / "example-breach.csv"


def cryoguard(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True,
                          text=True, timeout=60, input=stdin)


def test_replay_example_prints_contract_events_on_stdout_only() -> None:
    proc = cryoguard("replay", str(EXAMPLE), "--speed", "max", "--events-out", "-")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # nothing else on stdout
    assert events[0]["type"] == "session.started" and events[-1]["type"] == "session.ended"
    for e in events:
        assert {"t", "time", "type"} <= set(e)
    raised = [e["alarm"] for e in events if e["type"] == "alarm.raised"]
    assert raised.index("N1.below_warning") < raised.index("N1.below_critical") < raised.index(
        "N1.freezing")
    crit = next(e for e in events if e.get("alarm") == "N1.below_critical")
    assert crit["priority"] == "high" and crit["category"] == "physiological"
    assert crit["value"] <= 10.0 and crit["limit"] == 10.0
    assert "alarms raised" in proc.stderr


def test_replay_with_other_thresholds_changes_the_alarms(tmp_path: Path) -> None:
    config = tmp_path / "strict.toml"
    config.write_text('[roles.nerve.below_critical]\ntrip_c = "59 F"\nclear_c = 16\n')
    proc = cryoguard("replay", str(EXAMPLE), "--config", str(config), "--events-out", "-")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    crit = next(e for e in events if e.get("alarm") == "N1.below_critical")
    assert crit["limit"] == 15.0  # 59 °F
    default = [json.loads(x) for x in cryoguard("replay", str(EXAMPLE), "--events-out",
                                                "-").stdout.splitlines()]
    crit_default = next(e for e in default if e.get("alarm") == "N1.below_critical")
    assert crit["t"] < crit_default["t"]


def test_malformed_rows_are_reported_and_replay_goes_on(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("t,channel,temp_c\n0,N1,20\n0.5,N1,oops\n1.0,N1,9.0\n1.5,N1,9.0\n")
    out = tmp_path / "events.jsonl"
    proc = cryoguard("replay", str(csv), "--events-out", str(out))
    assert proc.returncode == 0
    assert f"{csv}:3:" in proc.stderr and "oops" in proc.stderr
    raised = [json.loads(x).get("alarm") for x in out.read_text().splitlines()]
    assert "N1.bad_data" in raised and "N1.below_critical" in raised


def test_bad_arguments_exit_2_and_missing_file_exits_1(tmp_path: Path) -> None:
    assert cryoguard("replay", str(EXAMPLE), "--speed", "fast").returncode == 2
    proc = cryoguard("replay", str(tmp_path / "nope.csv"))
    assert proc.returncode == 1 and "cannot read" in proc.stderr
    garbage = tmp_path / "g.csv"
    garbage.write_text("no header here\n")
    proc = cryoguard("replay", str(garbage))
    assert proc.returncode == 2 and "header" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_paced_replay_takes_session_time_over_speed(tmp_path: Path) -> None:
    csv = tmp_path / "short.csv"
    csv.write_text("t,N1\n" + "\n".join(f"{i * 0.1:.1f},30.0" for i in range(31)) + "\n")
    import time
    start = time.monotonic()
    proc = cryoguard("replay", str(csv), "--speed", "10", "--quiet")
    elapsed = time.monotonic() - start
    assert proc.returncode == 0
    assert elapsed >= 0.3  # 3 s of session time at 10x
