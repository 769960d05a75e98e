"""The daemon's MQTT output: events, channel states and the alarm list to the broker.

``on_events`` and ``on_snapshot`` only queue (see :class:`MqttPublisher`): a dead broker costs
the alarm path a list append. Channel states go out at ``publish_hz`` from the newest snapshot;
the retained ``alarms`` list goes out when it changes; a broker outage is a low-priority
technical alarm ``mqtt.output_failed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.config.schema import MqttConfig
from monitor.engine import AlarmView, Snapshot
from monitor.model import Priority
from monitor.mqtt.connection import MqttSettings
from monitor.mqtt.discovery import Discovery
from monitor.mqtt.payloads import (
    alarms_payload,
    channel_payload,
    dumps,
    info_key,
    info_payload,
)
from monitor.mqtt.publisher import MqttPublisher
from monitor.outputs.base import OutputContext


class MqttOutput:
    """``MqttOutput(args.mqtt, config.mqtt, station=config.station.name)``.

    Raises ``UsageError`` at construction for a bad URL or missing TLS files, so the command
    exits 2 before monitoring starts instead of alarming later.
    """

    name = "mqtt"

    def __init__(self, url: str | None, config: MqttConfig | None = None, *,
                 station: str | None = None, env: Mapping[str, str] | None = None,
                 settings: MqttSettings | None = None) -> None:
        self.settings = settings or MqttSettings.resolve(url, config, station=station, env=env)
        self.publisher = MqttPublisher(self.settings)
        self.discovery = Discovery(self.station, self.settings.discovery)
        self._snapshot: Snapshot | None = None
        self._alarms: tuple[AlarmView, ...] | None = None
        self._info_key: tuple[Any, ...] | None = None
        self._header: Mapping[str, Any] = {}

    @property
    def station(self) -> str:
        return self.settings.station

    # The alarm path: queue only ----------------------------------------------------------------

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        for record in records:
            self.publisher.publish_event(record)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        if snapshot.alarms != self._alarms:
            self._alarms = snapshot.alarms
            self.publisher.set_retained(self.publisher.topics.alarms,
                                        dumps(alarms_payload(snapshot.alarms)))
        for topic, config in self.discovery.changes(snapshot):  # Home Assistant, if asked
            self.publisher.set_retained(topic, dumps(config) if config is not None else b"",
                                        refresh=False)
        key = info_key(snapshot)
        if key != self._info_key:
            self._info_key = key
            self.publisher.set_retained(
                self.publisher.topics.info,
                dumps(info_payload(self.station, self._header, snapshot)))

    # Background ----------------------------------------------------------------------------

    async def run(self, context: OutputContext) -> None:
        self.publisher.on_fault = lambda m: context.fault(self.name, m, Priority.LOW)
        self.publisher.on_recover = lambda m: context.recovered(self.name, m)
        self._header = dict(context.header)
        self._info_key = None  # (re)send ``info`` with the header
        self.on_snapshot(context.snapshot())
        self.publisher.start()
        period = 1.0 / self.settings.publish_hz
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            self.publish_states()
            next_at += period
            delay = next_at - loop.time()
            if delay < -period:  # the loop was held up: restart the schedule, no burst
                next_at = loop.time()
                delay = 0.0
            await asyncio.sleep(max(0.0, delay))

    def publish_states(self) -> None:
        """One ``channel/<id>`` message per channel from the newest snapshot."""
        snapshot = self._snapshot
        if snapshot is None:
            return
        for view in snapshot.channels:
            self.publisher.publish_state(view.id, channel_payload(view))

    async def close(self) -> None:
        await self.publisher.close()
