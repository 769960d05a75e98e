"""The Modbus RTU device task body: read the input-register block every poll interval.

``pymodbus``'s own reconnect is switched off (``reconnect_delay=0``) so that one loop, with
the shared backoff, decides when the device is lost and when to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

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
        self.rmap = params.register_map()
        self.mapper = ChannelMapper(params.id, params.channel_map, learn=params.learn_channels)
        self._down = asyncio.Event()

    def _trace_connect(self, up: bool) -> None:
        if not up:
            self._down.set()

    async def _read(self, client: AsyncModbusSerialClient, address: int,
                    count: int) -> list[int] | str | None:
        """Registers, an error text (the device answered with an exception), or None (no reply)."""
        p = self.params
        if self._down.is_set() or not client.connected:
            raise DeviceLost(f"{p.port}: the device disappeared (port closed or unplugged)")
        try:
            reply = await client.read_input_registers(address, count=count, device_id=p.unit_id)
        except ConnectionException as exc:
            raise DeviceLost(f"{p.port}: connection lost ({exc})") from exc
        except ModbusException as exc:
            if self._down.is_set():
                raise DeviceLost(f"{p.port}: the device disappeared ({exc})") from exc
            return None
        if reply.isError():
            return f"Modbus exception code {getattr(reply, 'exception_code', '?')} from unit " \
                   f"{p.unit_id} reading input register {address}"
        registers = list(getattr(reply, "registers", []) or [])
        return registers

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
            detail = (f"Modbus RTU unit {p.unit_id} on {p.port} at {p.baudrate} baud, "
                      f"{self.rmap.count} input registers from {self.rmap.start_register}")
            schedule = Schedule(p.poll_interval_s, loop.time())
            timeouts = 0
            while True:
                delay = schedule.next_slot(loop.time()) - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                block = await self._read(client, self.rmap.address, self.rmap.count)
                cjc: list[int] | str | None = None
                if isinstance(block, list) and self.rmap.cjc_address is not None:
                    cjc = await self._read(client, self.rmap.cjc_address, 1)
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
