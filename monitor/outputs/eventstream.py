"""The event stream: JSON Lines, one object per event, flushed per event (docs/architecture.md).

``--events-out FILE`` never mixes two sessions silently: an existing non-empty file is refused
unless ``--append`` is given (then new lines go at its end). A new file is private (0600) and a
symlink is never followed (:mod:`monitor.files`). An existing named pipe or character device is
written as it is (a consumer reading a FIFO, ``/dev/null``).
"""

from __future__ import annotations

import os
import stat
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from monitor.errors import CryoGuardError, UsageError
from monitor.files import UnsafePathError, open_private_text
from monitor.model import Event, record_line


def open_event_stream(target: str, *, append: bool = False,
                      stdout: IO[str] | None = None) -> tuple[IO[str], bool]:
    """The stream for ``--events-out TARGET`` and whether the caller owns (closes) it.

    ``-`` is standard output. Raises :class:`UsageError` (exit 2) for an existing non-empty
    file without ``append`` or a symlink, :class:`CryoGuardError` when it cannot be opened.
    """
    if target == "-":
        return (stdout if stdout is not None else sys.stdout), False
    path = Path(target)
    try:
        stream = _open_pipe_or_device(path)
        if stream is not None:
            return stream, True
        if not append and path.is_file() and path.stat().st_size > 0:
            raise UsageError(f"--events-out {target}: the file exists and is not empty; "
                             "add --append to add to it, or choose another file")
        return open_private_text(path, exclusive=False, append=True), True
    except UnsafePathError as exc:
        raise UsageError(f"--events-out: {exc}") from exc
    except OSError as exc:
        raise CryoGuardError(f"cannot write events to {target}: "
                             f"{exc.strerror or exc}") from exc


def _open_pipe_or_device(path: Path) -> IO[str] | None:
    """An existing named pipe or character device (a consumer's FIFO, ``/dev/null``) is a
    stream, not a file holding data at rest: opened for writing as it is, never created,
    never through a symlink. ``None`` for anything else."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
        return None
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


class EventWriter:
    """Writes events to a file or to standard output (``-``), synchronously (replay)."""

    def __init__(self, target: str, wall_start: datetime | None, *,
                 append: bool = False) -> None:
        self.target = target
        self.wall_start = wall_start
        self.count = 0
        self._stream, self._owned = open_event_stream(target, append=append)

    def write(self, event: Event) -> dict[str, Any]:
        record = event.to_record(self.wall_start)
        self.write_record(record)
        return record

    def write_record(self, record: dict[str, Any]) -> None:
        self._stream.write(record_line(record) + "\n")
        self._stream.flush()
        self.count += 1

    def close(self) -> None:
        if self._owned:
            self._stream.close()
        else:
            self._stream.flush()
