"""The alarm sound as a daemon output: IEC 60601-1-8 bursts on the speakers, or the bell.

It plays what the engine's snapshot says (``snapshot.audio.sounding``): acknowledge and audio
pause silence it, and a new higher-priority alarm sounds through a pause because the engine
lets it through. :meth:`AudioOutput.on_snapshot` only keeps the snapshot and wakes the sound
thread; deciding, starting and stopping bursts happen on that thread (and the samples on
PortAudio's own), so the sound card can never delay detection. A device that fails during the
session is a technical alarm, ``audio.output_failed``, and the output falls back to the bell.
Design and sources: docs/audio.md.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from monitor.audio.player import (
    AudioStatus,
    Backend,
    BackendFailed,
    BellBackend,
    Mode,
    TerminalBell,
    open_backend,
)
from monitor.audio.schedule import BurstScheduler
from monitor.audio.spec import BURSTS
from monitor.engine import Snapshot
from monitor.model import Priority
from monitor.outputs.base import STALL_AFTER_S, OutputContext, WriteWatch
from monitor.text import printable

NAME = "audio"
TICK_S = 0.01  # during a burst the sound thread looks at the time this often (a pulse onset is
# 10 ms late at most); between bursts it sleeps until the next one is due or a snapshot wakes it
# (a new alarm starts its burst at once), so an idle monitor pays no 100 Hz polling
IDLE_S = 1.0
CLOSE_TIMEOUT_S = 1.0


class AudioOutput:
    """An :class:`~monitor.outputs.base.Output` that makes the alarm sound.

    ``mode``: ``auto`` (speakers if a device opens, else the bell), ``speaker`` (the same, but
    a missing device is a technical alarm), ``bell`` or ``off``. The device is opened here, in
    the constructor, so the header can say what was chosen before the session starts.
    """

    name = NAME
    # A crashed or stalled sound output means no alarm sound: as high as the display's.
    fault_priority = Priority.HIGH

    def __init__(self, mode: Mode = "auto", *, bell: TerminalBell | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 backend: tuple[Backend | None, AudioStatus] | None = None) -> None:
        self.mode = mode
        self.clock = clock
        self._bell = bell  # the terminal for the bell (None: find one when needed)
        self.backend, self.status = backend if backend is not None else open_backend(mode, bell)
        if isinstance(self.backend, BellBackend) and not self.backend.bell.available:
            # Neither speakers nor a terminal: nothing can sound. Say so as "audio off" (IEC
            # 60601-1-8: an inactivation state that must be visible) with the reason; run()
            # raises the technical alarm unless off was asked for.
            self.backend.close()
            self.backend = None
            self.status = AudioStatus("off", mode, problem=self.status.problem
                                      or "no terminal for the bell")
        # The header's entry, kept up to date in place when the output falls back, so the
        # screen never shows a choice that no longer holds.
        self._entry: dict[str, str] = self.status.header_entry()
        self.scheduler = BurstScheduler()
        self.playing: Priority | None = None
        self.bursts_started = 0
        self._latest: Snapshot | None = None
        self._heard: frozenset[str] = frozenset()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._context: OutputContext | None = None
        self._faulted = False
        # Brackets each write to the sound device or terminal: a BEL blocked on a terminal
        # that stopped reading is seen by the daemon's watchdog (audio.output_failed).
        self.watch = WriteWatch(STALL_AFTER_S)

    def header_entry(self) -> dict[str, str]:
        """For the session header (``header["audio_output"]``): ``output``, ``requested``
        and, when there is one, ``problem`` and ``device``. The same dict for the whole
        session, updated in place when the output falls back (speakers to bell, bell to
        none), so a header holding it stays true."""
        return self._entry

    def started_fields(self) -> dict[str, str]:
        """For the ``session.started`` event (and so the session file): what the alarm sound
        went through when the session began, e.g. ``{"audio": "bell", "audio_requested":
        "auto", "audio_problem": "no sound output device (...)"}``."""
        fields: dict[str, str] = {"audio": self.status.output,
                                  "audio_requested": self.status.requested}
        if self.status.problem:
            fields["audio_problem"] = self.status.problem
        if self.status.device:
            fields["audio_device"] = self.status.device
        return fields

    def _set_status(self, status: AudioStatus) -> None:
        self.status = status
        entry = status.header_entry()
        self._entry.update(entry)
        for key in [k for k in self._entry if k not in entry]:
            self._entry.pop(key, None)

    # Output protocol: on the daemon's path, return at once ------------------------------

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        self._wake.set()

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Nothing to take from events: the snapshot's audio state says what to play."""

    async def run(self, context: OutputContext) -> None:
        self._context = context
        if self.mode != "off" and self.status.output == "off":
            context.fault(NAME, f"no alarm sound: {self.status.problem} (--audio off runs "
                                "silent on purpose)", Priority.MEDIUM)
            self._faulted = True
        elif self.mode == "speaker" and self.status.output != "speaker":
            context.fault(NAME, f"speakers unavailable, terminal bell only: "
                                f"{self.status.problem}", Priority.MEDIUM)
            self._faulted = True
        self._thread = threading.Thread(target=self._loop, name="cryoguard-audio", daemon=True)
        self._thread.start()
        try:
            while not self._closing.is_set():
                await asyncio.sleep(0.5)
        finally:
            # Only tell the sound thread to stop: waiting for it here (a BEL blocked on a
            # stalled terminal) would hold the session's end; close() waits, within its budget.
            self._closing.set()
            self._wake.set()

    async def close(self) -> None:
        self._closing.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, CLOSE_TIMEOUT_S)
        if self.backend is not None:
            backend, self.backend = self.backend, None
            await asyncio.to_thread(backend.close)

    def discard(self) -> None:
        """Close the device if the session never ran (``close`` was not called, e.g. an
        ``--events-out`` file was refused); after ``close`` it does nothing."""
        self._closing.set()
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.close()

    # The sound thread --------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self._sleep_s(self.clock()))
            self._wake.clear()
            if self._closing.is_set():
                break
            try:
                self.step(self.clock())
            except Exception as exc:  # the sound must never take the daemon down
                self._report(f"sound thread error: {type(exc).__name__}: {printable(exc)}")

    def _sleep_s(self, now: float) -> float:
        """How long the sound thread may sleep: a tick during a burst, else until the next
        burst is due (at most ``IDLE_S``; every snapshot wakes it sooner)."""
        backend = self.backend
        if backend is not None and (self.playing is not None or backend.busy(now)):
            return TICK_S
        due = self.scheduler.next_at()
        if due is None:
            return IDLE_S
        return min(IDLE_S, max(TICK_S, due - now))

    def step(self, now: float) -> None:
        """Start, stop and tick bursts for the latest snapshot at time ``now`` (the thread
        calls it every ``TICK_S``; tests call it with their own clock)."""
        backend = self.backend
        if backend is None:
            return
        snapshot = self._latest
        sounding = snapshot.audio.sounding if snapshot is not None else None
        new_alarm = self._new_alarm(snapshot, sounding)
        if self.playing is not None and (sounding is None or sounding != self.playing):
            # Acknowledged, paused, or outranked: this burst stops now (a higher one starts
            # at once below; a lower one waits for its own rhythm).
            backend.stop()
            self.playing = None
        start = self.scheduler.due(now, sounding, new_alarm)
        if start is not None:
            backend.start(BURSTS[start], now)
            self.playing = start
            self.bursts_started += 1
        try:
            with self.watch.writing():
                backend.tick(now)
        except BackendFailed as exc:
            self._fall_back(str(exc), now)
            return
        if self.playing is not None and not backend.busy(now):
            self.playing = None

    def _new_alarm(self, snapshot: Snapshot | None, sounding: Priority | None) -> bool:
        """A new unacknowledged alarm of the sounding priority (so a second low alarm is
        heard although the sounding priority did not change)."""
        if snapshot is None or sounding is None:
            self._heard = frozenset()
            return False
        ids = frozenset(a.id for a in snapshot.alarms
                        if a.priority is sounding and not a.acknowledged)
        new = bool(ids - self._heard)
        self._heard = ids
        return new

    def _fall_back(self, problem: str, now: float) -> None:
        failed = self.backend
        if failed is not None:
            failed.stop()
            failed.close()
        if isinstance(failed, BellBackend):
            self.backend = None
            self._set_status(AudioStatus("off", self.mode, problem=problem))
            self._report(f"no alarm sound left: {problem}", Priority.HIGH)
            return
        bell = self._bell if self._bell is not None else TerminalBell()
        detail = "; ".join(p for p in (problem, bell.problem) if p)
        if not bell.available:  # no terminal either: nothing can sound any more
            bell.close()
            self.backend = None
            self.playing = None
            self._set_status(AudioStatus("off", self.mode, problem=detail))
            self._report(f"no alarm sound left: {detail}", Priority.HIGH)
            return
        self.backend = BellBackend(bell)
        self._set_status(AudioStatus("bell", self.mode, problem=detail))
        self._report(f"speakers failed, terminal bell only: {detail}", Priority.MEDIUM)
        # Restart the burst in progress on the bell: the alarm is not silenced by the failure.
        replay, self.playing = self.playing, None
        if replay is not None:
            self.backend.start(BURSTS[replay], now)
            self.playing = replay
            try:
                self.backend.tick(now)
            except BackendFailed as exc:
                self._fall_back(str(exc), now)

    def _report(self, message: str, priority: Priority = Priority.MEDIUM) -> None:
        context = self._context
        if context is None:
            return
        self._faulted = True
        context.fault_threadsafe(NAME, message, priority)
