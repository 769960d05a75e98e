"""Spoofing and escapes against a real mosquitto, the ACL from docs/mqtt.md, and what watch
shows: phase targets from the station's engine, interventions and notes, how it is connected.

The attacker is ``mosquitto_pub`` (Debian's mosquitto-clients), a second client we did not
write; the ACL test uses accounts made by ``mosquitto_passwd`` and the ACL text of the docs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.config.schema import MqttConfig, parse_config
from monitor.engine import Engine
from monitor.model import Priority, Reading, Status
from monitor.mqtt.connection import MqttSettings
from monitor.mqtt.integrity import Stamp, user_properties
from monitor.mqtt.payloads import alarms_payload, channel_payload, dumps
from monitor.mqtt.subscriber import follow
from monitor.mqtt.topics import Topics
from monitor.mqtt.watch_state import Presence, WatchState
from monitor.outputs.mqtt import MqttOutput
from monitor.text import control_characters
from tests.mqtt_broker import (  # noqa: F401  (fixtures)
    Broker,
    BrokerFactory,
    broker,
    broker_factory,
    require_tool,
)
from tests.test_mqtt_publisher import (
    FakeContext,
    Running,
    alarm,
    channel,
    connected,
    settings_for,
    snapshot,
    until,
)

ROOT = Path(__file__).resolve().parents[1]
CRYOGUARD = [sys.executable, "-m", "monitor.cli"]
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x9b31m"


def mosquitto_pub(server: Broker, topic: str, payload: str, *extra: str,
                  user: tuple[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Publish as an outsider would, with Debian's own client (retained, QoS 1)."""
    tool = require_tool("mosquitto_pub", "mosquitto-clients")
    auth = ["-u", user[0], "-P", user[1]] if user else []
    return subprocess.run([tool, "-h", server.host, "-p", str(server.port), "-q", "1", "-r",
                           *auth, *extra, "-t", topic, "-m", payload],
                          capture_output=True, text=True, timeout=20, check=False)


def watch_once(url: str, *extra: str, env: dict[str, str] | None = None,
               wait: float = 1.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CRYOGUARD, "watch", "--mqtt", url, "--once", "--wait", str(wait),
                           *extra], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, **(env or {})}, check=False)


def high_alarm_state() -> Any:
    return snapshot(channel("L4R", 9.5), alarms=(alarm("L4R", "below_critical"),))


def no_controls(text: str) -> bool:
    return all(not control_characters(line) for line in text.splitlines())


# The watch's rules, without a broker --------------------------------------------------------

def _message(stamp: Stamp | None) -> dict[str, str]:
    return user_properties(stamp.next()) if stamp is not None else {}


def test_a_message_without_a_sequence_is_dropped_and_flagged() -> None:
    state = WatchState()
    state.broker_connected()
    topics, stamp = Topics("room-a"), Stamp()
    state.apply(topics.status, b"online", 0.0, _message(stamp))
    state.apply(topics.alarms, dumps(alarms_payload([alarm("L4R", "below_critical")])), 0.0,
                _message(stamp))
    state.apply(topics.channel("L4R"), dumps(channel_payload(channel("L4R", 9.5))), 0.1,
                _message(stamp))
    state.apply(topics.alarms, b"[]", 0.2, {})  # mosquitto_pub -r -t .../alarms -m '[]'
    line = state.summary_line("room-a", 0.3)
    assert line.startswith("room-a ONLINE *** L4R.below_critical")
    assert "!!! INTEGRITY: 1 message(s) not from the live publisher" in line
    snap, _ = state.snapshot("room-a", 0.3)
    assert snap.alarms[0].id == "room-a.integrity" and snap.alarms[0].priority is Priority.HIGH
    assert [a.id for a in snap.alarms[1:]] == ["L4R.below_critical"]


