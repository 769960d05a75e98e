"""The monitoring daemon: devices in, alarms out, everything recorded, nothing lost.

Detection runs on the event loop the moment a scan arrives (the drivers call the sink
synchronously), so an alarm waits for nothing. Every output that can block (the event stream,
the log, the session file, the display, MQTT) sits behind its own queue or thread; one that
fails or falls behind raises a technical alarm and the rest goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from drivers.params import AnyParams
from drivers.runner import run_device
from monitor.config.schema import Config, describe_thresholds
from monitor.daemon.devices import channel_tc_types
from monitor.display.sparkline import spec_levels
from monitor.engine import Engine, ReadingBlock, Snapshot
from monitor.engine.inputs import MARKS, apply_input
from monitor.errors import CryoGuardError
from monitor.model import Event, EventType, Priority, Reading, record_line, utc_now
from monitor.outputs.base import Output
from monitor.outputs.threaded import ThreadedLineWriter
from monitor.sessions.recorder import Recorder
from monitor.sessions.schema import ChannelInfo, InputKind, default_session_path

TICK_S = 0.1  # staleness and timers are checked ten times a second (engineering choice)
SNAPSHOT_S = 0.1  # outputs get the latest state at most ten times a second
STALLED_AFTER_S = 2.0  # a write blocked this long is a stalled output (engineering choice)


class SessionClock:
    """Session seconds since the start, scaled by ``speed`` (a demo can run 20× faster)."""

    def __init__(self, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic
                 ) -> None:
        self.speed = speed
        self._monotonic = monotonic
        self.start = monotonic()

    def __call__(self) -> float:
        return (self._monotonic() - self.start) * self.speed

    def wall_delay(self, session_s: float) -> float:
        return max(0.0, session_s / self.speed)

    def restart(self) -> None:
        """Session time 0 is now (once simulated hardware is ready)."""
        self.start = self._monotonic()


@dataclass
class DaemonOptions:
    mode: str = "run"  # "run" or "demo": shown in the header
    headless: bool = True
    events_out: str | None = None
    session_path: Path | None = None  # None: the config's recording directory
    record: bool = True
    speed: float = 1.0
    duration_s: float | None = None
    stdin_commands: bool = True
    log: bool = True  # human-readable event lines on stderr
    header_extra: dict[str, Any] = field(default_factory=dict)


class _DeviceSink:
    """What one device's task reports to (drivers.sink.DriverSink)."""

    def __init__(self, daemon: Daemon, device: str) -> None:
        self._daemon = daemon
        self._device = device

    def scan(self, readings: Sequence[Reading]) -> None:
        self._daemon.on_scan(self._device, readings)

    def bad_data(self, t: float, device: str, detail: str) -> None:
        self._daemon.on_input(t, InputKind.DEVICE_BAD_DATA, {"device": device, "detail": detail})

    def connected(self, t: float, device: str, detail: str) -> None:
        self._daemon.on_input(t, InputKind.DEVICE_CONNECTED,
                              {"device": device, "detail": detail})

    def lost(self, t: float, device: str, reason: str) -> None:
        self._daemon.on_input(t, InputKind.DEVICE_LOST, {"device": device, "reason": reason})


