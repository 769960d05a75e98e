"""Operator and device inputs of the engine, as typed values that record as (kind, payload).

Each input is a small frozen dataclass: what it means (``apply``), how it is recorded (its
``kind`` and a JSON ``payload``) and how a recorded one reads back (:func:`parse_input`). The
daemon records an input and applies the same value; a replay reads the recorded ones back and
applies them in the recorded order, so both give the same events. The payloads are the session
file's (docs/architecture.md); sessions recorded before these types existed replay unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from monitor.engine import Engine
from monitor.model import Event
from monitor.sessions.schema import InputKind

OPERATOR = "operator"  # who acted, when a recorded input does not say


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Silence the audio of all current alarms (``alarm`` None) or of one alarm."""

    alarm: str | None = None
    by: str = OPERATOR
    kind: ClassVar[InputKind] = InputKind.ACK

    def payload(self) -> dict[str, Any]:
        return {"alarm": self.alarm, "by": self.by}

    def apply(self, engine: Engine, t: float) -> list[Event]:
        return engine.acknowledge(t, self.alarm, by=self.by)


@dataclass(frozen=True, slots=True)
class PauseAudio:
    """The audio pause (120 s by default)."""

    by: str = OPERATOR
    kind: ClassVar[InputKind] = InputKind.PAUSE

    def payload(self) -> dict[str, Any]:
        return {"by": self.by}

    def apply(self, engine: Engine, t: float) -> list[Event]:
        return engine.pause_audio(t, by=self.by)


@dataclass(frozen=True, slots=True)
class Mark:
    """A procedure mark: ``freeze``, ``thaw``, ``active-thaw`` or ``end``."""

    mark: str
    by: str = OPERATOR
    kind: ClassVar[InputKind] = InputKind.MARK

    def payload(self) -> dict[str, Any]:
        return {"mark": self.mark, "by": self.by}

    def apply(self, engine: Engine, t: float) -> list[Event]:
        return engine.mark(t, self.mark, by=self.by)


@dataclass(frozen=True, slots=True)
class Intervention:
    """Thermal protection given near the nerve: ``co2`` or warm ``saline``.

    ``what`` is recorded under the payload key ``kind`` (the event's ``kind`` field)."""

    what: str
    by: str = OPERATOR
    kind: ClassVar[InputKind] = InputKind.INTERVENTION

    def payload(self) -> dict[str, Any]:
        return {"kind": self.what, "by": self.by}

    def apply(self, engine: Engine, t: float) -> list[Event]:
        return engine.intervention(t, self.what, by=self.by)


@dataclass(frozen=True, slots=True)
class Note:
    """Free text from the operator, one line."""

    text: str
    by: str = OPERATOR
    kind: ClassVar[InputKind] = InputKind.NOTE

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "by": self.by}

    def apply(self, engine: Engine, t: float) -> list[Event]:
        return engine.note(t, self.text, by=self.by)


@dataclass(frozen=True, slots=True)
class DeviceConnected:
    """The device answers (again); ``detail`` says what it is."""

    device: str
    detail: str = ""
    kind: ClassVar[InputKind] = InputKind.DEVICE_CONNECTED

    def payload(self) -> dict[str, Any]:
        return {"device": self.device, "detail": self.detail}

    def apply(self, engine: Engine, t: float) -> list[Event]:
        return engine.device_connected(t, self.device, self.detail)


@dataclass(frozen=True, slots=True)
class DeviceLost:
    """The device stopped answering (unplugged, read error, silence)."""

    device: str
    reason: str = ""
    kind: ClassVar[InputKind] = InputKind.DEVICE_LOST

    def payload(self) -> dict[str, Any]:
        return {"device": self.device, "reason": self.reason}

    def apply(self, engine: Engine, t: float) -> list[Event]:
        return engine.device_lost(t, self.device, self.reason)


@dataclass(frozen=True, slots=True)
class DeviceBadData:
    """A frame from the device that gave no reading at all."""

    device: str
    detail: str = ""
    kind: ClassVar[InputKind] = InputKind.DEVICE_BAD_DATA

    def payload(self) -> dict[str, Any]:
        return {"device": self.device, "detail": self.detail}

    def apply(self, engine: Engine, t: float) -> list[Event]:
        return engine.device_bad_data(t, self.device, self.detail)


Input = (Acknowledge | PauseAudio | Mark | Intervention | Note | DeviceConnected | DeviceLost
         | DeviceBadData)


def _text(payload: Mapping[str, Any], key: str, default: str = "") -> str:
    value = payload.get(key)
    return default if value is None else str(value)


_READERS: Mapping[str, Callable[[Mapping[str, Any]], Input]] = {
    InputKind.ACK: lambda p: Acknowledge(
        str(p["alarm"]) if p.get("alarm") else None, _text(p, "by", OPERATOR)),
    InputKind.PAUSE: lambda p: PauseAudio(_text(p, "by", OPERATOR)),
    InputKind.MARK: lambda p: Mark(_text(p, "mark"), _text(p, "by", OPERATOR)),
    InputKind.INTERVENTION: lambda p: Intervention(_text(p, "kind"), _text(p, "by", OPERATOR)),
    InputKind.NOTE: lambda p: Note(_text(p, "text"), _text(p, "by", OPERATOR)),
    InputKind.DEVICE_CONNECTED: lambda p: DeviceConnected(_text(p, "device"),
                                                          _text(p, "detail")),
    InputKind.DEVICE_LOST: lambda p: DeviceLost(_text(p, "device"), _text(p, "reason")),
    InputKind.DEVICE_BAD_DATA: lambda p: DeviceBadData(_text(p, "device"), _text(p, "detail")),
}


def parse_input(kind: str, payload: Mapping[str, Any]) -> Input | None:
    """The typed input of a recorded ``(kind, payload)``; ``None`` for a kind this version
    does not know (a newer file read by older code: skipped, as before)."""
    reader = _READERS.get(kind)
    if reader is None or not isinstance(payload, Mapping):
        return None
    return reader(payload)


def apply_input(engine: Engine, t: float, kind: str, payload: Mapping[str, Any]) -> list[Event]:
    """Run one recorded input through the engine (replay); an unknown kind is ignored."""
    value = parse_input(kind, payload)
    return [] if value is None else value.apply(engine, t)