def test_another_run_or_a_number_going_back_is_flagged_a_restart_is_not() -> None:
    state = WatchState()
    state.broker_connected()
    topics, live, forger = Topics("room-b"), Stamp("live"), Stamp("forger")
    state.apply(topics.status, b"online", 0.0, _message(live))
    state.apply(topics.channel("L4R"), dumps(channel_payload(channel("L4R", 9.5))), 0.1,
                _message(live))
    state.apply(topics.alarms, b"[]", 0.2, _message(forger))  # another run: dropped
    assert state.stations["room-b"].integrity_count == 1
    assert state.summary_line("room-b", 0.2).startswith(
        "room-b ONLINE alarms not known (a forged list was dropped)")
    forger.publisher, forger.seq = "live", 10**9  # copies the run id, numbers ahead
    state.apply(topics.alarms, b"[]", 0.3, _message(forger))  # cannot be told yet ...
    assert state.stations["room-b"].integrity_count == 1
    state.apply(topics.alarms, dumps(alarms_payload([alarm("L4R", "below_critical")])), 0.4,
                _message(live))  # ... until the station republishes: numbers went back
    assert state.stations["room-b"].integrity_count == 2
    assert "numbered 3 after 1000000001" in state.stations["room-b"].integrity[-1]
    assert state.worst_alarm("room-b") is not None  # the station's own list is shown
    # A QoS 1 duplicate (same number) is neither applied twice nor a problem.
    again = Stamp("other-station")
    state.apply(Topics("room-c").status, b"online", 0.0, _message(again))
    props = _message(again)
    state.apply(Topics("room-c").event, b'{"type": "note", "t": 1, "text": "x"}', 0.1, props)
    state.apply(Topics("room-c").event, b'{"type": "note", "t": 1, "text": "x"}', 0.1, props)
    assert state.stations["room-c"].integrity_count == 0
    assert state.take_news("room-c") == ["room-c: note: x"]
    # A restarted station announces a new run with "online": not a problem.
    new = Stamp("restarted")
    state.apply(Topics("room-c").status, b"online", 2.0, _message(new))
    state.apply(Topics("room-c").event, b'{"type": "note", "t": 1, "text": "y"}', 2.1,
                _message(new))
    assert state.stations["room-c"].integrity_count == 0


def test_text_from_the_network_never_reaches_the_terminal_raw() -> None:
    state = WatchState(station="room-e")
    state.broker_connected()
    topics, stamp = Topics("room-e"), Stamp()
    info = {"channels": [{"id": "L4R", "label": f"L4 right{ESCAPES}", "role": "nerve"}],
            "mode": f"run{ESCAPES}", "devices": [[f"box{ESCAPES}", "connected"]]}
    bad = [{"alarm": f"L4R.below_critical{ESCAPES}", "priority": "high",
            "message": f"*** hidden{ESCAPES}", "channel": "L4R"}]
    state.apply(topics.status, b"online", 0.0, _message(stamp))
    state.apply(topics.info, json.dumps(info).encode(), 0.0, _message(stamp))
    state.apply(topics.alarms, json.dumps(bad).encode(), 0.0, _message(stamp))
    state.apply(topics.channel("L4R"), dumps(channel_payload(channel("L4R", 9.5))), 0.1,
                _message(stamp))
    state.apply(topics.event, json.dumps({"type": "note", "t": 0.1, "text": ESCAPES,
                                          "by": ESCAPES}).encode(), 0.1, _message(stamp))
    state.apply(f"cryoguard/x{ESCAPES}/status", b"online", 0.1, _message(stamp))
    texts = [state.summary_line("room-e", 0.2), *state.details("room-e", 0.2),
             *state.take_news("room-e")]
    snap, header = state.snapshot("room-e", 0.2)
    texts += [a.message for a in snap.alarms] + [a.id for a in snap.alarms]
    texts += [c.label for c in snap.channels] + [str(header["mode"])]
    texts += [d for pair in snap.devices for d in pair]
    assert all(not control_characters(t) for t in texts), texts
    assert "room-e ONLINE *** L4R.below_critical" in texts[0]
    assert list(state.stations) == ["room-e"]  # the escape-named topic is not a station


# Against a real mosquitto -------------------------------------------------------------------

