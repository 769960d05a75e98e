"""Replay: recorded readings and inputs through the same engine, paced or as fast as possible.

A session file replays its readings and operator/device inputs interleaved exactly as
recorded, so the alarm events come out as they did live. A CSV file replays its readings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from monitor.engine import Engine, ReadingBlock
from monitor.engine.block import F64, I8, I32, I64
from monitor.engine.inputs import apply_input
from monitor.engine.spec import EngineSpec
from monitor.errors import CryoGuardError, UsageError
from monitor.model import Event, EventType
from monitor.replay.csvsource import read_csv
from monitor.replay.parquetsource import PARQUET_MAGIC, read_parquet
from monitor.replay.whatif import STALE_INTERVALS, replay_spec, stale_for_interval
from monitor.sessions.reader import SessionInput, open_session
from monitor.sessions.schema import ChannelInfo

MAX_BLOCK = 1 << 18  # readings per engine call at full speed: bounded memory, same events
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class ReplaySource:
    """Readings (and, for sessions, inputs) in recorded order."""

    path: Path
    kind: str  # "session", "csv" or "export" (a Parquet export)
    channels: list[str]
    t: F64
    channel: I32
    temp_c: F64
    status: I8
    seq: I64 | None = None
    inputs: list[SessionInput] = field(default_factory=list)
    wall_start: datetime | None = None
    config: dict[str, Any] | None = None
    recorded_events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    bad_rows: int = 0
    t_end: float | None = None
    channel_info: list[ChannelInfo] = field(default_factory=list)  # the recorded channel map
    interval_s: float | None = None  # a file's own sampling interval (None: a session's device)
    notes: list[str] = field(default_factory=list)  # how the file was read, one line each
    station: str | None = None

    def __len__(self) -> int:
        return int(self.t.shape[0])


def load_source(path: str | Path) -> ReplaySource:
    """Open a session file or a CSV file; a source that cannot be used raises a clear error."""
    target = Path(path)
    try:
        with target.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise CryoGuardError(f"cannot read {target}: {exc.strerror or exc}") from exc
    if head == SQLITE_MAGIC:
        return _load_session(target)
    if head.startswith(PARQUET_MAGIC):
        return _load_parquet(target)
    data = read_csv(target)
    if data.fatal is not None:
        raise UsageError(f"{target}: {data.fatal}")
    return ReplaySource(target, "csv", data.channels, data.t, data.channel, data.temp_c,
                        data.status, errors=data.errors, bad_rows=data.bad_rows,
                        wall_start=data.wall_start, channel_info=data.channel_info,
                        interval_s=data.interval_s, notes=data.notes)


def _load_parquet(path: Path) -> ReplaySource:
    data = read_parquet(path)
    return ReplaySource(path, "export", data.channels, data.t, data.channel, data.temp_c,
                        data.status, wall_start=data.wall_start, config=data.config,
                        t_end=data.t_end, channel_info=data.channel_info, station=data.station)


def _load_session(path: Path) -> ReplaySource:
    with open_session(path) as session:
        cols = session.columns()
        return ReplaySource(
            path, "session", list(session.channel_names), cols.t, cols.channel, cols.temp_c,
            cols.status, seq=cols.seq, inputs=session.inputs(), wall_start=session.wall_start,
            config=session.config, recorded_events=session.events(), t_end=session.t_end,
            channel_info=list(session.channels), station=session.station or None)


def engine_spec(source: ReplaySource, base: EngineSpec) -> tuple[EngineSpec, list[str]]:
    """What the engine runs for ``source`` under the config's spec ``base``
    (``Config.engine_spec()``, or :func:`~monitor.engine.spec.default_engine_spec` when no
    config is involved): the recorded channels kept with
    their roles (:func:`monitor.replay.whatif.replay_spec`) and, for a file from a slower
    logger, staleness judged against its own sampling interval. Returns notes for the user."""
    spec = replay_spec(base, source.channel_info)
    notes: list[str] = []
    if source.kind == "csv" and source.interval_s is not None:
        _same, before = stale_for_interval(spec, None)
        spec, after = stale_for_interval(spec, source.interval_s)
        if after > before:
            notes.append(f"the file samples every {source.interval_s:g} s: a channel is stale "
                         f"after {after:g} s without a valid reading ({STALE_INTERVALS:g} "
                         "sampling intervals) instead of the configured "
                         f"{before:g} s")
    return spec, notes


@dataclass
class ReplayResult:
    readings: int = 0
    events: list[Event] = field(default_factory=list)
    wall_seconds: float = 0.0


class Pacer:
    """Holds replay to ``speed`` × real time; ``None`` means as fast as possible."""

    def __init__(self, speed: float | None, t_first: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.speed = speed
        self.t_first = t_first
        self.clock = clock
        self.sleep = sleep
        self.wall0 = clock()

    def session_now(self) -> float:
        if self.speed is None:
            return math.inf
        return self.t_first + (self.clock() - self.wall0) * self.speed

    def wait_until(self, t: float) -> None:
        if self.speed is None:
            return
        delay = (t - self.t_first) / self.speed - (self.clock() - self.wall0)
        if delay > 0:
            self.sleep(delay)


def replay(source: ReplaySource, engine: Engine, emit: Callable[[Event], None],
           speed: float | None = None, *, pacer: Pacer | None = None,
           after_step: Callable[[], None] | None = None,
           should_stop: Callable[[], bool] | None = None) -> ReplayResult:
    """Feed ``source`` to ``engine`` in recorded order, handing every event to ``emit``.

    ``after_step`` runs after each engine call (a display takes its snapshot there);
    ``should_stop`` ends the replay early when it returns true (a viewer quit).
    """
    started = time.perf_counter()
    result = ReplayResult(readings=len(source))
    lookup = np.array([engine.channel_index(name) for name in source.channels] or [0],
                      np.int32)
    codes = lookup[source.channel] if len(source) else source.channel
    t_first = float(source.t[0]) if len(source) else 0.0
    if source.inputs:
        t_first = min(t_first, source.inputs[0].t) if len(source) else source.inputs[0].t
    pacer = pacer or Pacer(speed, t_first)

    stopped = should_stop or (lambda: False)

    def out(events: list[Event]) -> None:
        for event in events:
            emit(event)
            result.events.append(event)
        if after_step is not None:
            after_step()

    def run_readings(lo: int, hi: int) -> None:
        while lo < hi and not stopped():
            stop = _paced_stop(source.t, lo, hi, pacer)
            block = ReadingBlock(source.t[lo:stop], codes[lo:stop], source.temp_c[lo:stop],
                                 source.status[lo:stop])
            out(engine.process(block))
            lo = stop

    position = 0
    for item in source.inputs:
        if source.seq is not None:
            upto = int(np.searchsorted(source.seq, item.seq, "left"))
            run_readings(position, upto)
            position = upto
        if stopped():
            break
        pacer.wait_until(item.t)
        out(apply_input(engine, item.t, item.kind, item.payload))
    run_readings(position, len(source))
    if stopped():
        result.wall_seconds = time.perf_counter() - started
        return result
    t_end = source.t_end
    if t_end is None and len(source):
        t_end = float(source.t.max())
    if t_end is not None:
        pacer.wait_until(t_end)
        out(engine.tick(t_end))
    result.wall_seconds = time.perf_counter() - started
    return result


def _paced_stop(t: F64, lo: int, hi: int, pacer: Pacer) -> int:
    """End of the next chunk: at most MAX_BLOCK readings, and none due after 'now'."""
    stop = min(hi, lo + MAX_BLOCK)
    if pacer.speed is None:
        return stop
    now = pacer.session_now()
    due = lo + int(np.searchsorted(np.maximum.accumulate(t[lo:stop]), now, "right"))
    if due == lo:
        pacer.wait_until(float(t[lo]))
        now = pacer.session_now()
        due = lo + int(np.searchsorted(np.maximum.accumulate(t[lo:stop]), now, "right"))
    return max(due, lo + 1)


def alarm_differences(recorded: list[dict[str, Any]], replayed: list[Event]
                      ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Alarms raised only in the replay (appear) and only in the recording (vanish)."""
    def raised(items: list[tuple[str, float]]) -> set[tuple[str, float]]:
        return {(alarm, round(t, 3)) for alarm, t in items}

    before = raised([(str(e.get("alarm")), float(e.get("t", 0.0))) for e in recorded
                     if e.get("type") == EventType.ALARM_RAISED])
    after = raised([(str(e.fields.get("alarm")), e.t) for e in replayed
                    if e.type is EventType.ALARM_RAISED])
    return sorted(after - before, key=lambda x: x[1]), sorted(before - after, key=lambda x: x[1])
