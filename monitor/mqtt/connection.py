"""The one adapter over aiomqtt: settings from URL + config, a client, readable errors.

A fresh ``aiomqtt.Client`` is made for every connection attempt. Re-entering the same client
after an unexpected disconnect (aiomqtt 2.5.1) skips the wait for the broker's CONNACK, so a
refused login shows up seconds later as a publish timeout instead of "not authorised", and
paho re-sends its own unacknowledged messages besides the publisher's queue (duplicates out
of order). The publisher's queue is the only memory across connections.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import ssl
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from monitor.config.schema import MqttConfig
from monitor.errors import UsageError
from monitor.mqtt.url import MqttUrl, check_station, parse_mqtt_url
from monitor.text import printable

KEEPALIVE_S = 5  # the broker sends the will 1.5 keepalives after a hung (not killed) daemon
TIMEOUT_S = 5.0  # CONNACK and PUBACK waits
BACKOFF_MIN_S = 0.25
BACKOFF_MAX_S = 5.0


@dataclass(frozen=True, slots=True)
class MqttSettings:
    url: MqttUrl
    station: str
    publish_hz: float = 2.0
    qos_events: int = 1
    queue_limit: int = 10_000
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = KEEPALIVE_S
    timeout_s: float = TIMEOUT_S
    backoff_min_s: float = BACKOFF_MIN_S
    backoff_max_s: float = BACKOFF_MAX_S
    discovery: bool | None = None  # [mqtt] discovery; None: not set (nothing published)

    @property
    def authenticated(self) -> bool:
        return self.username is not None

    def describe_connection(self) -> str:
        """``TLS, user viewer`` / ``NO TLS, anonymous``: what a viewer should know about the
        connection its view arrives on (docs/mqtt.md, "Integrity")."""
        tls = "TLS" if self.url.tls else "NO TLS"
        who = f"user {printable(self.username)}" if self.username is not None else "anonymous"
        return f"{tls}, {who}"

    @classmethod
    def resolve(cls, url: str | None, config: MqttConfig | None = None, *,
                station: str | None = None, env: Mapping[str, str] | None = None,
                require_station: bool = True,
                warn: Callable[[str], None] | None = None) -> MqttSettings:
        """``--mqtt`` URL (else ``[mqtt] url``) plus the ``[mqtt]`` section.

        The station is the URL's path, else ``[mqtt] station``, else ``station`` (the config's
        ``[station] name``). Credentials: the URL's, else the config's (``password`` or
        ``password_file``), else the environment. ``url`` is the command line's: a password
        in it is visible to every local user (``ps``), so ``warn`` is told (default: a line
        on stderr); so is a ``password_file`` that others may read.
        """
        warn = warn or _warn_on_stderr
        config = config or MqttConfig()
        text = url if url is not None else config.url
        if not text:
            raise UsageError("no MQTT broker: give --mqtt mqtt[s]://host[:port]/station or "
                             "set [mqtt] url in the config")
        parsed = parse_mqtt_url(text)
        name = parsed.station or config.station or station
        if name is None:
            if require_station:
                raise UsageError(f"no station in {parsed.redacted()}: add it as the path "
                                 "(mqtt://host/ct-suite-2) or set [station] name")
            name = ""
        else:
            check_station(name)
        user: str | None
        password: str | None
        if parsed.password is not None:
            user, password = parsed.username, parsed.password
        else:  # mqtt://ct-suite-2@broker/... with the password kept off the command line
            user, password = config.credentials(os.environ if env is None else env)
            user = parsed.username or user
            if config.password is None and config.password_file is not None:
                _check_private(config.password_file, warn)
        if url is not None and parsed.password is not None:
            warn(COMMAND_LINE_PASSWORD)
        _check_tls_files(parsed, config)
        return cls(url=parsed, station=name, publish_hz=config.publish_hz,
                   qos_events=config.qos_events, queue_limit=config.queue_limit,
                   ca_file=config.ca_file, cert_file=config.cert_file,
                   key_file=config.key_file, username=user, password=password,
                   discovery=config.discovery if "discovery" in config.model_fields_set
                   else None)


COMMAND_LINE_PASSWORD = (
    "warning: the MQTT password is on the command line (--mqtt), where every user of this "
    "computer can read it (ps, /proc); use [mqtt] password_file or CRYOGUARD_MQTT_PASSWORD")


def _warn_on_stderr(message: str) -> None:
    print(f"cryoguard: {message}", file=sys.stderr, flush=True)


def _check_private(path: str, warn: Callable[[str], None]) -> None:
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warn(f"warning: mqtt.password_file {printable(path)} can be read by other users "
                 f"(mode {stat.S_IMODE(mode):o}); chmod 600 it")


def _check_tls_files(url: MqttUrl, config: MqttConfig) -> None:
    files = {"ca_file": config.ca_file, "cert_file": config.cert_file,
             "key_file": config.key_file}
    given = [key for key, value in files.items() if value]
    if given and not url.tls:
        raise UsageError(f"mqtt.{given[0]} is set but the URL {url.redacted()} is not TLS: "
                         "use mqtts://")
    if config.key_file and not config.cert_file:
        raise UsageError("mqtt.key_file is set without mqtt.cert_file")
    for key, value in files.items():
        if value and not Path(value).is_file():
            raise UsageError(f"mqtt.{key}: {value} is not a readable file")


def new_identifier(station: str, role: str = "pub") -> str:
    return f"cryoguard-{role}-{station or 'all'}-{secrets.token_hex(3)}"


class SocketErrors(logging.Handler):
    """Keeps paho's last socket-level complaint (a TLS alert, a reset) for the fault message.

    paho reports some failures only as log records: a broker that rejects the client
    certificate closes the TLS session after the handshake, and aiomqtt then just times out
    waiting for CONNACK.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.last = record.getMessage()

    def take(self) -> str | None:
        last, self.last = self.last, None
        return last


