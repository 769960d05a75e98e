"""Replay throughput: readings/s through the engine alone and through the whole command.

    python bench/replay_throughput.py [--hours 1] [--channels 16] [--rate 10] [--runs 5]

Prints: engine-only readings/s (one block, and scan-sized blocks as live feeds it); the
end-to-end time of ``cryoguard replay FILE.csv --speed max --events-out FILE --quiet`` for a
wide and a long CSV (wall time of the whole process, from exec of the installed script to its
exit after the last event, median of ``--runs``); beside it the same kind of process that
merely reads the wide file, ``python -c "import numpy; numpy.loadtxt(FILE, delimiter=',',
skiprows=1)"``, and the ratio of the two; and a recorded session's replay time next to the
time to read its file.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _figures import emit, figure

from monitor.engine import Engine, ReadingBlock
from monitor.engine.spec import EngineSpec
from monitor.model import Reading, Role
from monitor.replay.core import load_source, replay
from monitor.sessions.reader import open_session
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo

REPLAY_TARGET_S = 0.4  # 1 h x 16 channels x 10 Hz CSV, end to end
RATIO_TARGET = 2.0  # replay end to end / reading the file, and session replay / session read
ENGINE_TARGET = 2_000_000  # readings/s through the engine


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


def cryoguard() -> list[str]:
    """The installed console script beside this Python, else ``python -m monitor.cli``."""
    script = Path(sys.executable).with_name("cryoguard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor.cli"]


def process_seconds(argv: list[str], runs: int = 1, before: Any = None) -> float:
    """Median wall time of ``argv`` as a process (``before()`` runs untimed before each)."""
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command_seconds(*args: str, runs: int = 1, events: Path | None = None) -> float:
    def fresh() -> None:  # --events-out refuses a non-empty file: start each run without it
        if events is not None:
            events.unlink(missing_ok=True)

    return process_seconds([*cryoguard(), *args], runs, fresh)


LOADTXT = "import sys, numpy; numpy.loadtxt(sys.argv[1], delimiter=',', skiprows=1)"


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
    parser.add_argument("--runs", type=int, default=5,
                        help="runs of each end-to-end command; the median is shown (default 5)")
    args = parser.parse_args()
    size = f"{args.hours:g} h x {args.channels} ch x {args.rate:g} Hz"
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
    figures = [
        figure("engine.block", f"engine alone, whole {size} block "
               "(`python bench/replay_throughput.py`)", f"{whole / 1e6:.1f} M readings/s",
               value=whole, unit="readings/s", target=f"≥ {ENGINE_TARGET / 1e6:g} M/s",
               met=whole >= ENGINE_TARGET),
        figure("engine.scan", f"engine alone, one {args.channels}-channel scan at a time "
               "(same bench)", f"{per_scan * 1e3:.2f} ms per scan", value=per_scan, unit="s"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wide, long = write_csvs(folder, t, values)
        replay_s: dict[str, float] = {}
        for label, path in (("wide", wide), ("long", long)):
            events = folder / "ev.jsonl"
            seconds = command_seconds("replay", str(path), "--speed", "max", "--events-out",
                                      str(events), "--quiet", runs=args.runs, events=events)
            replay_s[label] = seconds
            print(f"cryoguard replay {label} CSV, end to end: {seconds:.2f} s "
                  f"({total / seconds:,.0f} readings/s; median of {args.runs})")
        read_s = process_seconds([sys.executable, "-c", LOADTXT, str(wide)], args.runs)
        start = time.perf_counter()
        np.loadtxt(wide, delimiter=",", skiprows=1)
        read_inside_s = time.perf_counter() - start
        ratio = replay_s["wide"] / read_s
        print(f"reading the wide CSV with numpy.loadtxt, end to end: {read_s:.2f} s "
              f"(loadtxt alone {read_inside_s:.2f} s); replay / read = {ratio:.2f}")
        figures += [
            figure("replay.csv", f"`cryoguard replay` {size} wide CSV, whole process from exec "
                   f"to exit after the last event, median of {args.runs} (same bench)",
                   f"{replay_s['wide']:.2f} s wide, {replay_s['long']:.2f} s long",
                   value=replay_s["wide"], unit="s", target=f"≤ {REPLAY_TARGET_S:g} s",
                   met=replay_s["wide"] <= REPLAY_TARGET_S),
            figure("replay.ratio", "the same replay / a process that merely reads the wide CSV "
                   "(`python -c \"numpy.loadtxt(...)\"`, whole process; same bench)",
                   f"{ratio:.2f}× ({replay_s['wide']:.2f} s / {read_s:.2f} s)", value=ratio,
                   target=f"≤ {RATIO_TARGET:g}×", met=ratio <= RATIO_TARGET),
        ]
        session = session_file(folder, t, values)
        start = time.perf_counter()
        with open_session(session) as s:
            s.columns()
        session_read_s = time.perf_counter() - start
        start = time.perf_counter()
        source = load_source(session)
        replay(source, Engine(EngineSpec(), t0=0.0), lambda _e: None)
        session_replay_s = time.perf_counter() - start
        events = folder / "ev2.jsonl"
        command_s = command_seconds("replay", str(session), "--speed", "max", "--events-out",
                                    str(events), "--quiet", runs=args.runs, events=events)
        session_ratio = session_replay_s / session_read_s
        print(f"session file ({total:,} readings): read {session_read_s:.2f} s; read + replay "
              f"{session_replay_s:.2f} s (ratio {session_ratio:.2f}); the command end to end "
              f"{command_s:.2f} s")
        figures.append(figure(
            "replay.session", f"session replay ({total:,} readings) vs reading its file, in "
            "one process (same bench)", f"{session_ratio:.2f}× ({session_replay_s:.2f} s / "
            f"{session_read_s:.2f} s); command {command_s:.2f} s", value=session_ratio,
            target=f"≤ {RATIO_TARGET:g}×", met=session_ratio <= RATIO_TARGET))
    emit("replay_throughput", figures)


if __name__ == "__main__":
    main()
