"""End to end in a real terminal: ``cryoguard demo`` inside tmux, driven by key presses.

The screen must show readings and an alarm; ``a`` must acknowledge (an ``alarm.acknowledged``
event in ``--events-out``); ``q`` then ``y`` must quit with status 0 and give the shell back its
normal screen and terminal mode. Skipped only when tmux or ``cryoguard demo`` is missing, and
never under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.display.render import BIG_DIGITS

CI = os.environ.get("CI") == "true"
CRYOGUARD = Path(sys.executable).with_name("cryoguard")
PROMPT = "READY$ "


def _demo_missing() -> str | None:
    if shutil.which("tmux") is None:
        return "tmux is not installed (apt-get install tmux)"
    if not CRYOGUARD.exists():
        return f"{CRYOGUARD} is not installed"
    helptext = subprocess.run([str(CRYOGUARD), "--help"], capture_output=True, text=True,
                              timeout=30).stdout
    if "demo" not in helptext.split():
        return "`cryoguard demo` does not exist yet"
    return None


class Tmux:
    """A private tmux server (its own socket) running one interactive shell."""

    def __init__(self, cwd: Path) -> None:
        self.socket = f"cg-display-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.cwd = cwd

    def cmd(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=True, timeout=10).stdout

    def start(self) -> None:
        shell = f"env PS1='{PROMPT}' bash --norc --noprofile"
        self.cmd("new-session", "-d", "-s", "main", "-x", "120", "-y", "40", "-c",
                 str(self.cwd), shell)

    def type(self, text: str, enter: bool = False) -> None:
        self.cmd("send-keys", "-t", "main", "-l", text)
        if enter:
            self.cmd("send-keys", "-t", "main", "Enter")

    def screen(self) -> str:
        return self.cmd("capture-pane", "-p", "-t", "main")

    def wait(self, what: str, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    reason = _demo_missing()
    if reason is not None:
        if CI:
            pytest.fail(f"the display test must run under CI: {reason}")
        pytest.skip(reason)
    server = Tmux(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def events(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.endswith("}"):
            out.append(json.loads(line))
    return out


_GLYPHS = {}
for _char, (_top, _bottom) in BIG_DIGITS.items():
    _cols = [i for i in range(len(_top)) if not (_top[i] == " " and _bottom[i] == " ")]
    if _cols:
        _GLYPHS[(_top[_cols[0]:_cols[-1] + 1], _bottom[_cols[0]:_cols[-1] + 1])] = _char


def read_big(top: str, bottom: str) -> str:
    """The number written in the display's two-row block digits."""
    width = max(len(top), len(bottom))
    top, bottom = top.ljust(width), bottom.ljust(width)
    out, start = [], None
    for i in range(width + 1):
        blank = i == width or (top[i] == " " and bottom[i] == " ")
        if blank and start is not None:
            out.append(_GLYPHS.get((top[start:i], bottom[start:i]), "?"))
            start = None
        elif not blank and start is None:
            start = i
    return "".join(out)


def channel_value(screen: str, cid: str) -> float | str:
    """The value in a channel's row: block digits (two lines) or plain text."""
    lines = screen.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(f"{cid} "))
    top, bottom = lines[row], lines[row + 1] if row + 1 < len(lines) else ""
    # The value column sits between the role (after column 31) and the trend column.
    cut = top.index(" nerve ") + 7 if " nerve " in top else 31
    end = min(i for i in (top.find("⇊"), top.find("↓"), top.find("→"), top.find("↑"),
                          top.find("⇈"), len(top)) if i >= 0)
    text = read_big(top[cut:end], bottom[cut:end]) if "█" in top + bottom else \
        top[cut:end].replace("°C", "").strip()
    try:
        return float(text)
    except ValueError:
        return text


def exit_line(screen: str) -> str | None:
    """The ``EXIT=<status>`` line the shell printed (not the echoed command that asks for it)."""
    return next((line.strip() for line in screen.splitlines()
                 if re.fullmatch(r"EXIT=\d+", line.strip())), None)


def test_demo_in_a_real_terminal_acknowledge_and_quit(tmux: Tmux, tmp_path: Path) -> None:
    tmux.wait("the shell", lambda s: PROMPT.strip() in s)
    tmux.type("stty -g > before.txt", enter=True)
    out = tmp_path / "events.jsonl"
    tmux.type(f"{CRYOGUARD} demo --speed 20 --events-out {out} --session s.cgsession;"
              " echo EXIT=$?; stty -g > after.txt", enter=True)

    # Readings and an alarm on screen.
    def alarm_shown(screen: str) -> bool:
        return "CRYOGUARD" in screen and any(
            line.lstrip().startswith(("*** HIGH", "**  MEDIUM", "*   LOW"))
            for line in screen.splitlines())
    screen = tmux.wait("readings and an alarm", alarm_shown, timeout=25)
    assert "devices: sim connected" in screen
    n1, n2 = channel_value(screen, "N1"), channel_value(screen, "N2")
    assert isinstance(n1, float) and -40.0 < n1 < 40.0, screen
    assert isinstance(n2, float) and 35.0 < n2 < 38.5, screen  # the far needle stays warm
    raised = [e for e in events(out) if e["type"] == "alarm.raised"]
    assert raised, "the screen shows an alarm the event stream does not have"

    # a: acknowledge all.
    tmux.type("a")
    deadline = time.monotonic() + 10
    while not any(e["type"] == "alarm.acknowledged" for e in events(out)):
        assert time.monotonic() < deadline, "no alarm.acknowledged event after pressing a"
        time.sleep(0.1)
    tmux.wait("ACK on the alarm lines", lambda s: " ACK " in s, timeout=5)

    # q asks, any other key goes back, q then y quits.
    tmux.type("q")
    tmux.wait("the quit question", lambda s: "quit? (y/n)" in s, timeout=5)
    tmux.type("n")
    tmux.wait("the keys again", lambda s: "a ack all" in s and "quit?" not in s, timeout=5)
    tmux.type("q")
    tmux.wait("the quit question", lambda s: "quit? (y/n)" in s, timeout=5)
    tmux.type("y")
    screen = tmux.wait("the shell back", lambda s: exit_line(s) is not None, timeout=15)
    assert exit_line(screen) == "EXIT=0"
    assert "CRYOGUARD" not in screen  # the alternate screen is gone
    assert "ALARMS" not in screen
    tmux.wait("the prompt", lambda s: s.rstrip().endswith(PROMPT.strip()), timeout=5)
    before = (tmp_path / "before.txt").read_text().strip()
    after = (tmp_path / "after.txt").read_text().strip()
    assert before == after  # cbreak undone: the terminal is as the shell left it
    types = [e["type"] for e in events(out)]
    assert types[-1] == "session.ended"