def private_logger(identifier: str) -> tuple[logging.Logger, SocketErrors]:
    """A logger outside the logging tree: paho's messages never reach stderr (the live display
    owns the terminal) and become part of the technical alarm's text instead."""
    logger = logging.Logger(f"cryoguard.mqtt.{identifier}", logging.WARNING)
    handler = SocketErrors()
    logger.addHandler(handler)
    return logger, handler


def make_client(settings: MqttSettings, *, identifier: str,
                will: aiomqtt.Will | None = None,
                logger: logging.Logger | None = None) -> aiomqtt.Client:
    tls = None
    if settings.url.tls:
        tls = aiomqtt.TLSParameters(ca_certs=settings.ca_file, certfile=settings.cert_file,
                                    keyfile=settings.key_file,
                                    cert_reqs=ssl.CERT_REQUIRED)
    client = aiomqtt.Client(
        settings.url.host, settings.url.port, username=settings.username,
        password=settings.password, identifier=identifier, will=will, tls_params=tls,
        protocol=aiomqtt.ProtocolVersion.V5,  # user properties: monitor/mqtt/integrity.py
        keepalive=settings.keepalive_s, timeout=settings.timeout_s, logger=logger,
        max_inflight_messages=PIPELINE, max_queued_incoming_messages=100_000)
    client.pending_calls_threshold = 2 * PIPELINE + 10  # a full pipeline is not a warning
    return client


def watch_refusals(client: aiomqtt.Client, on_ack: Callable[[str | None], None]) -> bool:
    """Report each MQTT 5 PUBACK: ``on_ack(None)`` when the broker took the message,
    ``on_ack(reason)`` when it refused it (``Not authorized`` from an ACL, ``Quota exceeded``).

    aiomqtt 2.x completes ``publish()`` on any PUBACK and drops its reason code, so a station
    whose account may not write its topics would look healthy while nobody receives a thing
    (docs/mqtt.md). This wraps paho's ``on_publish`` under aiomqtt (its private ``_client``);
    returns False, changing nothing, if that is not there. QoS 0 messages have no PUBACK: a
    refusal shows on the QoS 1 events and the retained status.
    """
    paho = getattr(client, "_client", None)
    original = getattr(paho, "on_publish", None)
    if paho is None or original is None:
        return False

    def on_publish(paho_client: Any, userdata: Any, mid: int, reason_code: Any,
                   properties: Any) -> None:
        refused = bool(getattr(reason_code, "is_failure", False))
        on_ack(str(reason_code) if refused else None)
        original(paho_client, userdata, mid, reason_code, properties)

    paho.on_publish = on_publish
    return True


PIPELINE = 100  # publishes in flight at once: one round trip per batch, not per message


def describe_error(exc: BaseException, socket_error: str | None = None) -> str:
    """One line a technician can act on, from whatever aiomqtt, paho or ssl raised."""
    text = _describe(exc)
    if socket_error and socket_error not in text:
        text += f" ({socket_error})"
    return text


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MqttConnectError):
        return f"the broker refused the connection: {exc.rc}"
    if isinstance(exc, aiomqtt.MqttError) and "Disconnected" in str(exc):
        detail = _describe(exc.__cause__) if exc.__cause__ is not None else ""
        return "connection lost" + (f": {detail}" if detail and "Unspecified" not in detail
                                    else "")
    if isinstance(exc, aiomqtt.MqttError) and isinstance(exc.__context__, OSError):
        exc = exc.__context__  # aiomqtt wraps socket and TLS errors with "from None"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the broker running?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).strip()
    return text or type(exc).__name__
