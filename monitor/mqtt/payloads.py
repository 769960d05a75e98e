"""What goes on the wire, and how a viewer reads it back without trusting it.

Encoders turn engine state into the JSON of the MQTT contract (docs/mqtt.md). Decoders are for
``cryoguard watch``: a broker is shared, so any payload may be malformed or come from another
program, and a bad message is counted and skipped, never a crash and never a made-up number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from monitor.engine import AlarmView, Snapshot
from monitor.engine.channel import ChannelView
from monitor.model import Priority, Status

STALE = "STALE"  # the channel status on the wire when no valid reading came for too long


def _num(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def dumps(value: Any) -> bytes:
    """Compact JSON, UTF-8, never NaN (a NaN is not JSON and would break strict readers)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                      default=str).encode("utf-8")


def channel_status(view: ChannelView) -> str:
    """The device status by name; ``STALE`` for an OK channel that stopped delivering."""
    if view.stale and view.status is Status.OK:
        return STALE
    return view.status.name


def channel_payload(view: ChannelView) -> dict[str, Any]:
    """``channel/<id>``: exactly the contract's keys. ``temp_c`` is null when not valid."""
    return {
        "t": _num(view.t, 3),
        "temp_c": _num(view.temp_c, 3),
        "status": channel_status(view),
        "slope_c_per_min": _num(view.slope_c_per_min, 3),
        "seconds_to_limit": _num(view.seconds_to_limit, 1),
    }


def alarm_payload(alarm: AlarmView) -> dict[str, Any]:
    return {
        "alarm": alarm.id, "channel": alarm.channel, "condition": alarm.condition,
        "category": alarm.category, "priority": alarm.priority.label,
        "raised_t": _num(alarm.raised_t, 3), "active": alarm.active,
        "acknowledged": alarm.acknowledged, "value": _num(alarm.value, 3),
        "limit": _num(alarm.limit, 3), "message": alarm.message,
    }


def alarms_payload(alarms: Iterable[AlarmView]) -> list[dict[str, Any]]:
    """``alarms``: every alarm the bedside display shows (latched ones with ``active`` false),
    most urgent first."""
    return [alarm_payload(a) for a in alarms]


def info_payload(station: str, header: Mapping[str, Any], snapshot: Snapshot
                 ) -> dict[str, Any]:
    """``info`` (retained): what a remote view needs besides readings and alarms: channel
    labels and roles, devices, the audio state, and the session header's display keys."""
    audio = snapshot.audio
    info: dict[str, Any] = {
        "station": station,
        "mode": header.get("mode"),
        "started": header.get("started"),
        "speed": header.get("speed"),
        "channels": [{"id": c.id, "label": c.label, "role": c.role}
                     for c in snapshot.channels],
        "devices": [list(d) for d in snapshot.devices],
        "audio": {"paused": audio.paused, "paused_until": _num(audio.paused_until, 3),
                  "sounding": audio.sounding.label if audio.sounding is not None else None},
    }
    for key in ("levels", "phase_targets"):
        if isinstance(header.get(key), Mapping):
            info[key] = header[key]
    return info


# Decoding (watch) ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RemoteChannel:
    id: str
    t: float | None
    temp_c: float | None
    status: str
    slope_c_per_min: float | None
    seconds_to_limit: float | None


def _loads(payload: bytes) -> Any:
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def decode_channel(channel_id: str, payload: bytes) -> RemoteChannel | None:
    data = _loads(payload)
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        return None
    status = data["status"].upper()
    temp = _opt_float(data.get("temp_c"))
    if status != Status.OK.name:
        temp = None  # a fault never carries a number, whatever the sender wrote
    elif temp is None:
        return None  # "OK" without a valid temperature is not a reading
    return RemoteChannel(channel_id, _opt_float(data.get("t")), temp, status,
                         _opt_float(data.get("slope_c_per_min")),
                         _opt_float(data.get("seconds_to_limit")))


def _decode_alarm(item: Any) -> AlarmView | None:
    if not isinstance(item, dict):
        return None
    alarm_id = item.get("alarm")
    if not isinstance(alarm_id, str) or not alarm_id:
        return None
    try:
        priority = Priority.parse(str(item.get("priority", "")))
    except KeyError:
        return None
    channel, _, condition = alarm_id.partition(".")
    raised = _opt_float(item.get("raised_t"))
    return AlarmView(
        id=alarm_id, channel=str(item.get("channel") or channel),
        condition=str(item.get("condition") or condition),
        category=str(item.get("category") or ""), priority=priority,
        raised_t=raised if raised is not None else 0.0,
        active=item.get("active") is not False, acknowledged=item.get("acknowledged") is True,
        value=_opt_float(item.get("value")), limit=_opt_float(item.get("limit")),
        message=str(item.get("message") or alarm_id))


def decode_alarms(payload: bytes) -> list[AlarmView] | None:
    """The alarm list, or ``None`` when the payload is not one (an empty list is valid)."""
    data = _loads(payload)
    if not isinstance(data, list):
        return None
    alarms = [_decode_alarm(item) for item in data]
    if any(a is None for a in alarms):
        return None
    return [a for a in alarms if a is not None]


def decode_info(payload: bytes) -> tuple[dict[str, tuple[str, str]], dict[str, Any]] | None:
    """Channel id → (label, role), and the whole object; ``None`` for a malformed payload."""
    data = _loads(payload)
    if not isinstance(data, dict) or not isinstance(data.get("channels"), list):
        return None
    labels: dict[str, tuple[str, str]] = {}
    for item in data["channels"]:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            labels[item["id"]] = (str(item.get("label") or item["id"]),
                                  str(item.get("role") or "other"))
    return labels, data


def decode_event(payload: bytes) -> dict[str, Any] | None:
    data = _loads(payload)
    return data if isinstance(data, dict) and isinstance(data.get("type"), str) else None
