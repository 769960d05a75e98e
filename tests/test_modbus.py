"""Modbus: the M-7018 register map, fuzzing, and pymodbus's own server as a real peer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

from drivers import modbus_map
from drivers.backoff import Backoff
from drivers.collect import CollectingSink
from drivers.modbus_map import RegisterMap, decode_registers, encode_celsius
from drivers.params import ModbusParams
from drivers.runner import run_device
from drivers.types import ParsedScan
from monitor.model import Status
from simulators.ptylink import PtyLink


def triples(scan: ParsedScan) -> list[tuple[object, float | None, Status]]:
    return [(v.key, v.temp_c, v.status) for v in scan.values]


# Register map ----------------------------------------------------------------------------------

def test_m7018_layout_golden() -> None:
    rmap = RegisterMap(cjc_register=modbus_map.M7018_CJC_REGISTER)
    assert rmap.address == 0 and rmap.cjc_address == 128
    regs = [215, (-32) & 0xFFFF, 0x7FFF, 0x8000, (-1965) & 0xFFFF, 0, 4000, 12]
    assert triples(decode_registers(regs, rmap, cjc_raw=2315)) == [
        (0, 21.5, Status.OK), (1, -3.2, Status.OK), (2, None, Status.OPEN),
        (3, None, Status.UNDER_RANGE), (4, -196.5, Status.OK), (5, 0.0, Status.OK),
        (6, 400.0, Status.OK), (7, 1.2, Status.OK), ("cjc", 23.15, Status.OK)]


def test_configurable_map() -> None:
    rmap = RegisterMap(start_register=30011, count=2, scale=0.01, open_value=0xFFFF,
                       under_value=None)
    assert rmap.address == 10
    assert triples(decode_registers([2150, 0xFFFF], rmap)) == [
        (0, 21.5, Status.OK), (1, None, Status.OPEN)]
    assert triples(decode_registers([0x8000], RegisterMap(count=1, under_value=None))) == [
        (0, -3276.8, Status.OK)]
    assert RegisterMap(start_register=5).address == 5  # below 30001: a protocol address


def test_short_and_bad_blocks() -> None:
    scan = decode_registers([215], RegisterMap(count=3))
    assert triples(scan) == [(0, 21.5, Status.OK), (1, None, Status.BAD_DATA),
                             (2, None, Status.BAD_DATA)]
    assert "short reply" in scan.notes[0]
    assert decode_registers([], RegisterMap()).is_bad
    assert triples(decode_registers([70000, -1], RegisterMap(count=2))) == [
        (0, None, Status.BAD_DATA), (1, None, Status.BAD_DATA)]


@pytest.mark.parametrize("kwargs", [{"count": 0}, {"count": 126}, {"scale": 0.0},
                                    {"start_register": -1}])
def test_bad_maps_are_rejected(kwargs: dict[str, int | float]) -> None:
    with pytest.raises(ValueError):
        RegisterMap(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=400)
@given(st.lists(st.integers(-70000, 70000), max_size=12), st.none() | st.integers(-5, 70000))
def test_decode_never_raises(regs: list[int], cjc: int | None) -> None:
    scan = decode_registers(regs, RegisterMap(), cjc_raw=cjc)
    for v in scan.values:
        assert (v.status is Status.OK) == (v.temp_c is not None)


@given(st.lists(st.floats(-270, 1300).map(lambda x: round(x, 1)), min_size=1, max_size=8))
def test_encoded_temperatures_decode_exactly(temps: list[float]) -> None:
    rmap = RegisterMap(count=len(temps))
    scan = decode_registers([encode_celsius(t) for t in temps], rmap)
    assert [v.temp_c for v in scan.values] == pytest.approx(temps, abs=1e-9)


# pymodbus server as the peer ---------------------------------------------------------------------

class Peer:
    """An M-7018-like unit served by pymodbus; registers set from the test.

    Engineering format (coil 00269 set) and type T (40487 = 0x10), as the driver checks.
    """

    def __init__(self, port: str) -> None:
        self.registers: dict[int, int] = {0: 215, 1: (-32) & 0xFFFF, 2: 0x7FFF, 128: 2300}
        self.exception: ExcCodes | None = None
        self.delay_s = 0.0
        self.reads = 0
        words = [0] * 487
        words[486] = 0x10
        coils = [False] * 269
        coils[268] = True
        block = [SimData(0, values=words, datatype=DataType.REGISTERS)]
        device = SimDevice(1, simdata=([SimData(0, values=coils, datatype=DataType.BITS)],
                                       [SimData(0, count=16, values=False,
                                                datatype=DataType.BITS)],
                                       block, list(block)),
                           action=self._action)
        self.server = ModbusSerialServer(device, framer=FramerType.RTU, port=port,
                                         baudrate=9600)
        self.task: asyncio.Task[None] | None = None

    async def _action(self, fc: int, start: int, address: int, count: int,
                      regs: list[int], set_values: object) -> ExcCodes | None:
        self.reads += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if fc != 4:
            return None
        for addr, value in self.registers.items():
            if 0 <= addr - start < len(regs):
                regs[addr - start] = value
        return self.exception

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve_forever())
        await asyncio.sleep(0.05)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.server.shutdown()  # type: ignore[no-untyped-call]
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FAST = Backoff(initial_s=0.05, max_s=0.2)


@contextlib.asynccontextmanager
async def driving(params: ModbusParams, sink: CollectingSink) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(run_device(params, sink, loop.time, backoff=FAST))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def params_for(url: str, **kw: object) -> ModbusParams:
    base: dict[str, object] = dict(id="m7018", port=url, count=3, poll_interval_s=0.05,
                                   timeout_s=0.15, channel_map={0: "L4R", 1: "L5L", 2: "tip"})
    base.update(kw)
    return ModbusParams(**base)  # type: ignore[arg-type]


async def test_reads_registers_and_cjc_from_pymodbus_server() -> None:
    url = f"socket://127.0.0.1:{free_port()}"
    peer = Peer(url)
    await peer.start()
    sink = CollectingSink()
    try:
        async with driving(params_for(url, cjc_register=30129,
                                      channel_map={0: "L4R", 1: "L5L", 2: "tip", "cjc": "cj"}),
                           sink):
            assert await sink.wait_for("scan", 3, timeout_s=3)
            peer.registers[0] = encode_celsius(9.5)
            assert await sink.wait_until(lambda s: any(
                r.channel == "L4R" and r.temp_c == 9.5 for e in s.of("scan")
                for r in e.readings), 2)
    finally:
        await peer.stop()
    assert "unit 1" in sink.of("connected")[0].detail
    first = sink.of("scan")[0].readings
    assert [(r.channel, r.temp_c, r.status) for r in first] == [
        ("L4R", 21.5, Status.OK), ("L5L", -3.2, Status.OK), ("tip", None, Status.OPEN),
        ("cj", 23.0, Status.OK)]


async def test_exception_reply_is_bad_data_and_timeout_leads_to_lost() -> None:
    url = f"socket://127.0.0.1:{free_port()}"
    peer = Peer(url)
    await peer.start()
    sink = CollectingSink()
    try:
        async with driving(params_for(url), sink):
            assert await sink.wait_for("scan", 1, timeout_s=3)
            peer.exception = ExcCodes.ILLEGAL_ADDRESS
            assert await sink.wait_until(
                lambda s: any("exception code" in e.detail for e in s.of("bad_data")), 2)
            peer.exception = None
            # Far slower than timeout_s: no reply at all while the test watches. (A reply that
            # is late by less than a poll can pass for the next one's: RTU has no sequence.)
            peer.delay_s = 5.0
            scans = len(sink.of("scan"))
            assert await sink.wait_for("lost", 1, timeout_s=3)
            assert any("no reply" in e.detail for e in sink.of("bad_data"))
            assert "no reply" in sink.of("lost")[0].detail
            assert len(sink.of("scan")) <= scans + 1  # a reply already in flight at most
            peer.delay_s = 0.0
            assert await sink.wait_for("connected", 2, timeout_s=4)
    finally:
        await peer.stop()


async def test_server_gone_is_lost_and_comes_back() -> None:
    port = free_port()
    url = f"socket://127.0.0.1:{port}"
    peer = Peer(url)
    await peer.start()
    sink = CollectingSink()
    try:
        async with driving(params_for(url), sink):
            assert await sink.wait_for("scan", 2, timeout_s=3)
            await peer.stop()
            assert await sink.wait_for("lost", 1, timeout_s=2)
            peer = Peer(url)
            await peer.start()
            assert await sink.wait_for("connected", 2, timeout_s=3)
            n = len(sink.of("scan"))
            assert await sink.wait_for("scan", n + 1, timeout_s=2)
    finally:
        await peer.stop()
    assert len(sink.of("lost")) == 1


async def test_unreachable_port_is_lost_with_reason(tmp_path: Path) -> None:
    sink = CollectingSink()
    async with driving(params_for(str(tmp_path / "nope")), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
    assert "does not exist" in sink.of("lost")[0].detail


async def test_pymodbus_server_on_a_pty_through_a_relay(tmp_path: Path) -> None:
    """Client and server each on a real pty slave; the test bridges the two masters."""
    client_side = PtyLink(tmp_path / "dev" / "m7018")
    server_side = PtyLink(tmp_path / "dev" / "server")
    loop = asyncio.get_running_loop()

    def pump(src: PtyLink, dst: PtyLink) -> None:
        data = src.read()
        if data:
            dst.write(data)

    loop.add_reader(client_side.fileno(), pump, client_side, server_side)
    loop.add_reader(server_side.fileno(), pump, server_side, client_side)
    peer = Peer(str(server_side.link))
    await peer.start()
    sink = CollectingSink()
    try:
        async with driving(params_for(str(client_side.link), timeout_s=0.3), sink):
            assert await sink.wait_for("scan", 2, timeout_s=4)
            loop.remove_reader(client_side.fileno())
            client_side.unplug()
            assert await sink.wait_for("lost", 1, timeout_s=2)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(server_side.fileno())
        await peer.stop()
        client_side.close()
        server_side.close()
    readings = sink.of("scan")[0].readings
    assert [(r.channel, r.temp_c, r.status) for r in readings] == [
        ("L4R", 21.5, Status.OK), ("L5L", -3.2, Status.OK), ("tip", None, Status.OPEN)]
