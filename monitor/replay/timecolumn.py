"""Time columns of other loggers' files, as session seconds.

Accepted (docs/replay.md): seconds (``t``, or a number with a unit suffix ``(ms)``, ``(min)``),
ISO 8601 date-times (``2024-05-01T10:00:00.5Z``, ``2024-05-01 10:00:00``), ``dd-mm-yyyy
hh:mm:ss`` (also with ``/`` or ``.``; a column whose second field exceeds 12 somewhere is read
month-first, and said so), ``yyyy/mm/dd hh:mm:ss``, clock times ``hh:mm:ss`` (a fall of more
than 12 h is the next day) and elapsed ``mm:ss`` (Artisan's ``Time1``). A date and a clock time
in separate columns are joined. Times without a zone are taken as UTC (the wall time only labels
events; the alarms depend on differences).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_ABS_T = 1e10
UNIX_FROM = 1e8  # a "timestamp" in seconds above this is Unix time (after 1973)
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_ISO = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?)?"
                  r"(Z|[+-]\d{2}:?\d{2})?$")
_DMY = re.compile(r"^(\d{1,2})[-./](\d{1,2})[-./](\d{4})(?:[ T,]+(\d{1,2}):(\d{2})"
                  r"(?::(\d{2})(?:[.,](\d+))?)?)?$")
_CLOCK = re.compile(r"^(\d+):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?$")
SECONDS_PER = {"s": 1.0, "sec": 1.0, "secs": 1.0, "seconds": 1.0, "ms": 1e-3, "µs": 1e-6,
               "us": 1e-6, "min": 60.0, "mins": 60.0, "minutes": 60.0, "h": 3600.0,
               "hr": 3600.0, "hours": 3600.0}


@dataclass(frozen=True)
class TimeFormat:
    """How a column's cells become seconds."""

    name: str  # "seconds", "unix", "iso", "dmy", "mdy", "clock", "elapsed"
    words: str  # for the note the user reads
    scale: float = 1.0


def number(cell: str) -> float | None:
    """A number with ``.`` or a decimal ``,`` (and a Unicode minus); ``None`` otherwise."""
    text = cell.strip().replace("\u2212", "-")
    if not _NUMBER.match(text):
        return None
    value = float(text.replace(",", "."))
    return value if math.isfinite(value) else None


def detect(cells: Sequence[str], unit: str | None, name: str) -> TimeFormat | None:
    """The format that reads (nearly) every non-empty cell of the column, or ``None``."""
    sample = [c.strip() for c in cells if c.strip()][:200]
    if not sample:
        return None
    scale = SECONDS_PER.get(unit or "s")
    candidates: list[TimeFormat] = []
    if scale is not None:
        values = [number(c) for c in sample]
        if _most(v is not None for v in values):
            found = [v for v in values if v is not None]
            if "stamp" in name and found and min(found) * scale >= UNIX_FROM:
                candidates.append(TimeFormat("unix", "Unix time in seconds", scale))
            else:
                candidates.append(TimeFormat("seconds", f"seconds ({unit or 's'})", scale))
    if _most(bool(_ISO.match(c)) for c in sample):
        candidates.append(TimeFormat("iso", "ISO 8601 date-time"))
    dmy = [_DMY.match(c) for c in sample]
    if _most(m is not None for m in dmy):
        month_first = any(m is not None and int(m.group(2)) > 12 for m in dmy)
        candidates.append(TimeFormat("mdy", "mm-dd-yyyy hh:mm:ss (a day above 12 in the "
                                     "second field)") if month_first else
                          TimeFormat("dmy", "dd-mm-yyyy hh:mm:ss"))
    clock = [_CLOCK.match(c) for c in sample]
    if _most(m is not None for m in clock):
        three = any(m is not None and m.group(3) is not None for m in clock)
        candidates.append(TimeFormat("clock", "hh:mm:ss") if three else
                          TimeFormat("elapsed", "elapsed mm:ss"))
    return candidates[0] if candidates else None


