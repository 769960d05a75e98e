"""Emulated devices on real pseudo-terminals: what they write is what the drivers parse.

A manual clock drives session time, so no test waits for the scenario to unfold.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.dcon import checksum as driver_checksum
from drivers.dcon import parse_read_reply
from drivers.line import LineParser
from drivers.modbus_map import RegisterMap, decode_registers
from monitor.model import Status
from simulators.emulators import Faults, serve
from simulators.emulators.dcon import DconModule, checksum
from simulators.emulators.player import Player, Scan, SessionClock
from simulators.scenarios import SCENARIOS

pytestmark = pytest.mark.timeout(30)


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def emulator(protocol: str, link: Path, clock: ManualClock, *, scenario: str = "demo",
                   faults: Faults | None = None, **kw: object) -> AsyncIterator[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(serve(scenario, protocol, link, clock=clock, faults=faults,
                                     on_ready=lambda _p: ready.set(), **kw))  # type: ignore[arg-type]
    await asyncio.wait_for(ready.wait(), 5)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert not os.path.lexists(link), "the link must be removed when the emulator stops"


def open_port(link: Path) -> int:
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    return fd


async def drain(fd: int, settle_s: float = 0.08) -> bytes:
    """Everything the device has written, once it has been quiet for ``settle_s``."""
    out = b""
    quiet = 0.0
    while quiet < settle_s:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            chunk = b""
        except OSError:
            break
        if chunk:
            out += chunk
            quiet = 0.0
        else:
            await asyncio.sleep(0.01)
            quiet += 0.01
    return out


async def lost(fd: int) -> bool:
    """True once reading the port fails or hits end of file (what a driver calls lost)."""
    for _ in range(200):
        try:
            if os.read(fd, 65536) == b"":
                return True
        except BlockingIOError:
            await asyncio.sleep(0.005)
        except OSError:
            return True
    return False


async def ask(fd: int, command: bytes, timeout_s: float = 0.3) -> bytes:
    """Write a command and collect the reply up to CR (empty if none in time)."""
    await drain(fd, 0.02)
    os.write(fd, command)
    out = b""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while loop.time() < end and not out.endswith(b"\r"):
        try:
            out += os.read(fd, 4096)
        except BlockingIOError:
            await asyncio.sleep(0.005)
    return out


# line ---------------------------------------------------------------------------------------

async def test_line_round_trip_through_the_driver(tmp_path: Path) -> None:
    clock = ManualClock()
    link = tmp_path / "line"
    trace = SCENARIOS["demo"].generate(seed=3)
    async with emulator("line", link, clock, seed=3):
        fd = open_port(link)
        try:
            clock.now = 2.05
            data = await drain(fd)
        finally:
            os.close(fd)
    parser = LineParser()
    scans = parser.feed(data)
    assert parser.bad_lines == 0
    assert 20 <= len(scans) <= 22
    for k, scan in enumerate(scans):
        assert [v.temp_c for v in scan.values] == pytest.approx(list(trace.values[k]))
        assert all(v.status is Status.OK for v in scan.values)


async def test_line_open_thermocouple_and_silence(tmp_path: Path) -> None:
    clock = ManualClock()
    link = tmp_path / "line"
    faults = Faults(open_from=((1, 1.0),), silent=((2.0, 3.0),))
    async with emulator("line", link, clock, faults=faults):
        fd = open_port(link)
        try:
            clock.now = 4.0
            data = await drain(fd)
        finally:
            os.close(fd)
    lines = data.decode().splitlines()
    assert len(lines) == 31  # scans at 0.0..4.0 s minus the ten silent ones
    assert all(line.split(",")[1] != "OPEN" for line in lines[:10])
    assert all(line.split(",")[1] == "OPEN" for line in lines[10:])
    scans = LineParser().feed(data)
    assert scans[-1].values[1].status is Status.OPEN and scans[-1].values[1].temp_c is None


async def test_line_garbage_and_partial_frames_are_bad_lines(tmp_path: Path) -> None:
    clock = ManualClock()
    link = tmp_path / "line"
    faults = Faults(garbage_every_s=1.0, partial_every_s=1.5)
    async with emulator("line", link, clock, faults=faults):
        fd = open_port(link)
        try:
            clock.now = 3.0
            data = await drain(fd)
        finally:
            os.close(fd)
    parser = LineParser()
    scans = parser.feed(data)
    good = [s for s in scans if not s.is_bad and all(v.status is Status.OK for v in s.values)
            and len(s.values) == 3]
    assert parser.bad_lines + sum(1 for s in scans if s.notes) >= 3
    assert len(good) >= 24


async def test_line_unplug_and_replug(tmp_path: Path) -> None:
    clock = ManualClock()
    link = tmp_path / "line"
    async with emulator("line", link, clock, faults=Faults(unplug=((1.0, 2.0),))):
        fd = open_port(link)
        clock.now = 1.5
        await asyncio.sleep(0.05)
        assert not os.path.lexists(link)
        assert await lost(fd)  # the old port reads EIO or end of file: device gone
        os.close(fd)
        clock.now = 2.5
        await asyncio.sleep(0.05)
        assert link.is_symlink()
        fd = open_port(link)
        try:
            clock.now = 3.0
            data = await drain(fd)
        finally:
            os.close(fd)
        assert LineParser().feed(data)


# dcon ---------------------------------------------------------------------------------------

def scan(*values: float | Status) -> Scan:
    statuses = tuple(v if isinstance(v, Status) else Status.OK for v in values)
    vals = tuple(None if isinstance(v, Status) else float(v) for v in values)
    return Scan(statuses, vals)


def test_dcon_fields_and_codes() -> None:
    module = DconModule(address=1)
    reply = module.reply(b"#01\r", scan(25.1, -3.4, -140.0, Status.OPEN, 450.0, Status.OVER_RANGE))
    assert reply == b">+0025.1-0003.4-999999+888888+999999+999999\r"
    parsed = parse_read_reply(reply or b"")
    assert [v.status for v in parsed.values] == [
        Status.OK, Status.OK, Status.UNDER_RANGE, Status.OPEN, Status.OVER_RANGE,
        Status.OVER_RANGE]
    assert module.reply(b"#02\r", scan(1.0)) is None
    assert module.reply(b"#0G\r", scan(1.0)) is None
    assert module.reply(b"$01M\r", scan(1.0)) == b"!014018P\r"
    assert module.reply(b"$012\r", scan(1.0)) == b"!01100A00\r"
    assert module.reply(b"$01Z\r", scan(1.0)) == b"?01\r"


def test_dcon_checksum_option() -> None:
    module = DconModule(address=0x1F, use_checksum=True)
    good = b"#1F" + checksum(b"#1F") + b"\r"
    reply = module.reply(good, scan(36.6))
    assert reply is not None and reply.endswith(checksum(b">+0036.6") + b"\r")
    assert checksum(b"$012") == b"B7" == driver_checksum(b"$012")  # docs/devices.md example
    assert module.reply(b"#1F\r", scan(36.6)) is None  # no checksum: no reply
    assert module.reply(b"#1F00\r", scan(36.6)) is None  # wrong checksum: no reply
    parsed = parse_read_reply(reply, with_checksum=True)
    assert parsed.values[0].temp_c == pytest.approx(36.6)


async def test_dcon_on_a_pty_with_faults(tmp_path: Path) -> None:
    clock = ManualClock()
    link = tmp_path / "dcon"
    trace = SCENARIOS["demo"].generate(seed=0)
    faults = Faults(open_from=((2, 50.0),), silent=((60.0, 61.0),), garbage_every_s=100.0)
    async with emulator("dcon", link, clock, faults=faults):
        fd = open_port(link)
        try:
            clock.now = 30.05
            parsed = parse_read_reply(await ask(fd, b"#01\r"))
            i = trace.index_at(30.05)
            assert parsed.values[0].status is Status.OK  # probe still above -100 °C
            assert [v.temp_c for v in parsed.values[1:]] == pytest.approx(
                list(trace.values[i, 1:]))
            clock.now = 55.0
            parsed = parse_read_reply(await ask(fd, b"#01\r"))
            assert parsed.values[0].status is Status.UNDER_RANGE  # -140 °C tip, type T
            assert parsed.values[2].status is Status.OPEN
            clock.now = 60.5
            assert await ask(fd, b"#01\r") == b""  # a silent module: no reply at all
            assert await ask(fd, b"#05\r") == b""  # another address: no reply
            clock.now = 70.0
            assert (await ask(fd, b"$01M\r")).startswith(b"!01")
            clock.now = 100.5
            garbage = await ask(fd, b"#01\r")
            assert parse_read_reply(garbage).is_bad
            assert not parse_read_reply(await ask(fd, b"#01\r")).is_bad
        finally:
            os.close(fd)


# modbus -------------------------------------------------------------------------------------

async def test_modbus_registers_through_pymodbus_client(tmp_path: Path) -> None:
    from pymodbus.client import AsyncModbusSerialClient

    clock = ManualClock()
    link = tmp_path / "modbus"
    trace = SCENARIOS["demo"].generate(seed=0)
    faults = Faults(open_from=((1, 40.0),), silent=((50.0, 60.0),))
    async with emulator("modbus", link, clock, faults=faults):
        client = AsyncModbusSerialClient(port=str(link), baudrate=115200, timeout=0.3,
                                         retries=0)
        assert await client.connect()
        try:
            clock.now = 30.05
            rr = await client.read_input_registers(0, count=8, device_id=1)
            cjc = await client.read_input_registers(128, count=1, device_id=1)
            rmap = RegisterMap(count=3)
            parsed = decode_registers(rr.registers[:3], rmap, cjc.registers[0])
            i = trace.index_at(30.05)
            assert [v.temp_c for v in parsed.values[:3]] == pytest.approx(list(trace.values[i]))
            assert parsed.values[3].temp_c == pytest.approx(23.5)
            assert rr.registers[3:] == [0x7FFF] * 5  # nothing connected: open inputs
            fmt = await client.read_coils(268, count=1, device_id=1)
            assert fmt.bits[0] is True  # coil 00269: engineering format
            kind = await client.read_holding_registers(486, count=1, device_id=1)
            assert kind.registers == [0x10]  # 40487: type T
            with pytest.raises(Exception):  # noqa: B017 - another unit: silence, a timeout
                await client.read_input_registers(0, count=3, device_id=2)
            clock.now = 45.0
            rr = await client.read_input_registers(0, count=3, device_id=1)
            assert rr.registers[1] == 0x7FFF
            assert decode_registers(rr.registers, rmap).values[1].status is Status.OPEN
            clock.now = 55.0
            with pytest.raises(Exception):  # noqa: B017 - pymodbus raises its own timeout
                await client.read_input_registers(0, count=3, device_id=1)
        finally:
            client.close()


def test_player_rests_at_the_last_scan_after_the_trace_ends_with_a_needles_jitter() -> None:
    """After its scenario the tissue stays where it ended, but a real needle thermocouple still
    jitters: a constant value for minutes is what the monitor calls ``stuck`` (a frozen
    converter), so the emulated device must not send one."""
    trace = SCENARIOS["demo"].generate()
    player = Player(trace)
    end = trace.duration_s
    later = [player.scan(end + 10.0 + k * 0.1) for k in range(600)]
    for c, held in enumerate(trace.values[-1]):
        seen = [s.values[c] for s in later]
        assert all(v is not None and abs(v - float(held)) <= 0.5 for v in seen)
        assert len(set(seen)) > 1  # not a frozen value
        assert all(abs(v * 10 - round(v * 10)) < 1e-6 for v in seen if v is not None)  # 0.1 °C
    assert player.sample_number(1.0) == 10


def test_session_clock_scales_and_rejects_bad_speed() -> None:
    clock = ManualClock()
    session = SessionClock(speed=30.0, clock=clock)
    clock.now = 2.0
    assert session.now() == pytest.approx(60.0)
    with pytest.raises(ValueError):
        SessionClock(speed=0.0)


async def test_unknown_protocol_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="protocol"):
        await serve("demo", "can-bus", tmp_path / "x")
