"""Readings and events: the vocabulary every part of CryoGuard shares.

A reading always carries a status; its value is ``None`` unless the device said the
value is good. Nothing in CryoGuard encodes a fault as a number (no -1, no NaN).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class Status(enum.IntEnum):
    """Quality of one reading, as the device (or the parser) reported it."""

    OK = 0
    OPEN = 1
    SHORT = 2
    OVER_RANGE = 3
    UNDER_RANGE = 4
    BAD_DATA = 5

    @classmethod
    def parse(cls, text: str) -> Status:
        """Accept the names used in CSV files and session files (case-insensitive)."""
        key = text.strip().upper().replace("-", "_").replace(" ", "_")
        aliases = {"OVER": "OVER_RANGE", "UNDER": "UNDER_RANGE", "BAD": "BAD_DATA", "": "OK"}
        return cls[aliases.get(key, key)]


class Role(enum.StrEnum):
    """Where a thermocouple sits, which decides the alarms it gets."""

    NERVE = "nerve"
    SKIN = "skin"
    PROBE = "probe"
    REFERENCE = "reference"
    OTHER = "other"


class Priority(enum.IntEnum):
    """IEC 60601-1-8 alarm priority; a larger number is more urgent."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def marker(self) -> str:
        """The ``***``/``**``/``*`` prefix monitors put before an alarm message."""
        return "*" * int(self)

    @classmethod
    def parse(cls, text: str) -> Priority:
        return cls[text.strip().upper()]


class Category(enum.StrEnum):
    PHYSIOLOGICAL = "physiological"
    TECHNICAL = "technical"


@dataclass(frozen=True, slots=True)
class Reading:
    """One thermocouple sample.

    ``t`` is seconds on the session clock; ``temp_c`` is ``None`` unless ``status`` is OK.
    """

    t: float
    channel: str
    temp_c: float | None
    status: Status = Status.OK

    def __post_init__(self) -> None:
        if self.status is Status.OK and self.temp_c is not None and math.isinf(self.temp_c):
            # Beyond any range: out of range on its side, like a device's OVER/UNDER.
            over = self.temp_c > 0
            object.__setattr__(self, "status", Status.OVER_RANGE if over else Status.UNDER_RANGE)
        if self.status is Status.OK and (self.temp_c is None or not math.isfinite(self.temp_c)):
            raise ValueError(f"an OK reading needs a finite temperature, got {self.temp_c!r}")
        if self.status is not Status.OK and self.temp_c is not None:
            object.__setattr__(self, "temp_c", None)


class EventType(enum.StrEnum):
    """Every event type of the event stream (README.md "Event stream"; docs/engine.md)."""

    SESSION_STARTED = "session.started"
    SESSION_ENDED = "session.ended"
    DEVICE_CONNECTED = "device.connected"
    DEVICE_LOST = "device.lost"
    ALARM_RAISED = "alarm.raised"
    ALARM_CLEARED = "alarm.cleared"
    ALARM_ACKNOWLEDGED = "alarm.acknowledged"
    AUDIO_PAUSED = "audio.paused"
    AUDIO_RESUMED = "audio.resumed"
    CYCLE_PHASE = "cycle.phase"
    CYCLE_MARK = "cycle.mark"
    INTERVENTION = "intervention"  # CO2 or warm saline injected near the nerve
    NOTE = "note"  # free text from the operator


ALARM_EVENT_TYPES = frozenset(
    {EventType.ALARM_RAISED, EventType.ALARM_CLEARED, EventType.ALARM_ACKNOWLEDGED}
)


@dataclass(frozen=True, slots=True)
class Event:
    """Something the operator or a log reader must know about, at session time ``t``.

    ``fields`` holds the type-specific keys of the contract (for alarm events: ``alarm``,
    ``channel``, ``condition``, ``category``, ``priority``, ``value``, ``limit``, ``message``).
    The wall-clock ``time`` is added when the event is written out, because the engine has
    no wall clock.
    """

    t: float
    type: EventType
    fields: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def alarm(self) -> str | None:
        value = self.fields.get("alarm")
        return value if isinstance(value, str) else None

    def to_record(self, wall_start: datetime | None) -> dict[str, Any]:
        """The JSON object of the event stream: ``t``, ``time``, ``type`` and the fields."""
        record: dict[str, Any] = {"t": round(self.t, 6), "time": wall_time(wall_start, self.t),
                                  "type": str(self.type)}
        record.update(self.fields)
        return record



def celsius(value: float) -> str:
    """A temperature as shown to people, to 0.1 °C: ``-0.04`` reads ``0.0``, never ``-0.0``
    (a sign on zero looks like a reading below freezing that is not there)."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def wall_time(wall_start: datetime | None, t: float) -> str | None:
    """ISO 8601 UTC wall time of session time ``t`` (``None`` when the start is unknown)."""
    if wall_start is None:
        return None
    moment = wall_start + timedelta(seconds=t)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)


def record_line(record: Mapping[str, Any]) -> str:
    """One event-stream line (strict JSON). Never raises: it runs on the alarm path, so a
    non-finite number, which JSON cannot carry, is written as null."""
    try:
        return json.dumps(record, ensure_ascii=False, allow_nan=False)
    except ValueError:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in record.items()}
        return json.dumps(clean, ensure_ascii=False, default=str)
