"""Parsed scans → :class:`Reading` objects with channel ids and the driver's timestamp."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from drivers.sink import DriverSink
from drivers.types import Key, ParsedScan
from monitor.model import Reading

log = logging.getLogger("cryoguard.drivers")


class ChannelMapper:
    """Names each device position or key; unmapped ones are learned or logged, never lost."""

    def __init__(self, device: str, channel_map: Mapping[Key, str], *, learn: bool) -> None:
        self.device = device
        self.learn = learn
        self._map: dict[Key, str] = dict(channel_map)
        self._warned: set[Key] = set()

    def channel(self, key: Key) -> str | None:
        found = self._map.get(key)
        if found is None:
            alt: Key | None = None
            if isinstance(key, int):
                alt = str(key)
            elif key.isdigit():
                alt = int(key)
            if alt is not None:
                found = self._map.get(alt)
        if found is None and self.learn:
            found = f"ch{key}" if isinstance(key, int) else key
            self._map[key] = found
            log.info("device %s: new channel %s", self.device, found)
        if found is None and key not in self._warned:
            self._warned.add(key)
            log.warning("device %s: data for %s %r ignored: no channel configured for it",
                        self.device, "index" if isinstance(key, int) else "key", key)
        return found

    def readings(self, scan: ParsedScan, t: float) -> list[Reading]:
        out: list[Reading] = []
        for value in scan.values:
            channel = self.channel(value.key)
            if channel is not None:
                out.append(Reading(t, channel, value.temp_c, value.status))
        return out

    def deliver(self, scan: ParsedScan, t: float, sink: DriverSink) -> int:
        """Send one scan to the sink: readings, or bad data when the frame yielded none."""
        readings = self.readings(scan, t)
        if readings:
            sink.scan(readings)
        elif scan.notes:
            for note in scan.notes:
                sink.bad_data(t, self.device, note)
        if scan.notes and readings:
            log.debug("device %s: %s", self.device, "; ".join(scan.notes))
        return len(readings)
