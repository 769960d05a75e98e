"""The live display output: a rich ``Live`` screen drawn from the latest snapshot, keys, bell.

Never on the alarm path: :meth:`LiveDisplay.on_snapshot` only keeps a reference and wakes the
frame task; building the frame and writing it to the terminal happen on one daemon thread of
its own, so a slow terminal or a heavy frame cannot delay detection. Frames follow snapshots
(drawn just after a scan, when the next one is furthest away), at most ``refresh_hz`` per
second, and are skipped when nothing visible changed. A frame that fails is reported as the
technical alarm ``display.output_failed`` and the display keeps trying.

A terminal that stops reading (a stalled SSH session, a suspended tmux) blocks the write inside
the system call; ``watch`` lets the daemon's watchdog see it and raise
``display.output_failed`` at high priority, since the screen and its bell are the alarm
signal (docs/reliability.md). Closing never waits for such a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from monitor.config.schema import DisplayConfig
from monitor.display.bell import PULSE_SPACING_S, BellScheduler
from monitor.display.keys import Action, cbreak, decode_keys
from monitor.display.render import blink_phases, render_dashboard
from monitor.display.sparkline import History
from monitor.engine import Snapshot
from monitor.model import Priority
from monitor.outputs.base import STALL_AFTER_S, OutputContext, WriteWatch
from monitor.text import printable

NAME = "display"
RETRY_AFTER_FAULT_S = 1.0
SWITCH_INTERVAL_S = 0.0005
MAX_FRAME_GAP_S = 0.25  # 4 frames a second: enough to show a 2 Hz flash
PULSE_JITTER_S = 0.02  # frames wake on a timer; a pulse this early is on time
STOP_WAIT_S = 0.5  # restoring the screen at the end waits at most this


def make_console(config: DisplayConfig, file: IO[str] | None = None) -> Console:
    """A console for the terminal, honouring ``colour`` (``auto`` also honours ``NO_COLOR``)."""
    if config.colour == "never":
        return Console(file=file, no_color=True, highlight=False)
    if config.colour == "always":
        return Console(file=file, force_terminal=True, color_system="standard",
                       highlight=False)
    return Console(file=file, highlight=False)


def _terminal_file() -> IO[str] | None:
    """Standard output on a descriptor of the display's own: a write blocked on a stalled
    terminal then holds only this file's lock, never ``sys.stdout``'s (which the exit needs)."""
    try:
        fd = os.dup(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return open(fd, "w", encoding="utf-8", errors="replace", closefd=True)


class _Worker:
    """One daemon thread doing the display's terminal work, one job at a time, each job
    bracketed by the write watch."""

    def __init__(self, watch: WriteWatch) -> None:
        self._watch = watch
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], Any], asyncio.Future[Any], asyncio.AbstractEventLoop] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="cryoguard-display",
                                        daemon=True)
        self._thread.start()

    def submit(self, loop: asyncio.AbstractEventLoop, job: Callable[[], Any]
               ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((job, future, loop))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, future, loop = item
            self._watch.begin()
            try:
                value = job()
            except BaseException as exc:
                self._watch.end()
                _settle(loop, future, None, exc)
                continue
            self._watch.end()
            _settle(loop, future, value, None)


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], value: Any,
            error: BaseException | None) -> None:
    def apply() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(apply)


class LiveDisplay:
    """The bedside screen: an :class:`~monitor.outputs.base.Output` for the daemon."""

    name = NAME
    fault_priority = Priority.HIGH  # the screen and its bell are the alarm signal

    def __init__(self, config: DisplayConfig, console: Console | None = None, *,
                 stdin_fd: int | None = None, clock: Callable[[], float] = time.monotonic,
                 screen: bool = True, read_only: bool = False) -> None:
        self.config = config
        self.read_only = read_only  # a replay: the footer offers no actions
        self._own_file: IO[str] | None = None
        if console is None:
            self._own_file = _terminal_file()
            console = make_console(config, self._own_file)
        self.console = console
        self.watch = WriteWatch(STALL_AFTER_S)
        self.note_text: str | None = None  # the note being typed after "n"
        self.stdin_fd = stdin_fd if stdin_fd is not None else _stdin_fd()
        self.clock = clock
        self.screen = screen
        self.bell = BellScheduler(config.bell)
        self.history = History(config.sparkline_s)
        self.frame_times_ms: list[float] = []  # the last frames' cost, for the curious
        self.quit_prompt = False
        self._latest: Snapshot | None = None
        self._wake = asyncio.Event()
        self._context: OutputContext | None = None
        self._live: Live | None = None
        self._worker: _Worker | None = None
        self._last_key: tuple[Any, ...] | None = None
        self._last_frame_t = -math.inf
        self._pulses_left = 0
        self._next_pulse_t = -math.inf
        self._faulted = False
        self._closed = False
        self._key_pressed = False

    # Output protocol: called on the daemon's path, must return at once ----------------------

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        self._wake.set()

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Only the interventions are taken from events, for the sparkline marks; the engine's
        snapshot carries everything else, the phase and its target included."""
        self.history.note_events(records)

    async def run(self, context: OutputContext) -> None:
        self._context = context
        loop = asyncio.get_running_loop()
        self._worker = _Worker(self.watch)
        period = 1.0 / self.config.refresh_hz
        fd = self.stdin_fd
        # The frame thread holds the GIL while it builds a frame; a short switch interval
        # makes it hand the GIL back to the event loop within 0.5 ms instead of 5 ms when a
        # reading arrives (bench/frame_time.py measures both).
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
        with cbreak(fd) if fd is not None else contextlib.nullcontext(False):
            reading = False
            try:
                await self._worker.submit(loop, self._start)
                if fd is not None:
                    loop.add_reader(fd, self._on_stdin)
                    reading = True
                while not self._closed:
                    # asyncio.timeout, not wait_for: wait_for can swallow a cancel that
                    # arrives as the event is set (a key press that quits does both).
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(period):
                            await self._wake.wait()
                    self._wake.clear()
                    now = self.clock()
                    if now - self._last_frame_t < self._gap(period) and not self._urgent():
                        continue
                    await self._frame(loop, now)
            finally:
                if reading and fd is not None:
                    loop.remove_reader(fd)
                await self._stop(loop)
                sys.setswitchinterval(switch)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        await self._stop(asyncio.get_running_loop())

    # Frames ------------------------------------------------------------------------------

    def _gap(self, period: float) -> float:
        """Time between frames: the refresh period, longer when frames are heavy (a very
        large terminal), so the frame thread never takes more than ~5% of the time; never
        so long that the 2 Hz flash of a high-priority alarm is lost."""
        recent = self.frame_times_ms[-10:]
        heavy = 20.0 * sorted(recent)[len(recent) // 2] / 1000.0 if recent else 0.0
        return min(max(period, heavy), MAX_FRAME_GAP_S) * 0.9

    def _urgent(self) -> bool:
        """A key was pressed: show its effect (the quit question) without waiting."""
        pressed, self._key_pressed = self._key_pressed, False
        return pressed

    async def _frame(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        snapshot = self._latest
        if snapshot is None:
            return
        if self._faulted and now - self._last_frame_t < RETRY_AFTER_FAULT_S:
            return
        fast, slow = blink_phases(now)
        countdown = snapshot.audio.paused_until
        key = (id(snapshot), fast, slow, self.quit_prompt, self.note_text, self.console.size,
               None if countdown is None else math.ceil(countdown - snapshot.t))
        ring = self._bell_step(now, snapshot.audio.sounding)
        if key == self._last_key and not ring:
            return
        draw = key != self._last_key
        self._last_frame_t = now
        try:
            assert self._worker is not None
            await self._worker.submit(
                loop, lambda: self._draw(snapshot, fast, slow, draw, ring))
        except Exception as exc:  # the display must never take the daemon down
            self._last_key = None
            if not self._faulted and self._context is not None:
                self._context.fault(NAME, f"frame failed: {type(exc).__name__}: {exc}",
                                    Priority.MEDIUM)
            self._faulted = True
            return
        self._last_key = key
        if self._faulted and self._context is not None:
            self._faulted = False
            self._context.recovered(NAME, "drawing again")

    def _bell_step(self, now: float, sounding: Priority | None) -> bool:
        """Whether to ring one pulse now (bursts are spread over frames, not slept through)."""
        due = self.bell.due(now, sounding)
        if due:
            self._pulses_left = due
            self._next_pulse_t = now
        if sounding is None:
            self._pulses_left = 0
        if self._pulses_left > 0 and now >= self._next_pulse_t - PULSE_JITTER_S:
            self._pulses_left -= 1
            self._next_pulse_t = now + PULSE_SPACING_S
            if self._pulses_left:
                self._wake.set()  # keep frames coming until the burst is out
            return True
        return False

    def header(self, snapshot: Snapshot) -> dict[str, Any]:
        """The session header (station, devices, audio, actions). The phase, its timer and its
        target come from the snapshot itself, never from here."""
        return dict(self._context.header) if self._context is not None else {}

    def render(self, snapshot: Snapshot, fast: bool, slow: bool) -> Any:
        width, height = self.console.size
        monochrome = self.console.no_color or self.console.color_system is None
        note = self.note_text
        board = render_dashboard(
            snapshot, self.header(snapshot), width=width,
            height=height if note is None else height - 1, blink_on=fast, blink_slow=slow,
            history=self.history, quit_prompt=self.quit_prompt, monochrome=monochrome,
            read_only=self.read_only, span_s=self.config.sparkline_s)
        if note is None:
            return board
        return Group(board, note_line(note, width))

    # Worker thread -----------------------------------------------------------------------

    def _start(self) -> None:
        self._live = Live(console=self.console, screen=self.screen, auto_refresh=False,
                          redirect_stdout=False, redirect_stderr=False, transient=False)
        self._live.start()

    def _draw(self, snapshot: Snapshot, fast: bool, slow: bool, draw: bool, ring: bool
              ) -> None:
        if draw:
            start = time.perf_counter()
            self.history.record(snapshot)
            frame = self.render(snapshot, fast, slow)
            if self._live is not None:
                self._live.update(frame, refresh=True)
            self.frame_times_ms.append((time.perf_counter() - start) * 1000.0)
            del self.frame_times_ms[:-100]
        if ring:
            self.console.file.write("\a")
            self.console.file.flush()

    async def _stop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give the terminal back (normal screen) unless a write is blocked on it: then the
        terminal is not reading and waiting for it would hold the whole exit."""
        live, self._live = self._live, None
        worker, self._worker = self._worker, None
        if live is not None and worker is not None and not self.watch.busy:
            with contextlib.suppress(Exception):  # the terminal may be gone: best effort
                async with asyncio.timeout(STOP_WAIT_S):
                    await worker.submit(loop, live.stop)
        if worker is not None:
            worker.stop()
        own, self._own_file = self._own_file, None
        if own is not None and not self.watch.busy:
            with contextlib.suppress(OSError, ValueError):
                own.close()

    # Keys (event loop thread) ------------------------------------------------------------

    def _on_stdin(self) -> None:
        assert self.stdin_fd is not None
        try:
            data = os.read(self.stdin_fd, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # end of input: no more keys, the display goes on
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.stdin_fd)
            return
        self.handle_keys(data)

    def handle_keys(self, data: bytes | str) -> None:
        """Apply key presses: the same context calls as the headless stdin commands."""
        result = decode_keys(data, self.quit_prompt, None if self.read_only else self.note_text)
        self.quit_prompt = result.quit_prompt
        self.note_text = None if self.read_only else result.note
        notes = iter(result.notes)
        context = self._context
        for action in result.actions:
            if context is None:
                break
            try:
                _apply(context, action, notes)
            except Exception as exc:  # a failed action is visible, not fatal
                context.fault(NAME, f"key action {action.value} failed: {exc}",
                              Priority.MEDIUM)
        self._key_pressed = True
        self._wake.set()


def _apply(context: OutputContext, action: Action, notes: Iterator[str]) -> None:
    if action is Action.ACK:
        context.acknowledge(None)
    elif action is Action.PAUSE:
        context.pause_audio()
    elif action is Action.QUIT:
        context.request_quit()
    elif action is Action.NOTE:
        context.note(next(notes))
    elif action.mark is not None:
        context.mark(action.mark)
    elif action.intervention is not None:
        context.intervention(action.intervention)


def note_line(text: str, width: int) -> RenderableType:
    """The line where a note is typed, below the dashboard."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(" note: ", style="bold reverse")
    shown = printable(text)
    room = max(10, width - 40)
    line.append(" " + (shown if len(shown) <= room else "…" + shown[-room:]) + "▌")
    line.append("   Enter saves, Esc cancels")
    return line


def _stdin_fd() -> int | None:
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return fd if os.isatty(fd) else None
