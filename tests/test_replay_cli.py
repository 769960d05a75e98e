"""`cryoguard replay` on CSV files, as a user runs it (in-process through the CLI's code path,
and once as a real process for the stdout contract)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.schema import default_config
from monitor.engine import Engine
from monitor.replay.core import Pacer, load_source, replay

EXAMPLE = Path(__file__).resolve().parents[1] / "monitor" / "data" / "example-breach.csv"


def events_of(args: list[str], capsys: pytest.CaptureFixture[str]
              ) -> tuple[int, list[dict[str, object]], str]:
    code = main(["replay", *args, "--events-out", "-"])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_replay_example_prints_contract_events_on_stdout_only() -> None:
    proc = subprocess.run([sys.executable, "-m", "monitor.cli", "replay", str(EXAMPLE),
                           "--speed", "max", "--events-out", "-"], capture_output=True,
                          text=True, timeout=60)
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


def test_replay_with_other_thresholds_changes_the_alarms(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "strict.toml"
    config.write_text('[roles.nerve.below_critical]\ntrip_c = "59 F"\nclear_c = 16\n')
    code, events, err = events_of([str(EXAMPLE), "--config", str(config)], capsys)
    assert code == 0, err
    crit = next(e for e in events if e.get("alarm") == "N1.below_critical")
    assert crit["limit"] == 15.0  # 59 °F
    _code, default, _err = events_of([str(EXAMPLE)], capsys)
    crit_default = next(e for e in default if e.get("alarm") == "N1.below_critical")
    assert isinstance(crit["t"], float) and isinstance(crit_default["t"], float)
    assert crit["t"] < crit_default["t"]


def test_malformed_rows_are_reported_and_replay_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("t,channel,temp_c\n0,N1,20\n0.5,N1,oops\n1.0,N1,9.0\n1.5,N1,9.0\n")
    out = tmp_path / "events.jsonl"
    assert main(["replay", str(csv), "--events-out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{csv}:3:" in err and "oops" in err
    raised = [json.loads(x).get("alarm") for x in out.read_text().splitlines()]
    assert "N1.bad_data" in raised and "N1.below_critical" in raised


def test_bad_arguments_exit_2_and_missing_file_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(EXAMPLE), "--speed", "fast"]) == 2
    assert main(["replay", str(tmp_path / "nope.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err
    garbage = tmp_path / "g.csv"
    garbage.write_text("no header here\n")
    assert main(["replay", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert "header" in err and err.count("\n") == 1 and "Traceback" not in err


def test_paced_replay_takes_session_time_over_speed(tmp_path: Path) -> None:
    csv = tmp_path / "short.csv"
    csv.write_text("t,N1\n" + "\n".join(f"{i * 0.1:.1f},30.0" for i in range(31)) + "\n")
    source = load_source(csv)
    now = [0.0]

    def sleep(seconds: float) -> None:  # an injected clock: no real waiting
        now[0] += seconds

    pacer = Pacer(10.0, 0.0, clock=lambda: now[0], sleep=sleep)
    result = replay(source, Engine(default_config().engine_spec()), lambda e: None, 10.0,
                    pacer=pacer)
    assert result.readings == 31
    assert now[0] == pytest.approx(0.3)  # 3 s of session time at 10x


def test_events_out_refuses_a_non_empty_file_unless_append(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "events.jsonl"
    assert main(["replay", str(EXAMPLE), "--events-out", str(out)]) == 0
    first = out.read_text()
    assert main(["replay", str(EXAMPLE), "--events-out", str(out)]) == 2
    assert "add --append" in capsys.readouterr().err
    assert out.read_text() == first  # nothing mixed in
    assert main(["replay", str(EXAMPLE), "--events-out", str(out), "--append"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 2 * len(first.splitlines())
    assert [json.loads(x)["type"] for x in lines].count("session.started") == 2
