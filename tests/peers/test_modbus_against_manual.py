"""The Modbus driver against an M-7018 written from the manuals, and against uModbus.

Issue 14 cases: the data format (coil 00269) and input type (40487) are read at connect,
hex is converted with the type's full scale (23.4 / -40 / 5.0 °C, never 191.7 / -327.7 /
41.0), a module that cannot say is refused, and a slave stays silent for other unit ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.backoff import Backoff
from drivers.collect import CollectingSink
from drivers.params import ModbusParams
from drivers.runner import run_device
from monitor.model import Status
from tests.peers.modbus_peer import M7018, OPEN, RtuBus, crc16
from tests.peers.ptys import MasterPort, PeerPty

FAST = Backoff(initial_s=0.05, max_s=0.2)


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PeerPty]:
    link = PeerPty(tmp_path / "dev" / "rs485")
    yield link
    link.close()


@contextlib.asynccontextmanager
async def serving(pty: PeerPty, *slaves: M7018) -> AsyncIterator[RtuBus]:
    served = RtuBus(pty, *slaves)
    try:
        yield served
    finally:
        served.stop()


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


def params(pty: PeerPty, **kw: object) -> ModbusParams:
    base: dict[str, object] = dict(id="m7018", port=str(pty.path), count=4, poll_interval_s=0.05,
                                   timeout_s=0.15, channel_map={i: f"ch{i}" for i in range(4)})
    base.update(kw)
    return ModbusParams(**base)  # type: ignore[arg-type]


def first(sink: CollectingSink) -> list[tuple[str, float | None, Status]]:
    return [(r.channel, r.temp_c, r.status) for r in sink.of("scan")[0].readings]


def test_crc_matches_the_specifications_example() -> None:
    # MODBUS over serial line V1.02, §6.2.2 and app. B: request 02 07 → CRC 41 12.
    assert crc16(bytes([0x02, 0x07])) == bytes([0x41, 0x12])


async def test_engineering_format(pty: PeerPty) -> None:
    slave = M7018(inputs=[23.4, -40.0, 5.0, OPEN])
    sink = CollectingSink()
    async with serving(pty, slave), driving(params(pty), sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
    assert first(sink) == [("ch0", 23.4, Status.OK), ("ch1", -40.0, Status.OK),
                           ("ch2", 5.0, Status.OK), ("ch3", None, Status.OPEN)]
    assert "engineering data format (coil 00269)" in sink.of("connected")[0].detail
    assert "type T" in sink.of("connected")[0].detail


@pytest.mark.parametrize(("type_code", "resolution"), [(0x10, 400 / 32767), (0x0F, 1372 / 32767),
                                                       (0x15, 1300 / 32767)])
async def test_hex_format_is_scaled_by_the_input_types_full_scale(
        pty: PeerPty, type_code: int, resolution: float) -> None:
    slave = M7018(engineering=False, type_code=type_code, inputs=[23.4, -40.0, 5.0, OPEN])
    sink = CollectingSink()
    async with serving(pty, slave), driving(params(pty), sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
    got = first(sink)
    assert [v for _, v, _ in got[:3]] == pytest.approx([23.4, -40.0, 5.0], abs=resolution)
    assert got[3][2] is Status.OPEN
    assert "hex data format" in sink.of("connected")[0].detail


async def test_the_site_may_set_the_format_for_a_module_without_that_map(pty: PeerPty) -> None:
    slave = M7018(engineering=True, answer_config=False, inputs=[23.4, -40.0, 5.0, 6.0])
    sink = CollectingSink()
    async with serving(pty, slave), driving(params(pty, data_format="engineering"), sink):
        assert await sink.wait_for("scan", 1, timeout_s=3)
    assert [v for _, v, _ in first(sink)] == [23.4, -40.0, 5.0, 6.0]
    assert "engineering data format (from the config)" in sink.of("connected")[0].detail


async def test_a_module_that_cannot_tell_its_format_is_refused(pty: PeerPty) -> None:
    slave = M7018(answer_config=False)
    sink = CollectingSink()
    async with serving(pty, slave), driving(params(pty), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
        await asyncio.sleep(0.3)
    assert sink.of("scan") == []
    lost = sink.of("lost")[0].detail
    assert "00269" in lost and "unconfirmed" in lost


async def test_hex_without_a_known_type_is_refused(pty: PeerPty) -> None:
    slave = M7018(engineering=False, type_code=0x08)  # a voltage range, not a thermocouple
    sink = CollectingSink()
    async with serving(pty, slave), driving(params(pty), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
    assert sink.of("scan") == []
    assert "0x08" in sink.of("lost")[0].detail


async def test_other_unit_ids_get_silence_and_the_driver_reads_only_its_own(
        pty: PeerPty) -> None:
    mine = M7018(unit_id=2, inputs=[11.0, 12.0, 13.0, 14.0])
    other = M7018(unit_id=1, inputs=[91.0, 92.0, 93.0, 94.0])
    sink = CollectingSink()
    async with serving(pty, other, mine), driving(params(pty, unit_id=2), sink):
        assert await sink.wait_for("scan", 2, timeout_s=3)
    assert [v for _, v, _ in first(sink)] == [11.0, 12.0, 13.0, 14.0]
    lone = M7018(unit_id=1)
    sink = CollectingSink()
    async with serving(pty, lone), driving(params(pty, unit_id=3), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
    assert sink.of("scan") == [] and "no reply" in sink.of("lost")[0].detail
    assert all(frame[0] == 3 for frame in lone.requests)


async def test_channel_type_must_match_the_modules(pty: PeerPty) -> None:
    slave = M7018(type_code=0x10)
    sink = CollectingSink()
    async with serving(pty, slave), driving(params(pty, tc_types={"ch0": "K"}), sink):
        assert await sink.wait_for("lost", 1, timeout_s=3)
    assert sink.of("scan") == [] and "type K" in sink.of("lost")[0].detail


# uModbus: a Modbus implementation other than pymodbus -------------------------------------

class UModbusSlave:
    """An M-7018 map served by uModbus's RTU server in a thread on the pty master."""

    def __init__(self, pty: PeerPty, unit_id: int, words: list[int], *, hex_format: bool,
                 type_code: int) -> None:
        from umodbus.server.serial import get_server
        from umodbus.server.serial.rtu import RTUServer

        self.server: Any = get_server(RTUServer, MasterPort(pty))
        route = self.server.route

        @route(slave_ids=[unit_id], function_codes=[4], addresses=list(range(0, 8)))
        def inputs(slave_id: int, function_code: int, address: int) -> int:
            return words[address]

        @route(slave_ids=[unit_id], function_codes=[3], addresses=[486])
        def type_register(slave_id: int, function_code: int, address: int) -> int:
            return type_code

        @route(slave_ids=[unit_id], function_codes=[1], addresses=[268])
        def format_coil(slave_id: int, function_code: int, address: int) -> int:
            return 0 if hex_format else 1

        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(Exception):
            self.server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(2)


@pytest.mark.parametrize("hex_format", [False, True])
async def test_against_umodbus(pty: PeerPty, hex_format: bool) -> None:
    temps = [23.4, -40.0, 5.0]
    if hex_format:
        words = [round(t / 400 * (32767 if t >= 0 else 32768)) & 0xFFFF for t in temps]
    else:
        words = [round(t * 10) & 0xFFFF for t in temps]
    slave = UModbusSlave(pty, 1, [*words, 0x7FFF, 0, 0, 0, 0], hex_format=hex_format,
                         type_code=0x10)
    sink = CollectingSink()
    try:
        async with driving(params(pty, timeout_s=0.3), sink):
            assert await sink.wait_for("scan", 2, timeout_s=4)
    finally:
        slave.stop()
    got = first(sink)
    assert [v for _, v, _ in got[:3]] == pytest.approx(temps, abs=0.013)
    assert got[3] == ("ch3", None, Status.OPEN)
