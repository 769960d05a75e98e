"""The live display in a real terminal (tmux): Ctrl-S cannot freeze it, and a terminal that
stops reading (tmux itself stopped, as when an SSH session stalls) is a high-priority technical
alarm while SIGTERM still ends the session within 3 s.

Skipped only when tmux is missing, and never under ``CI=true``.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.sessions.reader import open_session
from tests.daemon_helpers import CLI, events, until
from tests.tmux_helpers import PROMPT, Tmux

CI = os.environ.get("CI") == "true"
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None and not CI,
                                reason="tmux is not installed (apt-get install tmux)")


_until = functools.partial(until, poll_s=0.1)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(tmp_path)
    server.start()
    try:
        _until("the shell prompt", lambda: PROMPT.strip() in server.screen())
        yield server
    finally:
        server.kill()


def _demo_command(tmp_path: Path, *args: str) -> str:
    argv = [*CLI, "demo", "--speed", "5", "--events-out", str(tmp_path / "ev.jsonl"),
            "--session", str(tmp_path / "s.cgsession"), *args]
    return " ".join(shlex.quote(a) for a in argv)


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        return events(path)
    except (FileNotFoundError, ValueError):
        return []


def test_ctrl_s_does_not_freeze_the_screen(tmux: Tmux, tmp_path: Path) -> None:
    tmux.type(_demo_command(tmp_path) + f"; echo EXIT=$? > {tmp_path / 'exit'}", enter=True)
    _until("the dashboard", lambda: "N1" in tmux.screen() and "quit" in tmux.screen())
    tmux.key("C-s")  # XOFF: with flow control on, the terminal stops showing output
    time.sleep(0.3)
    frozen = tmux.screen()
    _until("the screen to change after Ctrl-S", lambda: tmux.screen() != frozen, 5.0)
    ev = tmp_path / "ev.jsonl"
    assert not [r for r in _records(ev) if r.get("alarm") == "display.output_failed"]
    tmux.type("q")
    _until("the quit question", lambda: "quit? (y/n)" in tmux.screen(), 5.0)
    tmux.type("y")
    _until("the exit status", lambda: (tmp_path / "exit").exists(), 10.0)
    assert (tmp_path / "exit").read_text().strip() == "EXIT=0"


def test_ctrl_c_asks_before_quitting(tmux: Tmux, tmp_path: Path) -> None:
    tmux.type(_demo_command(tmp_path) + f"; echo EXIT=$? > {tmp_path / 'exit'}", enter=True)
    _until("the dashboard", lambda: "N1" in tmux.screen() and "quit" in tmux.screen())
    tmux.key("C-c")
    _until("the quit question", lambda: "quit? (y/n)" in tmux.screen(), 5.0)
    tmux.type("n")  # no: monitoring goes on
    time.sleep(0.5)
    assert not (tmp_path / "exit").exists()
    assert "quit? (y/n)" not in tmux.screen()
    tmux.key("C-c")
    _until("the quit question again", lambda: "quit? (y/n)" in tmux.screen(), 5.0)
    tmux.type("y")
    _until("the exit status", lambda: (tmp_path / "exit").exists(), 10.0)
    assert (tmp_path / "exit").read_text().strip() == "EXIT=0"
    assert events(tmp_path / "ev.jsonl")[-1]["reason"] == "quit (display)"


def _state(pid: int) -> str:
    """``R``/``S``/... for a live process, ``Z`` once it has exited (its parent, the stopped
    tmux, cannot reap it yet), ``gone`` when it no longer exists."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"


def test_a_stopped_terminal_is_a_high_alarm_and_sigterm_ends_within_3_s(
        tmux: Tmux, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    tmux.type(f"echo $$ > {pidfile}; exec " + _demo_command(tmp_path), enter=True)
    _until("the dashboard", lambda: "N1" in tmux.screen() and "quit" in tmux.screen())
    pid = int(pidfile.read_text())
    server = tmux.server_pid()
    ev = tmp_path / "ev.jsonl"
    os.kill(server, signal.SIGSTOP)  # nobody reads the terminal any more
    try:
        stopped = time.monotonic()
        failed = _until("display.output_failed", lambda: next(
            (r for r in _records(ev) if r.get("alarm") == "display.output_failed"
             and r["type"] == "alarm.raised"), None), 15.0)
        assert failed["priority"] == "high"
        assert time.monotonic() - stopped < 5.0 + 1.5  # buffer fill + the 2 s watchdog
        os.kill(pid, signal.SIGTERM)
        signalled = time.monotonic()
        _until("the end", lambda: _state(pid) in ("Z", "gone"), 10.0)
        assert time.monotonic() - signalled < 3.0
    finally:
        os.kill(server, signal.SIGCONT)
    records = events(ev)
    assert records[-1]["type"] == "session.ended" and records[-1]["reason"] == "signal SIGTERM"
    with open_session(tmp_path / "s.cgsession") as session:
        assert session.closed_cleanly