async def test_a_retained_fake_from_mosquitto_pub_is_flagged_and_hides_nothing(
        broker: Broker) -> None:  # noqa: F811
    """The issue's attack on an open broker: the fake list and a label full of escapes."""
    url = broker.url("room-spoof")
    state = high_alarm_state()
    output = MqttOutput(None, settings=settings_for(url))
    output.publisher.refresh_s = 3600.0  # no republication until the test asks for one
    async with Running(output, FakeContext(state)):
        await connected(output)
        output.on_snapshot(state)
        await until(lambda: not output.publisher._retained)
        fake = await asyncio.to_thread(mosquitto_pub, broker, Topics("room-spoof").alarms, "[]")
        assert fake.returncode == 0, fake.stderr
        label = json.dumps({"channels": [{"id": "L4R", "label": ESCAPES, "role": "nerve"}]})
        await asyncio.to_thread(mosquitto_pub, broker, Topics("room-spoof").info, label)
        # A late viewer reads the fakes, drops them and says so ...
        fooled = await asyncio.to_thread(watch_once, url)
        output.publisher._next_refresh = 0.0  # ... until the station republishes its list
        output.publisher._wake.set()
        await until(lambda: not output.publisher._retained)
        after = await asyncio.to_thread(watch_once, url)
    assert fooled.returncode == 0, fooled.stderr
    line = fooled.stdout.splitlines()[0]
    assert line.startswith("room-spoof ONLINE alarms not known (a forged list was dropped) "
                           "!!! INTEGRITY: 2 message(s) not from the live publisher"), line
    assert "without a CryoGuard sequence number" in line and "no alarms" not in line
    assert no_controls(fooled.stdout) and no_controls(fooled.stderr)
    assert "(NO TLS, anonymous)" in fooled.stderr
    assert after.stdout.startswith("room-spoof ONLINE *** L4R.below_critical"), after.stdout


async def test_a_forger_who_copies_the_numbers_is_caught_at_the_next_republication(
        broker: Broker) -> None:  # noqa: F811
    url = broker.url("room-forge")
    state = high_alarm_state()
    output = MqttOutput(None, settings=settings_for(url))
    output.publisher.refresh_s = 0.5
    watch = WatchState(station="room-forge")
    settings = MqttSettings.resolve(url, env={}, warn=lambda m: None)
    async with Running(output, FakeContext(state)):
        await connected(output)
        output.on_snapshot(state)
        follower = asyncio.create_task(follow(settings, watch))
        try:
            await until(lambda: watch.presence("room-forge", time.monotonic())[0]
                        is Presence.ONLINE and watch.worst_alarm("room-forge") is not None)
            run_id = output.publisher.stamp.publisher  # readable by anyone who subscribes
            fake = await asyncio.to_thread(
                mosquitto_pub, broker, Topics("room-forge").alarms, "[]", "-V", "5",
                "-D", "publish", "user-property", "cg-pub", run_id,
                "-D", "publish", "user-property", "cg-seq", str(10**12))
            assert fake.returncode == 0, fake.stderr
            await until(lambda: watch.stations["room-forge"].integrity_count > 0, timeout=5)
            await until(lambda: watch.worst_alarm("room-forge") is not None)
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
    problem = watch.stations["room-forge"].integrity[-1]
    assert "alarms message numbered" in problem and f"after {10**12}" in problem


def _docs_block(first_line: str) -> str:
    text = (ROOT / "docs" / "mqtt.md").read_text(encoding="utf-8")
    match = re.search(r"```conf\n(" + re.escape(first_line) + r"\n.*?)```", text, re.S)
    assert match, f"docs/mqtt.md has no block starting {first_line!r}"
    return match.group(1)


@pytest.fixture
def acl_broker(broker_factory: BrokerFactory, tmp_path: Path) -> Broker:  # noqa: F811
    passwd = require_tool("mosquitto_passwd", "mosquitto")
    accounts = tmp_path / "cryoguard.passwd"
    for i, (user, password) in enumerate(ACCOUNTS.items()):
        subprocess.run([passwd, *(["-c"] if i == 0 else []), "-b", str(accounts), user,
                        password], check=True, capture_output=True, timeout=20)
    acl = tmp_path / "cryoguard.acl"
    acl.write_text(_docs_block("# /etc/mosquitto/cryoguard.acl"), encoding="utf-8")
    return broker_factory(password_file=accounts, acl_file=acl)


ACCOUNTS = {"ct-suite-2": "st@tion/2#", "ct-suite-3": "other-station", "viewer": "v1ew:er"}


