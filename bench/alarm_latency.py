"""Alarm latency: last byte of a reading on the wire to the alarm on the event stream.

    python bench/alarm_latency.py [--channels 16] [--rate 10] [--alarms 300] [--display]
                                  [--mqtt URL]

A line device on a pseudo-terminal (this process) sends scans at ``rate`` Hz; channel 0 steps
between 41.0 and 42.0 °C every half second, so ``ch0.above_warning`` is raised and cleared
over and over. `cryoguard run` reads the pty with the real driver, records the session and
writes events to a FIFO; for each raise the latency is the time from the write of the scan that
crossed 42 °C to the moment its event line is read here (CLOCK_MONOTONIC in both processes).
With ``--display`` the daemon runs in a pseudo-terminal of its own with the live display on;
``--mqtt local`` starts a mosquitto on a free loopback port and publishes to it.

CPU is measured from outside, from ``/proc/PID/stat`` of the daemon process: user + system
time of all its threads divided by wall time. Two windows: *steady* runs from the first
counted alarm to the last (start-up, imports and the first five alarms excluded) and is the
figure in the README; *lifetime* runs from the process's start (what ``ps -o %cpu`` shows),
so it also charges the start-up to the run and depends on how long the run is.
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
from typing import Any

import numpy as np
from _figures import emit, figure

from simulators.ptylink import PtyLink

WARMUP_ALARMS = 5  # alarms before the measured window (start-up, first allocations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--alarms", type=int, default=300)
    parser.add_argument("--display", action="store_true")
    parser.add_argument("--mqtt", metavar="URL|local",
                        help="publish to this broker; 'local' starts a mosquitto for the run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broker = None
        if args.mqtt == "local":
            broker = _local_broker(folder)
            args.mqtt = broker.url("bench")
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
        window: list[tuple[float, float] | None] = []
        mine: list[float] = []  # this process (the feeder) over the same window

        def warm() -> None:
            window.append(_cpu_seconds(proc_pid))
            mine.append(_own_cpu_seconds())

        latencies = run(link, events, args, warm)
        window.append(_cpu_seconds(proc_pid))
        mine.append(_own_cpu_seconds())
        os.kill(proc_pid, signal.SIGINT)
        os.waitpid(proc_pid, 0)
        link.close()
        if broker is not None:
            broker.stop()
    lat = np.array(latencies) * 1e3
    setup = ("display on" if args.display else "headless") + ", recorder on" + \
        (", MQTT to a local mosquitto" if args.mqtt else "")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; {setup}")
    p50, p99, top = np.percentile(lat, 50), np.percentile(lat, 99), lat.max()
    third = max(1, lat.size // 3)
    print(f"{args.channels} channels x {args.rate:g} Hz, {lat.size} alarms: "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {top:.2f} ms "
          f"(p50 of the first third {np.median(lat[:third]):.2f} ms, of the last third "
          f"{np.median(lat[-third:]):.2f} ms)")
    steady = lifetime = None
    first, last = (window[0], window[-1]) if len(window) == 2 else (None, None)
    if first is not None and last is not None:
        steady = 100 * (last[0] - first[0]) / (last[1] - first[1])
        lifetime = 100 * last[0] / last[1]
        print(f"daemon CPU (user+system, all threads, /proc/PID/stat): steady "
              f"{steady:.1f} % of one core over the {last[1] - first[1]:.0f} s of measured "
              f"alarms; lifetime {lifetime:.1f} % over {last[1]:.0f} s since its start")
        feeder = 100 * (mine[-1] - mine[0]) / (last[1] - first[1])
        print(f"this bench process (the device feeder and event reader), same window: "
              f"{feeder:.1f} % of one core (not part of the daemon's figure)")
    emit_figures(args, setup, lat.size, p50, p99, top, steady, lifetime)


def emit_figures(args: argparse.Namespace, setup: str, count: int, p50: float, p99: float,
                 top: float, steady: float | None, lifetime: float | None) -> None:
    """Latency and CPU figures with the targets for this load."""
    load = f"{args.channels} ch x {args.rate:g} Hz"
    flags = "".join(f" {a}" for a in sys.argv[1:] if a != "--json")
    command = f"`python bench/alarm_latency.py{flags}`"
    heavy = args.channels * args.rate > 16 * 10
    p99_target = 5.0 if heavy else 3.0
    key = f"latency.{args.channels}x{args.rate:g}" + ("+display" if args.display else "") + \
        ("+mqtt" if args.mqtt else "")
    figures = [figure(key, f"alarm latency, wire to event stream, {load}, {setup}, {count} "
                      f"alarms ({command})",
                      f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms", value=p99 / 1e3,
                      unit="s", target=f"p99 ≤ {p99_target:g} ms", met=p99 <= p99_target)]
    if steady is not None:
        if heavy:
            cpu_target: float | None = 10.0
        elif args.mqtt:
            cpu_target = None
        else:
            cpu_target = 10.0 if args.display else 2.0
        figures.append(figure(
            key.replace("latency", "cpu"), f"daemon CPU, {load}, {setup}: user+system time of "
            "all its threads over wall time, steady window (same run)",
            f"{steady:.1f} % of one core (lifetime {lifetime:.1f} %)", value=steady, unit="%",
            target=None if cpu_target is None else f"≤ {cpu_target:g} %",
            met=None if cpu_target is None else steady <= cpu_target))
    emit("alarm_latency", figures)


def run(link: PtyLink, events: object, args: argparse.Namespace,
        on_warm: Any = None) -> list[float]:
    """Send scans until enough alarms came back; ``on_warm()`` once the warm-up is over."""
    period = 1.0 / args.rate
    steps_per_toggle = max(1, round(0.5 / period))
    rest = ",".join(["37.0"] * (args.channels - 1))
    raise_writes: list[float] = []
    latencies: list[float] = []
    buffer = b""
    fd = events.fileno()  # type: ignore[attr-defined]
    start = time.monotonic()
    k = 0
    while len(latencies) < args.alarms + WARMUP_ALARMS:
        due = start + k * period
        while True:
            now = time.monotonic()
            if now >= due:
                break
            ready, _, _ = select.select([fd], [], [], due - now)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return latencies[WARMUP_ALARMS:]
                arrived = time.monotonic()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    event = json.loads(line)
                    if event.get("alarm") == "ch0.above_warning" and \
                            event["type"] == "alarm.raised" and raise_writes:
                        latencies.append(arrived - raise_writes[-1])
                        if len(latencies) == WARMUP_ALARMS and on_warm is not None:
                            on_warm()
        hot = (k // steps_per_toggle) % 2 == 1
        value = "42.0" if hot else "41.0"
        link.write(f"{value},{rest}\n".encode())
        written = time.monotonic()
        if hot and (k % steps_per_toggle == 0):
            raise_writes.append(written)
        k += 1
    return latencies[WARMUP_ALARMS:]


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def _local_broker(folder: Path) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.mqtt_broker import Broker, mosquitto_path

    binary = mosquitto_path()
    if binary is None:
        sys.exit("--mqtt local: mosquitto is not installed (Debian: apt-get install mosquitto)")
    return Broker(binary, folder).start()


def _own_cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


def _cpu_seconds(pid: int) -> tuple[float, float] | None:
    """(user + system CPU seconds of all the process's threads, seconds since it started)."""
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
