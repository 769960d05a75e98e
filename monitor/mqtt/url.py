"""``mqtt[s]://[user:pass@]host[:port]/station``: where to publish, and as which station.

Parsed once at start so a typo is an exit-2 usage error naming the part that is wrong, not a
broker outage alarm an hour later. The password is kept out of every printed form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from monitor.errors import UsageError
from monitor.redact import redact_url, split_userinfo

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
    """Parse and check an MQTT URL; the station part may be empty (``mqtt://host/``).

    The user information runs to the last ``@`` (:mod:`monitor.redact`), so a password may
    hold ``@ / # ? [ ] :`` unencoded; ``%XX`` is decoded (write a literal ``%`` as ``%25``).
    Every error message shows the URL with the password masked.
    """
    raw = text.strip()
    shown = _shown(raw)
    prefix, user, password, rest = split_userinfo(raw)
    scheme = prefix[:-3].lower()
    if scheme not in DEFAULT_PORTS:
        raise MqttUrlError(f"bad MQTT URL {shown}: it must start with mqtt:// or mqtts://")
    if user is not None and any(c in user for c in "/?#[]"):
        raise MqttUrlError(f"bad MQTT URL {shown}: the part before '@' must be user or "
                           "user:password")
    authority, slash, path = rest.partition("/")
    if any(c in rest for c in "?#"):
        raise MqttUrlError(f"bad MQTT URL {shown}: no '?' query or '#' allowed (the path is "
                           "one station name)")
    host, port = _host_port(authority, shown)
    station: str | None = unquote(path) if slash else None
    if station == "":
        station = None
    elif station is not None:
        if "/" in station:
            raise MqttUrlError(f"bad MQTT URL {shown}: the path must be one station name, got "
                               f"{station!r}")
        check_station(station)
    return MqttUrl(scheme, host, port if port is not None else DEFAULT_PORTS[scheme], station,
                   unquote(user) if user else None,
                   unquote(password) if password is not None else None)


_HOST = re.compile(r"^[A-Za-z0-9._-]+$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+(%[A-Za-z0-9._-]+)?$")


def _shown(raw: str) -> str:
    """The URL for an error message: the password masked; without an '@', anything after a
    ':' that is not a port number is masked too (``mqtt://user:password`` with the host
    forgotten puts the password where the port goes)."""
    prefix, user, _, rest = split_userinfo(raw)
    if user is not None:
        return repr(redact_url(raw))
    start = rest.find("]") + 1 if rest.startswith("[") else 0
    colon = rest.find(":", start)
    if colon >= 0:
        end = len(rest)
        for stop in "/?#":
            found = rest.find(stop, colon)
            end = min(end, found) if found >= 0 else end
        port = rest[colon + 1:end]
        if not (port.isascii() and port.isdigit()) or (end < len(rest) and rest[end] != "/"):
            return repr(f"{prefix}{rest[:colon]}:***")
    return repr(raw)


def _host_port(authority: str, shown: str) -> tuple[str, int | None]:
    """``broker``, ``broker:1884``, ``[::1]:1883`` -> (host, port or ``None``)."""
    if authority.startswith("["):
        host, bracket, after = authority[1:].partition("]")
        if not bracket or not _IPV6.match(host) or (after and not after.startswith(":")):
            raise MqttUrlError(f"bad MQTT URL {shown}: bad IPv6 broker address")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_ = authority.partition(":")
        port_text = port_text_ if colon else None
        if host and not _HOST.match(host):
            raise MqttUrlError(f"bad MQTT URL {shown}: the broker host may hold letters, "
                               "digits, '.', '-' and '_' only")
    if not host:
        raise MqttUrlError(f"bad MQTT URL {shown}: no broker host")
    if port_text is None or port_text == "":
        return host.lower(), None
    if not port_text.isascii() or not port_text.isdigit():
        # Not echoed: "user:password/station" without '@' puts the password here.
        raise MqttUrlError(f"bad MQTT URL {shown}: port could not be cast to a number (a "
                           "password goes before an '@': mqtt://user:password@host/station)")
    port = int(port_text)
    if port == 0:
        raise MqttUrlError(f"bad MQTT URL {shown}: port 0")
    if port > 65535:
        raise MqttUrlError(f"bad MQTT URL {shown}: port out of range 1-65535")
    return host.lower(), port
