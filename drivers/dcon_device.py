"""The DCON device task body: identify the module, then poll ``#AA`` on an anchored schedule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from drivers import dcon
from drivers.link import DeviceLost, LinkState, SerialLink, open_link
from drivers.mapping import ChannelMapper
from drivers.params import DconParams
from drivers.schedule import Schedule
from drivers.sink import DriverSink
from monitor.text import printable

T = TypeVar("T")

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
        self.positions: int | None = None  # channel positions per reply, from the first good one

    async def ask(self, link: SerialLink, cmd: bytes) -> bytes | None:
        """Send one command and wait for its CR-terminated reply (None on timeout)."""
        link.discard()  # a late reply to the previous command must not pass for this one
        link.write(cmd)
        for _ in range(2):
            frame = await link.read_frame(dcon.CR, self.params.timeout_s, dcon.MAX_REPLY)
            if frame != cmd:  # RS-485 adapters with local echo return our own command first
                return frame
        return None

    async def ask_until(self, link: SerialLink, cmd: bytes,
                        parse: Callable[[bytes], T | None]) -> T | None:
        """Ask up to ``config_attempts`` times until the reply parses (None if none did)."""
        for _ in range(self.params.config_attempts):
            reply = await self.ask(link, cmd)
            found = None if reply is None else parse(reply)
            if found is not None:
                return found
        return None

    async def identify(self, link: SerialLink) -> str:
        """Read ``$AAM`` and ``$AA2`` (retried); refuse anything that is not known to give °C.

        No number is produced from a module whose data format is not confirmed as
        engineering units by its own ``$AA2`` reply, unless the site set
        ``data_format = "engineering"``; a module that reports another format is refused
        whatever the config says (docs/devices.md, "DCON").
        """
        p = self.params
        ck = p.checksum
        name = self.module_name = await self.ask_until(
            link, dcon.read_name(p.address, with_checksum=ck),
            lambda r: dcon.parse_name_reply(r, with_checksum=ck))
        config = self.config = await self.ask_until(
            link, dcon.read_config(p.address, with_checksum=ck),
            lambda r: dcon.parse_config_reply(r, with_checksum=ck))
        if name is None and config is None:
            other = not ck
            reply = await self.ask(link, dcon.read_name(p.address, with_checksum=other))
            if reply is not None and dcon.parse_name_reply(reply, with_checksum=other):
                raise DeviceLost(
                    f"DCON module {self.addr} answers only with checksum "
                    f"{'on' if other else 'off'}: set checksum = {str(other).lower()} "
                    f"for device {p.id}")
        parts = [f"DCON {printable(name or 'module')} at address {self.addr} on {p.port}"]
        if config is None:
            if p.data_format != "engineering":
                raise DeviceLost(
                    f"DCON module {self.addr} did not answer ${self.addr}2 (its configuration) "
                    f"in {p.config_attempts} attempts, so its data format is unconfirmed and "
                    "none of its numbers is used; check address, baud rate and wiring, or, "
                    "if this module cannot report its configuration, check it by hand and set "
                    f'data_format = "engineering" for device {p.id}')
            unconfirmed = ("data format not confirmed by the module; engineering units taken "
                           "from the config (data_format)")
            log.warning("device %s: %s", p.id, unconfirmed)
            parts.append(f"WARNING: {unconfirmed}")
        else:
            parts.append(config.describe())
            if not config.engineering_units:
                raise DeviceLost(
                    f"DCON module {self.addr} reports {config.data_format}, not engineering "
                    "units: its numbers are not temperatures; set the data format to "
                    "engineering units (%AANNTTCCFF with FF bits 1-0 = 00)")
            span = dcon.input_span_c(config, name)
            if span is not None:
                parts.append(f"type {span[0]} thermocouple, {span[1]:g} to {span[2]:g} °C")
            self.check_types(config, span)
            roles = set(p.roles.values()) or {"nerve"}
            for role in sorted(roles):
                warning = dcon.range_warning(config, name, role)
                if warning:
                    log.warning("device %s: %s", p.id, warning)
                    parts.append(f"WARNING: {warning}")
        detail = "; ".join(parts)
        log.info("device %s: %s", p.id, detail)
        return detail

    def check_types(self, config: dcon.DconConfig,
                    span: tuple[str, float, float] | None) -> None:
        """A channel configured for another thermocouple type than the module's is refused."""
        p = self.params
        for channel, wanted in sorted(p.tc_types.items()):
            have: str | None = span[0] if span is not None else None
            if have != wanted:
                what = (f"type {have} (code {config.type_code})" if have
                        else f"input type code {config.type_code}")
                raise DeviceLost(
                    f"channel {channel} is configured as a type {wanted} thermocouple but DCON "
                    f"module {self.addr} is set to {what}: its readings would be for the wrong "
                    "type; fix the module's input type or the channel's tc_type")

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
                scan = dcon.parse_read_reply(frame, with_checksum=p.checksum,
                                             positions=self.positions)
                if not scan.is_bad:
                    if self.positions is None:
                        self.positions = dcon.reply_positions(frame, with_checksum=p.checksum)
                    self.state.mark_connected(detail, t)
                self.mapper.deliver(scan, t, self.sink)
        finally:
            await link.close()
