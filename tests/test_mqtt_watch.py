"""``cryoguard watch``: the remote state model, the read-only dashboard, and the command against
a real mosquitto (a station's alarm, then OFFLINE after kill -9 or when its data stops)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import IO, Any

import aiomqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from monitor.display.render import render_dashboard
from monitor.engine import AlarmView
from monitor.model import Priority, Status
from monitor.mqtt.connection import MqttSettings
from monitor.mqtt.integrity import Stamp
from monitor.mqtt.payloads import alarms_payload, channel_payload, dumps
from monitor.mqtt.subscriber import follow
from monitor.mqtt.topics import Topics
from monitor.mqtt.watch_state import Presence, WatchState
from tests.mqtt_broker import Broker, Subscriber, broker  # noqa: F401  (fixture)
from tests.test_mqtt_publisher import alarm, channel

ROOT = Path(__file__).resolve().parents[1]
CRYOGUARD = [sys.executable, "-m", "monitor.cli"]


def feed(state: WatchState, station: str, now: float, *, temp: float | None = 12.0,
         alarms: tuple[AlarmView, ...] | None = None, status: str | None = None) -> None:
    topics = Topics(station)
    if status is not None:
        state.apply(topics.status, status.encode(), now)
    if alarms is not None:
        state.apply(topics.alarms, dumps(alarms_payload(alarms)), now)
    if temp is not None:
        state.apply(topics.channel("L4R"), dumps(channel_payload(channel("L4R", temp))), now)


# The state model (no broker) ------------------------------------------------------------------

def test_presence_follows_status_and_data() -> None:
    state = WatchState(data_timeout_s=3.0)
    state.broker_connected()
    feed(state, "room-a", 0.0, temp=None, status="online")
    assert state.presence("room-a", 1.0)[0] is Presence.WAITING
    assert state.presence("room-a", 3.5) == (Presence.OFFLINE, "no channel data for 3 s")
    feed(state, "room-a", 4.0)
    assert state.presence("room-a", 4.0)[0] is Presence.ONLINE
    assert state.presence("room-a", 6.9)[0] is Presence.ONLINE
    presence, reason = state.presence("room-a", 7.5)
    assert presence is Presence.OFFLINE and "no channel data" in reason
    feed(state, "room-a", 8.0)
    feed(state, "room-a", 8.1, temp=None, status="offline")
    assert state.presence("room-a", 8.2) == (Presence.OFFLINE,
                                             "station disconnected (will message)")
    feed(state, "room-a", 9.0, temp=None, status="online")  # a new connection: wait for data
    assert state.presence("room-a", 9.1)[0] is Presence.WAITING
    state.broker_lost("connection refused")
    presence, reason = state.presence("room-a", 9.2)
    assert presence is Presence.OFFLINE and "cannot reach the broker" in reason


def test_a_station_is_offline_only_after_more_than_the_data_timeout() -> None:
    """The boundary, pinned: silent for exactly the timeout is still ONLINE (WAITING before
    the first data); a moment more is OFFLINE."""
    state = WatchState(data_timeout_s=3.0)
    state.broker_connected()
    feed(state, "room-a", 0.0, temp=None, status="online")
    assert state.presence("room-a", 3.0)[0] is Presence.WAITING
    assert state.presence("room-a", 3.001)[0] is Presence.OFFLINE
    feed(state, "room-a", 4.0)
    assert state.presence("room-a", 7.0)[0] is Presence.ONLINE
    assert state.presence("room-a", 7.001)[0] is Presence.OFFLINE


def test_summary_line_names_the_worst_alarm() -> None:
    state = WatchState()
    state.broker_connected()
    alarms = (alarm("L4R", "falling_fast", Priority.LOW),
              alarm("L4R", "below_critical", Priority.HIGH),
              alarm("L5L", "below_warning", Priority.MEDIUM))
    feed(state, "ct-suite-2", 0.0, status="online", alarms=alarms)
    line = state.summary_line("ct-suite-2", 0.5)
    assert line.startswith("ct-suite-2 ONLINE *** L4R.below_critical: L4R below_critical")
    assert line.endswith("(+2 more)")
    feed(state, "ct-suite-2", 1.0, alarms=())
    assert state.summary_line("ct-suite-2", 1.0) == "ct-suite-2 ONLINE no alarms"
    feed(state, "ct-suite-2", 1.0, temp=None, status="offline")
    assert state.summary_line("ct-suite-2", 1.1).startswith("ct-suite-2 OFFLINE (")


def test_offline_station_never_shows_its_last_values() -> None:
    state = WatchState(station="room-a", data_timeout_s=3.0)
    state.broker_connected()
    feed(state, "room-a", 0.0, status="online", temp=8.25,
         alarms=(alarm("L4R", "below_critical"),))
    online, _ = state.snapshot("room-a", 1.0)
    assert online.channels[0].temp_c == 8.25 and not online.channels[0].stale
    assert [a.id for a in online.alarms] == ["L4R.below_critical"]

    for later in (5.0,):  # data stopped
        snap, header = state.snapshot("room-a", later)
        assert all(c.temp_c is None and c.stale for c in snap.channels)
        assert [a.condition for a in snap.alarms] == ["offline"]
        assert "last known: 1 alarm(s), worst *** L4R.below_critical" in snap.alarms[0].message
        assert "OFFLINE" in header["mode"]
        text = _render(snap, header)
        assert "8.2" not in text and "8.3" not in text
        assert "OFFLINE" in text and "read-only" in text

    feed(state, "room-a", 6.0, temp=None, status="offline")  # the will message
    snap, _ = state.snapshot("room-a", 6.0)
    assert all(c.temp_c is None for c in snap.channels)
    assert "will message" in snap.alarms[0].message


def test_remote_dashboard_uses_the_bedside_renderer_read_only() -> None:
    state = WatchState(station="room-a")
    state.broker_connected()
    info = {"station": "room-a", "mode": "demo", "channels": [
        {"id": "L4R", "label": "L4 right neuroforamen", "role": "nerve"}],
        "devices": [["sim", "connected"]],
        "audio": {"paused": False, "paused_until": None, "sounding": "high"}}
    state.apply(Topics("room-a").info, json.dumps(info).encode(), 0.0)
    feed(state, "room-a", 0.0, status="online", temp=9.5,
         alarms=(alarm("L4R", "below_critical"),))
    snap, header = state.snapshot("room-a", 0.5)
    assert snap.channels[0].label == "L4 right neuroforamen"
    assert snap.devices == (("sim", "connected"),)
    assert snap.audio.sounding is Priority.HIGH
    text = _render(snap, header)
    assert "9.5" in text and "L4 right" in text and "room-a" in text
    assert "5.75 °C" not in text and "5.8 °C in 90 s" in text  # 9.5 - 2.5/min × 90 s
    assert "read-only remote view" in text and "ack all" not in text


def test_a_fault_status_never_carries_a_number() -> None:
    state = WatchState(station="s")
    state.broker_connected()
    topic = Topics("s").channel("L4R")
    state.apply(topic, b'{"t": 1, "temp_c": 25.0, "status": "OPEN"}', 0.0)
    snap, _ = state.snapshot("s", 0.1)
    assert snap.channels[0].status is Status.OPEN and snap.channels[0].temp_c is None
    state.apply(topic, b'{"t": 1, "temp_c": null, "status": "OK"}', 0.2)  # not a reading
    assert state.stations["s"].bad_messages == 1


@given(st.sampled_from(["status", "alarms", "info", "event", "channel/L4R", "channel/x/y",
                        "nonsense"]),
       st.binary(max_size=200) | st.builds(lambda v: json.dumps(v).encode(), st.recursive(
           st.none() | st.booleans() | st.floats() | st.text(max_size=10),
           lambda inner: st.lists(inner, max_size=4)
           | st.dictionaries(st.sampled_from(["t", "temp_c", "status", "alarm", "priority",
                                              "channels", "id", "type", "active"]),
                             inner, max_size=5), max_leaves=12)))
def test_any_payload_is_taken_or_counted_never_a_crash(kind: str, payload: bytes) -> None:
    state = WatchState()
    state.broker_connected()
    state.apply(f"cryoguard/s/{kind}", payload, 0.0)
    state.summary(0.1)
    snap, _ = state.snapshot("s", 0.1)
    for view in snap.channels:
        assert view.temp_c is None or view.status is Status.OK


def _render(snapshot: Any, header: dict[str, Any]) -> str:
    console = Console(width=90, height=30, record=True, color_system=None,
                      file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_dashboard(snapshot, header, width=90, height=30, blink_on=True,
                                   read_only=True))
    return console.export_text()


# Against the broker -----------------------------------------------------------------------------

STATION_CHILD = textwrap.dedent("""
    import asyncio, sys
    from monitor.config.schema import MqttConfig
    from monitor.mqtt.connection import MqttSettings
    from monitor.mqtt.payloads import dumps
    from monitor.mqtt.publisher import MqttPublisher

    ALARMS = [{"alarm": "L4R.below_critical", "channel": "L4R", "condition": "below_critical",
               "category": "physiological", "priority": "high", "raised_t": 5.0,
               "active": True, "acknowledged": False, "value": 9.8, "limit": 10.0,
               "message": "*** L4 right neuroforamen: 9.8 °C, at or below 10 °C"}]

    async def main():
        publisher = MqttPublisher(MqttSettings.resolve(sys.argv[1], MqttConfig(), env={}))
        publisher.start()
        publisher.set_retained(publisher.topics.alarms, dumps(ALARMS))
        t = 0.0
        while True:
            publisher.publish_state("L4R", {"t": t, "temp_c": 9.8, "status": "OK",
                                            "slope_c_per_min": -3.0, "seconds_to_limit": None})
            if publisher.stats.states_published and not publisher._retained:
                print("READY", flush=True)
            t += 0.1
            await asyncio.sleep(0.1)

    asyncio.run(main())
