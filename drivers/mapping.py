"""Parsed scans → :class:`Reading` objects with channel ids and the driver's timestamp."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from drivers.sink import DriverSink
from drivers.types import Key, ParsedScan
from monitor.model import Reading

log = logging.getLogger("cryoguard.drivers")

BAD_DATA_REPORT_S = 0.5  # at most one bad-data report per device this often while no good scan


class BadDataReports:
    """Coalesces a flood of bad frames (line noise) into one report per interval.

    The first bad frame after a good scan is reported at once (so the alarm is immediate);
    while bad frames keep coming, one report each ``interval_s`` carries how many arrived.
    Nothing is lost: every frame is counted in a report.
    """

    def __init__(self, interval_s: float = BAD_DATA_REPORT_S) -> None:
        self.interval_s = interval_s
        self._last_t: float | None = None
        self._held = 0

    def good(self, t: float, device: str, sink: DriverSink) -> None:
        """A good scan: the next bad frame is reported at once; held ones are counted now."""
        if self._held:
            sink.bad_data(t, device, f"{self._held} more bad frame"
                                     f"{'s' if self._held > 1 else ''} since the last report")
        self._held = 0
        self._last_t = None

    def report(self, t: float, device: str, notes: tuple[str, ...], sink: DriverSink) -> None:
        if self._last_t is not None and t - self._last_t < self.interval_s:
            self._held += 1
            log.debug("device %s: bad data: %s", device, "; ".join(notes))
            return
        detail = "; ".join(notes)
        if self._held:
            detail += f" (and {self._held} more bad frame{'s' if self._held > 1 else ''} " \
                      f"before it)"
        self._held = 0
        self._last_t = t
        sink.bad_data(t, device, detail)


class ChannelMapper:
    """Names each device position or key; unmapped ones are learned or logged, never lost."""

    def __init__(self, device: str, channel_map: Mapping[Key, str], *, learn: bool) -> None:
        self.device = device
        self.learn = learn
        self._map: dict[Key, str] = dict(channel_map)
        self._warned: set[Key] = set()
        self.bad_reports = BadDataReports()

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
            self.bad_reports.good(t, self.device, sink)
            sink.scan(readings)
        elif scan.notes:
            self.bad_reports.report(t, self.device, scan.notes, sink)
        if scan.notes and readings:
            log.debug("device %s: %s", self.device, "; ".join(scan.notes))
        return len(readings)
