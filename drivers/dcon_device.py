"""The DCON device task body: identify the module, then poll ``#AA`` on an anchored schedule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from drivers import dcon
from drivers.link import DeviceLost, LinkState, SerialLink, open_link
from drivers.mapping import ChannelMapper
from drivers.params import DconParams
from drivers.schedule import Schedule
from drivers.sink import DriverSink

log = logging.getLogger("cryoguard.drivers")


class DconSession:
    """One connection attempt per :meth:`run`; returns only by raising DeviceLost."""

    def __init__(self, params: DconParams, sink: DriverSink, clock: Callable[[], float],
                 state: LinkState) -> None:
        self.params = params
        self.sink = sink
        self.clock = clock
        self.state = state
        self.mapper = ChannelMapper(params.id, params.channel_map, learn=params.learn_channels)
        self.addr = f"{params.address:02X}"
        self.module_name: str | None = None
        self.config: dcon.DconConfig | None = None

    async def ask(self, link: SerialLink, cmd: bytes) -> bytes | None:
        """Send one command and wait for its CR-terminated reply (None on timeout)."""
        link.discard()  # a late reply to the previous command must not pass for this one
        link.write(cmd)
        for _ in range(2):
            frame = await link.read_frame(dcon.CR, self.params.timeout_s, dcon.MAX_REPLY)
            if frame != cmd:  # RS-485 adapters with local echo return our own command first
                return frame
        return None

    async def identify(self, link: SerialLink) -> str:
        """Read ``$AAM`` and ``$AA2``; refuse settings that would make values meaningless."""
        p = self.params
        name_reply = await self.ask(link, dcon.read_name(p.address, with_checksum=p.checksum))
        config_reply = await self.ask(link, dcon.read_config(p.address, with_checksum=p.checksum))
        name = self.module_name = (None if name_reply is None else
                                   dcon.parse_name_reply(name_reply, with_checksum=p.checksum))
        config = self.config = (None if config_reply is None else
                                dcon.parse_config_reply(config_reply, with_checksum=p.checksum))
        if name is None and config is None:
            other = not p.checksum
            reply = await self.ask(link, dcon.read_name(p.address, with_checksum=other))
            if reply is not None and dcon.parse_name_reply(reply, with_checksum=other):
                raise DeviceLost(
                    f"DCON module {self.addr} answers only with checksum "
                    f"{'on' if other else 'off'}: set checksum = {str(other).lower()} "
                    f"for device {p.id}")
            log.warning("device %s: module %s did not answer $%sM/$%s2", p.id, self.addr,
                        self.addr, self.addr)
            return f"DCON address {self.addr} on {p.port} (module name and configuration unknown)"
        parts = [f"DCON {name or 'module'} at address {self.addr} on {p.port}"]
        if config is not None:
            parts.append(config.describe())
            span = dcon.input_span_c(config, name)
            if span is not None:
                parts.append(f"type {span[0]} thermocouple, {span[1]:g} to {span[2]:g} °C")
            if config.format_code & 0x03 != 0:
                raise DeviceLost(
                    f"DCON module {self.addr} reports {config.data_format}, not engineering "
                    "units: its numbers are not temperatures; set the data format to "
                    "engineering units (%AANNTTCCFF with FF bits 1-0 = 00)")
            roles = set(p.roles.values()) or {"nerve"}
            for role in sorted(roles):
                warning = dcon.range_warning(config, name, role)
                if warning:
                    log.warning("device %s: %s", p.id, warning)
                    parts.append(f"WARNING: {warning}")
        detail = "; ".join(parts)
        log.info("device %s: %s", p.id, detail)
        return detail

    async def run(self) -> None:
        p = self.params
        loop = asyncio.get_running_loop()
        link = await open_link(p.port, p.baudrate, limit=4 * dcon.MAX_REPLY)
        try:
            detail = await self.identify(link)
            poll = dcon.read_all(p.address, with_checksum=p.checksum)
            schedule = Schedule(p.poll_interval_s, loop.time())
            timeouts = 0
            last_reply = loop.time()
            while True:
                delay = schedule.next_slot(loop.time()) - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                frame = await self.ask(link, poll)
                t = self.clock()
                if frame is None:
                    timeouts += 1
                    if self.state.connected:
                        self.sink.bad_data(t, p.id, f"no reply from DCON module {self.addr} "
                                                    f"within {p.timeout_s:g} s")
                    silent = loop.time() - last_reply
                    if timeouts >= p.max_timeouts or silent > p.lost_after_s:
                        raise DeviceLost(f"no reply from DCON module {self.addr} on {p.port} "
                                         f"to {timeouts} poll(s) in a row ({silent:.1f} s)")
                    continue
                timeouts = 0
                last_reply = loop.time()
                scan = dcon.parse_read_reply(frame, with_checksum=p.checksum)
                if not scan.is_bad:
                    self.state.mark_connected(detail, t)
                self.mapper.deliver(scan, t, self.sink)
        finally:
            await link.close()
