"""A real mosquitto for the MQTT tests: the broker users run, on a free loopback port.

Import the fixtures into a test module (``from tests.mqtt_broker import broker, ...``).
``broker`` is one broker for the whole session (tests use their own station names, so their
retained messages never meet); ``broker_factory`` starts private brokers that a test may stop,
kill or restart on the same port (with persistence, like a hospital broker), or run with TLS.
Without mosquitto the tests are skipped locally and fail under ``CI=true``: CI installs it, so
a missing broker there is a broken environment, not a reason to pass.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

READY_TIMEOUT_S = 5.0


def mosquitto_path() -> str | None:
    """The broker binary: on PATH, or Debian's /usr/sbin (not on a normal user's PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


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
                 password_file: Path | None = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.tls = tls
        self.persistence = persistence
        self.password_file = password_file
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
