"""MQTT over TLS with a CA made in the test (openssl CLI): trusted, untrusted, client certs."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from monitor.config.schema import MqttConfig
from monitor.model import Priority
from monitor.mqtt.connection import MqttSettings
from monitor.mqtt.topics import Topics
from monitor.outputs.mqtt import MqttOutput
from tests.mqtt_broker import (  # noqa: F401  (fixtures)
    Broker,
    BrokerFactory,
    BrokerTls,
    Subscriber,
    broker_factory,
)
from tests.test_mqtt_publisher import FakeContext, Running, raised, until


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: trusting it must fail


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
             "-subj", f"/CN=CryoGuard test {name}", cwd=directory)
    return cert, key


def _signed(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path,
                                                                                          Path]:
    key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    ext = directory / f"{name}.ext"
    ext.write_text(extensions, encoding="ascii")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}", cwd=directory)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
             "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext),
             cwd=directory)
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test CA")
    directory = tmp_path_factory.mktemp("pki")
    ca = _ca(directory, "ca")
    other = _ca(directory, "other-ca")
    server = _signed(directory, "localhost", ca,
                     "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    client = _signed(directory, "room-tls", ca, "extendedKeyUsage=clientAuth\n")
    return Pki(ca[0], server[0], server[1], client[0], client[1], other[0])


def tls_settings(url: str, config: MqttConfig) -> MqttSettings:
    base = MqttSettings.resolve(url, config, env={})
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(backoff_min_s=0.05, backoff_max_s=0.2, timeout_s=1.0)
    return MqttSettings(**fields)


def tls_subscriber(server: Broker, pki: Pki, *topics: str) -> Subscriber:
    return Subscriber(server, *topics,
                      tls_params=aiomqtt.TLSParameters(ca_certs=str(pki.ca),
                                                       certfile=str(pki.client_cert),
                                                       keyfile=str(pki.client_key)))


async def test_tls_with_the_site_ca(broker_factory: BrokerFactory, pki: Pki) -> None:  # noqa: F811
    server = broker_factory(tls=BrokerTls(pki.ca, pki.server_cert, pki.server_key))
    topics = Topics("room-tls")
    output = MqttOutput(None, settings=tls_settings(server.url("room-tls"),
                                                    MqttConfig(ca_file=str(pki.ca))))
    assert output.settings.url.tls
    async with tls_subscriber(server, pki, topics.everything) as sub:
        async with Running(output, FakeContext()) as running:
            await until(lambda: output.publisher.connected)
            output.on_events([raised("L4R", "freezing", 1.0)])
            message = await sub.wait_topic(topics.event)
            assert message.json()["alarm"] == "L4R.freezing"
            assert running.context.faults == []
        await sub.wait_topic(topics.status, lambda m: m.text == "offline")


async def test_untrusted_certificate_is_a_fault_naming_tls(broker_factory: BrokerFactory,  # noqa: F811
                                                           pki: Pki) -> None:
    server = broker_factory(tls=BrokerTls(pki.ca, pki.server_cert, pki.server_key))
    context = FakeContext()
    output = MqttOutput(None, settings=tls_settings(server.url("room-tls-bad"),
                                                    MqttConfig(ca_file=str(pki.other_ca))))
    async with Running(output, context):
        await until(lambda: len(context.faults) >= 1)
        await asyncio.sleep(0.1)
        assert not output.publisher.connected
    name, message, priority = context.faults[0]
    assert (name, priority) == ("mqtt", Priority.LOW)
    assert "TLS certificate not trusted" in message


async def test_client_certificate_when_the_broker_requires_one(broker_factory: BrokerFactory,  # noqa: F811
                                                               pki: Pki) -> None:
    server = broker_factory(tls=BrokerTls(pki.ca, pki.server_cert, pki.server_key,
                                          require_certificate=True))
    without = FakeContext()
    output = MqttOutput(None, settings=tls_settings(server.url("room-cert"),
                                                    MqttConfig(ca_file=str(pki.ca))))
    async with Running(output, without):
        await until(lambda: len(without.faults) >= 1)
        assert not output.publisher.connected
    assert "certificate required" in without.faults[0][1]

    topics = Topics("room-cert")
    config = MqttConfig(ca_file=str(pki.ca), cert_file=str(pki.client_cert),
                        key_file=str(pki.client_key))
    output = MqttOutput(None, settings=tls_settings(server.url("room-cert"), config))
    async with tls_subscriber(server, pki, topics.status) as sub, \
            Running(output, FakeContext()) as running:
        await until(lambda: output.publisher.connected)
        await sub.wait_topic(topics.status, lambda m: m.text == "online")
        assert running.context.faults == []


async def test_plain_mqtt_to_a_tls_listener_is_a_fault(broker_factory: BrokerFactory,  # noqa: F811
                                                      pki: Pki) -> None:
    server = broker_factory(tls=BrokerTls(pki.ca, pki.server_cert, pki.server_key))
    context = FakeContext()
    output = MqttOutput(None, settings=tls_settings(server.url("room-plain", scheme="mqtt"),
                                                    MqttConfig()))
    async with Running(output, context):
        await until(lambda: len(context.faults) >= 1)
        assert not output.publisher.connected
    assert "unreachable" in context.faults[0][1]
