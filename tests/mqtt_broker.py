"""A real mosquitto for the MQTT tests: the broker users run, on a free loopback port.

Import the fixtures into a test module (``from tests.mqtt_broker import broker, ...``).
``broker`` is one broker for the whole session (tests use their own station names, so their
retained messages never meet); ``broker_factory`` starts private brokers that a test may stop,
kill or restart on the same port (with persistence, like a hospital broker), or run with TLS.
Without mosquitto the tests are skipped locally and fail under ``CI=true``: CI installs it, so
a missing broker there is a broken environment, not a reason to pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

READY_TIMEOUT_S = 5.0


def mosquitto_path() -> str | None:
    """The broker binary: on PATH, or Debian's /usr/sbin (not on a normal user's PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def require_tool(name: str, package: str) -> str:
    """A mosquitto client program (``mosquitto_pub``, ``mosquitto_passwd``): skip locally,
    fail under ``CI=true`` when it is missing."""
    found = shutil.which(name) or (f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}",
                                                                     os.X_OK) else None)
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is not installed, and CI=true: install {package}")
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return found


def require_mosquitto() -> str:
    """The binary, or skip (locally) / fail (``CI=true``) the test that needs it."""
    path = mosquitto_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("mosquitto is not installed, and CI=true: MQTT tests must run in CI")
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class BrokerTls:
    """Server side of a TLS listener; ``require_certificate`` asks clients for their own."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False


class Broker:
    """One mosquitto process with a generated config; start/stop/kill/restart on one port."""

    def __init__(self, binary: str, workdir: Path, *, port: int | None = None,
                 tls: BrokerTls | None = None, persistence: bool = False,
                 password_file: Path | None = None, acl_file: Path | None = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.tls = tls
        self.persistence = persistence
        self.password_file = password_file
        self.acl_file = acl_file
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, station: str, *, scheme: str | None = None, userinfo: str = "") -> str:
        scheme = scheme or ("mqtts" if self.tls else "mqtt")
        at = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{at}{self.host}:{self.port}/{station}"

    def _config(self) -> str:
        lines = [
            f"user {getpass.getuser()}",
            f"listener {self.port} {self.host}",
            "allow_anonymous " + ("false" if self.password_file else "true"),
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "autosave_interval 0",  # persistence is written at shutdown only
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 100000",
            "max_inflight_messages 0",
        ]
        if self.password_file is not None:
            lines.append(f"password_file {self.password_file}")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        if self.tls is not None:
            lines += [f"cafile {self.tls.cafile}", f"certfile {self.tls.certfile}",
                      f"keyfile {self.tls.keyfile}",
                      f"require_certificate {'true' if self.tls.require_certificate else 'false'}"]
        return "\n".join(lines) + "\n"

    def start(self) -> Broker:
        if self.process is not None and self.process.poll() is None:
            return self
        self.config_path.write_text(self._config(), encoding="utf-8")
        self.process = subprocess.Popen([self.binary, "-c", str(self.config_path)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr \
                    else ""
                raise RuntimeError(f"mosquitto exited at start: {err}{self.log()}")
            with contextlib.suppress(OSError), \
                    socket.create_connection((self.host, self.port), timeout=0.2):
                return self
            time.sleep(0.005)
        self.kill()
        raise RuntimeError(f"mosquitto not listening on {self.port} after "
                           f"{READY_TIMEOUT_S} s: {self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the broker (SIGTERM saves persistence; SIGKILL is a crash)."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> Broker:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One shared broker for the session; use a station name of your own."""
    binary = require_mosquitto()
    server = Broker(binary, tmp_path_factory.mktemp("mosquitto")).start()
    try:
        yield server
    finally:
        server.stop()


BrokerFactory = Callable[..., Broker]


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """Private brokers (``broker_factory(tls=..., persistence=True)``), stopped after the test."""
    binary = require_mosquitto()
    made: list[Broker] = []

    def make(**kwargs: object) -> Broker:
        server = Broker(binary, tmp_path / f"broker{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in made:
            server.stop(signal.SIGKILL)


# A subscriber for assertions ------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """``async with Subscriber(broker, "cryoguard/x/#") as sub: await sub.wait_for(...)``.

    ``persistent=True`` keeps the session on the broker (clean_session false, QoS 1): what is
    published while this subscriber or the broker is away is delivered when both are back.
    """

    def __init__(self, server: Broker, *topics: str, identifier: str | None = None,
                 persistent: bool = False, **client_kwargs: Any) -> None:
        self.server = server
        self.topics = topics
        self.identifier = identifier
        self.persistent = persistent
        self.client_kwargs = client_kwargs
        self.messages: list[Received] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Subscriber:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    async def connect(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(ready))
        await asyncio.wait_for(ready, 5)

    async def disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._task
            self._task = None

    async def _run(self, ready: asyncio.Future[None]) -> None:
        client = aiomqtt.Client(self.server.host, self.server.port, identifier=self.identifier,
                                clean_session=not self.persistent, **self.client_kwargs)
        try:
            async with client:
                for topic in self.topics:
                    await client.subscribe(topic, qos=1)
                ready.set_result(None)
                async for message in client.messages:
                    payload = message.payload
                    data = payload if isinstance(payload, bytes) else str(payload).encode()
                    self.messages.append(Received(str(message.topic), data,
                                                  bool(message.retain), int(message.qos)))
                    self._arrived.set()
        except aiomqtt.MqttError as exc:
            if not ready.done():
                ready.set_exception(exc)

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    async def wait_for(self, predicate: Callable[[list[Received]], bool],
                       timeout: float = 5.0) -> list[Received]:
        """Wait until ``predicate(messages)`` holds; fail with what did arrive."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self.messages):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [(m.topic, m.payload[:80]) for m in self.messages[-20:]]
                raise AssertionError(f"timed out after {timeout} s; last messages: {seen}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.1))
        return self.messages

    async def wait_topic(self, topic: str, predicate: Callable[[Received], bool] | None = None,
                         timeout: float = 5.0) -> Received:
        def found(messages: list[Received]) -> bool:
            return any(m.topic == topic and (predicate is None or predicate(m))
                       for m in messages)
        await self.wait_for(found, timeout)
        return next(m for m in reversed(self.messages)
                    if m.topic == topic and (predicate is None or predicate(m)))
