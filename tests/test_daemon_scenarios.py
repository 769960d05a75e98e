"""A scenario end to end through the CLI: emulated device on a pty, real driver, engine,
recorder, then ``cryoguard replay`` of the session file.

Every scenario runs on the session core in tests/test_daemon_core.py (fast, injected clock);
here one whose device is unplugged and replugged goes through the real processes: the demo must
raise the alarms its scenario documents and none it rules out, and replaying the recorded
session must give the same alarm events (type, alarm, time).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.emulators.player import MAX_DEMO_SPEED
from simulators.scenarios import SCENARIOS
from tests.daemon_helpers import alarm_key, cryoguard, events, raised

WALL_S = 7.0  # wall seconds per scenario: speed = duration / WALL_S, at most the demo's cap


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", ["unplug"])
def test_scenario_end_to_end_and_replay_identical(name: str, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    speed = min(MAX_DEMO_SPEED, max(20.0, scenario.duration_s / WALL_S))
    live = tmp_path / "live.jsonl"
    session = tmp_path / "s.cgsession"
    proc = cryoguard("demo", "--scenario", name, "--headless", "--speed", f"{speed:g}",
                     "--rate", "2", "--events-out", str(live), "--session", str(session))
    assert proc.returncode == 0, proc.stderr[-2000:]
    recorded = events(live)
    assert recorded[0]["type"] == "session.started"
    assert recorded[-1]["type"] == "session.ended"
    got = raised(recorded)
    missing = scenario.expected.raised - got
    assert not missing, f"{name}: expected alarms not raised: {sorted(missing)}"
    unexpected = scenario.expected.not_raised & got
    assert not unexpected, f"{name}: alarms that must not be raised: {sorted(unexpected)}"
    replayed = tmp_path / "replay.jsonl"
    proc = cryoguard("replay", str(session), "--events-out", str(replayed), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert alarm_key(events(replayed)) == alarm_key(recorded)
