"""The event stream: JSON Lines, one object per event, flushed per event (DESIGN.md)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from monitor.errors import CryoGuardError
from monitor.model import Event, record_line


class EventWriter:
    """Writes events to a file or to standard output (``-``)."""

    def __init__(self, target: str, wall_start: datetime | None) -> None:
        self.target = target
        self.wall_start = wall_start
        self.count = 0
        if target == "-":
            self._stream: IO[str] = sys.stdout
            self._owned = False
        else:
            try:
                path = Path(target)
                if path.parent != Path():
                    path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = path.open("a", encoding="utf-8")
            except OSError as exc:
                raise CryoGuardError(f"cannot write events to {target}: {exc}") from exc
            self._owned = True

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
