"""What a protocol parser produces: raw per-position results, before channel ids and times.

Parsers never build :class:`monitor.model.Reading` themselves: they do not know channel ids or
the clock, which keeps them pure (bytes in, results out) and reusable by the simulators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from monitor.model import Status

#: A position in a device scan (``int``) or the key of a keyed line (``str``).
Key = int | str


@dataclass(frozen=True, slots=True)
class ParsedValue:
    """One channel's result in a scan: a temperature only when ``status`` is OK."""

    key: Key
    temp_c: float | None
    status: Status

    def __post_init__(self) -> None:
        # Enforce the model's rule here too, so no parser can leak a number with a fault
        # status or a non-finite "temperature".
        if self.status is Status.OK:
            if self.temp_c is None or not math.isfinite(self.temp_c):
                object.__setattr__(self, "status", Status.BAD_DATA)
                object.__setattr__(self, "temp_c", None)
        elif self.temp_c is not None:
            object.__setattr__(self, "temp_c", None)


def ok(key: Key, temp_c: float) -> ParsedValue:
    return ParsedValue(key, temp_c, Status.OK)


def fault(key: Key, status: Status) -> ParsedValue:
    return ParsedValue(key, None, status)


@dataclass(frozen=True, slots=True)
class ParsedScan:
    """One frame from a device: its values plus notes on anything malformed.

    A frame that yielded no values at all has an empty ``values`` and at least one note.
    """

    values: tuple[ParsedValue, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def is_bad(self) -> bool:
        """True for a frame that produced nothing usable (reported as bad data)."""
        return not self.values and bool(self.notes)


def bad_frame(note: str) -> ParsedScan:
    return ParsedScan((), (note,))
