"""MQTT figures against a local mosquitto: publish rate, delivery latency, alarm-path cost.

    .venv/bin/python bench/mqtt_rate.py [--events 20000] [--states 20000]

Starts its own mosquitto on a free loopback port. Prints:
- the rate at which the publisher drains QoS 1 events and QoS 0 channel states (messages/s,
  counted when a subscriber has received them all);
- the delivery latency of single events (on_events call to a subscriber's receipt), p50/p99;
- what MQTT adds to the alarm path: the cost of ``MqttOutput.on_events`` + ``on_snapshot`` per
  call with the broker up and with it down (the engine never waits for more than this).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiomqtt
from _figures import emit, figure

from monitor.config.schema import MqttConfig
from monitor.engine import Snapshot
from monitor.engine.alarms import AudioState
from monitor.engine.channel import ChannelView
from monitor.mqtt.connection import MqttSettings
from monitor.outputs.mqtt import MqttOutput
from tests.mqtt_broker import Broker, free_port, mosquitto_path

RATES: dict[str, float] = {}


def record(i: int) -> dict[str, Any]:
    return {"t": i * 0.1, "time": None, "type": "alarm.raised", "alarm": "L4R.below_critical",
            "channel": "L4R", "condition": "below_critical", "category": "physiological",
            "priority": "high", "value": 9.5, "limit": 10.0, "message": f"*** bench {i}"}


def snapshot(n_channels: int, t: float) -> Snapshot:
    channels = tuple(ChannelView(id=f"C{i}", label=f"C{i}", role="nerve", t=t, temp_c=20.0,
                                 stale=False, slope_c_per_min=-1.0, seconds_to_limit=600.0)
                     for i in range(n_channels))
    return Snapshot(t=t, channels=channels, alarms=(),
                    audio=AudioState(False, None, None), devices=())


class Context:
    def __init__(self) -> None:
        self.faults: list[str] = []

    def fault(self, output: str, message: str, priority: Any) -> None:
        self.faults.append(message)

    def recovered(self, output: str, message: str) -> None:
        pass

    def snapshot(self) -> Snapshot:
        return snapshot(16, 0.0)

    @property
    def header(self) -> dict[str, Any]:
        return {"mode": "bench"}


def make_output(url: str, queue_limit: int = 1_000_000) -> MqttOutput:
    base = MqttSettings.resolve(url, MqttConfig(queue_limit=queue_limit, publish_hz=0.01),
                                env={})
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(backoff_min_s=0.05, backoff_max_s=0.2)
    return MqttOutput(None, settings=MqttSettings(**fields))


async def count_until(client: aiomqtt.Client, n: int) -> float:
    got = 0
    async for _ in client.messages:
        got += 1
        if got >= n:
            return time.perf_counter()
    raise RuntimeError("subscriber ended early")


async def throughput(server: Broker, n_events: int, n_states: int) -> None:
    station = "bench-rate"
    output = make_output(server.url(station))
    context = Context()
    runner = asyncio.create_task(output.run(context))  # type: ignore[arg-type]
    while not output.publisher.connected:
        await asyncio.sleep(0.01)
    async with aiomqtt.Client(server.host, server.port,
                              max_queued_incoming_messages=0) as sub:
        def event(i: int) -> None:
            output.on_events([record(i)])

        def state(i: int) -> None:
            output.publisher.publish_state(f"C{i % 16}", {
                "t": i * 0.1, "temp_c": 20.0, "status": "OK", "slope_c_per_min": -1.0,
                "seconds_to_limit": 600.0})

        runs: list[tuple[str, str, int, int, Callable[[int], None]]] = [
            ("events (QoS 1)", f"cryoguard/{station}/event", 1, n_events, event),
            ("channel states (QoS 0)", f"cryoguard/{station}/channel/#", 0, n_states, state)]
        for label, topic, qos, n, feed in runs:
            await sub.subscribe(topic, qos=qos)
            waiter = asyncio.create_task(count_until(sub, n))
            start = time.perf_counter()
            for i in range(n):
                feed(i)
            end = await asyncio.wait_for(waiter, 120)
            await sub.unsubscribe(topic)
            RATES[label] = n / (end - start)
            print(f"  {label:<24} {n:>7} messages in {end - start:6.2f} s = "
                  f"{n / (end - start):>8,.0f} messages/s")
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await output.close()


async def latency(server: Broker, samples: int) -> None:
    station = "bench-latency"
    output = make_output(server.url(station))
    runner = asyncio.create_task(output.run(Context()))  # type: ignore[arg-type]
    while not output.publisher.connected:
        await asyncio.sleep(0.01)
    delays: list[float] = []
    async with aiomqtt.Client(server.host, server.port) as sub:
        await sub.subscribe(f"cryoguard/{station}/event", qos=1)
        for i in range(samples):
            start = time.perf_counter()
            output.on_events([record(i)])
            async for _ in sub.messages:
                break
            delays.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.002)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await output.close()
    delays.sort()
    print(f"  event delivery latency (publish call to subscriber), {samples} events: "
          f"p50 {statistics.median(delays):.2f} ms, p99 {delays[int(0.99 * len(delays))]:.2f} ms")


async def alarm_path_cost(url: str, label: str, calls: int) -> None:
    output = make_output(url)
    context = Context()
    runner = asyncio.create_task(output.run(context))  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    snap = snapshot(16, 0.0)
    costs: list[float] = []
    for i in range(calls):
        start = time.perf_counter_ns()
        output.on_events([record(i)])
        output.on_snapshot(snap)
        costs.append((time.perf_counter_ns() - start) / 1000)
        if i % 100 == 0:
            await asyncio.sleep(0)  # let the publisher run, as the daemon's loop would
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await output.close()
    costs.sort()
    print(f"  alarm-path cost of on_events+on_snapshot, broker {label:<5}: "
          f"p50 {statistics.median(costs):.1f} µs, p99 {costs[int(0.99 * len(costs))]:.1f} µs, "
          f"max {costs[-1]:.0f} µs ({calls} calls)")
    if context.faults:
        print(f"    technical alarm: mqtt: {context.faults[-1]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--states", type=int, default=20_000)
    parser.add_argument("--latency-samples", type=int, default=500)
    args = parser.parse_args()
    binary = mosquitto_path()
    if binary is None:
        sys.exit("mosquitto is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        server = Broker(binary, Path(tmp)).start()
        try:
            print(f"mosquitto on 127.0.0.1:{server.port}, one publisher, one subscriber")
            await throughput(server, args.events, args.states)
            await latency(server, args.latency_samples)
            await alarm_path_cost(server.url("bench-cost"), "up", 20_000)
            await alarm_path_cost(f"mqtt://127.0.0.1:{free_port()}/bench-cost", "down", 20_000)
        finally:
            server.stop()
    events, states = RATES["events (QoS 1)"], RATES["channel states (QoS 0)"]
    emit("mqtt_rate", [figure(
        "mqtt.rate", "MQTT publish rate to a local mosquitto, events QoS 1 / channel states "
        "QoS 0, counted at a subscriber (`python bench/mqtt_rate.py`)",
        f"~{events:,.0f} / ~{states:,.0f} msg/s", value=events, unit="msg/s")])


if __name__ == "__main__":
    asyncio.run(main())
