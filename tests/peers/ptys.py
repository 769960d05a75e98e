"""A pseudo-terminal for a peer: the driver opens the slave path, the peer owns the master.

Written for the peers only (no code shared with simulators/ptylink.py). ``MasterPort`` gives
the master side the small pyserial-like surface a synchronous server (uModbus) needs.
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import time
import tty
from pathlib import Path


class PeerPty:
    """One pty; ``path`` is a symlink to its slave, like /dev/serial/by-id/..."""

    def __init__(self, path: Path) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        attrs = termios.tcgetattr(self._slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        os.set_blocking(self.master, False)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(os.ttyname(self._slave))

    def read(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 0.05)
                continue
            view = view[n:]

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class MasterPort:
    """read/write with serial-style timeouts on a pty master, for a blocking server thread."""

    def __init__(self, pty: PeerPty, baudrate: int = 9600) -> None:
        self.pty = pty
        self.baudrate = baudrate
        self.timeout: float | None = 0.05
        self.inter_byte_timeout: float | None = 0.002

    def read(self, size: int = 1) -> bytes:
        out = b""
        deadline = time.monotonic() + (self.timeout or 0.0)
        while len(out) < size:
            wait = (deadline - time.monotonic()) if not out else (self.inter_byte_timeout or 0)
            if wait <= 0:
                break
            ready, _, _ = select.select([self.pty.master], [], [], wait)
            if not ready:
                break
            out += self.pty.read()[: size - len(out)]
        return out

    def write(self, data: bytes) -> int:
        self.pty.write(bytes(data))
        return len(data)
