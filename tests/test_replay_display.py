"""A paced replay in a real terminal shows the live display, read-only; --headless does not.

The session is written by the real recorder from the demo scenario run through the engine
(monitor/report/simulated.py): the same file a demo records, without waiting for a daemon.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.report.simulated import record_scenario
from tests.test_display_tmux import CRYOGUARD, PROMPT, Tmux, exit_line, tmux  # noqa: F401


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "r.cgsession"
    record_scenario(path, "demo", rate_hz=4.0)
    return path


def test_paced_replay_shows_the_display_and_keys_cannot_change_it(
        tmux: Tmux, tmp_path: Path, session: Path) -> None:  # noqa: F811 - fixture
    out = tmp_path / "replayed.jsonl"
    tmux.wait("the shell", lambda s: PROMPT.strip() in s)
    tmux.type(f"{CRYOGUARD} replay {session} --speed 300 --events-out {out}; echo EXIT=$?",
              enter=True)
    screen = tmux.wait("the replay dashboard",
                       lambda s: "[replay]" in s and "L4 right neuroforamen" in s)
    assert "replay, read-only" in screen
    tmux.wait("an alarm on screen", lambda s: "below warning" in s, timeout=30)
    tmux.type("a")  # read-only: must not acknowledge anything
    tmux.type("q")
    tmux.wait("the quit question", lambda s: "quit? (y/n)" in s)
    tmux.type("y")
    screen = tmux.wait("the exit status", lambda s: exit_line(s) is not None)
    assert exit_line(screen) == "EXIT=0"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert any(r.get("alarm") == "N1.below_warning" for r in records)
    assert not [r for r in records if r["type"] == "alarm.acknowledged"]


def test_headless_replay_in_a_terminal_logs_instead(
        tmux: Tmux, session: Path) -> None:  # noqa: F811 - fixture
    tmux.wait("the shell", lambda s: PROMPT.strip() in s)
    tmux.type(f"{CRYOGUARD} replay {session} --speed 1000 --headless; echo EXIT=$?",
              enter=True)
    screen = tmux.wait("the exit status", lambda s: exit_line(s) is not None)
    assert exit_line(screen) == "EXIT=0"
    assert "alarm.raised" in screen and "below warning" in screen  # log lines
    assert "[replay]" not in screen and "read-only" not in screen  # no dashboard
