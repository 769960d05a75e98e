"""Frame time of the live display at 16 and 64 channels, and what the display costs the loop.

Each frame is what the live display does per refresh: ``render_dashboard`` from a snapshot and
the console turning it into terminal output (to memory, so the terminal's own speed is left
out). The snapshot comes from the real engine after two and a half minutes of falling readings,
so alarms, trends and full sparklines are on screen.

The second table is the display's share of the alarm latency: a thread writes a byte to a pipe
every few milliseconds (as a serial device does) and the event loop's reader callback records
how long it took to run, while the engine takes a scan every 100 ms, with the live display off
and on (frames in its worker thread, written to /dev/null).

    .venv/bin/python bench/frame_time.py [--frames N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from _figures import emit, figure
from rich.console import Console

from monitor.config.schema import DisplayConfig
from monitor.display.live import LiveDisplay
from monitor.display.render import blink_phases, render_dashboard
from monitor.display.sparkline import History
from monitor.engine import Engine, Snapshot
from monitor.engine.spec import ChannelSpec, EngineSpec, role_conditions
from monitor.model import Priority, Reading, Role

SIZES = ((80, 24), (120, 40), (200, 60), (200, 110))  # 200x110: 64 rows, not a grid


def session(channels: int, seconds: float = 150.0, rate_hz: float = 10.0
            ) -> tuple[Snapshot, History]:
    """An engine with ``channels`` nerve needles cooling at different speeds."""
    engine, history = run_engine(channels, seconds, rate_hz)
    return engine.snapshot(), history


def run_engine(channels: int, seconds: float, rate_hz: float = 10.0) -> tuple[Engine, History]:
    specs = tuple(ChannelSpec(f"N{i:02d}", Role.NERVE, role_conditions(Role.NERVE),
                              label=f"needle {i}", device="box") for i in range(channels))
    engine = Engine(EngineSpec(channels=specs), t0=0.0)
    history = History(300.0)
    steps = int(seconds * rate_hz)
    for k in range(steps):
        t = k / rate_hz
        scan = [Reading(t, s.id, 37.0 - t * (0.05 + 0.2 * i / channels))
                for i, s in enumerate(specs)]
        engine.feed(scan)
        if k % 5 == 0:
            history.record(engine.snapshot())
    return engine, history


def frame_ms(snapshot: Snapshot, history: History, width: int, height: int, frames: int
             ) -> list[float]:
    console = Console(file=io.StringIO(), width=width, height=height, force_terminal=True,
                      color_system="truecolor", legacy_windows=False)
    header = {"station": "bench", "phase": "freeze", "cycle": 1, "phase_elapsed_s": 150.0,
              "phase_target_s": 600.0}
    out: list[float] = []
    for i in range(frames):
        fast, slow = blink_phases(i * 0.1)
        start = time.perf_counter()
        frame = render_dashboard(snapshot, header, width=width, height=height, blink_on=fast,
                                 blink_slow=slow, history=history)
        console.print(frame)
        out.append((time.perf_counter() - start) * 1000.0)
        console.file = io.StringIO()
    return out


class _Context:
    """The daemon's side of the output contract, doing nothing."""

    header: Mapping[str, Any] = {"station": "bench"}

    def fault(self, output: str, message: str, priority: Priority) -> None:
        print(f"fault: {output}: {message}")

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None:
        self.fault(output, message, priority)

    def recovered(self, output: str, message: str) -> None:
        pass

    def recovered_threadsafe(self, output: str, message: str) -> None:
        pass

    def acknowledge(self, alarm: str | None = None) -> None:
        pass

    def pause_audio(self) -> None:
        pass

    def mark(self, mark: str) -> None:
        pass

    def request_quit(self) -> None:
        pass

    def snapshot(self) -> Snapshot:
        raise NotImplementedError


async def loop_lag_ms(channels: int, display: bool, width: int, height: int,
                      seconds: float) -> list[float]:
    """Delays of a pipe reader callback while the engine (and maybe the display) runs."""
    loop = asyncio.get_running_loop()
    engine, _ = run_engine(channels, 150.0)
    t = engine.now
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    sent: deque[float] = deque()
    lags: list[float] = []
    stop = threading.Event()

    def on_read() -> None:
        data = os.read(read_fd, 4096)
        now = time.perf_counter()
        for _ in data:
            lags.append((now - sent.popleft()) * 1000.0)

    def writer() -> None:
        rng = random.Random(1)
        while not stop.is_set():
            time.sleep(rng.uniform(0.002, 0.007))
            sent.append(time.perf_counter())
            os.write(write_fd, b"x")

    loop.add_reader(read_fd, on_read)
    output: LiveDisplay | None = None
    tasks: list[asyncio.Task[None]] = []
    if display:
        console = Console(file=open(os.devnull, "w"), width=width, height=height,  # noqa: SIM115
                          force_terminal=True, color_system="truecolor")
        output = LiveDisplay(DisplayConfig(bell=False), console, stdin_fd=None)
        tasks.append(asyncio.create_task(output.run(_Context())))
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    end = loop.time() + seconds
    specs = engine.spec.channels
    while loop.time() < end:
        await asyncio.sleep(0.1)
        t += 0.1
        engine.feed([Reading(t, c.id, 37.0 - t * (0.05 + 0.2 * i / channels))
                     for i, c in enumerate(specs)])
        if output is not None:
            output.on_snapshot(engine.snapshot())
    stop.set()
    thread.join()
    loop.remove_reader(read_fd)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    os.close(read_fd)
    os.close(write_fd)
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="length of each loop-latency run (default 5)")
    args = parser.parse_args()
    print(f"{'channels':>8} {'terminal':>9} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    at_120x40: dict[int, float] = {}
    for channels in (16, 64):
        snapshot, history = session(channels)
        for width, height in SIZES:
            times = frame_ms(snapshot, history, width, height, args.frames)
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"{channels:>8} {width:>4}x{height:<4} {statistics.median(times):>10.2f} "
                  f"{p95:>8.2f} {times[-1]:>8.2f}")
            if (width, height) == (120, 40):
                at_120x40[channels] = statistics.median(times)

    print()
    print("reader callback delay on the event loop (the display's share of alarm latency)")
    print(f"{'channels':>8} {'display':>16} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for channels in (16, 64):
        for display, (width, height) in ((False, (0, 0)), (True, (120, 40)),
                                         (True, (200, 110))):
            lags = sorted(asyncio.run(loop_lag_ms(channels, display, width, height,
                                                  args.seconds)))
            label = f"on {width}x{height}" if display else "off"
            print(f"{channels:>8} {label:>16} {lags[len(lags) // 2]:>8.3f} "
                  f"{lags[int(0.99 * (len(lags) - 1))]:>8.3f} {lags[-1]:>8.3f}")
    emit("frame_time", [figure(
        "display.frame", "display frame, 16 / 64 channels at 120×40, median of "
        f"{args.frames} (`python bench/frame_time.py`)",
        f"{at_120x40[16]:.1f} ms / {at_120x40[64]:.1f} ms (grid)", value=at_120x40[16] / 1e3,
        unit="s", target="off the alarm path")])


if __name__ == "__main__":
    main()
