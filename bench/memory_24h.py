"""Memory over 24 simulated hours: engine and recorder fed 16 channels x 10 Hz.

    python bench/memory_24h.py [--hours 24] [--channels 16] [--rate 10]

Feeds one-minute blocks of a slowly varying signal (with spikes and a daily freeze-like dip)
through the engine and the session recorder, and prints the process's resident memory every
few simulated hours. Flat memory means no state grows with session length.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _figures import emit, figure

from monitor.engine import Engine, ReadingBlock
from monitor.engine.spec import EngineSpec
from monitor.model import Reading, Role
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    names = [f"C{c}" for c in range(args.channels)]
    engine = Engine(EngineSpec(), t0=0.0)
    codes = np.array([engine.channel_index(n) for n in names], np.int32)
    per_block = int(60 * args.rate)
    blocks = int(args.hours * 60)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rec = Recorder.open(Path(tmp) / "day.cgsession", config_snapshot={}, station="bench",
                            channels=[ChannelInfo(n, role=Role.NERVE) for n in names],
                            wall_start=datetime.now(UTC), on_fault=print,
                            max_backlog_readings=50_000_000, close_timeout_s=600.0)
        print(f"{'hours':>6} {'RSS MB':>8} {'events':>8}")
        events = 0
        samples: list[tuple[float, float]] = []
        for b in range(blocks):
            t = (b * per_block + np.arange(per_block)) / args.rate
            day = 30.0 - 18.0 * np.exp(-(((t % 86400) - 43200) / 1800) ** 2)
            values = day[:, None] + rng.normal(0, 0.1, (per_block, args.channels))
            values[rng.random(values.shape) < 1e-4] += 20.0
            tt = np.repeat(t, args.channels)
            block = ReadingBlock.from_arrays(tt, np.tile(codes, per_block), values.reshape(-1),
                                             np.zeros(tt.size, np.int8))
            events += len(engine.process(block))
            rec.readings([Reading(float(a), names[int(c)], float(v))
                          for a, c, v in zip(tt[:: args.channels * 10],
                                             np.tile(codes, per_block)[:: args.channels * 10],
                                             values.reshape(-1)[:: args.channels * 10],
                                             strict=True)])
            if b % 180 == 0 or b == blocks - 1:
                samples.append(((b + 1) / 60, rss_mb()))
                print(f"{samples[-1][0]:6.1f} {samples[-1][1]:8.1f} {events:8d}", flush=True)
        rec.close(float(blocks * 60))
    print(f"{blocks * per_block * args.channels:,} readings through the engine in "
          f"{time.perf_counter() - started:.1f} s (recorder fed every tenth scan's first "
          f"channel to keep the run short)")
    early = next((s for s in samples if s[0] >= 3.0), samples[0])
    end = samples[-1]
    emit("memory_24h", [figure(
        "memory", f"resident memory, engine + recorder, {args.channels} ch x {args.rate:g} Hz "
        f"over {args.hours:g} simulated hours (`python bench/memory_24h.py`)",
        f"{early[1]:.0f} MB at {early[0]:.1f} h → {end[1]:.1f} MB at {end[0]:.1f} h",
        value=end[1] - early[1], unit="MB", target="flat")])


if __name__ == "__main__":
    main()
