"""``mqtt[s]://[user:pass@]host[:port]/station``: where to publish, and as which station.

Parsed once at start so a typo is an exit-2 usage error naming the part that is wrong, not a
broker outage alarm an hour later. The password is kept out of every printed form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from monitor.errors import UsageError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# The same rule as [station] name in the config: it becomes a topic level and a file name.
STATION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class MqttUrlError(UsageError):
    """A malformed ``--mqtt`` URL (exit status 2)."""


@dataclass(frozen=True, slots=True)
class MqttUrl:
    scheme: str  # "mqtt" or "mqtts"
    host: str
    port: int
    station: str | None = None
    username: str | None = None
    password: str | None = None

    @property
    def tls(self) -> bool:
        return self.scheme == "mqtts"

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def redacted(self) -> str:
        """The URL for logs and alarm messages: the password never appears."""
        user = f"{self.username}{':***' if self.password is not None else ''}@" \
            if self.username is not None else ""
        return f"{self.scheme}://{user}{self.address}/{self.station or ''}"


def check_station(name: str) -> str:
    if not STATION_RE.match(name):
        raise MqttUrlError(f"station {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit (it becomes an MQTT topic level)")
    return name


def parse_mqtt_url(text: str) -> MqttUrl:
    """Parse and check an MQTT URL; the station part may be empty (``mqtt://host/``)."""
    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise MqttUrlError(f"bad MQTT URL {_safe(raw)!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise MqttUrlError(f"bad MQTT URL {_safe(raw)!r}: it must start with mqtt:// or "
                           "mqtts://")
    host = parts.hostname
    if not host:
        raise MqttUrlError(f"bad MQTT URL {_safe(raw)!r}: no broker host")
    if port == 0:
        raise MqttUrlError(f"bad MQTT URL {_safe(raw)!r}: port 0")
    if "?" in raw or "#" in raw:
        raise MqttUrlError(f"bad MQTT URL {_safe(raw)!r}: no '?' query or '#' allowed (the "
                           "path is one station name; percent-encode such characters in a "
                           "password)")
    path = unquote(parts.path)
    station: str | None = path[1:] if path.startswith("/") else path
    if station == "":
        station = None
    elif station is not None:
        if "/" in station:
            raise MqttUrlError(f"bad MQTT URL {_safe(raw)!r}: the path must be one station "
                               f"name, got {station!r}")
        check_station(station)
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return MqttUrl(scheme, host, port if port is not None else DEFAULT_PORTS[scheme], station,
                   username or None, password)


def _safe(text: str) -> str:
    """The URL as typed, with any password masked, for error messages."""
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", text)
