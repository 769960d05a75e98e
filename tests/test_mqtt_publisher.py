"""The MQTT output against a real mosquitto: topics, payloads, retained state, the will after
kill -9, a broker restart, a dead broker, and the bounded queue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config.schema import MqttConfig
from monitor.engine import AlarmView, Snapshot
from monitor.engine.alarms import AudioState
from monitor.engine.channel import ChannelView
from monitor.model import Priority, Status
from monitor.mqtt.connection import MqttSettings
from monitor.mqtt.queue import OutboundQueue
from monitor.mqtt.topics import Topics
from monitor.outputs.mqtt import MqttOutput
from tests.mqtt_broker import (  # noqa: F401  (fixtures)
    Broker,
    BrokerFactory,
    Received,
    Subscriber,
    broker,
    broker_factory,
    free_port,
)

ROOT = Path(__file__).resolve().parents[1]


# Synthetic engine state -----------------------------------------------------------------------

def channel(cid: str, temp: float | None, *, status: Status = Status.OK, stale: bool = False,
            t: float = 12.5, slope: float | None = -2.5, eta: float | None = 90.0
            ) -> ChannelView:
    return ChannelView(id=cid, label=f"{cid} label", role="nerve", t=t, temp_c=temp,
                       status=status, stale=stale, slope_c_per_min=slope, seconds_to_limit=eta)


def alarm(cid: str, condition: str, priority: Priority = Priority.HIGH, *,
          active: bool = True) -> AlarmView:
    return AlarmView(id=f"{cid}.{condition}", channel=cid, condition=condition,
                     category="physiological", priority=priority, raised_t=10.0, active=active,
                     acknowledged=False, value=9.5, limit=10.0,
                     message=f"{priority.marker} {cid} {condition}")


def snapshot(*channels: ChannelView, alarms: tuple[AlarmView, ...] = (), t: float = 12.5
             ) -> Snapshot:
    return Snapshot(t=t, channels=channels, alarms=alarms,
                    audio=AudioState(paused=False, paused_until=None, sounding=None),
                    devices=(("tcbox", "connected"),))


def raised(cid: str, condition: str, t: float) -> dict[str, Any]:
    return {"t": t, "time": "2025-01-01T00:00:00.000Z", "type": "alarm.raised",
            "alarm": f"{cid}.{condition}", "channel": cid, "condition": condition,
            "category": "physiological", "priority": "high", "value": 9.5, "limit": 10.0,
            "message": f"*** {cid} {condition}"}


class FakeContext:
    """The daemon side of the output contract, recording fault and recovery calls."""

    def __init__(self, state: Snapshot | None = None) -> None:
        self.faults: list[tuple[str, str, Priority]] = []
        self.recoveries: list[tuple[str, str]] = []
        self.state = state or snapshot(channel("L4R", 30.0))

    def fault(self, output: str, message: str, priority: Priority) -> None:
        self.faults.append((output, message, priority))

    def recovered(self, output: str, message: str) -> None:
        self.recoveries.append((output, message))

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None:
        self.fault(output, message, priority)

    def recovered_threadsafe(self, output: str, message: str) -> None:
        self.recovered(output, message)

    def acknowledge(self, alarm: str | None = None) -> None:
        raise AssertionError("MQTT must never acknowledge")

    def pause_audio(self) -> None:
        raise AssertionError("MQTT must never pause audio")

    def mark(self, mark: str) -> None:
        raise AssertionError("MQTT must never mark")

    def request_quit(self) -> None:
        raise AssertionError("MQTT must never quit the session")

    def snapshot(self) -> Snapshot:
        return self.state

    @property
    def header(self) -> Mapping[str, Any]:
        return {"station": "x", "mode": "test", "started": "2025-01-01T00:00:00", "speed": 1.0}


def settings_for(url: str, **overrides: Any) -> MqttSettings:
    config = MqttConfig(publish_hz=overrides.pop("publish_hz", 20.0),
                        queue_limit=overrides.pop("queue_limit", 10_000))
    base = MqttSettings.resolve(url, config, env={})
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(backoff_min_s=0.05, backoff_max_s=0.2)
    fields.update(overrides)
    return MqttSettings(**fields)


async def until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class Running:
    """An MqttOutput running as the daemon runs it: ``run`` as a task, ``close`` at the end."""

    def __init__(self, output: MqttOutput, context: FakeContext) -> None:
        self.output = output
        self.context = context
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.output.run(self.context))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self.task is not None:  # the daemon cancels run, then calls close
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
            await self.output.close()


async def connected(output: MqttOutput) -> None:
    await until(lambda: output.publisher.connected)


@pytest.fixture
async def sub_all(broker: Broker) -> AsyncIterator[Subscriber]:  # noqa: F811
    async with Subscriber(broker, "cryoguard/#") as sub:
        yield sub


# Tests ----------------------------------------------------------------------------------------

async def test_topics_and_payloads_follow_the_contract(broker: Broker,  # noqa: F811
                                                       sub_all: Subscriber) -> None:
    topics = Topics("room-contract")
    state = snapshot(channel("L4R", 9.5), channel("L5L", None, status=Status.OPEN, slope=None,
                                                  eta=None),
                     channel("skin", None, stale=True, slope=None, eta=None),
                     alarms=(alarm("L4R", "below_critical"),))
    context = FakeContext(state)
    output = MqttOutput(None, settings=settings_for(broker.url("room-contract")))
    async with Running(output, context):
        await connected(output)
        output.on_snapshot(state)
        records = [raised("L4R", "below_warning", 10.0), raised("L4R", "below_critical", 11.0),
                   {"t": 11.5, "time": None, "type": "audio.paused", "message": "paused"}]
        output.on_events(records)
        await sub_all.wait_for(lambda ms: len([m for m in ms if m.topic == topics.event]) == 3)
        for cid in ("L4R", "L5L", "skin"):
            await sub_all.wait_topic(topics.channel(cid))

    await sub_all.wait_topic(topics.status, lambda m: m.text == "offline")
    status = [m.text for m in sub_all.on(topics.status)]
    assert status == ["online", "offline"]
    assert [m.json() for m in sub_all.on(topics.event)] == records
    assert all(m.qos == 1 for m in sub_all.on(topics.event))

    ok = sub_all.on(topics.channel("L4R"))[-1].json()
    assert ok == {"t": 12.5, "temp_c": 9.5, "status": "OK", "slope_c_per_min": -2.5,
                  "seconds_to_limit": 90.0}
    assert sub_all.on(topics.channel("L5L"))[-1].json() == {
        "t": 12.5, "temp_c": None, "status": "OPEN", "slope_c_per_min": None,
        "seconds_to_limit": None}
    assert sub_all.on(topics.channel("skin"))[-1].json()["status"] == "STALE"

    alarms = sub_all.on(topics.alarms)[-1].json()
    assert [a["alarm"] for a in alarms] == ["L4R.below_critical"]
    assert alarms[0]["priority"] == "high" and alarms[0]["active"] is True
    info = sub_all.on(topics.info)[-1].json()
    assert [c["id"] for c in info["channels"]] == ["L4R", "L5L", "skin"]
    assert info["channels"][0]["label"] == "L4R label"
    assert context.faults == []


async def test_channel_states_come_at_the_publish_rate(broker: Broker,  # noqa: F811
                                                       sub_all: Subscriber) -> None:
    topics = Topics("room-rate")
    output = MqttOutput(None, settings=settings_for(broker.url("room-rate"), publish_hz=20.0))
    async with Running(output, FakeContext()):
        await connected(output)
        output.on_snapshot(snapshot(channel("L4R", 30.0)))
        first = await sub_all.wait_topic(topics.channel("L4R"))
        assert first.json()["temp_c"] == 30.0
        start = asyncio.get_running_loop().time()
        await asyncio.sleep(0.5)
        elapsed = asyncio.get_running_loop().time() - start
    count = len(sub_all.on(topics.channel("L4R")))
    assert 0.5 * 20 * elapsed <= count <= 2 * 20 * elapsed + 3


async def test_alarm_list_is_retained_and_republished_on_change(
        broker: Broker, sub_all: Subscriber) -> None:  # noqa: F811
    topics = Topics("room-alarms")
    output = MqttOutput(None, settings=settings_for(broker.url("room-alarms")))
    async with Running(output, FakeContext()):
        await connected(output)
        a = alarm("L4R", "below_warning", Priority.MEDIUM)
        output.on_snapshot(snapshot(channel("L4R", 14.0), alarms=(a,)))
        await sub_all.wait_topic(topics.alarms, lambda m: len(m.json()) == 1)
        for _ in range(5):  # the same list again is not news
            output.on_snapshot(snapshot(channel("L4R", 14.0), alarms=(a,)))
        await asyncio.sleep(0.1)
        output.on_snapshot(snapshot(channel("L4R", 17.0)))
        await sub_all.wait_topic(topics.alarms, lambda m: m.json() == [])
        # A late subscriber reads the current list and the status straight from the broker.
        async with Subscriber(broker, topics.everything) as late:
            await late.wait_topic(topics.alarms)
            await late.wait_topic(topics.status)
            assert late.on(topics.alarms)[-1].retain and late.on(topics.alarms)[-1].json() == []
            assert [m.text for m in late.on(topics.status) if m.retain] == ["online"]
    lists = [m.json() for m in sub_all.on(topics.alarms)]
    assert lists[-1] == [] and [len(x) for x in lists].count(1) == 1  # the repeats not resent
    assert len(lists) <= 3  # (empty at the start, unless superseded before it went out)


async def test_late_subscriber_sees_retained_state_not_old_events(
        broker: Broker) -> None:  # noqa: F811
    topics = Topics("room-late")
    output = MqttOutput(None, settings=settings_for(broker.url("room-late")))
    async with Running(output, FakeContext()):
        await connected(output)
        output.on_snapshot(snapshot(channel("L4R", 9.0), alarms=(alarm("L4R", "freezing"),)))
        output.on_events([raised("L4R", "freezing", 3.0)])
        await until(lambda: output.publisher.stats.events_published == 1
                    and not output.publisher._retained)
        async with Subscriber(broker, topics.everything) as late:
            await late.wait_topic(topics.alarms)
            await late.wait_topic(topics.info)
            await late.wait_topic(topics.status)
            await late.wait_topic(topics.channel("L4R"))  # live again within a period
            retained = {m.topic for m in late.messages if m.retain}
            assert retained == {topics.status, topics.alarms, topics.info}
            assert late.on(topics.event) == []
            assert [a["alarm"] for a in late.on(topics.alarms)[-1].json()] == ["L4R.freezing"]


async def test_clean_close_sends_the_last_events_then_offline(
        broker: Broker, sub_all: Subscriber) -> None:  # noqa: F811
    topics = Topics("room-close")
    output = MqttOutput(None, settings=settings_for(broker.url("room-close")))
    runner = Running(output, FakeContext())
    await runner.__aenter__()
    await connected(output)
    assert runner.task is not None
    runner.task.cancel()  # the daemon stops the outputs' tasks first ...
    await asyncio.gather(runner.task, return_exceptions=True)
    output.on_events([{"t": 99.0, "time": None, "type": "session.ended", "message": "bye"}])
    await output.close()  # ... then emits session.ended and closes them
    await sub_all.wait_topic(topics.status, lambda m: m.text == "offline")
    assert [m.json()["type"] for m in sub_all.on(topics.event)] == ["session.ended"]
    order = [m.topic for m in sub_all.messages if m.topic in (topics.event, topics.status)]
    assert order[-2:] == [topics.event, topics.status]
    assert output.publisher.offline_sent


CHILD = textwrap.dedent("""
    import asyncio, sys
    from monitor.config.schema import MqttConfig
    from monitor.mqtt.connection import MqttSettings
    from monitor.mqtt.publisher import MqttPublisher

    async def main():
        publisher = MqttPublisher(MqttSettings.resolve(sys.argv[1], MqttConfig(), env={}))
        publisher.start()
        publisher.publish_event({"t": 1.0, "time": None, "type": "session.started"})
        while publisher.stats.events_published < 1:
            await asyncio.sleep(0.01)
        print("READY", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


async def test_sigkill_turns_status_offline(broker: Broker,  # noqa: F811
                                            sub_all: Subscriber) -> None:
    topics = Topics("room-kill")
    child = subprocess.Popen([sys.executable, "-c", CHILD, broker.url("room-kill")],
                             stdout=subprocess.PIPE, cwd=ROOT, text=True)
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 15)
        assert line.strip() == "READY"
        await sub_all.wait_topic(topics.status, lambda m: m.text == "online")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(5)
        await sub_all.wait_topic(topics.status, lambda m: m.text == "offline", timeout=5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
    async with Subscriber(broker, topics.status) as late:
        seen = await late.wait_topic(topics.status)
        assert seen.retain and seen.text == "offline"


def _first_copies(messages: list[Received]) -> list[Received]:
    """The messages without redelivered copies (same payload as an earlier one)."""
    seen: set[bytes] = set()
    firsts = []
    for message in messages:
        if message.payload not in seen:
            seen.add(message.payload)
            firsts.append(message)
    return firsts


async def test_broker_restart_delivers_missed_events_in_order(
        broker_factory: BrokerFactory) -> None:  # noqa: F811
    server = broker_factory(persistence=True)
    topics = Topics("room-restart")
    context = FakeContext()
    output = MqttOutput(None, settings=settings_for(server.url("room-restart")))
    watcher = Subscriber(server, topics.event, identifier="watch-restart", persistent=True)
    await watcher.connect()
    async with Running(output, context):
        await connected(output)
        output.on_events([raised("L4R", f"before{i}", float(i)) for i in range(5)])
        await watcher.wait_for(lambda ms: len(ms) == 5)
        await until(lambda: output.publisher.stats.events_published == 5)  # PUBACKs read
        server.stop()  # SIGTERM: the broker saves its sessions; everyone is disconnected
        await until(lambda: not output.publisher.connected)
        missed = [raised("L4R", f"missed{i}", 10.0 + i) for i in range(200)]
        for record in missed:
            output.on_events([record])
        await until(lambda: any("unreachable" in f[1] for f in context.faults))
        assert output.publisher.queue.events_waiting == 200
        server.start()
        await connected(output)
        await until(lambda: output.publisher.queue.events_waiting == 0)
        await watcher.disconnect()
        await watcher.connect()  # the watcher's session survived the restart
        await watcher.wait_for(lambda ms: len(_first_copies(ms)) == 205, timeout=10)
        await asyncio.sleep(0.2)
        await watcher.disconnect()
    # QoS 1 is at least once: the broker may deliver to the watcher again what it had not
    # seen acknowledged when it stopped (docs/mqtt.md). Such a copy is byte-identical to an
    # earlier message; everything else arrives exactly once, in order.
    firsts = _first_copies(watcher.messages)
    conditions = [m.json()["condition"] for m in firsts]
    assert conditions == [f"before{i}" for i in range(5)] + [f"missed{i}" for i in range(200)]
    # at most what can be in flight to one subscriber (mosquitto's max_inflight_messages: 20)
    assert len(watcher.messages) - len(firsts) <= 20, "only in-flight events may come twice"
    assert context.faults and all(f[2] is Priority.LOW and f[0] == "mqtt"
                                  for f in context.faults)
    assert context.recoveries and "again" in context.recoveries[-1][1]


async def test_dead_broker_never_blocks_the_alarm_path_and_is_a_low_alarm() -> None:
    port = free_port()  # nothing listens here
    context = FakeContext()
    output = MqttOutput(None, settings=settings_for(f"mqtt://127.0.0.1:{port}/room-dead",
                                                    queue_limit=500))
    async with Running(output, context):
        await until(lambda: len(context.faults) >= 1)
        # Hand over a flood without ever yielding to the event loop: every call must come
        # back by itself, because nothing else can run until the loop gets control again.
        calls = 0
        for i in range(20_000):
            output.on_events([raised("L4R", "below_critical", float(i))])
            output.on_snapshot(snapshot(channel("L4R", 30.0 - i * 1e-3), t=float(i)))
            calls += 1
        output.publish_states()
        assert calls == 20_000
        queue = output.publisher.queue
        assert len(queue) == 500 and queue.events_waiting == 500
        assert queue.dropped_events == 20_000 - 500
        await until(lambda: any("dropped" in f[1] for f in context.faults))
    output_name, message, priority = context.faults[0]
    assert output_name == "mqtt" and priority is Priority.LOW
    assert f"127.0.0.1:{port}" in message and "unreachable" in message
    assert "connection refused" in message
    assert context.recoveries == []


async def test_outage_keeps_events_drops_oldest_states_then_flushes_in_order(
        broker_factory: BrokerFactory) -> None:  # noqa: F811
    port = free_port()
    topics = Topics("room-outage")
    context = FakeContext()
    output = MqttOutput(None, settings=settings_for(f"mqtt://127.0.0.1:{port}/room-outage",
                                                    queue_limit=50))
    async with Running(output, context):
        await until(lambda: len(context.faults) >= 1)
        for i in range(30):
            output.on_snapshot(snapshot(channel("L4R", float(i)), t=float(i)))
            output.publish_states()
        events = [raised("L4R", f"c{i}", float(i)) for i in range(40)]
        output.on_events(events)
        queue = output.publisher.queue
        assert (queue.events_waiting, queue.states_waiting) == (40, 10)
        assert queue.dropped_events == 0
        server = broker_factory(port=port)
        async with Subscriber(server, topics.everything) as sub:
            await connected(output)
            await sub.wait_for(lambda ms: len([m for m in ms if m.topic == topics.event]) == 40)
            assert [m.json()["condition"] for m in sub.on(topics.event)] == \
                [f"c{i}" for i in range(40)]
            await sub.wait_topic(topics.channel("L4R"))
    assert context.recoveries and context.recoveries[-1][0] == "mqtt"
    assert "again" in context.recoveries[-1][1]


def test_bad_url_or_tls_files_are_usage_errors() -> None:
    from monitor.errors import UsageError

    with pytest.raises(UsageError, match="mqtt://"):
        MqttOutput("http://host/x", MqttConfig(), station="s")
    with pytest.raises(UsageError, match="not TLS"):
        MqttOutput("mqtt://host/x", MqttConfig(ca_file="/etc/hostname"), station="s")
    with pytest.raises(UsageError, match="ca_file"):
        MqttOutput("mqtts://host/x", MqttConfig(ca_file="/nonexistent/ca.pem"), station="s")
    with pytest.raises(UsageError, match="no MQTT broker"):
        MqttOutput(None, MqttConfig(), station="s")


def test_station_and_credentials_precedence() -> None:
    env = {"CRYOGUARD_MQTT_USERNAME": "envuser", "CRYOGUARD_MQTT_PASSWORD": "envpw"}
    s = MqttSettings.resolve("mqtt://h/room-a", MqttConfig(station="cfg"), station="name",
                             env=env)
    assert (s.station, s.username, s.password) == ("room-a", "envuser", "envpw")
    s = MqttSettings.resolve("mqtt://u:p@h/", MqttConfig(station="cfg"), station="name", env=env)
    assert (s.station, s.username, s.password) == ("cfg", "u", "p")
    s = MqttSettings.resolve(None, MqttConfig(url="mqtt://h:1999"), station="name", env={})
    assert (s.station, s.url.port, s.username) == ("name", 1999, None)


# The queue alone (no broker) ------------------------------------------------------------------

@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), max_size=300),
       st.integers(1, 40))