class Daemon:
    """One monitoring session. ``await run()`` until quit, a signal, or ``duration_s``."""

    def __init__(self, config: Config, devices: Sequence[AnyParams], options: DaemonOptions,
                 *, outputs: Sequence[Output] = (), clock: SessionClock | None = None,
                 extra_tasks: Sequence[Callable[[], Any]] = (),
                 ready: asyncio.Event | None = None,
                 stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> None:
        self.config = config
        self.devices = list(devices)
        self.options = options
        self.clock = clock or SessionClock(options.speed)
        self.wall_start: datetime = utc_now()
        self.engine = Engine(config.engine_spec(), t0=0.0)
        self.outputs: list[Output] = list(outputs)
        self._extra_tasks = list(extra_tasks)
        self._ready = ready
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.recorder: Recorder | None = None
        self._events_writer: ThreadedLineWriter | None = None
        self._log_writer: ThreadedLineWriter | None = None
        self._log_handler: logging.Handler | None = None
        self.exit_status = 0
        self.stuck = False  # an output thread could not be stopped (see commands' exit)
        self.event_count = 0
        self.reading_count = 0
        self.quit_reason = ""
        self._header = self._make_header()

    # Session header ------------------------------------------------------------------------

    def _make_header(self) -> dict[str, Any]:
        config = self.config
        return {
            "station": config.station.name,
            "operator": config.station.operator,
            "mode": self.options.mode,
            "started": self.wall_start.isoformat(timespec="seconds"),
            "speed": self.options.speed,
            "devices": [{"id": d.id, "protocol": type(d).__name__.removesuffix("Params").lower(),
                         "port": d.port} for d in self.devices],
            "channels": [{"id": c.id, "label": c.label, "role": str(c.role), "device": c.device}
                         for c in config.channels],
            "thresholds": describe_thresholds(config),
            "levels": spec_levels(self.engine.spec),
            "sources": "docs/clinical-defaults.md",
            **self.options.header_extra,
        }

    @property
    def header(self) -> Mapping[str, Any]:
        return self._header

    # The alarm path --------------------------------------------------------------------------

    def on_scan(self, device: str, readings: Sequence[Reading]) -> None:
        """A scan from a driver: record it, detect, hand events out. Never waits."""
        if not readings:
            return
        if self.recorder is not None:
            self.recorder.readings(readings)
        engine = self.engine
        block = ReadingBlock.from_readings(
            readings, lambda cid: engine.channel_index(cid, device))
        self.reading_count += len(readings)
        self._dispatch(engine.process(block))

    def on_input(self, t: float, kind: str, payload: Mapping[str, Any]) -> None:
        """An operator action or a device event: recorded, then applied (replay does both)."""
        if self.recorder is not None:
            self.recorder.input(t, kind, payload)
        self._dispatch(apply_input(self.engine, t, kind, payload))

    def _dispatch(self, events: Sequence[Event]) -> None:
        for event in events:
            record = event.to_record(self.wall_start)
            self.event_count += 1
            if self.recorder is not None:
                self.recorder.event(event, record)
            if self._events_writer is not None:
                self._events_writer.put(record_line(record))
            if self._log_writer is not None and event.type is not EventType.SESSION_STARTED:
                self._log_writer.put(log_line(event))
            for output in self.outputs:
                try:
                    output.on_events([record])
                except Exception as exc:  # an output must never take detection down
                    self._later_fault(output.name, f"failed: {exc!r}")

    def _later_fault(self, output: str, message: str) -> None:
        """Report an output's exception after the current dispatch (never re-entrantly)."""
        if self._loop is not None:
            self._loop.call_soon(self.fault, output, message, Priority.MEDIUM)

    # OutputContext ---------------------------------------------------------------------------

    def fault(self, output: str, message: str, priority: Priority) -> None:
        self._dispatch(self.engine.output_fault(self.clock(), output, message, priority))

    def recovered(self, output: str, message: str) -> None:
        self._dispatch(self.engine.output_recovered(self.clock(), output, message))

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.fault, output, message, priority)

    def recovered_threadsafe(self, output: str, message: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.recovered, output, message)

    def operator(self, via: str) -> str:
        """Who acted, for the log: the station's operator if configured, and where from."""
        return f"{self.config.station.operator or 'operator'} ({via})"

    def acknowledge(self, alarm: str | None = None, by: str | None = None) -> None:
        self.on_input(self.clock(), InputKind.ACK,
                      {"alarm": alarm, "by": by or self.operator("display")})

    def pause_audio(self, by: str | None = None) -> None:
        self.on_input(self.clock(), InputKind.PAUSE, {"by": by or self.operator("display")})

    def mark(self, mark: str, by: str | None = None) -> None:
        self.on_input(self.clock(), InputKind.MARK,
                      {"mark": mark, "by": by or self.operator("display")})

    def request_quit(self, reason: str = "operator quit") -> None:
        if not self._stop.is_set():
            self.quit_reason = reason
            self._stop.set()

    def snapshot(self) -> Snapshot:
        return self.engine.snapshot()

    # Running ---------------------------------------------------------------------------------

    async def run(self) -> int:
        self._loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(make(), name="extra") for make in self._extra_tasks]
        if self._ready is not None:
            # Simulated hardware first: session time starts when the device exists.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):  # not wait_for: 3.11's can swallow a cancel
                    await self._ready.wait()
            self.clock.restart()
            self.wall_start = utc_now()
            self._header = self._make_header()
        try:
            self._open_outputs()
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        self._dispatch([Event(0.0, EventType.SESSION_STARTED, {
            "mode": self.options.mode, "station": self.config.station.name,
            "session": str(self.recorder.path) if self.recorder else None,
            "speed": self.options.speed,
            "message": f"{self.options.mode} session started on {self.config.station.name}"})])
        if self._log_writer is not None:
            for line in header_lines(self._header, self.recorder):
                self._log_writer.put(line)
        try:
            self._install_signals()
            tasks += [asyncio.create_task(run_device(p, _DeviceSink(self, p.id), self.clock),
                                          name=f"device-{p.id}") for p in self.devices]
            tasks.append(asyncio.create_task(self._ticker(), name="tick"))
            tasks += [asyncio.create_task(self._guard(o), name=f"output-{o.name}")
                      for o in self.outputs]
            if self.options.duration_s is not None:
                tasks.append(asyncio.create_task(self._timer(self.options.duration_s)))
            if self.options.stdin_commands:
                self._start_stdin_thread()
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._remove_signals()
            await self._close()
        return self.exit_status

    async def _ticker(self) -> None:
        last_snapshot = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            self._dispatch(self.engine.tick(self.clock()))
            for writer in (self._events_writer, self._log_writer):
                if writer is not None:
                    writer.check_stalled(STALLED_AFTER_S)
            now = time.monotonic()
            if self.outputs and now - last_snapshot >= SNAPSHOT_S:
                last_snapshot = now
                snapshot = self.engine.snapshot()
                for output in self.outputs:
                    try:
                        output.on_snapshot(snapshot)
                    except Exception as exc:
                        self._later_fault(output.name, f"failed: {exc!r}")

    async def _timer(self, duration_s: float) -> None:
        while True:
            remaining = duration_s - self.clock()
            if remaining <= 0:
                self.request_quit(f"duration of {duration_s:g} s reached")
                return
            await asyncio.sleep(min(0.5, self.clock.wall_delay(remaining)))

    async def _guard(self, output: Output) -> None:
        """Run an output; if it dies, say so with a technical alarm and carry on without it."""
        try:
            await output.run(self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.fault(output.name, f"stopped: {exc!r}", Priority.MEDIUM)

    # Operator commands on standard input (headless) -----------------------------------------

    def _start_stdin_thread(self) -> None:
        stream = sys.stdin
        if stream is None or stream.closed:
            return
        loop = self._loop
        assert loop is not None

        def read() -> None:
            try:
                for line in stream:
                    loop.call_soon_threadsafe(self.command, line)
            except (OSError, ValueError):
                return
            # End of input is not a quit: monitoring goes on.

        threading.Thread(target=read, name="cryoguard-stdin", daemon=True).start()

    def command(self, line: str) -> None:
        """One headless command: ack [ALARM] | pause | mark freeze|thaw|active-thaw|end | quit."""
        words = line.split()
        if not words:
            return
        verb, rest = words[0].lower(), words[1:]
        if verb == "ack" and len(rest) <= 1:
            self.acknowledge(rest[0] if rest else None, by=self.operator("stdin"))
        elif verb == "pause" and not rest:
            self.pause_audio(by=self.operator("stdin"))
        elif verb == "mark" and len(rest) == 1 and rest[0].lower() in MARKS:
            self.mark(rest[0].lower(), by=self.operator("stdin"))
        elif verb == "quit" and not rest:
            self.request_quit("quit command")
        else:
            self._say(f"unknown command {line.strip()!r}: use ack [ALARM], pause, "
                      f"mark {'|'.join(MARKS)}, quit")

    def _say(self, text: str) -> None:
        if self._log_writer is not None:
            self._log_writer.put(text)
        else:
            print(text, file=self._stderr, flush=True)

    # Signals ---------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        loop = self._loop
        assert loop is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.request_quit, f"signal {sig.name}")

    def _remove_signals(self) -> None:
        loop = self._loop
        if loop is None:
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    # Outputs ---------------------------------------------------------------------------------

    def _open_outputs(self) -> None:
        options = self.options
        if options.events_out is not None:
            if options.events_out == "-":
                stream: IO[str] = self._stdout
                owned = False
            else:
                try:
                    path = Path(options.events_out)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    stream = path.open("a", encoding="utf-8")
                except OSError as exc:
                    raise CryoGuardError(
                        f"cannot write events to {options.events_out}: {exc}") from exc
                owned = True
            self._events_writer = ThreadedLineWriter(
                "events", stream, close_stream=owned,
                on_fault=lambda m: self.fault_threadsafe("events", m, Priority.MEDIUM),
                on_recover=lambda m: self.recovered_threadsafe("events", m))
        if options.log:
            self._log_writer = ThreadedLineWriter(
                "log", self._stderr, limit=100_000,
                on_fault=lambda m: self.fault_threadsafe("log", m, Priority.LOW),
                on_recover=lambda m: self.recovered_threadsafe("log", m))
            # Library warnings (a driver ignoring an unmapped position, ...) go through the
            # same thread: a synchronous write to a stalled stderr must not block the loop.
            self._log_handler = _WriterHandler(self._log_writer)
            logging.getLogger().addHandler(self._log_handler)
        if options.record and self.config.recording.enabled:
            path = options.session_path or default_session_path(
                Path(self.config.recording.directory), self.config.station.name,
                self.wall_start)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CryoGuardError(f"cannot create {path.parent}: {exc}") from exc
            tc_types = channel_tc_types(self.config)
            self.recorder = Recorder.open(
                path, config_snapshot=self.config.snapshot(),
                channels=[ChannelInfo.from_spec(c, tc_types.get(c.id))
                          for c in self.engine.spec.channels],
                station=self.config.station.name, wall_start=self.wall_start,
                commit_interval_s=self.config.recording.commit_interval_s,
                on_fault=lambda m: self.fault_threadsafe("recorder", m, Priority.MEDIUM),
                on_recover=lambda m: self.recovered_threadsafe("recorder", m))

    async def _close(self) -> None:
        t_end = self.clock()
        self._dispatch(self.engine.tick(t_end))
        self._dispatch([Event(t_end, EventType.SESSION_ENDED, {
            "reason": self.quit_reason or "stopped", "readings": self.reading_count,
            "message": f"session ended: {self.quit_reason or 'stopped'}"})])
        for output in self.outputs:
            try:
                async with asyncio.timeout(2.0):
                    await output.close()
            except Exception as exc:
                print(f"cryoguard: {output.name} did not close cleanly: {exc!r}",
                      file=self._stderr)
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close, t_end)
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
        for writer in (self._events_writer, self._log_writer):
            if writer is not None:
                await asyncio.to_thread(writer.close)
                if writer.alive:
                    self.stuck = True  # blocked on a reader that never reads
        if self.recorder is not None:
            stats = self.recorder.stats
            print(f"cryoguard: session saved to {self.recorder.path} "
                  f"({stats[0]} readings, {stats[1]} events)", file=self._stderr, flush=True)


