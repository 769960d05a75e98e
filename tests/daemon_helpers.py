"""Running the real `cryoguard` command as a child process, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "monitor.cli"]


def until(what: str, predicate: Callable[[], Any], timeout: float = 20.0,
          poll_s: float = 0.05) -> Any:
    """``predicate()``'s first true value, polled every ``poll_s``; fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


def cryoguard(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=kwargs.pop("stdin", subprocess.DEVNULL), **kwargs)


def spawn(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen([*CLI, *args], text=True, **kwargs)


def events(path: Path | str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def alarm_key(records: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    """What must be identical between live and replay: type, alarm and time."""
    return [(e["type"], e["alarm"], e["t"]) for e in records if e["type"].startswith("alarm.")
            and not e["alarm"].endswith(".output_failed")]


def raised(records: list[dict[str, Any]]) -> set[str]:
    return {e["alarm"] for e in records if e["type"] == "alarm.raised"}


ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


# The session core without IO: a scenario fed scan by scan with an injected clock -------------

class FakeClock:
    """Session seconds that move only when the test says so."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class ListOutput:
    """An output that keeps every record and snapshot it is handed."""

    name = "list"

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.snapshots = 0

    def on_events(self, records: Any) -> None:
        self.records.extend(dict(r) for r in records)

    def on_snapshot(self, snapshot: Any) -> None:
        self.snapshots += 1

    async def run(self, context: Any) -> None:
        return None

    async def close(self) -> None:
        return None


def scenario_core(scenario: Any, *, outputs: Any = (), session: Path | None = None,
                  script: Any = ()) -> tuple[Any, FakeClock, ListOutput, Any]:
    """A :class:`SessionCore` for a scenario's channels (device ``sim``), with a fake clock,
    a list output and, when ``session`` is given, the real recorder writing that file."""
    from datetime import UTC, datetime

    from monitor.commands.demo import demo_config
    from monitor.daemon.core import SessionCore
    from monitor.engine import Engine
    from monitor.outputs.recorder import RecorderOutput
    from monitor.sessions.schema import ChannelInfo

    config = demo_config(scenario, "line", Path("/dev/null"))
    engine = Engine(config.engine_spec(), t0=0.0)
    clock = FakeClock()
    sink = ListOutput()
    wall = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    all_outputs: list[Any] = []
    recorder = None
    if session is not None:
        recorder = RecorderOutput.open(
            session, config_snapshot=config.snapshot(),
            channels=[ChannelInfo.from_spec(c) for c in engine.spec.channels],
            station=config.station.name, wall_start=wall, commit_interval_s=1.0,
            on_fault=lambda m: None, on_recover=lambda m: None)
        all_outputs.append(recorder)
    all_outputs += [sink, *outputs]
    core = SessionCore(engine, all_outputs, wall_start=wall, clock=clock, script=script)
    core.start({"mode": "demo", "station": config.station.name, "message": "started"})
    return core, clock, sink, recorder


def feed_scenario(core: Any, clock: FakeClock, scenario: Any, *, rate_hz: float = 2.0,
                  tick_s: float = 0.1, until_s: float | None = None) -> None:
    """Play a scenario's trace into the core as the live daemon would see it: the device
    connects, scans arrive at their times, the ticker runs every ``tick_s`` in between, an
    unplug is ``device.lost`` at its start and ``device.connected`` at its end."""
    from monitor.engine.inputs import DeviceConnected, DeviceLost
    from monitor.model import Reading, Status

    trace = scenario.generate(seed=0, rate_hz=rate_hz)
    ids = [c.id for c in trace.channels]
    end = trace.duration_s if until_s is None else until_s
    core.submit(DeviceConnected("sim", "emulated line device"), 0.0)
    unplugged = False
    next_tick = tick_s
    for i in range(len(trace.t)):
        t = float(trace.t[i])
        if t > end:
            break
        while next_tick < t:
            clock.t = next_tick
            core.heartbeat(next_tick)
            next_tick += tick_s
        clock.t = t
        gone = trace.unplugged(t)
        if gone and not unplugged:
            core.submit(DeviceLost("sim", "end of file (unplugged?)"), t)
        if not gone and unplugged:
            core.submit(DeviceConnected("sim", "emulated line device"), t)
        unplugged = gone
        if gone:
            continue
        scan = []
        for c, cid in enumerate(ids):
            status = Status(int(trace.status[i][c]))
            value = float(trace.values[i][c]) if status is Status.OK else None
            scan.append(Reading(t, cid, value, status))
        core.scan("sim", scan)
    clock.t = max(clock.t, end)