def test_queue_is_bounded_keeps_order_and_prefers_events(ops: list[tuple[bool, int]],
                                                         limit: int) -> None:
    queue = OutboundQueue(limit)
    events_in: list[int] = []
    for n, (is_event, _) in enumerate(ops):
        if is_event:
            queue.put_event("e", str(n).encode(), 1)
            events_in.append(n)
        else:
            queue.put_state("s", str(n).encode())
        assert len(queue) <= limit
    items = queue.take(10_000)
    seqs = [item.seq for item in items]
    assert seqs == sorted(seqs)
    kept_events = [int(i.payload) for i in items if i.is_event]
    # The newest events are kept: only when the queue is all events does one go.
    assert kept_events == events_in[len(events_in) - len(kept_events):]
    assert queue.dropped_events == len(events_in) - len(kept_events)
    if queue.dropped_states:  # a state was dropped only while it made room for a newer item
        assert len(items) == limit
    assert len(queue) == 0


def test_queue_requeue_puts_unconfirmed_items_back_in_front() -> None:
    queue = OutboundQueue(100)
    for i in range(6):
        queue.put_event("e", bytes([i]), 1)
        queue.put_state("s", bytes([i]))
    taken = queue.take(5)
    queue.put_event("e", b"new", 1)
    queue.requeue(taken)
    again = queue.take(100)
    assert [i.seq for i in again] == sorted(i.seq for i in again)
    assert again[:5] == taken
    assert again[-1].payload == b"new"
    # Over the limit, putting back drops the oldest states, as any overflow does.
    small = OutboundQueue(3)
    small.put_state("s", b"0")
    small.put_event("e", b"1", 1)
    small.put_event("e", b"2", 1)
    taken = small.take(2)
    small.put_event("e", b"3", 1)
    small.put_event("e", b"4", 1)
    small.requeue(taken)
    assert [i.payload for i in small.take(10)] == [b"2", b"3", b"4"]
    assert (small.dropped_states, small.dropped_events) == (1, 1)