def looks_like_time(cell: str) -> bool:
    """A date-time, a date or a clock time (for telling data rows from a header)."""
    text = cell.strip()
    return bool(_ISO.match(text) or _DMY.match(text) or _CLOCK.match(text))


def _most(flags: object) -> bool:
    items = list(flags)  # type: ignore[call-overload]
    return bool(items) and sum(items) >= max(1.0, 0.9 * len(items) - 1.0)


def moment(fmt: TimeFormat, cell: str) -> datetime | float | None:
    """A cell as a datetime (calendar formats) or seconds (others); ``None`` if unreadable."""
    text = cell.strip()
    if fmt.name in ("seconds", "unix"):
        value = number(text)
        if value is None:
            return None
        value *= fmt.scale
        return value if abs(value) <= MAX_ABS_T else None
    if fmt.name == "iso":
        if not _ISO.match(text):
            return None
        try:
            return datetime.fromisoformat(text.replace("/", "-").replace(",", "."))
        except ValueError:
            return None
    if fmt.name in ("dmy", "mdy"):
        m = _DMY.match(text)
        if m is None:
            return None
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        day, month = (a, b) if fmt.name == "dmy" else (b, a)
        try:
            return datetime(year, month, day, int(m.group(4) or 0), int(m.group(5) or 0),
                            int(m.group(6) or 0), _micro(m.group(7)))
        except ValueError:
            return None
    m = _CLOCK.match(text)
    if m is None:
        return None
    fraction = _micro(m.group(4)) / 1e6
    if fmt.name == "elapsed" or m.group(3) is None:
        return int(m.group(1)) * 60.0 + int(m.group(2)) + fraction
    minutes, seconds = int(m.group(2)), int(m.group(3))
    if minutes > 59 or seconds > 59:
        return None
    return int(m.group(1)) * 3600.0 + minutes * 60.0 + seconds + fraction


def _micro(digits: str | None) -> int:
    return int((digits or "0")[:6].ljust(6, "0"))


def date_of(cell: str) -> datetime | None:
    """A date alone (``dd-mm-yyyy``, ``yyyy-mm-dd``), for a separate Date column."""
    text = cell.strip()
    m = _DMY.match(text)
    if m is not None and m.group(4) is None:
        try:
            return datetime(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            return None
    if _ISO.match(text) and len(text) <= 10:
        try:
            return datetime.fromisoformat(text.replace("/", "-"))
        except ValueError:
            return None
    return None


class Clock:
    """Turns a column's moments into session seconds from the first readable row."""

    def __init__(self, fmt: TimeFormat) -> None:
        self.fmt = fmt
        self.origin: datetime | float | None = None
        self.wall_start: datetime | None = None
        self.naive = False
        self._day = 0.0
        self._last_clock: float | None = None

    def seconds(self, value: datetime | float, date: datetime | None = None) -> float | None:
        if isinstance(value, float) and date is not None:
            value = date + timedelta(seconds=value)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                self.naive = True
                value = value.replace(tzinfo=UTC)
            if self.origin is None:
                self.origin = value
                self.wall_start = value
            if not isinstance(self.origin, datetime):
                return None
            try:
                return (value - self.origin).total_seconds()
            except OverflowError:
                return None
        if self.fmt.name == "clock":
            if self._last_clock is not None and value < self._last_clock - 43200.0:
                self._day += 86400.0  # past midnight
            self._last_clock = value
            value += self._day
        if self.fmt.name == "unix" and self.origin is None:
            self.origin = value
            try:
                self.wall_start = datetime.fromtimestamp(value, UTC)
            except (OverflowError, OSError, ValueError):
                self.wall_start = None
        if self.fmt.name in ("seconds",):
            return value
        if self.origin is None:
            self.origin = value
        return value - float(self.origin) if isinstance(self.origin, float) else None
