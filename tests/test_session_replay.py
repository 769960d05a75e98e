"""A recorded session replayed with other thresholds, and a device unplugged and replugged.

The what-if replay reads a session written by the real recorder from the demo scenario run
through the real engine (monitor/report/simulated.py) and runs ``cryoguard replay`` in process:
the live daemon path that writes such files is covered end to end, per scenario, by
tests/test_daemon_scenarios.py. The unplug runs the real demo on a pseudo-terminal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.report.simulated import record_scenario
from monitor.sessions.reader import open_session
from tests.daemon_helpers import cryoguard, events
from tests.session_fuzz import run_cli

DEMO_LAYOUT = (
    '[station]\nname = "demo"\n'
    '[[devices]]\nid = "sim"\nprotocol = "line"\nport = "/dev/null"\n'
    '[[channels]]\nid = "P1"\ndevice = "sim"\nindex = 0\nrole = "probe"\n'
    '[[channels]]\nid = "N1"\ndevice = "sim"\nindex = 1\n'
    '[[channels]]\nid = "N2"\ndevice = "sim"\nindex = 2\n')


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    session = tmp_path_factory.mktemp("demo") / "demo.cgsession"
    record_scenario(session, "demo", seed=0, rate_hz=2.0)
    with open_session(session) as recorded:
        raised = {e["alarm"] for e in recorded.events() if e["type"] == "alarm.raised"}
    assert "N1.below_critical" in raised  # the recording has what the test takes away
    return session


def test_replay_with_other_thresholds_lists_alarms_that_appear_and_vanish(
        demo_session: Path, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(DEMO_LAYOUT + "[roles.nerve.below_critical]\nenabled = false\n"
                      "[roles.nerve.below_warning]\ntrip_c = 30\nclear_c = 31\n")
    outcome = run_cli(["replay", str(demo_session), "--config", str(config), "--quiet"])
    assert outcome.status == 0, outcome
    assert "N1 below critical: vanished" in outcome.stderr  # recorded, gone with this config
    assert "N1 below warning: " in outcome.stderr and " s earlier (" in outcome.stderr  # 30 °C
    unchanged = tmp_path / "same.toml"
    unchanged.write_text(DEMO_LAYOUT)  # the demo's own thresholds: the defaults
    same = run_cli(["replay", str(demo_session), "--config", str(unchanged), "--quiet"])
    assert same.status == 0, same
    assert "the same alarms were raised" in same.stderr


def test_an_unplugged_device_is_a_technical_alarm_and_is_read_again(tmp_path: Path) -> None:
    live = tmp_path / "unplug.jsonl"
    proc = cryoguard("demo", "--scenario", "unplug", "--headless", "--speed", "60", "--rate",
                     "4", "--duration", "340", "--events-out", str(live), "--session",
                     str(tmp_path / "u.cgsession"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    recorded = events(live)
    lost = [e for e in recorded if e.get("alarm") == "sim.device_lost"]
    assert [e["type"] for e in lost] == ["alarm.raised", "alarm.cleared"]
    assert lost[0]["priority"] == "high" and lost[0]["category"] == "technical"
    assert 295 <= lost[0]["t"] <= 310  # the scenario pulls the plug at 300 s
    after = [e for e in recorded if e["type"] == "device.connected" and e["t"] > lost[0]["t"]]
    assert after, "the device was not read again after the replug"