def test_payload_json_is_strict() -> None:
    from monitor.mqtt.payloads import channel_payload

    view = channel("L4R", 20.0, slope=float("nan"), eta=float("inf"))
    payload = channel_payload(view)
    assert payload["slope_c_per_min"] is None and payload["seconds_to_limit"] is None
    json.dumps(payload, allow_nan=False)


async def test_refused_messages_are_one_fault_until_the_broker_takes_them_again() -> None:
    """What the PUBACK watch reports (the real broker's refusal: test_mqtt_integrity.py)."""
    from monitor.mqtt.publisher import MqttPublisher

    faults: list[str] = []
    recoveries: list[str] = []
    publisher = MqttPublisher(settings_for("mqtt://user:secret@127.0.0.1:1/ct-2"),
                              on_fault=faults.append, on_recover=recoveries.append)
    publisher._acknowledged(None)
    assert faults == [] and recoveries == []
    publisher._acknowledged("Not authorized")
    publisher._acknowledged("Not authorized")
    assert len(faults) == 1 and "Not authorized" in faults[0] and "secret" not in faults[0]
    publisher._acknowledged(None)
    assert len(recoveries) == 1 and "2 refused" in recoveries[0]
    publisher._acknowledged("Quota exceeded")
    assert len(faults) == 2 and publisher.stats.refused == 3
