"""The ``modbus`` device: a pymodbus RTU server with the M-7018 register map.

Input registers 30001-30008 (addresses 0-7, mirrored in holding registers 40001-40008) hold
channels 0-7 as signed int16 in 0.1 °C (engineering format: coil 00269 reads 1); 0x7FFF =
open (an open input drives up-scale, so over-range reads the same), 0x8000 = under-range or
short; CJC at 30129 (address 128) in 0.01 °C; the input type code (0x10, type T) at holding
register 40487. Like a real RTU slave it stays silent for requests to other unit ids.
pymodbus's server needs a serial device, so it runs on a private pty and a byte relay joins
that pty to the published :class:`PtyLink`; the relay is where unplug, silence, garbage and
cut frames are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty

from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from monitor.model import Status
from simulators.emulators.player import Player, Scan, SessionClock, follow_plug
from simulators.ptylink import PtyLink

OPEN_WORD = 0x7FFF
UNDER_WORD = 0x8000
CJC_ADDRESS = 128
CJC_C = 23.5  # engineering choice: a room-temperature terminal block
N_INPUTS = 8
FORMAT_COIL_ADDRESS = 268  # coil 00269: 1 = engineering format
TYPE_CODE_ADDRESS = 486  # holding register 40487: input type code
TYPE_CODE_T = 0x10  # type T thermocouple, -270..400 °C on ICP DAS modules
TICK_S = 0.05


def registers(scan: Scan) -> list[int]:
    """Input registers 0..7 as unsigned 16-bit words; inputs with no channel read open."""
    words = [OPEN_WORD] * N_INPUTS
    for i, (status, value) in enumerate(zip(scan.statuses, scan.values, strict=True)):
        if i >= N_INPUTS:
            break
        if status is Status.OK and value is not None:
            raw = max(-32767, min(32766, round(value * 10)))
            words[i] = raw & 0xFFFF
        elif status in (Status.UNDER_RANGE, Status.SHORT):
            words[i] = UNDER_WORD
        else:
            words[i] = OPEN_WORD
    return words


def _device(player: Player, clock: SessionClock, unit_id: int) -> SimDevice:
    async def action(function_code: int, start_address: int, address: int, count: int,
                     current: list[int], set_values: list[int] | list[bool] | None) -> None:
        if function_code in (3, 4) and start_address == 0:
            current[0:N_INPUTS] = registers(player.scan(clock.now()))
            current[CJC_ADDRESS] = round(CJC_C * 100)
        return None

    words = [0] * (TYPE_CODE_ADDRESS + 1)
    words[CJC_ADDRESS] = round(CJC_C * 100)
    words[TYPE_CODE_ADDRESS] = TYPE_CODE_T
    coils = [False] * (FORMAT_COIL_ADDRESS + 1)
    coils[FORMAT_COIL_ADDRESS] = True
    block = [SimData(0, values=words, datatype=DataType.REGISTERS)]
    bits = [SimData(0, values=coils, datatype=DataType.BITS)]
    return SimDevice(id=unit_id, simdata=(bits, [SimData(0, count=16, values=False,
                                                         datatype=DataType.BITS)],
                                          block, list(block)), action=action)


async def serve_modbus(player: Player, link: PtyLink, clock: SessionClock,
                       unit_id: int = 1, baudrate: int = 115200) -> None:
    """Run the server and the relay until cancelled."""
    if player.n_channels > N_INPUTS:
        raise ValueError(f"the modbus module has {N_INPUTS} inputs; the scenario has "
                         f"{player.n_channels} channels")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    server = ModbusSerialServer(_device(player, clock, unit_id), framer=FramerType.RTU,
                                port=os.ttyname(slave), baudrate=baudrate)
    try:
        await server.serve_forever(background=True)
        await _relay(player, link, clock, master, unit_id)
    finally:
        with contextlib.suppress(Exception):
            await server.shutdown()  # type: ignore[no-untyped-call]
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)


async def _relay(player: Player, link: PtyLink, clock: SessionClock, inner: int,
                 unit_id: int) -> None:
    """Copy requests to the server and responses back, applying the fault schedule.

    A request addressed to another unit is dropped here: a real RTU slave ignores frames that
    are not its own, while pymodbus's server (3.16, simulator datastore) answers them with an
    exception even with ``ignore_missing_devices``.
    """
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    loop.add_reader(inner, wake.set)
    watched: int | None = None
    try:
        while True:
            t = clock.now()
            watched, _pulled = follow_plug(player, link, t, loop, watched, wake.set)
            request = link.read()
            if request and request[0] != unit_id:
                request = b""  # another unit's frame: silence, as on a shared RS-485 bus
            if request and not player.silent(t):
                os.write(inner, request)
            try:
                response = os.read(inner, 4096)
            except (BlockingIOError, OSError):
                response = b""
            if response and link.plugged and not player.silent(t):
                if player.garbage.due(t):
                    response = player.garbage_bytes()
                elif player.partial.due(t):
                    response = response[: max(1, len(response) // 2)]
                link.write(response)
            if request or response:
                continue
            wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):  # 3.11's wait_for can swallow a cancel
                    await wake.wait()
    finally:
        loop.remove_reader(inner)
        if watched is not None:
            loop.remove_reader(watched)
