"""Alarm latency: last byte of a reading on the wire to the alarm on the event stream.

    python bench/alarm_latency.py [--channels 16] [--rate 10] [--alarms 300] [--display]
                                  [--mqtt URL]

A line device on a pseudo-terminal (this process) sends scans at ``rate`` Hz; channel 0 steps
between 41.0 and 42.0 °C every half second, so ``ch0.above_warning`` is raised and cleared
over and over. `cryoguard run` reads the pty with the real driver, records the session and
writes events to a FIFO; for each raise the latency is the time from the write of the scan that
crossed 42 °C to the moment its event line is read here (CLOCK_MONOTONIC in both processes).
With ``--display`` the daemon runs in a pseudo-terminal of its own with the live display on.
Also prints the daemon's CPU use (user + system time over the run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pty
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from simulators.ptylink import PtyLink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--alarms", type=int, default=300)
    parser.add_argument("--display", action="store_true")
    parser.add_argument("--mqtt", metavar="URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        link = PtyLink(folder / "ttyBENCH")
        fifo = folder / "events.fifo"
        os.mkfifo(fifo)
        cmd = [sys.executable, "-m", "monitor.cli", "run", "--port", str(link.link),
               "--protocol", "line", "--events-out", str(fifo), "--session",
               str(folder / "bench.cgsession")]
        if args.mqtt:
            cmd += ["--mqtt", args.mqtt]
        if args.display:
            pid, master = pty.fork()
            if pid == 0:
                os.environ["COLUMNS"], os.environ["LINES"] = "120", "50"
                os.execv(cmd[0], cmd)
            drain = threading.Thread(target=_drain, args=(master,), daemon=True)
            drain.start()
            proc_pid = pid
        else:
            proc = subprocess.Popen([*cmd, "--headless"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            proc_pid = proc.pid
        events = open(fifo, "rb", buffering=0)  # noqa: SIM115 - read until the end
        latencies = run(link, events, args)
        usage = _cpu_seconds(proc_pid)
        os.kill(proc_pid, signal.SIGINT)
        os.waitpid(proc_pid, 0)
        link.close()
    lat = np.array(latencies) * 1e3
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; display {'on' if args.display else 'off'}, recorder on"
          + (", MQTT on" if args.mqtt else ""))
    print(f"{args.channels} channels x {args.rate:g} Hz, {lat.size} alarms: "
          f"p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms, "
          f"max {lat.max():.2f} ms")
    if usage is not None:
        cpu, wall = usage
        print(f"daemon CPU: {100 * cpu / wall:.1f} % of one core over {wall:.0f} s")


def run(link: PtyLink, events: object, args: argparse.Namespace) -> list[float]:
    period = 1.0 / args.rate
    steps_per_toggle = max(1, round(0.5 / period))
    rest = ",".join(["37.0"] * (args.channels - 1))
    raise_writes: list[float] = []
    latencies: list[float] = []
    buffer = b""
    fd = events.fileno()  # type: ignore[attr-defined]
    start = time.monotonic()
    k = 0
    while len(latencies) < args.alarms + 5:
        due = start + k * period
        while True:
            now = time.monotonic()
            if now >= due:
                break
            ready, _, _ = select.select([fd], [], [], due - now)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return latencies[5:]
                arrived = time.monotonic()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    event = json.loads(line)
                    if event.get("alarm") == "ch0.above_warning" and \
                            event["type"] == "alarm.raised" and raise_writes:
                        latencies.append(arrived - raise_writes[-1])
        hot = (k // steps_per_toggle) % 2 == 1
        value = "42.0" if hot else "41.0"
        link.write(f"{value},{rest}\n".encode())
        written = time.monotonic()
        if hot and (k % steps_per_toggle == 0):
            raise_writes.append(written)
        k += 1
    return latencies[5:]


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def _cpu_seconds(pid: int) -> tuple[float, float] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        start = int(fields[19]) / ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return cpu, uptime - start
    except (OSError, IndexError, ValueError):
        return None


if __name__ == "__main__":
    main()
