"""Home Assistant MQTT discovery: a hospital dashboard shows the channels without YAML.

With ``[mqtt] discovery = true`` a station publishes, retained, one ``sensor`` config per
channel (``homeassistant/sensor/cryoguard_<station>_<channel>/config``: the channel's
``temp_c`` in °C, its status and trend as attributes) and one ``binary_sensor`` for the
station's alarm state (on while the bedside shows any alarm). Both follow the station's
``status`` topic for availability, whose ``online``/``offline`` are Home Assistant's defaults.
A channel that leaves the station's list gets an empty retained config, which removes its
entity; ``discovery = false`` set explicitly clears every config of the station's channels.
Keys and types follow Home Assistant's MQTT schemas (docs/mqtt.md, "Home Assistant").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from monitor import __version__
from monitor.engine import Snapshot
from monitor.mqtt.topics import Topics

PREFIX = "homeassistant"
EXPIRE_AFTER_S = 5  # a channel state older than this is "unavailable" (states come at 2 Hz)
_OBJECT_ID = re.compile(r"[^a-zA-Z0-9_-]")  # Home Assistant's discovery topic allows these


def object_id(station: str, name: str) -> str:
    """``cryoguard_<station>_<name>`` with anything but ``[a-zA-Z0-9_-]`` made ``_`` (a station
    name may hold '.')."""
    return _OBJECT_ID.sub("_", f"cryoguard_{station}_{name}")


def sensor_topic(station: str, channel: str) -> str:
    return f"{PREFIX}/sensor/{object_id(station, channel)}/config"


def alarm_topic(station: str) -> str:
    return f"{PREFIX}/binary_sensor/{object_id(station, 'alarm')}/config"


def _device(station: str) -> dict[str, Any]:
    return {"identifiers": [object_id(station, "station")], "name": f"CryoGuard {station}",
            "manufacturer": "CryoGuard", "model": "intraprocedural temperature monitor",
            "sw_version": __version__}


def sensor_config(station: str, channel: str, label: str, role: str) -> dict[str, Any]:
    topics = Topics(station)
    return {
        "name": f"{label or channel} ({role})" if role else (label or channel),
        "unique_id": object_id(station, channel),
        "state_topic": topics.channel(channel),
        # temp_c is null for a fault or a stale channel: Home Assistant shows "unknown",
        # never a number (the status is an attribute).
        "value_template": "{{ value_json.temp_c }}",
        "json_attributes_topic": topics.channel(channel),
        "unit_of_measurement": "°C",
        "device_class": "temperature",
        "state_class": "measurement",
        "expire_after": EXPIRE_AFTER_S,
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": _device(station),
        "origin": {"name": "CryoGuard", "sw_version": __version__},
    }


def alarm_config(station: str) -> dict[str, Any]:
    topics = Topics(station)
    return {
        "name": "alarm",
        "unique_id": object_id(station, "alarm"),
        "state_topic": topics.alarms,
        "value_template": "{{ 'ON' if value_json | length > 0 else 'OFF' }}",
        "payload_on": "ON",
        "payload_off": "OFF",
        "device_class": "problem",
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": _device(station),
        "origin": {"name": "CryoGuard", "sw_version": __version__},
    }


class Discovery:
    """Which discovery configs to publish or clear as the channel list changes.

    ``enabled``: ``[mqtt] discovery`` (``None`` when the key is absent: nothing is sent;
    ``False`` set explicitly: the configs of this station's channels are cleared).
    """

    def __init__(self, station: str, enabled: bool | None) -> None:
        self.station = station
        self.enabled = enabled is True
        self.clearing = enabled is False
        self._sent: dict[str, tuple[str, str] | None] = {}  # channel -> (label, role) or None
        self._alarm_sent = False

    def changes(self, snapshot: Snapshot) -> list[tuple[str, Mapping[str, Any] | None]]:
        """(topic, config or ``None`` to clear) to publish for this snapshot."""
        if not (self.enabled or self.clearing):
            return []
        out: list[tuple[str, Mapping[str, Any] | None]] = []
        if not self._alarm_sent:
            self._alarm_sent = True
            out.append((alarm_topic(self.station),
                        alarm_config(self.station) if self.enabled else None))
        now = {c.id: (c.label, c.role) for c in snapshot.channels}
        for cid, (label, role) in now.items():
            want = (label, role) if self.enabled else None
            if cid not in self._sent or self._sent[cid] != want:
                out.append((sensor_topic(self.station, cid),
                            sensor_config(self.station, cid, label, role) if self.enabled
                            else None))
                self._sent[cid] = want
        for cid in [c for c in self._sent if c not in now]:
            if self._sent.pop(cid) is not None:
                out.append((sensor_topic(self.station, cid), None))  # removes the entity
        return out
