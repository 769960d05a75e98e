"""The Modbus RTU device task body: read the input-register block every poll interval.

``pymodbus``'s own reconnect is switched off (``reconnect_delay=0``) so that one loop, with
the shared backoff, decides when the device is lost and when to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

import serial
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerType

from drivers import modbus_map
from drivers.link import DeviceLost, LinkState, describe_open_error
from drivers.mapping import ChannelMapper
from drivers.params import ModbusParams
from drivers.schedule import Schedule
from drivers.sink import DriverSink

log = logging.getLogger("cryoguard.drivers")

CONFIG_ATTEMPTS = 3  # reads of a configuration coil or register before giving up


async def diagnose_open(port: str, baudrate: int) -> str:
    """Why pymodbus could not open ``port`` (it only logs the reason): try it ourselves."""
    def attempt() -> str:
        try:
            handle = serial.serial_for_url(port, baudrate=baudrate, exclusive=True, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            return describe_open_error(port, exc)
        handle.close()
        return f"cannot open {port} for Modbus RTU"
    return await asyncio.get_running_loop().run_in_executor(None, attempt)


class ModbusSession:
    """One connection attempt per :meth:`run`; returns only by raising DeviceLost."""

    def __init__(self, params: ModbusParams, sink: DriverSink, clock: Callable[[], float],
                 state: LinkState) -> None:
        self.params = params
        self.sink = sink
        self.clock = clock
        self.state = state
        self.base_map = params.register_map()
        self.rmap = self.base_map
        self.mapper = ChannelMapper(params.id, params.channel_map, learn=params.learn_channels)
        self._down = asyncio.Event()

    def _trace_connect(self, up: bool) -> None:
        if not up:
            self._down.set()

    async def _read(self, client: AsyncModbusSerialClient, address: int, count: int,
                    table: str = "input") -> list[int] | str | None:
        """Registers (or coil bits as 0/1), an error text (the device answered with an
        exception), or None (no reply). ``table`` is input, holding or coils."""
        p = self.params
        if self._down.is_set() or not client.connected:
            raise DeviceLost(f"{p.port}: the device disappeared (port closed or unplugged)")
        call = {"input": client.read_input_registers, "holding": client.read_holding_registers,
                "coils": client.read_coils}[table]
        try:
            reply = await call(address, count=count, device_id=p.unit_id)
        except ConnectionException as exc:
            raise DeviceLost(f"{p.port}: connection lost ({exc})") from exc
        except ModbusException as exc:
            if self._down.is_set():
                raise DeviceLost(f"{p.port}: the device disappeared ({exc})") from exc
            return None
        if reply.isError():
            what = {"input": "input register", "holding": "holding register",
                    "coils": "coil"}[table]
            return f"Modbus exception code {getattr(reply, 'exception_code', '?')} from unit " \
                   f"{p.unit_id} reading {what} at address {address}"
        if table == "coils":
            return [int(bool(b)) for b in list(getattr(reply, "bits", []) or [])[:count]]
        return list(getattr(reply, "registers", []) or [])

    async def _read_setting(self, client: AsyncModbusSerialClient, address: int,
                            table: str, what: str) -> int:
        """One configuration word or bit, retried; DeviceLost naming it when unreadable."""
        p = self.params
        last: str | None = None
        for _ in range(CONFIG_ATTEMPTS):
            got = await self._read(client, address, 1, table)
            if isinstance(got, list) and got:
                return got[0]
            last = got if isinstance(got, str) else "no reply"
        raise DeviceLost(
            f"Modbus unit {p.unit_id} on {p.port}: cannot read {what} ({last}), so the meaning "
            "of its registers is unconfirmed and none of its numbers is used; check unit id "
            f"and wiring, or set data_format for device {p.id} after checking the module")

    async def identify(self, client: AsyncModbusSerialClient) -> str:
        """Read the data format and the input type; set the decoding or refuse the module.

        docs/devices.md, "Modbus": engineering (0.1 °C) and hex (two's complement of the
        type's full scale) give °C; a non-thermocouple type or an unknown format is refused.
        """
        p = self.params
        parts = [f"Modbus RTU unit {p.unit_id} on {p.port} at {p.baudrate} baud, "
                 f"{self.rmap.count} registers from {self.rmap.start_register}"]
        fmt = p.data_format
        if fmt == "auto":
            assert p.format_coil is not None
            bit = await self._read_setting(client, modbus_map.coil_address(p.format_coil),
                                           "coils", f"the data-format coil {p.format_coil:05d}")
            fmt = "engineering" if bit else "hex"
            parts.append(f"{fmt} data format (coil {p.format_coil:05d})")
        else:
            parts.append(f"{fmt} data format (from the config)")
        code: int | None = None
        if p.type_register is not None and (p.data_format != "engineering" or p.tc_types):
            code = await self._read_setting(
                client, modbus_map.holding_address(p.type_register), "holding",
                f"the input type register {p.type_register}")
        elif p.type_register is not None:
            got = await self._read(client, modbus_map.holding_address(p.type_register), 1,
                                   "holding")
            code = got[0] if isinstance(got, list) and got else None
        span = None if code is None else modbus_map.ICPDAS_TC_TYPES.get(code)
        if code is not None and span is None and p.data_format == "auto":
            raise DeviceLost(
                f"Modbus unit {p.unit_id} reports input type code 0x{code:02X}, not a "
                "thermocouple type this driver knows: its registers are not temperatures")
        if fmt == "hex" and span is None:
            raise DeviceLost(
                f"Modbus unit {p.unit_id} is in hex format but its input type is unknown "
                f"({'unreadable' if code is None else f'code 0x{code:02X}'}): the full scale "
                "that converts hex to °C is unknown, so no number is used")
        if span is not None:
            parts.append(f"type {span[0]} thermocouple (code 0x{code:02X}), "
                         f"{span[1]:g} to {span[2]:g} °C")
        for channel, wanted in sorted(p.tc_types.items()):
            have = span[0] if span is not None else None
            if have != wanted:
                raise DeviceLost(
                    f"channel {channel} is configured as a type {wanted} thermocouple but Modbus "
                    f"unit {p.unit_id} is set to "
                    f"{'type ' + have if have else 'an unknown input type'}: its readings would "
                    "be for the wrong type; fix the module's input type or the channel's tc_type")
        full_scale = None
        if fmt == "hex" and span is not None:
            full_scale = max(abs(span[1]), abs(span[2]))
        self.rmap = replace(self.base_map, hex_full_scale_c=full_scale,
                            range_c=None if span is None else (span[1], span[2]))
        detail = "; ".join(parts)
        log.info("device %s: %s", p.id, detail)
        return detail

    async def run(self) -> None:
        p = self.params
        loop = asyncio.get_running_loop()
        self._down.clear()
        client = AsyncModbusSerialClient(
            p.port, framer=FramerType.RTU, baudrate=p.baudrate, timeout=p.timeout_s,
            retries=0, reconnect_delay=0, reconnect_delay_max=0, name=p.id,
            trace_connect=self._trace_connect)
        try:
            if not await client.connect():
                raise DeviceLost(await diagnose_open(p.port, p.baudrate))
            detail = await self.identify(client)
            schedule = Schedule(p.poll_interval_s, loop.time())
            timeouts = 0
            while True:
                delay = schedule.next_slot(loop.time()) - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                block = await self._read(client, self.rmap.address, self.rmap.count,
                                         self.rmap.table)
                cjc: list[int] | str | None = None
                if isinstance(block, list) and self.rmap.cjc_address is not None:
                    cjc = await self._read(client, self.rmap.cjc_address, 1, self.rmap.cjc_table)
                t = self.clock()
                if block is None:
                    timeouts += 1
                    if self.state.connected:
                        self.sink.bad_data(t, p.id, f"no reply from Modbus unit {p.unit_id} "
                                                    f"within {p.timeout_s:g} s")
                    if timeouts >= p.max_timeouts:
                        raise DeviceLost(f"no reply from Modbus unit {p.unit_id} on {p.port} "
                                         f"to {timeouts} poll(s) in a row")
                    continue
                timeouts = 0
                if isinstance(block, str):
                    self.state.mark_connected(detail, t)  # it answers, if only with an exception
                    self.sink.bad_data(t, p.id, block)
                    continue
                cjc_raw = cjc[0] if isinstance(cjc, list) and cjc else None
                scan = modbus_map.decode_registers(block, self.rmap, cjc_raw)
                if isinstance(cjc, str) or (self.rmap.cjc_address is not None and cjc is None):
                    log.debug("device %s: cold-junction register unreadable", p.id)
                if not scan.is_bad:
                    self.state.mark_connected(detail, t)
                self.mapper.deliver(scan, t, self.sink)
        finally:
            with contextlib.suppress(Exception):
                client.close()