async def test_under_the_documented_acl_a_viewer_cannot_publish_and_the_station_works(
        acl_broker: Broker, tmp_path: Path) -> None:
    secret = tmp_path / "mqtt.pass"
    secret.write_text(ACCOUNTS["ct-suite-2"] + "\n", encoding="utf-8")
    secret.chmod(0o600)
    config = MqttConfig(username="ct-suite-2", password_file=str(secret))
    settings = MqttSettings.resolve(acl_broker.url("ct-suite-2"), config, env={},
                                    warn=lambda m: None)
    fields = {f: getattr(settings, f) for f in settings.__dataclass_fields__}
    fields.update(publish_hz=20.0, backoff_min_s=0.05, backoff_max_s=0.2)
    state = high_alarm_state()
    context = FakeContext(state)
    output = MqttOutput(None, settings=MqttSettings(**fields))
    topics = Topics("ct-suite-2")
    viewer_env = {"CRYOGUARD_MQTT_USERNAME": "viewer",
                  "CRYOGUARD_MQTT_PASSWORD": ACCOUNTS["viewer"]}
    async with Running(output, context):
        await connected(output)
        output.on_snapshot(state)
        await until(lambda: not output.publisher._retained)
        for who in ("viewer", "ct-suite-3"):
            for topic, payload in ((topics.alarms, "[]"), (topics.status, "offline"),
                                   (topics.channel("L4R"), '{"t":1,"temp_c":37,'
                                    '"status":"OK"}')):
                for version in ("311", "5"):
                    await asyncio.to_thread(mosquitto_pub, acl_broker, topic, payload,
                                            "-V", version, user=(who, ACCOUNTS[who]))
        anonymous = await asyncio.to_thread(mosquitto_pub, acl_broker, topics.alarms, "[]")
        assert anonymous.returncode != 0  # no anonymous client at all
        seen = await asyncio.to_thread(watch_once, acl_broker.url("ct-suite-2"),
                                       env=viewer_env, wait=1.5)
    assert context.faults == []  # the station published all along
    assert seen.returncode == 0, seen.stderr
    line = seen.stdout.splitlines()[0]
    assert line.startswith("ct-suite-2 ONLINE *** L4R.below_critical"), seen.stdout
    assert "INTEGRITY" not in line  # the broker refused every fake: nothing to flag
    assert "(NO TLS, user viewer)" in seen.stderr


async def test_a_wrong_station_password_is_a_clear_fault(acl_broker: Broker) -> None:
    settings = settings_for(acl_broker.url("ct-suite-2"))
    fields = {f: getattr(settings, f) for f in settings.__dataclass_fields__}
    fields.update(username="ct-suite-2", password="wrong")
    context = FakeContext()
    output = MqttOutput(None, settings=MqttSettings(**fields))
    async with Running(output, context):
        await until(lambda: bool(context.faults))
    message = context.faults[0][1]
    assert "refused the connection" in message and "wrong" not in message


# What watch shows of the station: phase target, injections, notes -----------------------------

def _engine(freeze_s: int) -> Engine:
    config = parse_config({
        "cycles": {"freeze_s": freeze_s},
        "devices": [{"id": "d", "protocol": "line", "port": "/dev/x"}],
        "channels": [{"id": "P1", "device": "d", "index": 0, "role": "probe"},
                     {"id": "L4R", "device": "d", "index": 1, "role": "nerve"}]}, "t")
    return Engine(config.engine_spec(), t0=0.0)


