"""The watcher's side of the broker: subscribe, feed a :class:`WatchState`, reconnect.

Read-only by construction: this client subscribes and never publishes, so a remote view can
neither acknowledge nor change anything at the station.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import aiomqtt

from monitor.mqtt.connection import (
    MqttSettings,
    describe_error,
    make_client,
    new_identifier,
    private_logger,
)
from monitor.mqtt.integrity import user_properties
from monitor.mqtt.topics import ALL_STATIONS, Topics
from monitor.mqtt.watch_state import WatchState


def _ignore(reason: str | None) -> None:
    del reason


async def follow(settings: MqttSettings, state: WatchState, *,
                 on_message: Callable[[str], None] | None = None,
                 on_connection: Callable[[str | None], None] = _ignore,
                 clock: Callable[[], float] = time.monotonic,
                 once: bool = False) -> None:
    """Feed ``state`` from the broker until cancelled (``once``: stop after the first failure).

    ``on_connection(None)`` when subscribed, ``on_connection(reason)`` when the broker is lost.
    """
    station = state.only
    topic = Topics(station).everything if station else ALL_STATIONS
    identifier = new_identifier(station or "", "watch")
    logger, socket_errors = private_logger(identifier)
    delay = settings.backoff_min_s
    while True:
        client = make_client(settings, identifier=identifier, logger=logger)
        try:
            async with client:
                await client.subscribe(topic, qos=1)
                state.broker_connected()
                on_connection(None)
                delay = settings.backoff_min_s
                async for message in client.messages:
                    payload = message.payload
                    data = payload if isinstance(payload, bytes) else \
                        str(payload if payload is not None else "").encode()
                    name = state.apply(str(message.topic), data, clock(),
                                       user_properties(message.properties))
                    if name is not None and on_message is not None:
                        on_message(name)
        except asyncio.CancelledError:
            raise
        except (aiomqtt.MqttError, OSError) as exc:
            reason = describe_error(exc, socket_errors.take())
            state.broker_lost(reason)
            on_connection(reason)
            if once:
                return
        await asyncio.sleep(delay * random.uniform(0.8, 1.0))
        delay = min(delay * 2, settings.backoff_max_s)
