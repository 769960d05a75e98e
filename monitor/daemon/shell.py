"""The asyncio shell around the session core: tasks, signals, stdin, opening and closing.

Everything that decides (detection, the command grammar, the watchdog, the end) is in
:class:`~monitor.daemon.core.SessionCore`; this module only runs it. Outputs are opened in an
``AsyncExitStack``, so a failure while opening one closes those already open (threads stopped,
the log handler removed). The end is bounded (docs/reliability.md): ``quit``, SIGINT, SIGTERM
or SIGHUP stop the devices, write ``session.ended``, close every output concurrently within
:data:`CLOSE_BUDGET_S`, and say whether the session file holds everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from drivers.params import AnyParams
from drivers.runner import run_device
from monitor.config.schema import Config
from monitor.daemon.core import SessionCore
from monitor.daemon.devices import channel_tc_types
from monitor.daemon.header import header_lines, session_header
from monitor.engine import Engine, Snapshot
from monitor.engine.inputs import (
    Acknowledge,
    DeviceBadData,
    DeviceConnected,
    DeviceLost,
    Intervention,
    Mark,
    Note,
    PauseAudio,
)
from monitor.model import Priority, Reading, utc_now
from monitor.outputs.background import StillRunning, in_daemon_thread
from monitor.outputs.base import Output, write_watch
from monitor.outputs.eventstream import open_event_stream
from monitor.outputs.lines import EventStreamOutput, HeldWarnings, LogOutput
from monitor.outputs.recorder import RecorderOutput
from monitor.sessions.schema import ChannelInfo, default_session_path

TICK_S = 0.1  # staleness, timers, the watchdog and snapshots: ten times a second
READY_WAIT_S = 5.0  # simulated hardware must be up by then
CANCEL_WAIT_S = 0.5  # devices and tasks stop within this (a serial close can hang)
CLOSE_BUDGET_S = 2.0  # every output closes within this, concurrently (0.5 + 2.0 + 0.3 < 3 s)
LAST_LINE_WAIT_S = 0.3  # the last lines on stderr; a stalled stderr does not hold the exit
SIGNALS = {signal.SIGINT: "signal SIGINT", signal.SIGTERM: "signal SIGTERM",
           signal.SIGHUP: "signal SIGHUP (terminal closed or connection lost)"}


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
class SessionOptions:
    mode: str = "run"  # "run" or "demo": shown in the header
    speed: float = 1.0
    duration_s: float | None = None
    events_out: str | None = None  # a path, or "-" for standard output
    append: bool = False  # --append: add to an existing --events-out file
    session_path: Path | None = None  # None: the config's recording directory
    record: bool = True
    log: bool = True  # the headless log on stderr
    log_level: int = logging.INFO
    stdin_commands: bool = True
    script: Sequence[tuple[float, str]] = ()  # (session s, command line): a demo's actions
    header_extra: dict[str, Any] = field(default_factory=dict)
    started_fields: dict[str, Any] = field(default_factory=dict)  # e.g. {"audio": "bell"}
    # Lines for the end, before the save line (which stays last): e.g. the demo's pacing.
    last_words: Callable[[], Sequence[str]] | None = None


class _DeviceSink:
    """What one device's task reports to (drivers.sink.DriverSink): the core, at once."""

    def __init__(self, core: SessionCore, device: str) -> None:
        self._core = core
        self._device = device

    def scan(self, readings: Sequence[Reading]) -> None:
        self._core.scan(self._device, readings)

    def bad_data(self, t: float, device: str, detail: str) -> None:
        self._core.submit(DeviceBadData(device, detail), t)

    def connected(self, t: float, device: str, detail: str) -> None:
        self._core.submit(DeviceConnected(device, detail), t)

    def lost(self, t: float, device: str, reason: str) -> None:
        self._core.submit(DeviceLost(device, reason), t)


