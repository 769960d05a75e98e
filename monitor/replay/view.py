"""A paced replay watched on the live display, read-only.

The replay runs in a worker thread (the engine is touched only there); after each engine call
a snapshot is handed to the display on the event loop, at most ten times a second. Keys that
would act (acknowledge, pause, mark) do nothing: a replay shows what happened, it does not
change it. ``q`` then ``y`` stops the replay.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from monitor.engine import Engine, Snapshot
from monitor.model import Event, Priority
from monitor.outputs.base import Output
from monitor.replay.core import Pacer, ReplayResult, ReplaySource, replay

SNAPSHOT_S = 0.1


class _ReplayContext:
    """The OutputContext of a replay: read-only, and quitting stops the replay."""

    def __init__(self, header: Mapping[str, Any], stop: threading.Event) -> None:
        self._header = dict(header)
        self._stop = stop
        self.latest: Snapshot | None = None
        self.faults: list[str] = []

    def fault(self, output: str, message: str, priority: Priority) -> None:
        self.faults.append(f"{output}: {message}")

    def recovered(self, output: str, message: str) -> None:
        return None

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None:
        self.fault(output, message, priority)

    def recovered_threadsafe(self, output: str, message: str) -> None:
        return None

    def acknowledge(self, alarm: str | None = None) -> None:
        return None  # read-only: a replay cannot change the recorded session

    def pause_audio(self) -> None:
        return None

    def mark(self, mark: str) -> None:
        return None

    def intervention(self, kind: str) -> None:
        return None

    def note(self, text: str) -> None:
        return None

    def request_quit(self) -> None:
        self._stop.set()

    def snapshot(self) -> Snapshot:
        assert self.latest is not None
        return self.latest

    @property
    def header(self) -> Mapping[str, Any]:
        return self._header


def replay_on_display(source: ReplaySource, engine: Engine, emit: Callable[[Event], None],
                      speed: float, display: Output, header: Mapping[str, Any]
                      ) -> ReplayResult:
    """Replay ``source`` paced at ``speed`` while ``display`` shows it; returns when the
    replay ends and the viewer quits (``q``, ``y``) or on Ctrl-C."""
    stop = threading.Event()
    context = _ReplayContext(header, stop)

    async def main() -> ReplayResult:
        loop = asyncio.get_running_loop()
        last = 0.0

        def hand_over() -> None:  # replay thread, after each engine call
            nonlocal last
            now = time.monotonic()
            if now - last >= SNAPSHOT_S:
                last = now
                snapshot = engine.snapshot()
                loop.call_soon_threadsafe(_show, snapshot)

        def _show(snapshot: Snapshot) -> None:
            context.latest = snapshot
            display.on_snapshot(snapshot)

        def forward(event: Event) -> None:  # replay thread
            emit(event)
            record = event.to_record(None)
            loop.call_soon_threadsafe(display.on_events, [record])

        def nap(seconds: float) -> None:  # a quit wakes the replay thread at once
            stop.wait(seconds)

        t_first = float(source.t.min()) if len(source) else 0.0
        pacer = Pacer(speed, t_first, sleep=nap)
        shown = asyncio.create_task(display.run(context))
        try:
            result = await asyncio.to_thread(
                replay, source, engine, forward, speed, pacer=pacer, after_step=hand_over,
                should_stop=stop.is_set)
            _show(engine.snapshot())
            while not stop.is_set():  # the end stays on screen until the viewer quits
                await asyncio.sleep(0.1)
            return result
        finally:
            stop.set()
            shown.cancel()
            await asyncio.gather(shown, return_exceptions=True)
            await display.close()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        stop.set()
        raise