async def test_watch_shows_the_stations_own_phase_target_and_interventions(
        broker: Broker) -> None:  # noqa: F811
    """[cycles] freeze_s = 480 at the station: the remote dashboard shows 08:00, not the
    built-in 10:00; the last injection and note with the time since."""
    from rich.console import Console

    from monitor.display.render import render_dashboard

    engine = _engine(480)
    engine.feed([Reading(0.0, "P1", 30.0, Status.OK), Reading(0.0, "L4R", 36.0, Status.OK)])
    events = engine.mark(5.0, "freeze", by="dr-a")
    t = 5.0
    while t < 95.0:
        t += 0.5
        engine.feed([Reading(t, "P1", -40.0, Status.OK), Reading(t, "L4R", 30.0, Status.OK)])
    live = engine.snapshot()
    assert live.phase == "freeze" and live.phase_target_s == 480.0
    url = broker.url("room-phase")
    output = MqttOutput(None, settings=settings_for(url))
    watch = WatchState(station="room-phase", connection="NO TLS, anonymous")
    settings = MqttSettings.resolve(url, env={}, warn=lambda m: None)
    async with Running(output, FakeContext(live)):
        await connected(output)
        output.on_snapshot(live)
        records = [e.to_record(None) for e in events]
        records += [{"t": 60.0, "time": None, "type": "intervention", "kind": "co2",
                     "by": "dr-a", "message": "CO2"},
                    {"t": 80.0, "time": None, "type": "note", "text": f"moved{ESCAPES}",
                     "by": "nurse-b", "message": "note"}]
        follower = asyncio.create_task(follow(settings, watch))
        try:
            await until(lambda: watch.presence("room-phase", time.monotonic())[0]
                        is Presence.ONLINE and bool(watch.stations["room-phase"].phase))
            output.on_events(records)
            await until(lambda: watch.stations["room-phase"].last_note is not None)
            now = time.monotonic()
            snap, header = watch.snapshot("room-phase", now)
            details = watch.details("room-phase", now)
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
    assert (snap.phase, snap.cycle, snap.phase_target_s) == ("freeze", 1, 480.0)
    console = Console(width=140, height=30, record=True, color_system=None,
                      file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_dashboard(snap, header, width=140, height=30, blink_on=True,
                                   read_only=True))
    text = console.export_text()
    assert "FREEZE 01:30 / 08:00" in text and "10:00" not in text
    assert "NO TLS, anonymous" in text
    assert details[0] == "cycle 1 freeze 01:30 / 08:00"
    assert details[1] == "last injection: CO₂ injection 00:35 ago by dr-a"
    assert details[2].startswith("last note 00:15 ago by nurse-b: moved")
    assert not any(control_characters(d) for d in details)


def test_watch_headless_prints_news_and_never_an_escape() -> None:
    """--headless: a line per change of a station, and one per phase, injection and note."""
    import io

    from monitor.commands.watch import LinePrinter

    state = WatchState()
    state.broker_connected()
    topics, stamp = Topics("room-h"), Stamp()
    out = io.StringIO()
    printer = LinePrinter(state, out, clock=lambda: 1.0)
    state.apply(topics.status, b"online", 0.0, _message(stamp))
    state.apply(topics.channel("L4R"), dumps(channel_payload(channel("L4R", 20.0))), 0.5,
                _message(stamp))
    for record in ({"type": "cycle.phase", "t": 10.0, "phase": "freeze", "cycle": 1,
                    "target_s": 480.0},
                   {"type": "intervention", "t": 11.0, "kind": "saline", "by": f"dr{ESCAPES}"},
                   {"type": "note", "t": 12.0, "text": f"ok{ESCAPES}", "by": "rn"}):
        state.apply(topics.event, json.dumps(record).encode(), 0.6, _message(stamp))
    printer.check("room-h")
    lines = out.getvalue().splitlines()
    shown = "\ufffd[2J\ufffd]0;pwned\ufffd\ufffd31m"  # each control character replaced
    assert lines[:3] == ["room-h: cycle 1 freeze (target 08:00)",
                         f"room-h: warm saline injection by dr{shown}",
                         f"room-h: note by rn: ok{shown}"]
    assert lines[3] == "room-h ONLINE no alarms"
    assert no_controls(out.getvalue())


async def test_a_broker_that_refuses_the_stations_messages_is_a_fault_not_silence(
        acl_broker: Broker) -> None:
    """Logged in as ct-suite-3 but publishing as ct-suite-2: the documented ACL refuses every
    message (MQTT 5 PUBACK "Not authorized"). aiomqtt completes the publish anyway; the
    station must say that nobody receives its alarms."""
    settings = settings_for(acl_broker.url("ct-suite-2"))
    fields = {f: getattr(settings, f) for f in settings.__dataclass_fields__}
    fields.update(username="ct-suite-3", password=ACCOUNTS["ct-suite-3"])
    context = FakeContext(high_alarm_state())
    output = MqttOutput(None, settings=MqttSettings(**fields))
    async with Running(output, context):
        await connected(output)
        output.on_events([{"type": "alarm.raised", "alarm": "L4R.below_critical", "t": 1.0}])
        await until(lambda: bool(context.faults))
    name, message, _priority = context.faults[0]
    assert name == "mqtt"
    assert "refuses this station's messages: Not authorized" in message, message
    assert "ct-suite-3" in message and "cryoguard/ct-suite-2/#" in message
    assert ACCOUNTS["ct-suite-3"] not in message  # never the password
    assert output.publisher.stats.refused >= 1
