"""Session file figures: readings/s the recorder writes, and the time to read a session back.

    .venv/bin/python bench/recorder_throughput.py [--channels 16] [--rate-hz 10] [--seconds 3600]

Writes a 1-hour, 16-channel, 10 Hz session (576,000 readings) as fast as the caller can hand
it over (one call per scan, as the daemon does), then reads it back with ``columns()`` (the
replay fast path) and with ``iter_inputs()`` (objects). Prints figures; not a pass/fail test.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _figures import emit, figure

from monitor.model import Event, EventType, Reading, Status
from monitor.sessions.reader import open_session
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo


def scans(channels: int, rate_hz: float, seconds: float) -> list[list[Reading]]:
    names = [f"ch{c}" for c in range(channels)]
    out: list[list[Reading]] = []
    for i in range(int(seconds * rate_hz)):
        t = i / rate_hz
        scan = []
        for c, name in enumerate(names):
            if (i + c) % 5000 == 0:
                scan.append(Reading(t, name, None, Status.OPEN))
            else:
                scan.append(Reading(t, name, 37.0 + 5 * math.sin(t / 60 + c)))
        out.append(scan)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--rate-hz", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()

    data = scans(args.channels, args.rate_hz, args.seconds)
    total = sum(len(s) for s in data)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench.cgsession"
        faults: list[str] = []
        rec = Recorder.open(path, config_snapshot={"bench": True},
                            channels=[ChannelInfo(f"ch{c}") for c in range(args.channels)],
                            station="bench", wall_start=datetime.now(UTC),
                            on_fault=faults.append, max_backlog_readings=total,
                            close_timeout_s=600.0)
        start = time.perf_counter()
        for k, scan in enumerate(data):
            rec.readings(scan)
            if k % 6000 == 0:
                event = Event(scan[0].t, EventType.ALARM_RAISED, {"alarm": f"ch0.x{k}"})
                rec.event(event, event.to_record(None))
        handed = time.perf_counter()
        rec.close(args.seconds)
        closed = time.perf_counter()
        size = path.stat().st_size
        assert not faults, faults
        assert rec.stats.written_readings == total

        print(f"session: {args.channels} channels x {args.rate_hz:g} Hz x {args.seconds:g} s "
              f"= {total:,} readings, file {size / 1e6:.1f} MB ({size / total:.1f} B/reading)")
        print(f"caller: {(handed - start) / len(data) * 1e6:.2f} us per readings() call "
              f"({len(data):,} calls, {(handed - start):.3f} s)")
        print(f"written: {total / (closed - start):,.0f} readings/s "
              f"(hand-over to close {closed - start:.3f} s)")

        t0 = time.perf_counter()
        with open_session(path) as session:
            cols = session.columns()
        t1 = time.perf_counter()
        assert len(cols.seq) == total
        print(f"read back, columns(): {t1 - t0:.3f} s ({total / (t1 - t0):,.0f} readings/s)")
        written, read_back = total / (closed - start), t1 - t0
        t0 = time.perf_counter()
        with open_session(path) as session:
            count = sum(1 for _ in session.iter_inputs())
        t1 = time.perf_counter()
        assert count == total
        print(f"read back, iter_inputs(): {t1 - t0:.3f} s ({total / (t1 - t0):,.0f} readings/s)")
    emit("recorder_throughput", [figure(
        "recorder", f"recorder write / read back (columns()) of {total:,} readings "
        "(`python bench/recorder_throughput.py`)",
        f"~{written / 1e3:,.0f} k/s / {read_back:.2f} s", value=written, unit="readings/s")])


if __name__ == "__main__":
    main()