""")


def _start_station(url: str) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", STATION_CHILD, url], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "READY"
    return child


def _read_until(stream: IO[str], predicate: Any, timeout: float = 10.0) -> list[str]:
    """Lines from ``stream`` until one satisfies ``predicate`` (in a thread: a pipe blocks)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if predicate(lines[-1]):
            return lines
    raise AssertionError(f"no matching line; got {lines}")


def test_watch_headless_shows_the_alarm_then_offline_after_kill(broker: Broker) -> None:  # noqa: F811
    station = _start_station(broker.url("room-w"))
    watch = subprocess.Popen([*CRYOGUARD, "watch", "--mqtt", broker.url(""), "--headless"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert watch.stdout is not None
        lines = _read_until(watch.stdout, lambda s: s.startswith("room-w ONLINE"))
        assert lines[-1].startswith("room-w ONLINE *** L4R.below_critical: L4 right")
        os.kill(station.pid, signal.SIGKILL)
        station.wait(5)
        lines = _read_until(watch.stdout, lambda s: s.startswith("room-w OFFLINE"))
        assert lines[-1] == "room-w OFFLINE (station disconnected (will message))"
    finally:
        for process in (station, watch):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
    assert watch.returncode == 0  # SIGTERM ends the watch cleanly


def test_watch_once_prints_the_stations_and_fails_without_a_broker(broker: Broker) -> None:  # noqa: F811
    station = _start_station(broker.url("room-once"))
    try:
        result = subprocess.run([*CRYOGUARD, "watch", "--mqtt", broker.url("room-once"),
                                 "--once", "--wait", "1"], cwd=ROOT, capture_output=True,
                                text=True, timeout=20)
    finally:
        station.kill()
        station.wait(5)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("room-once ONLINE *** L4R.below_critical")
    assert len(result.stdout.splitlines()) == 1

    from tests.mqtt_broker import free_port
    dead = subprocess.run([*CRYOGUARD, "watch", "--mqtt", f"mqtt://127.0.0.1:{free_port()}/",
                           "--once"], cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert dead.returncode == 1
    assert "unreachable" in dead.stderr and "Traceback" not in dead.stderr

    bad = subprocess.run([*CRYOGUARD, "watch", "--mqtt", "http://x/"], cwd=ROOT,
                         capture_output=True, text=True, timeout=20)
    assert bad.returncode == 2 and "mqtt://" in bad.stderr


async def test_data_that_stops_turns_offline_and_watch_never_publishes(
        broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    published: list[str] = []

    async def no_publish(self: aiomqtt.Client, topic: str, *args: Any, **kwargs: Any) -> None:
        published.append(topic)

    topics = Topics("room-silent")
    state = WatchState(data_timeout_s=0.5)
    settings = MqttSettings.resolve(broker.url(""), require_station=False, env={})
    stamp = Stamp()  # the station's run id and sequence numbers, as a real station sends them
    async with aiomqtt.Client(broker.host, broker.port,
                              protocol=aiomqtt.ProtocolVersion.V5) as station:
        await station.publish(topics.status, b"online", qos=1, retain=True,
                              properties=stamp.next())
        station_publish = aiomqtt.Client.publish  # the station's; the watch's is patched
        monkeypatch.setattr(aiomqtt.Client, "publish", no_publish)
        follower = asyncio.create_task(follow(settings, state))
        try:
            for _ in range(5):
                await station_publish(station, topics.channel("L4R"),
                                      dumps(channel_payload(channel("L4R", 20.0))),
                                      properties=stamp.next())
                await asyncio.sleep(0.05)
            await _until(lambda: state.presence("room-silent", time.monotonic())[0]
                         is Presence.ONLINE)
            # The station stays connected (no will) but its data stops.
            await _until(lambda: state.presence("room-silent", time.monotonic())[0]
                         is Presence.OFFLINE, timeout=3)
            assert "no channel data" in state.presence("room-silent", time.monotonic())[1]
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
    assert published == []


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# End to end: two simulated rooms, one watch (the recipe in docs/mqtt.md) ------------------------

async def test_two_rooms_one_watch_end_to_end(broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    """``cryoguard demo --mqtt`` in two rooms: the MQTT event topic carries exactly the event
    stream, the watch shows each room's alarms, a clean end is OFFLINE (session ended) and a
    daemon killed with SIGKILL is OFFLINE by its will message."""
    events_a = tmp_path / "a.jsonl"
    async with Subscriber(broker, Topics("room-a").event, Topics("room-b").status) as sub:
        watch = await asyncio.create_subprocess_exec(
            *CRYOGUARD, "watch", "--mqtt", broker.url(""), "--headless", cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)

        def demo(room: str, *extra: str) -> Any:
            return asyncio.create_subprocess_exec(
                *CRYOGUARD, "demo", "--headless", "--mqtt", broker.url(room), "--speed", "60",
                "--session", str(tmp_path / f"{room}.db"), *extra, cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)

        room_a = await demo("room-a", "--duration", "240", "--events-out", str(events_a))
        room_b = await demo("room-b", "--scenario", "breach", "--duration", "600")
        try:
            await sub.wait_topic(Topics("room-b").status, lambda m: m.text == "online",
                                 timeout=15)
            assert await asyncio.wait_for(room_a.wait(), 30) == 0
            room_b.send_signal(signal.SIGKILL)
            await room_b.wait()
            await sub.wait_topic(Topics("room-b").status, lambda m: m.text == "offline")
            lines: list[str] = []
            assert watch.stdout is not None
            while not {"room-a OFFLINE (session ended)",
                       "room-b OFFLINE (station disconnected (will message))"} <= set(lines):
                raw = await asyncio.wait_for(watch.stdout.readline(), 10)
                assert raw, f"watch ended early: {lines}"
                lines.append(raw.decode().rstrip("\n"))
        finally:
            for process in (room_a, room_b, watch):
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    stream = [json.loads(line) for line in events_a.read_text().splitlines()]
    published = [m.json() for m in sub.on(Topics("room-a").event)]
    assert published == stream  # every event, in order, as on the event stream
    assert any(r["type"] == "alarm.raised" and r["priority"] == "high" for r in stream)
    assert any(line.startswith("room-a ONLINE *** N1.below_critical") for line in lines)
    assert any(line.startswith("room-b ONLINE") for line in lines)