class _WriterHandler(logging.Handler):
    """A logging handler that queues lines on a :class:`ThreadedLineWriter`."""

    def __init__(self, writer: ThreadedLineWriter) -> None:
        super().__init__(logging.WARNING)
        self._writer = writer
        self.setFormatter(logging.Formatter("        %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._writer.put(self.format(record))
        except Exception:
            self.handleError(record)


def log_line(event: Event) -> str:
    """One readable line per event for the headless log."""
    message = event.get("message") or event.type
    return f"{_clock_text(event.t)}  {event.type!s:<19} {message}"


def _clock_text(t: float) -> str:
    if not math.isfinite(t):
        return "   --:--.-"
    minutes, seconds = divmod(max(t, 0.0), 60.0)
    return f"{int(minutes):4d}:{seconds:04.1f}"


def header_lines(header: Mapping[str, Any], recorder: Recorder | None) -> list[str]:
    """The session header: what is monitored, with which thresholds, recorded where."""
    lines = [f"CryoGuard {header['mode']} — station {header['station']}, started "
             f"{header['started']} UTC" + (f", speed ×{header['speed']:g}"
                                            if header.get("speed", 1) != 1 else "")]
    if header.get("scenario"):
        lines.append(f"  scenario: {header['scenario']}")
    for dev in header.get("devices", []):
        lines.append(f"  device {dev['id']}: {dev['protocol']} on {dev['port']}")
    for ch in header.get("channels", []):
        lines.append(f"  channel {ch['id']} ({ch['role']}): {ch['label'] or ch['id']}")
    lines.append(f"  thresholds in force (sources: {header.get('sources')}):")
    lines += [f"    {line}" for line in header.get("thresholds", [])]
    if recorder is not None:
        lines.append(f"  recording to {recorder.path}")
    lines.append("  commands: ack [ALARM] | pause | mark freeze|thaw|active-thaw|end | quit")
    return lines
