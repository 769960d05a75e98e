"""A pseudo-terminal behind a stable symlink: the stand-in for a USB serial adapter.

Like ``/dev/serial/by-id/...`` the symlink stays while the device behind it changes:
:meth:`PtyLink.unplug` closes the master (the reader sees an error or EOF, as with a pulled USB
cable) and removes the link; :meth:`PtyLink.replug` makes a new pty behind the same path.
"""

from __future__ import annotations

import contextlib
import os
import termios
import tty
from pathlib import Path


class PtyLink:
    """Owns the master side of a pty; the slave path is published as ``link``."""

    def __init__(self, link: str | os.PathLike[str]) -> None:
        self.link = Path(link)
        self.master_fd: int | None = None
        self.slave_name: str | None = None
        self._slave_fd: int | None = None
        self.plug()

    # Lifecycle ---------------------------------------------------------------------------

    def plug(self) -> None:
        """Create a fresh pty and point the symlink at its slave (a replug)."""
        if self.master_fd is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline: bytes pass as on a real UART
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        os.set_blocking(master, False)
        self.master_fd = master
        self.slave_name = os.ttyname(slave)
        # Keeping our own slave fd open stops the master reading EIO before a reader opens it.
        self._slave_fd = slave
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self.slave_name)
        tmp.replace(self.link)

    def unplug(self) -> None:
        """Close the master and remove the link: the reader loses its device."""
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        for fd in (self.master_fd, self._slave_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master_fd = None
        self._slave_fd = None
        self.slave_name = None

    def replug(self) -> None:
        self.unplug()
        self.plug()

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> PtyLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def plugged(self) -> bool:
        return self.master_fd is not None

    # IO on the device side ---------------------------------------------------------------

    def write(self, data: bytes) -> int:
        """Write what the device sends; returns bytes written (0 when the buffer is full)."""
        if self.master_fd is None:
            return 0
        try:
            return os.write(self.master_fd, data)
        except BlockingIOError:
            return 0

    def read(self, size: int = 4096) -> bytes:
        """Bytes the host wrote to the device; empty when there are none."""
        if self.master_fd is None:
            return b""
        try:
            return os.read(self.master_fd, size)
        except (BlockingIOError, OSError):
            return b""

    def fileno(self) -> int:
        if self.master_fd is None:
            raise OSError("pty is unplugged")
        return self.master_fd
