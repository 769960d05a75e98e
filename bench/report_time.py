"""How long `cryoguard report` takes on a 2-hour, 16-channel, 10 Hz session.

The session is simulated (the multi-probe double-freeze scenario repeated to fill the time, its
nerve channels copied with small offsets up to 16 channels), written by the real recorder, then
reported like `cryoguard report SESSION --out DIR`. Prints the timings; not a pass/fail test.

    .venv/bin/python bench/report_time.py [--minutes 120] [--channels 16] [--rate 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _figures import emit, figure

from monitor.config.schema import parse_config
from monitor.report import build_report
from monitor.report.simulated import record_arrays
from simulators.scenarios import SCENARIOS


def session_arrays(minutes: float, channels: int, rate_hz: float
                   ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    scenario = SCENARIOS["multi-probe"]
    trace = scenario.generate(seed=3, rate_hz=rate_hz)
    n = int(minutes * 60 * rate_hz) + 1
    reps = -(-n // trace.t.shape[0])
    values = np.tile(trace.values, (reps, 1))[:n]
    t = np.arange(n, dtype=np.float64) / rate_hz
    base = [{"id": c.id, "label": c.label, "role": str(c.role)} for c in scenario.channels]
    nerves = [i for i, c in enumerate(scenario.channels) if str(c.role) == "nerve"]
    columns = list(range(len(base)))
    k = 0
    while len(columns) < channels:
        src = nerves[k % len(nerves)]
        columns.append(src)
        base.append({"id": f"X{k + 1}", "label": f"copy of {base[src]['id']}", "role": "nerve"})
        k += 1
    columns, base = columns[:channels], base[:channels]
    offsets = np.array([0.0] * len(scenario.channels)
                       + [0.5 * (i + 1) for i in range(len(columns) - len(scenario.channels))])
    return t, values[:, columns] + offsets[: len(columns)], base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="also write the report into DIR to look at it")
    args = parser.parse_args()
    t, values, chans = session_arrays(args.minutes, args.channels, args.rate)
    config = parse_config({
        "station": {"name": "bench"},
        "devices": [{"id": "sim", "protocol": "line", "port": "/dev/ttyUSB0"}],
        "channels": [{**c, "device": "sim", "index": i} for i, c in enumerate(chans)]},
        "bench")
    status = np.zeros(values.shape, np.int8)
    with tempfile.TemporaryDirectory() as tmp:
        session = Path(tmp) / "bench.cgsession"
        started = time.perf_counter()
        record_arrays(session, config, t, values, status, scans_per_batch=50)
        recorded = time.perf_counter() - started
        size_mb = session.stat().st_size / 1e6
        started = time.perf_counter()
        files = build_report(session, Path(tmp) / "report")
        seconds = time.perf_counter() - started
        html_mb = files.html.stat().st_size / 1e6
        if args.keep is not None:
            build_report(session, args.keep)
    readings = values.size
    print(f"session: {args.minutes:g} min, {args.channels} channels, {args.rate:g} Hz = "
          f"{readings:,} readings, {size_mb:.0f} MB (simulated and recorded in {recorded:.1f} s)")
    print(f"report: {seconds:.2f} s for {len(files.data.cycles)} cycles, "
          f"{len(files.data.alarm_log)} alarms, {len(files.images)} plots; report.html "
          f"{html_mb:.1f} MB")
    emit("report_time", [figure(
        "report", f"`cryoguard report`, {args.minutes:g} min x {args.channels} ch x "
        f"{args.rate:g} Hz session, in process (`python bench/report_time.py`)",
        f"{seconds:.1f} s", value=seconds, unit="s")])


if __name__ == "__main__":
    main()
