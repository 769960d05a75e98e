"""Simulated session files: a scenario run through the engine into the real recorder.

Used by the report tests, the README example script and the report benchmark, so they all read
session files written exactly as the daemon writes them (readings, inputs and events sharing one
``seq``), without a serial device or the daemon.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.config.schema import Config, parse_config
from monitor.engine import Engine
from monitor.engine.inputs import apply_input
from monitor.errors import CryoGuardError
from monitor.model import Event, EventType, Reading, Status
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo

WALL_START = datetime(2025, 3, 14, 8, 30, tzinfo=UTC)
MAX_PENDING = 100_000  # readings handed to the recorder and not yet written
Input = tuple[float, str, dict[str, Any]]  # (t, kind, payload) as the daemon records them


def scenario_config(scenario: Any, station: str = "ct-suite-sim",
                    extra: dict[str, Any] | None = None) -> Config:
    """One line device ``sim``; the scenario's channels with their roles and labels."""
    data: dict[str, Any] = {
        "station": {"name": station},
        "devices": [{"id": "sim", "protocol": "line", "port": "/dev/ttyUSB0"}],
        "channels": [{"id": c.id, "label": c.label, "device": "sim", "index": c.index,
                      "role": str(c.role)} for c in scenario.channels],
        **(extra or {})}
    return parse_config(data, f"simulated scenario {scenario.name}")


def record_scenario(path: Path, name: str, *, seed: int = 1, rate_hz: float = 10.0,
                    inputs: Sequence[Input] = (), extra_config: dict[str, Any] | None = None,
                    closed: bool = True) -> Engine:
    """Write a session file of scenario ``name`` (see :func:`record_arrays`)."""
    from simulators.scenarios import SCENARIOS

    scenario = SCENARIOS[name]
    trace = scenario.generate(seed=seed, rate_hz=rate_hz)
    config = scenario_config(scenario, extra=extra_config)
    return record_arrays(path, config, trace.t, trace.values, trace.status, inputs=inputs,
                         closed=closed)


def record_arrays(path: Path, config: Config, t: NDArray[np.float64],
                  values: NDArray[np.float64], status: NDArray[np.int8], *,
                  inputs: Sequence[Input] = (), closed: bool = True,
                  scans_per_batch: int = 10) -> Engine:
    """Scans ``t`` (n,) of ``values``/``status`` (n, channels, in config channel order) through
    the engine and the recorder; ``inputs`` are applied and recorded at their times. Returns
    the engine that ran live, to compare with what a replay of the file finds.

    With ``closed=False`` the file is left as a process killed with SIGKILL leaves it: the
    committed pages and the write-ahead log, no end meta.
    """
    spec = config.engine_spec()
    ids = [c.id for c in spec.channels]
    faults: list[str] = []
    target = path if closed else path.with_name(path.name + ".writing")
    recorder = Recorder.open(target, config_snapshot=config.snapshot(),
                             channels=[ChannelInfo.from_spec(c) for c in spec.channels],
                             station=config.station.name, wall_start=WALL_START,
                             on_fault=faults.append, close_timeout_s=120.0)
    engine = Engine(spec, t0=0.0)

    def record(events: list[Event]) -> None:
        for event in events:
            recorder.event(event, event.to_record(WALL_START))

    record([Event(0.0, EventType.SESSION_STARTED, {"mode": "simulated",
                                                   "station": config.station.name,
                                                   "message": "simulated session"})])
    pending = sorted(inputs, key=lambda item: item[0])
    statuses = [Status(s) for s in range(len(Status))]
    n = t.shape[0]
    lo = 0
    while lo < n:
        while pending and pending[0][0] <= float(t[lo]):
            when, kind, payload = pending.pop(0)
            recorder.input(when, kind, payload)
            record(apply_input(engine, when, kind, payload))
        hi = min(n, lo + scans_per_batch)
        if pending:  # a batch never runs past the next input: it is applied at its own time
            hi = min(hi, max(lo + 1, int(np.searchsorted(t, pending[0][0], side="left"))))
        batch = [Reading(float(t[i]), cid, float(values[i, c]) if status[i, c] == 0 else None,
                         statuses[int(status[i, c])])
                 for i in range(lo, hi) for c, cid in enumerate(ids)]
        recorder.readings(batch)
        record(engine.feed(batch))
        if recorder.stats.pending > MAX_PENDING:
            _wait_committed(recorder, below=MAX_PENDING // 4)  # never make the recorder shed
        lo = hi
    for when, kind, payload in pending:
        recorder.input(when, kind, payload)
        record(apply_input(engine, when, kind, payload))
    t_end = float(t[-1]) if n else 0.0
    if closed:
        record(engine.tick(t_end))
        record([Event(t_end, EventType.SESSION_ENDED, {"message": "simulated session ended"})])
        recorder.close(t_end)
    else:
        _wait_committed(recorder)
        _copy_as_killed(target, path)
        recorder.close(t_end)
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
    if faults:
        raise CryoGuardError(f"recording {path} failed: {faults[0]}")
    return engine


def _wait_committed(recorder: Recorder, below: int = 1, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while recorder.stats.pending >= below and time.monotonic() < deadline:
        time.sleep(0.01)


def _copy_as_killed(source: Path, target: Path) -> None:
    """The database file, its write-ahead log and shared-memory index as they are on disk."""
    shutil.copyfile(source, target)
    for suffix in ("-wal", "-shm"):
        part = Path(str(source) + suffix)
        if part.exists():
            shutil.copyfile(part, Path(str(target) + suffix))
