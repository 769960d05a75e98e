"""A private tmux server for the tests that drive a real terminal (display, daemon keys)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

PROMPT = "READY$ "  # the shell's prompt inside the server: the tests wait for it


class Tmux:
    """A private tmux server (its own socket) running one interactive shell."""

    def __init__(self, cwd: Path) -> None:
        self.socket = f"cg-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.cwd = cwd

    def cmd(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=True, timeout=10).stdout

    def start(self, width: int = 120, height: int = 40) -> None:
        shell = f"env PS1='{PROMPT}' bash --norc --noprofile"
        self.cmd("new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height), "-c",
                 str(self.cwd), shell)

    def type(self, text: str, enter: bool = False) -> None:
        self.cmd("send-keys", "-t", "main", "-l", text)
        if enter:
            self.cmd("send-keys", "-t", "main", "Enter")

    def key(self, name: str) -> None:
        self.cmd("send-keys", "-t", "main", name)

    def screen(self) -> str:
        return self.cmd("capture-pane", "-p", "-t", "main")

    def server_pid(self) -> int:
        return int(self.cmd("display-message", "-p", "#{pid}").strip())

    def wait(self, what: str, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")

    def wait_for_frame(self, what: str, problems: Callable[[str], list[str]],
                       timeout: float = 20.0) -> str:
        """The first capture with no ``problems``; a timeout names what the last one lacked."""
        try:
            return self.wait(what, lambda screen: not problems(screen), timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nmissing: {problems(self.screen())}") from None

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)
