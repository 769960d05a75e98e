"""Replay throughput: readings/s through the engine alone and through the whole command.

    python bench/replay_throughput.py [--hours 1] [--channels 16] [--rate 10]

Prints: engine-only readings/s (one block, and scan-sized blocks as live feeds it), the
end-to-end time of `cryoguard replay FILE.csv --speed max` for a wide and a long CSV, and a
recorded session's replay time next to the time to read its file.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from monitor.engine import Engine, ReadingBlock
from monitor.engine.spec import EngineSpec
from monitor.model import Reading, Role
from monitor.replay.core import load_source, replay
from monitor.sessions.reader import open_session
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo


def signal(n: int, channels: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(n) / rate
    base = 37.0 - 25.0 * np.sin(t / 900.0) ** 2
    return t, base[:, None] + rng.normal(0.0, 0.1, (n, channels))


def engine_only(t: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    n, channels = values.shape
    block = ReadingBlock.from_arrays(np.repeat(t, channels),
                                     np.tile(np.arange(channels, dtype=np.int32), n),
                                     values.reshape(-1), np.zeros(n * channels, np.int8))
    engine = Engine(EngineSpec(), t0=0.0)
    for c in range(channels):
        engine.channel_index(f"C{c}")
    start = time.perf_counter()
    engine.process(block)
    whole = block.t.size / (time.perf_counter() - start)
    engine = Engine(EngineSpec(), t0=0.0)
    for c in range(channels):
        engine.channel_index(f"C{c}")
    scans = min(n, 3000)
    start = time.perf_counter()
    for i in range(scans):
        engine.process(block.slice(i * channels, (i + 1) * channels))
    per_scan = (time.perf_counter() - start) / scans
    return whole, per_scan


def write_csvs(folder: Path, t: np.ndarray, values: np.ndarray) -> tuple[Path, Path]:
    n, channels = values.shape
    wide, long = folder / "wide.csv", folder / "long.csv"
    names = [f"C{c}" for c in range(channels)]
    with wide.open("w") as f:
        f.write("t," + ",".join(names) + "\n")
        f.writelines(f"{t[i]:.1f}," + ",".join(f"{x:.2f}" for x in values[i]) + "\n"
                     for i in range(n))
    with long.open("w") as f:
        f.write("t,channel,temp_c,status\n")
        f.writelines(f"{t[i]:.1f},{names[c]},{values[i, c]:.2f},OK\n"
                     for i in range(n) for c in range(channels))
    return wide, long


def command_seconds(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monitor.cli", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def session_file(folder: Path, t: np.ndarray, values: np.ndarray) -> Path:
    path = folder / "bench.cgsession"
    channels = values.shape[1]
    rec = Recorder.open(path, config_snapshot={}, station="bench",
                        channels=[ChannelInfo(f"C{c}", role=Role.NERVE) for c in range(channels)],
                        wall_start=datetime.now(UTC), on_fault=print,
                        max_backlog_readings=100_000_000, close_timeout_s=600.0)
    for i in range(t.shape[0]):
        rec.readings([Reading(float(t[i]), f"C{c}", float(values[i, c]))
                      for c in range(channels)])
    rec.close(float(t[-1]))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    n = int(args.hours * 3600 * args.rate)
    t, values = signal(n, args.channels, args.rate)
    total = n * args.channels
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"data: {args.hours:g} h x {args.channels} channels x {args.rate:g} Hz = "
          f"{total:,} readings")
    whole, per_scan = engine_only(t, values)
    print(f"engine alone, one block:        {whole:,.0f} readings/s")
    print(f"engine alone, scan at a time:   {per_scan * 1e3:.3f} ms per {args.channels}-channel "
          f"scan ({args.channels / per_scan:,.0f} readings/s)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wide, long = write_csvs(folder, t, values)
        for label, path in (("wide", wide), ("long", long)):
            seconds = command_seconds("replay", str(path), "--speed", "max", "--events-out",
                                      str(folder / "ev.jsonl"), "--quiet")
            print(f"cryoguard replay {label} CSV, end to end: {seconds:.2f} s "
                  f"({total / seconds:,.0f} readings/s)")
        session = session_file(folder, t, values)
        start = time.perf_counter()
        with open_session(session) as s:
            s.columns()
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        source = load_source(session)
        replay(source, Engine(EngineSpec(), t0=0.0), lambda _e: None)
        replay_s = time.perf_counter() - start
        command_s = command_seconds("replay", str(session), "--speed", "max", "--events-out",
                                    str(folder / "ev2.jsonl"), "--quiet")
        print(f"session file ({total:,} readings): read {read_s:.2f} s; read + replay "
              f"{replay_s:.2f} s (ratio {replay_s / read_s:.2f}); the command end to end "
              f"{command_s:.2f} s")


if __name__ == "__main__":
    main()
