"""A recorded session replayed with other thresholds, and a device unplugged and replugged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon_helpers import cryoguard, events


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("demo")
    session, live = folder / "demo.cgsession", folder / "live.jsonl"
    proc = cryoguard("demo", "--headless", "--speed", "60", "--rate", "4", "--session",
                     str(session), "--events-out", str(live))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return session, live


def test_replay_with_other_thresholds_lists_alarms_that_appear_and_vanish(
        demo_session: tuple[Path, Path], tmp_path: Path) -> None:
    session, _live = demo_session
    demo_layout = (
        '[station]\nname = "demo"\n'
        '[[devices]]\nid = "sim"\nprotocol = "line"\nport = "/dev/null"\n'
        '[[channels]]\nid = "P1"\ndevice = "sim"\nindex = 0\nrole = "probe"\n'
        '[[channels]]\nid = "N1"\ndevice = "sim"\nindex = 1\n'
        '[[channels]]\nid = "N2"\ndevice = "sim"\nindex = 2\n')
    config = tmp_path / "site.toml"
    config.write_text(demo_layout + "[roles.nerve.below_critical]\nenabled = false\n"
                      "[roles.nerve.below_warning]\ntrip_c = 30\nclear_c = 31\n")
    proc = cryoguard("replay", str(session), "--config", str(config), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "N1 below critical: vanished" in proc.stderr  # recorded, gone with this config
    assert "N1 below warning: " in proc.stderr and " s earlier (" in proc.stderr  # 30 °C
    unchanged = tmp_path / "same.toml"
    unchanged.write_text(demo_layout)  # the demo's own thresholds: the defaults
    same = cryoguard("replay", str(session), "--config", str(unchanged), "--quiet")
    assert same.returncode == 0, same.stderr
    assert "the same alarms were raised" in same.stderr


def test_an_unplugged_device_is_a_technical_alarm_and_is_read_again(tmp_path: Path) -> None:
    live = tmp_path / "unplug.jsonl"
    proc = cryoguard("demo", "--scenario", "unplug", "--headless", "--speed", "60", "--rate",
                     "4", "--duration", "420", "--events-out", str(live), "--session",
                     str(tmp_path / "u.cgsession"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    recorded = events(live)
    lost = [e for e in recorded if e.get("alarm") == "sim.device_lost"]
    assert [e["type"] for e in lost] == ["alarm.raised", "alarm.cleared"]
    assert lost[0]["priority"] == "high" and lost[0]["category"] == "technical"
    assert 295 <= lost[0]["t"] <= 310  # the scenario pulls the plug at 300 s
    after = [e for e in recorded if e["type"] == "device.connected" and e["t"] > lost[0]["t"]]
    assert after, "the device was not read again after the replug"