class SessionShell:
    """One monitoring session: ``status = await SessionShell(...).run()``.

    Also the :class:`~monitor.outputs.base.OutputContext` of its outputs. After ``run``:
    ``stuck`` is True when an output's thread is still blocked in a write (the caller then
    ends the process without waiting for it), ``core`` holds the counts.
    """

    def __init__(self, config: Config, devices: Sequence[AnyParams], options: SessionOptions,
                 *, outputs: Sequence[Output] = (), clock: SessionClock | None = None,
                 extra_tasks: Sequence[Callable[[], Coroutine[Any, Any, Any]]] = (),
                 ready: asyncio.Event | None = None,
                 stdin: IO[str] | None = None, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None) -> None:
        self.config = config
        self.devices = list(devices)
        self.options = options
        self.clock = clock or SessionClock(options.speed)
        self.given_outputs = list(outputs)
        self._extra_tasks = list(extra_tasks)
        self._stopped_at: float | None = None  # session time the end was asked for
        self._ready = ready
        self._stdin = stdin if stdin is not None else sys.stdin
        self._stdout = stdout if stdout is not None else sys.stdout
        self._stderr = stderr if stderr is not None else sys.stderr
        self.wall_start = utc_now()
        self.engine = Engine(config.engine_spec(), t0=0.0)
        self.core: SessionCore | None = None
        self.outputs: list[Output] = []
        self.log: LogOutput | None = None
        self.recorder: RecorderOutput | None = None
        self.stuck = False
        self.exit_status = 0
        self.last_lines: list[str] = []
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped_reading = threading.Event()
        self._held: HeldWarnings | None = None
        self._early_quit: str | None = None
        self._signals: list[signal.Signals] = []
        self._header = self._make_header()

    # The session header --------------------------------------------------------------------

    def _make_header(self) -> dict[str, Any]:
        return session_header(self.config, self.devices, self.engine.spec, mode=self.options.mode,
                              speed=self.options.speed, wall_start=self.wall_start,
                              extra=self.options.header_extra)

    @property
    def header(self) -> Mapping[str, Any]:
        return self._header

    # Running -------------------------------------------------------------------------------

    async def run(self) -> int:
        self._loop = asyncio.get_running_loop()
        async with contextlib.AsyncExitStack() as stack:
            events_stream = self._open_event_stream()
            extra = [asyncio.create_task(make(), name="extra") for make in self._extra_tasks]
            stack.push_async_callback(_cancel, extra)
            self._install_signals()  # kept until every output is closed
            stack.callback(self._remove_signals)
            if self._ready is not None:
                # Simulated hardware first: session time starts when the device exists.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(READY_WAIT_S):
                        await _first(self._ready, self._stop)
                self.clock.restart()
            self.wall_start = utc_now()
            self._header = self._make_header()
            stack.push_async_callback(self._close_outputs)
            self._open_outputs(events_stream)
            core = self.core = SessionCore(
                self.engine, self.outputs, wall_start=self.wall_start, clock=self.clock,
                operator=self.config.station.operator, say=self._say,
                script=self.options.script, duration_s=self.options.duration_s)
            stack.callback(self._end)
            if self._early_quit is not None:
                core.request_quit(self._early_quit)
            core.start({
                "mode": self.options.mode, "station": self.config.station.name,
                "session": str(self.recorder.path) if self.recorder else None,
                "speed": self.options.speed, **self.options.started_fields,
                "message": f"{self.options.mode} session started on {self.config.station.name}"})
            if self.log is not None:
                for line in header_lines(self._header,
                                         self.recorder.path if self.recorder else None):
                    self.log.say(line, logging.INFO)
            tasks = [asyncio.create_task(run_device(p, _DeviceSink(core, p.id), self.clock),
                                         name=f"device-{p.id}") for p in self.devices]
            tasks.append(asyncio.create_task(self._ticker(), name="tick"))
            tasks += [asyncio.create_task(self._guard(o), name=f"output-{o.name}")
                      for o in self.outputs]
            if self.options.duration_s is not None:
                tasks.append(asyncio.create_task(self._timer(self.options.duration_s)))
            stack.push_async_callback(_cancel, tasks)
            if self.options.stdin_commands:
                self._start_stdin_thread()
                stack.callback(self._stopped_reading.set)
            await self._stop.wait()
            self._stopped_at = self.clock()  # the session's end, before anything is stopped
        await self._last_word()
        return self.exit_status

    def _end(self) -> None:
        if self.core is not None:
            self.core.end(t=self._stopped_at)

    async def _ticker(self) -> None:
        core = self.core
        assert core is not None
        while True:
            await asyncio.sleep(TICK_S)
            core.heartbeat(time.monotonic())
            if core.quit_reason is not None:
                self._stop.set()

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
            self.fault(output.name, f"stopped: {type(exc).__name__}: {exc}", Priority.MEDIUM)

    # Opening and closing outputs -----------------------------------------------------------

    def _open_event_stream(self) -> tuple[IO[str], bool] | None:
        """The ``--events-out`` stream, first of all: a refused file ends with exit 2 before
        any hardware is touched."""
        target = self.options.events_out
        if target is None:
            return None
        return open_event_stream(target, append=self.options.append, stdout=self._stdout)

    def _open_outputs(self, events_stream: tuple[IO[str], bool] | None) -> None:
        """Open in order; each one opened is closed by ``_close_outputs`` whatever follows."""
        if events_stream is not None:
            stream, owned = events_stream
            self.outputs.append(EventStreamOutput(
                stream, owned=owned, on_fault=self.fault_threadsafe,
                on_recover=self.recovered_threadsafe))
        if self.options.log:
            self.log = LogOutput(self._stderr, level=self.options.log_level,
                                 on_fault=self.fault_threadsafe,
                                 on_recover=self.recovered_threadsafe)
            self.outputs.append(self.log)
            self.log.attach_logging()
        else:
            # The display owns the terminal: a library warning must neither scribble over it
            # nor block the loop on a stalled terminal (Python's last-resort handler writes
            # synchronously). Held, and shown after the end.
            self._held = HeldWarnings()
            logging.getLogger().addHandler(self._held)
        if self.options.record and self.config.recording.enabled:
            path = self.options.session_path or default_session_path(
                Path(self.config.recording.directory), self.config.station.name,
                self.wall_start)
            tc_types = channel_tc_types(self.config)
            self.recorder = RecorderOutput.open(
                path, config_snapshot=self.config.snapshot(),
                channels=[ChannelInfo.from_spec(c, tc_types.get(c.id))
                          for c in self.engine.spec.channels],
                station=self.config.station.name, wall_start=self.wall_start,
                commit_interval_s=self.config.recording.commit_interval_s,
                on_fault=lambda m: self.fault_threadsafe("recorder", m, Priority.MEDIUM),
                on_recover=lambda m: self.recovered_threadsafe("recorder", m))
            self.outputs.insert(0, self.recorder)  # first: it sees everything first
        self.outputs += self.given_outputs

    async def _close_outputs(self) -> None:
        """Close every output at once, each within the budget; note what could not finish."""
        async def close(output: Output) -> None:
            try:
                async with asyncio.timeout(CLOSE_BUDGET_S):
                    await output.close()
            except TimeoutError:
                self.last_lines.append(f"{output.name} did not close within "
                                       f"{CLOSE_BUDGET_S:g} s")
            except Exception as exc:
                self.last_lines.append(f"{output.name} did not close cleanly: "
                                       f"{type(exc).__name__}: {exc}")

        opened = list(self.outputs)
        if self.log is not None:
            self.log.detach_logging()
        held, self._held = self._held, None
        if held is not None:
            logging.getLogger().removeHandler(held)
            if held.count:
                self.last_lines.append(f"{held.count} warning(s) from the libraries during "
                                       "the session; the last ones:")
                self.last_lines += [f"  {line}" for line in held.lines]
        await asyncio.gather(*(close(o) for o in opened))
        for output in opened:
            watch = write_watch(output)
            if watch is not None and watch.busy:
                self.stuck = True
                self.last_lines.append(f"{output.name}: a write is still blocked (nobody "
                                       "reading); exiting without it")

    async def _last_word(self) -> None:
        """The last lines on stderr: whether the session file holds everything."""
        core = self.core
        lines = list(self.last_lines)
        if self.options.last_words is not None:
            with contextlib.suppress(Exception):  # never lose the save line to it
                lines += list(self.options.last_words())
        if core is not None:
            lines += [f"after the end: {m}" for m in core.after_end[:5]
                      if not m.startswith("recorder:")]  # the save line says it
        result = self.recorder.result if self.recorder is not None else None
        if result is not None:
            if result.complete:
                lines.append(f"session saved to {result.path} ({result.readings_written} "
                             f"readings, {result.events_written} events)")
            else:
                lines.append(f"session NOT completely saved to {result.path}: {result.lost}")
                self.exit_status = 1
        elif self.recorder is not None:
            lines.append(f"session NOT completely saved to {self.recorder.path}: "
                         "it was not closed")
            self.exit_status = 1
        text = "".join(f"cryoguard: {line}\n" for line in lines)
        if not text:
            return
        stream = self._stderr

        def write() -> None:
            with contextlib.suppress(OSError, ValueError):
                stream.write(text)
                stream.flush()

        try:
            await in_daemon_thread(write, LAST_LINE_WAIT_S, "last-lines")
        except StillRunning:
            self.stuck = True

    # OutputContext ---------------------------------------------------------------------------

    def fault(self, output: str, message: str, priority: Priority) -> None:
        if self.core is not None:
            self.core.fault(output, message, priority)

    def recovered(self, output: str, message: str) -> None:
        if self.core is not None:
            self.core.recovered(output, message)

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None:
        self._threadsafe(self.fault, output, message, priority)

    def recovered_threadsafe(self, output: str, message: str) -> None:
        self._threadsafe(self.recovered, output, message)

    def _threadsafe(self, call: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(call, *args)

    def _submit_from_display(self, make: Callable[[str], Any]) -> None:
        core = self.core
        if core is not None:
            core.submit(make(core.operator("display")))

    def acknowledge(self, alarm: str | None = None) -> None:
        self._submit_from_display(lambda by: Acknowledge(alarm, by))

    def pause_audio(self) -> None:
        self._submit_from_display(PauseAudio)

    def mark(self, mark: str) -> None:
        self._submit_from_display(lambda by: Mark(mark, by))

    def intervention(self, kind: str) -> None:
        self._submit_from_display(lambda by: Intervention(kind, by))

    def note(self, text: str) -> None:
        self._submit_from_display(lambda by: Note(text, by))

    def request_quit(self, reason: str = "quit (display)") -> None:
        if self.core is not None:
            self.core.request_quit(reason)
        elif self._early_quit is None:
            self._early_quit = reason  # a signal while the session was being opened
        self._stop.set()

    def snapshot(self) -> Snapshot:
        return self.engine.snapshot()

    # Operator commands on standard input (headless) -----------------------------------------

    def _start_stdin_thread(self) -> None:
        stream = self._stdin
        if stream is None or stream.closed:
            return
        loop = self._loop
        assert loop is not None
        stopped = self._stopped_reading

        def read() -> None:
            try:
                for line in stream:
                    if stopped.is_set():
                        return
                    loop.call_soon_threadsafe(self.command, line)
            except (OSError, ValueError, RuntimeError):
                return
            # End of input is not a quit: monitoring goes on.

        threading.Thread(target=read, name="cryoguard-stdin", daemon=True).start()

    def command(self, line: str, via: str = "stdin") -> None:
        core = self.core
        if core is None or core.ended:
            return
        core.command(line, via)
        if core.quit_reason is not None:
            self._stop.set()

    def _say(self, text: str) -> None:
        if self.log is not None:
            self.log.say(text)

    # Signals ---------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        loop = self._loop
        assert loop is not None
        for sig, reason in SIGNALS.items():
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue  # started under nohup: surviving the terminal is what was asked
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.request_quit, reason)
                self._signals.append(sig)

    def _remove_signals(self) -> None:
        loop = self._loop
        if loop is None:
            return
        for sig in self._signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        self._signals.clear()


async def _first(*events: asyncio.Event) -> None:
    """Until one of ``events`` is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def _cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel and wait a little: a task that does not stop in time is left behind."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=CANCEL_WAIT_S)
