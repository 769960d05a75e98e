"""The serial transport on real pseudo-terminals: streaming, unplug, replug, exclusive lock."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from drivers.backoff import Backoff
from drivers.collect import CollectingSink
from drivers.link import DeviceLost, open_link
from drivers.mapping import ChannelMapper
from drivers.params import DconParams, LineParams, ModbusParams
from drivers.runner import run_device
from drivers.schedule import Schedule
from drivers.types import ParsedScan, fault, ok
from monitor.model import Status
from simulators.ptylink import PtyLink


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PtyLink]:
    link = PtyLink(tmp_path / "dev" / "tcbox")
    yield link
    link.close()


class Streamer:
    """A line device sending ``n,20+n/10`` at 10 Hz while plugged."""

    def __init__(self, link: PtyLink, period_s: float = 0.1) -> None:
        self.link = link
        self.period_s = period_s
        self.n = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            if self.link.plugged:
                self.link.write(f"{self.n},{20 + self.n / 10:.1f}\r\n".encode())
                self.n += 1
            await asyncio.sleep(self.period_s)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def driving(params: LineParams | DconParams | ModbusParams, sink: CollectingSink,
                  backoff: Backoff | None = None) -> AsyncIterator[asyncio.Task[None]]:
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(run_device(params, sink, loop.time, backoff=backoff))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def line_params(link: PtyLink, **kw: object) -> LineParams:
    base: dict[str, object] = dict(id="tcbox", port=str(link.link),
                                   channel_map={0: "seq", 1: "L4R"})
    base.update(kw)
    return LineParams(**base)  # type: ignore[arg-type]


# Streaming, unplug, replug ---------------------------------------------------------------------

async def test_streams_at_10_hz_with_the_injected_clock(pty: PtyLink) -> None:
    streamer = Streamer(pty)
    sink = CollectingSink()
    fake_now = [1000.0]

    def clock() -> float:
        fake_now[0] += 0.001
        return fake_now[0]

    task = asyncio.create_task(run_device(line_params(pty), sink, clock))
    try:
        assert await sink.wait_for("scan", 10, timeout_s=3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await streamer.stop()
    scans = sink.of("scan")
    seqs = [e.readings[0].temp_c or 0.0 for e in scans]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in order, none twice
    assert all(e.t > 1000.0 for e in scans)  # stamped by the injected clock
    assert [r.channel for r in scans[0].readings] == ["seq", "L4R"]
    assert sink.of("connected")[0].t <= scans[0].t
    assert sink.of("bad_data") == [] and sink.of("lost") == []


async def test_unplug_is_lost_within_1s_without_spinning_then_replug_reconnects(
        pty: PtyLink) -> None:
    streamer = Streamer(pty)
    sink = CollectingSink()
    loop = asyncio.get_running_loop()
    try:
        async with driving(line_params(pty), sink):  # default backoff: 0.2 s doubling to 5 s
            assert await sink.wait_for("scan", 3, timeout_s=3)
            t_unplug = loop.time()
            pty.unplug()
            assert await sink.wait_for("lost", 1, timeout_s=1.0)
            lost = sink.of("lost")[0]
            assert lost.t - t_unplug < 1.0
            assert "disappeared" in lost.detail or "does not exist" in lost.detail
            scans_at_loss = len(sink.of("scan"))

            cpu0 = time.process_time()
            await asyncio.sleep(0.8)  # retries at 0.2, 0.4 s... against a missing port
            cpu = time.process_time() - cpu0
            assert cpu < 0.25, f"{cpu:.3f} s CPU in 0.8 s of outage: spinning"
            assert len(sink.of("lost")) == 1  # reported once per outage
            assert len(sink.of("scan")) == scans_at_loss

            t_plug = loop.time()
            pty.plug()
            assert await sink.wait_for("connected", 2, timeout_s=2.5)  # backoff ≤ 0.8 s here
            assert sink.of("connected")[1].t - t_plug < 2.0
            assert await sink.wait_for("scan", scans_at_loss + 3, timeout_s=2)
    finally:
        await streamer.stop()
    assert len(sink.of("lost")) == 1


async def test_second_process_holding_the_port_gives_a_clear_reason(pty: PtyLink) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import serial, sys, time\n"
         f"s = serial.Serial({str(pty.link)!r}, exclusive=True)\n"
         "print('holding', flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    streamer = Streamer(pty)
    sink = CollectingSink()
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        async with driving(line_params(pty), sink, Backoff(initial_s=0.05, max_s=0.1)):
            assert await sink.wait_for("lost", 1, timeout_s=3)
            reason = sink.of("lost")[0].detail
            assert "in use by another program" in reason and str(pty.link) in reason
            assert sink.of("scan") == []
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(5)
            assert await sink.wait_for("scan", 2, timeout_s=3)  # free again: it reconnects
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(5)
        await streamer.stop()


async def test_missing_port_is_lost_with_reason_and_no_spin(tmp_path: Path) -> None:
    sink = CollectingSink()
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def fast_sleep(delay: float) -> None:
        sleeps.append(delay)
        await real_sleep(0.01)

    backoff = Backoff(sleep=fast_sleep)
    params = LineParams(id="x", port=str(tmp_path / "ttyUSB9"))
    async with driving(params, sink, backoff):
        for _ in range(300):
            if len(sleeps) >= 8:
                break
            await real_sleep(0.01)
    assert len(sink.of("lost")) == 1
    assert "does not exist" in sink.of("lost")[0].detail
    assert sleeps[:8] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]


async def test_cancel_closes_the_port(pty: PtyLink) -> None:
    streamer = Streamer(pty)
    sink = CollectingSink()
    try:
        async with driving(line_params(pty), sink):
            assert await sink.wait_for("scan", 1, timeout_s=3)
        link = await open_link(str(pty.link), 9600)  # exclusive: only possible once closed
        await link.close()
    finally:
        await streamer.stop()


async def test_bad_data_never_stops_the_reader(pty: PtyLink) -> None:
    sink = CollectingSink()
    async with driving(line_params(pty, learn_channels=True), sink):
        await asyncio.sleep(0.1)
        pty.write(b"sync\n")
        await asyncio.sleep(0.05)
        pty.write(b"\xff\xfe garbage \x00\n" + b"9" * 9000 + b"\n1,OPEN,x\n# note\n"
                  + b"1,OPEN,ERR\n" * 3 + b"2,3,5\n")
        assert await sink.wait_for("scan", 2, timeout_s=2)
    bad = [e.detail for e in sink.of("bad_data")]
    assert "outside the line grammar" in bad[0]
    # A burst of bad frames is one report at once, then counted (nothing is lost).
    assert "2 more bad frames" in bad[1]
    first, second = (e.readings for e in sink.of("scan"))  # the third line fixed the shape
    assert [(r.channel, r.temp_c, r.status) for r in first] == [
        ("seq", 1.0, Status.OK), ("L4R", None, Status.OPEN), ("ch2", None, Status.BAD_DATA)]
    assert [r.temp_c for r in second] == [2.0, 3.0, 5.0]


async def test_socket_url_and_end_of_file() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await asyncio.sleep(0.1)
            writer.write(b"\n")  # the driver starts reading at a newline
            for i in range(4):
                await asyncio.sleep(0.05)
                writer.write(f"L4R={10 + i}\n".encode())
            await writer.drain()
            writer.close()  # the device closes: end of file

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sink = CollectingSink()
    try:
        params = LineParams(id="net", port=f"socket://127.0.0.1:{port}", learn_channels=True)
        async with driving(params, sink, Backoff(initial_s=0.05, max_s=0.1)):
            assert await sink.wait_for("lost", 1, timeout_s=3)
            assert await sink.wait_for("connected", 2, timeout_s=3)  # reconnects
    finally:
        server.close()
        await server.wait_closed()
    # The shape is fixed by the first three lines; the third is the first scan.
    assert [r.temp_c for r in sink.of("scan")[0].readings] == [12.0]
    assert sink.of("scan")[0].readings[0].channel == "L4R"
    assert "end of file" in sink.of("lost")[0].detail


async def test_open_link_reports_missing_port(tmp_path: Path) -> None:
    with pytest.raises(DeviceLost, match="does not exist"):
        await open_link(str(tmp_path / "none"), 9600)


# Pure helpers ----------------------------------------------------------------------------------

def test_backoff_doubles_caps_and_resets() -> None:
    b = Backoff()
    assert [b.next_delay() for _ in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    b.reset()
    assert b.next_delay() == 0.2
    with pytest.raises(ValueError):
        Backoff(initial_s=0)


def test_schedule_is_anchored_and_skips_missed_slots() -> None:
    s = Schedule(0.25, t0=100.0)
    assert s.next_slot(100.0) == 100.0
    assert s.next_slot(100.01) == 100.25
    assert s.next_slot(100.3) == 100.5   # a slow reply: still on the grid
    assert s.next_slot(101.1) == 101.25  # 100.75 and 101.0 were missed: skipped, no burst
    assert s.skipped == 2
    assert s.next_slot(101.26) == 101.5
    times = [Schedule(0.1, 0.0).next_slot(0.0)]
    sched = Schedule(0.1, 0.0)
    times = [sched.next_slot(t) for t in [0.0] + [0.1 * k + 0.003 for k in range(1000)]]
    assert abs(times[-1] - 100.0) < 1e-6  # after 1000 polls: no drift


def test_mapper_maps_learns_and_never_silently_drops(caplog: pytest.LogCaptureFixture) -> None:
    scan = ParsedScan((ok(0, 1.0), ok(1, 2.0), fault("cj", Status.OPEN)))
    strict = ChannelMapper("box", {0: "L4R", "cj": "cold"}, learn=False)
    readings = strict.readings(scan, 5.0)
    assert [(r.t, r.channel, r.status) for r in readings] == [
        (5.0, "L4R", Status.OK), (5.0, "cold", Status.OPEN)]
    assert "index 1" in caplog.text and "ignored" in caplog.text
    learner = ChannelMapper("box", {"0": "L4R"}, learn=True)
    assert [r.channel for r in learner.readings(scan, 5.0)] == ["L4R", "ch1", "cj"]


def test_params_validate_and_resolve_cold_junction_channel() -> None:
    p = LineParams(id="b", port="/dev/x", units="mV", tc_type="t", cjc_channel="cold",
                   channel_map={0: "tip", 3: "cold"})
    assert p.settings().cjc_channel == 3 and p.settings().tc_type == "T"
    with pytest.raises(ValueError, match="cold junction"):
        LineParams(id="b", port="/dev/x", units="mV", tc_type="T")
    with pytest.raises(ValueError, match="address"):
        DconParams(id="d", port="/dev/x", address=300)
    with pytest.raises(ValueError, match="poll_interval_s"):
        ModbusParams(id="m", port="/dev/x", poll_interval_s=0)
    assert DconParams(id="d", port="/dev/x").baudrate == 9600
    assert DconParams(id="d", port="/dev/x").poll_interval_s == 0.25
    assert DconParams(id="d", port="/dev/x").timeout_s == 0.3
