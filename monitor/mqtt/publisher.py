"""Publishing one station to the broker, without ever making the alarm path wait.

The ``publish_*``/``set_*`` calls only append to a bounded queue (or replace a latest-value
slot) and wake the connection task; all network work happens in that task. The task connects
with a will message (``status`` = ``offline``, retained), announces ``online`` (retained), then
drains the queue in order, a pipeline of up to ``PIPELINE`` publishes per round trip. An item
leaves the queue for good only when the broker confirmed it: if the connection drops, the
unconfirmed ones go back to the front and are sent again after the reconnect (QoS 1 is
at-least-once: a message that reached the broker just before the drop may arrive twice).
While the broker is away the task retries with exponential backoff and reports the outage
through ``on_fault``; ``on_recover`` when it is back.

Every message carries this run's id and a sequence number (MQTT 5 user properties,
:mod:`monitor.mqtt.integrity`), and the retained ``alarms`` and ``info`` are republished every
``REFRESH_S``: a viewer flags a message that is not from this run (docs/mqtt.md, "Integrity").
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiomqtt

from monitor.mqtt.connection import (
    PIPELINE,
    MqttSettings,
    describe_error,
    make_client,
    new_identifier,
    private_logger,
    watch_refusals,
)
from monitor.mqtt.integrity import Stamp
from monitor.mqtt.payloads import dumps
from monitor.mqtt.queue import OutboundQueue
from monitor.mqtt.topics import OFFLINE, ONLINE, Topics

CLOSE_TIMEOUT_S = 1.5  # the daemon gives each output 2 s to close
OFFLINE_S = 0.5  # of which this is kept for the ``offline`` message
REFRESH_S = 2.0  # retained alarms and info again: a forged copy is caught within this time


def _ignore(message: str) -> None:
    del message


@dataclass(slots=True)
class PublisherStats:
    connects: int = 0
    failures: int = 0
    events_published: int = 0
    states_published: int = 0
    retained_published: int = 0
    refused: int = 0  # of those, QoS 1 messages the broker acknowledged with a refusal (ACL)


class MqttPublisher:
    """One station's MQTT connection. Feed it from the event loop thread."""

    def __init__(self, settings: MqttSettings, *,
                 on_fault: Callable[[str], None] = _ignore,
                 on_recover: Callable[[str], None] = _ignore,
                 identifier: str | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings.station)
        self.queue = OutboundQueue(settings.queue_limit)
        self.on_fault = on_fault
        self.on_recover = on_recover
        self.identifier = identifier or new_identifier(settings.station)
        self.stats = PublisherStats()
        self._logger, self._socket_errors = private_logger(self.identifier)
        self.connected = False
        self.last_error: str | None = None
        self.stamp = Stamp()
        self._retained: dict[str, bytes] = {}  # topic -> latest payload not yet confirmed
        self._refreshed: dict[str, bytes] = {}  # topic -> latest payload, republished
        self.refresh_s = REFRESH_S
        self._next_refresh = 0.0
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._faulted = False
        self._refusing = False
        self._reported_drops = 0
        self._task: asyncio.Task[None] | None = None
        self._offline_sent = False
        self._drain_until = float("inf")

    # Feeding (never blocks, never raises for the network) ---------------------------------

    def publish_event(self, record: Mapping[str, Any]) -> None:
        self.queue.put_event(self.topics.event, dumps(record), self.settings.qos_events)
        self._wake.set()

    def publish_state(self, channel_id: str, payload: Mapping[str, Any]) -> None:
        self.queue.put_state(self.topics.channel(channel_id), dumps(payload))
        self._wake.set()

    def set_retained(self, topic: str, payload: bytes, *, refresh: bool = True) -> None:
        """A latest-value retained topic (``alarms``, ``info``): only the newest is sent, and
        again every ``REFRESH_S`` (``refresh=False``: once, as for discovery configs)."""
        self._retained[topic] = payload
        if refresh:
            self._refreshed[topic] = payload
        self._wake.set()

    # Running ----------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._connection_loop(), name=f"mqtt-{self.settings.station}")
        return self._task

    async def run(self) -> None:
        """Publish until :meth:`close`. Cancelling ``run`` leaves the connection up, so that
        :meth:`close` can still send the last events and ``offline``."""
        await asyncio.shield(self.start())

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Send what is queued and ``offline`` (retained), then disconnect: at most
        ``timeout_s``. If the broker is away, stop at once: it published the will when the
        connection went (or there never was one)."""
        # Stop draining a backlog in time to say ``offline`` before the deadline.
        self._drain_until = asyncio.get_running_loop().time() + max(0.0, timeout_s - OFFLINE_S)
        self._closing.set()
        self._wake.set()
        task = self._task
        if task is None:
            return
        if not self.connected:
            await _cancel_and_wait(task)
            return
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(task)
        except TimeoutError:
            await _cancel_and_wait(task)
        except asyncio.CancelledError:
            if _cancelled_from_outside():
                raise
        except Exception:  # the loop never raises, but a close must not either
            pass

    @property
    def offline_sent(self) -> bool:
        return self._offline_sent

    async def _connection_loop(self) -> None:
        delay = self.settings.backoff_min_s
        will = aiomqtt.Will(self.topics.status, OFFLINE.encode(), qos=1, retain=True,
                            properties=self.stamp.will())
        while True:
            client = make_client(self.settings, identifier=self.identifier, will=will,
                                 logger=self._logger)
            watch_refusals(client, self._acknowledged)
            try:
                async with client:
                    self._socket_errors.take()
                    self._connected_now()
                    delay = self.settings.backoff_min_s
                    await self._session(client)
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(exc)
            finally:
                self.connected = False
            if self._closing.is_set():
                return  # the broker is away at shutdown: the will says offline for us
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay * random.uniform(0.8, 1.0)):
                    await self._closing.wait()  # not wait_for: 3.11's can swallow a cancel
            delay = min(delay * 2, self.settings.backoff_max_s)

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.publish(self.topics.status, ONLINE.encode(), qos=1, retain=True,
                             properties=self.stamp.next())
        self.stats.retained_published += 1
        self._retained.update(self._refreshed)  # a broker restart may have lost them
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(self._until_disconnected(client))
            await self._pump(client)
            await client.publish(self.topics.status, OFFLINE.encode(), qos=1, retain=True,
                                 properties=self.stamp.next())
            self._offline_sent = True
            watcher.cancel()

    @staticmethod
    async def _until_disconnected(client: aiomqtt.Client) -> None:
        """Raises ``MqttError`` when the connection drops (the pump may be idle then)."""
        async for _ in client.messages:
            pass

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Drain retained slots and the queue until closing and empty."""
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            if loop.time() >= self._next_refresh:
                self._next_refresh = loop.time() + self.refresh_s
                self._retained.update(self._refreshed)
            if self._retained:
                await self._publish_retained(client)
                continue
            closing = self._closing.is_set()
            if closing and asyncio.get_running_loop().time() > self._drain_until:
                return
            batch = self.queue.take(PIPELINE)
            if batch:
                try:
                    async with asyncio.TaskGroup() as group:
                        for item in batch:  # tasks start in order, so paho sends in order
                            group.create_task(client.publish(item.topic, item.payload,
                                                             qos=item.qos,
                                                             properties=self.stamp.next()))
                except BaseException:
                    self.queue.requeue(batch)
                    raise
                events = sum(1 for item in batch if item.is_event)
                self.stats.events_published += events
                self.stats.states_published += len(batch) - events
                self._report_drops()
                continue
            if self._faulted and self.connected:
                self._faulted = False  # a burst beyond the limit, now caught up
                self.on_recover(f"caught up; {self.queue.dropped_events} event(s) dropped")
            if closing:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, self._next_refresh - loop.time())):
                    await self._wake.wait()

    async def _publish_retained(self, client: aiomqtt.Client) -> None:
        pending = dict(self._retained)
        async with asyncio.TaskGroup() as group:
            for topic, payload in pending.items():
                group.create_task(client.publish(topic, payload, qos=1, retain=True,
                                                 properties=self.stamp.next()))
        for topic, payload in pending.items():
            if self._retained.get(topic) is payload:
                del self._retained[topic]  # not superseded while in flight
        self.stats.retained_published += len(pending)

    # Health -----------------------------------------------------------------------------------

    def _acknowledged(self, refusal: str | None) -> None:
        """A PUBACK: a refusal is a fault (once, until the broker takes messages again)."""
        if refusal is None:
            if self._refusing:
                self._refusing = False
                self.on_recover(f"broker {self.settings.url.redacted()} accepts this "
                                f"station's messages again ({self.stats.refused} refused)")
            return
        self.stats.refused += 1
        if not self._refusing:
            self._refusing = True
            user = self.settings.username or "no user name"
            self.on_fault(f"broker {self.settings.url.redacted()} refuses this station's "
                          f"messages: {refusal}; its ACL must let {user} write "
                          f"{self.topics.base}/#")

    def _connected_now(self) -> None:
        self.connected = True
        self.stats.connects += 1
        self.last_error = None
        self._reported_drops = self.queue.dropped_events
        if self._faulted:
            self._faulted = False
            dropped = self.queue.dropped_events
            extra = f"; {dropped} event(s) were dropped while it was away" if dropped else ""
            self.on_recover(f"connected to {self.settings.url.redacted()} again{extra}")

    def _lost(self, exc: BaseException) -> None:
        self.connected = False
        self.stats.failures += 1
        self.last_error = describe_error(exc, self._socket_errors.take())
        self._faulted = True
        self.on_fault(f"broker {self.settings.url.redacted()} unreachable: {self.last_error}; "
                      f"{self._waiting_text()}")

    def _waiting_text(self) -> str:
        text = f"{self.queue.events_waiting} event(s) waiting"
        if self.queue.dropped_events:
            text += f", {self.queue.dropped_events} dropped (queue limit " \
                    f"{self.queue.limit})"
        return text

    def _report_drops(self) -> None:
        """Events lost to the queue limit while connected (a burst beyond it) are a fault too."""
        dropped = self.queue.dropped_events
        if dropped > self._reported_drops:
            self._reported_drops = dropped
            self._faulted = True
            self.on_fault(f"{dropped} event(s) dropped: more than {self.queue.limit} waited "
                          "for the broker")


def _cancelled_from_outside() -> bool:
    """Is the current task itself being cancelled (not just a task it awaited)?"""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel our own background task and wait for it, without swallowing a cancel of the
    caller."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if _cancelled_from_outside():
            raise
    except Exception:
        pass
