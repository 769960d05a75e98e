"""Frame time of the live display at 16 and 64 channels: build the dashboard and write it.

Each frame is what the live display does per refresh: ``render_dashboard`` from a snapshot and
the console turning it into terminal output (to memory, so the terminal's own speed is left
out). The snapshot comes from the real engine after two minutes of falling readings, so alarms,
trends and full sparklines are on screen.

    .venv/bin/python bench/frame_time.py [--frames N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

from rich.console import Console

from monitor.defaults import role_conditions
from monitor.display.render import blink_phases, render_dashboard
from monitor.display.sparkline import History
from monitor.engine import Engine, Snapshot
from monitor.model import Reading, Role
from monitor.spec import ChannelSpec, EngineSpec

SIZES = ((80, 24), (120, 40), (200, 60), (200, 110))  # 200x110: 64 rows, not a grid


def session(channels: int, seconds: float = 150.0, rate_hz: float = 10.0
            ) -> tuple[Snapshot, History]:
    """An engine with ``channels`` nerve needles cooling at different speeds."""
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
    return engine.snapshot(), history


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    print(f"{'channels':>8} {'terminal':>9} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for channels in (16, 64):
        snapshot, history = session(channels)
        for width, height in SIZES:
            times = frame_ms(snapshot, history, width, height, args.frames)
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"{channels:>8} {width:>4}x{height:<4} {statistics.median(times):>10.2f} "
                  f"{p95:>8.2f} {times[-1]:>8.2f}")


if __name__ == "__main__":
    main()
