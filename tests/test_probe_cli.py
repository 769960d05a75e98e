"""``cryoguard probe`` and ``cryoguard ports`` end to end, as a technician runs them."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers import dcon
from drivers.ports import by_id_links
from monitor.model import Status
from simulators.ptylink import PtyLink

CLI = [sys.executable, "-m", "monitor.cli"]


def cryoguard(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


class Device(threading.Thread):
    """Runs ``step(link)`` every ``period_s`` in a thread until stopped."""

    def __init__(self, link: PtyLink, step: Callable[[PtyLink], None], period_s: float) -> None:
        super().__init__(daemon=True)
        self.link, self.step, self.period_s = link, step, period_s
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.period_s):
            self.step(self.link)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(2)


@contextlib.contextmanager
def running(link: PtyLink, step: Callable[[PtyLink], None], period_s: float) -> Iterator[None]:
    device = Device(link, step, period_s)
    device.start()
    try:
        yield
    finally:
        device.stop()


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PtyLink]:
    link = PtyLink(tmp_path / "dev" / "box")
    yield link
    link.close()


def stream_line(link: PtyLink) -> None:
    link.write(b"21.5,OPEN,-3.25\r\n")


def test_probe_line_device_prints_a_table(pty: PtyLink) -> None:
    with running(pty, stream_line, 0.05):
        result = cryoguard("probe", "--port", str(pty.link), "--protocol", "line",
                           "--count", "3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "connected:" in out
    assert "scan 3 at" in out and "scan 4" not in out
    assert "ch0" in out and "21.50 °C" in out and "OK" in out
    assert "ch1" in out and "OPEN" in out
    assert "-3.25 °C" in out


def test_probe_missing_port_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    result = cryoguard("probe", "--port", str(tmp_path / "ttyUSB7"), "--protocol", "line")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "cryoguard ports" in result.stderr
    assert "Traceback" not in result.stderr


def test_probe_silent_device_exits_1_saying_no_data(pty: PtyLink) -> None:
    result = cryoguard("probe", "--port", str(pty.link), "--protocol", "line", "--wait", "0.8")
    assert result.returncode == 1
    assert "no data" in result.stderr and str(pty.link) in result.stderr


def test_probe_port_in_use_exits_1_with_reason(pty: PtyLink) -> None:
    import serial

    holder = serial.Serial(str(pty.link), exclusive=True)
    try:
        result = cryoguard("probe", "--port", str(pty.link), "--protocol", "line")
    finally:
        holder.close()
    assert result.returncode == 1
    assert "in use by another program" in result.stderr


def test_probe_bad_arguments_exit_2(pty: PtyLink) -> None:
    assert cryoguard("probe", "--port", str(pty.link), "--protocol", "hart").returncode == 2
    result = cryoguard("probe", "--port", str(pty.link), "--protocol", "line", "--count", "0")
    assert result.returncode == 2
    result = cryoguard("probe", "--port", str(pty.link), "--protocol", "line", "--units", "mV")
    assert result.returncode == 2 and "tc_type" in result.stderr


def dcon_responder(link: PtyLink) -> None:
    """Answers DCON commands as an ADAM-4018+ at address 01 (no checksum)."""
    if not link.plugged or not select.select([link.fileno()], [], [], 0)[0]:
        return
    for raw in link.read().split(b"\r"):
        text = raw.decode("ascii", "replace")
        if text == "#01":
            link.write(dcon.format_read_reply([36.6, Status.OPEN, -12.5]))
        elif text == "$01M":
            link.write(b"!014018P\r")
        elif text == "$012":
            link.write(b"!01100600\r")


def test_probe_dcon_module(pty: PtyLink) -> None:
    with running(pty, dcon_responder, 0.005):
        result = cryoguard("probe", "--port", str(pty.link), "--protocol", "dcon",
                           "--count", "2")
    assert result.returncode == 0, result.stderr
    assert "4018P" in result.stdout and "scan 2" in result.stdout
    assert "36.60 °C" in result.stdout and "OPEN" in result.stdout
    assert "-12.50 °C" in result.stdout


def test_probe_modbus_unit() -> None:
    from pymodbus.framer import FramerType
    from pymodbus.server import ModbusSerialServer
    from pymodbus.simulator import SimData, SimDevice
    from pymodbus.simulator.simutils import DataType

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"socket://127.0.0.1:{port}"
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    done = asyncio.Event()

    async def serve() -> None:
        values = [215, (-32) & 0xFFFF, 0x7FFF] + [0] * 484
        values[486] = 0x10  # 40487: type T
        coils = [False] * 268 + [True]  # 00269: engineering format
        block = [SimData(0, values=values, datatype=DataType.REGISTERS)]
        device = SimDevice(1, simdata=([SimData(0, values=coils, datatype=DataType.BITS)],
                                       [SimData(0, count=16, values=False,
                                                datatype=DataType.BITS)], block, list(block)))
        server = ModbusSerialServer(device, framer=FramerType.RTU, port=url)
        task = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0.1)
        ready.set()
        await done.wait()
        await server.shutdown()  # type: ignore[no-untyped-call]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    try:
        assert ready.wait(5)
        result = cryoguard("probe", "--port", url, "--protocol", "modbus", "--count", "2")
    finally:
        loop.call_soon_threadsafe(done.set)
        thread.join(5)
        loop.close()
    assert result.returncode == 0, result.stderr
    assert "unit 1" in result.stdout and "scan 2" in result.stdout
    assert "21.50 °C" in result.stdout and "-3.20 °C" in result.stdout and "OPEN" in result.stdout


def test_ports_command_runs_and_says_something() -> None:
    result = cryoguard("ports")
    assert result.returncode == 0
    assert result.stdout.strip()  # a list, or a clear "No serial ports found"


def test_by_id_links_resolve_to_devices(tmp_path: Path) -> None:
    target = tmp_path / "ttyUSB0"
    target.touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (by_id / "usb-FTDI_TTL232R-if00-port0").symlink_to(target)
    assert by_id_links(by_id) == {str(target.resolve()): [
        str(by_id / "usb-FTDI_TTL232R-if00-port0")]}
    assert by_id_links(tmp_path / "missing") == {}
