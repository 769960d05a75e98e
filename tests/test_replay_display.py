"""A paced replay in a real terminal shows the live display, read-only; --headless does not."""

from __future__ import annotations

import json
from pathlib import Path

from tests.daemon_helpers import cryoguard
from tests.test_display_tmux import CRYOGUARD, PROMPT, Tmux, exit_line, tmux  # noqa: F401


def _session(tmp_path: Path) -> Path:
    session = tmp_path / "r.cgsession"
    proc = cryoguard("demo", "--headless", "--speed", "60", "--rate", "4", "--duration",
                     "240", "--session", str(session))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return session


def test_paced_replay_shows_the_display_and_keys_cannot_change_it(
        tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811 - the fixture imported above
    session = _session(tmp_path)
    out = tmp_path / "replayed.jsonl"
    tmux.wait("the shell", lambda s: PROMPT.strip() in s)
    tmux.type(f"{CRYOGUARD} replay {session} --speed 40 --events-out {out}; echo EXIT=$?",
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


def test_headless_replay_logs_instead(tmp_path: Path) -> None:
    session = _session(tmp_path)
    proc = cryoguard("replay", str(session), "--speed", "100", "--headless")
    assert proc.returncode == 0, proc.stderr
    assert "below warning" in proc.stderr and "\x1b[?1049h" not in proc.stdout
