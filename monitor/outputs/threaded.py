"""A line writer on its own thread: a stalled pipe or a slow disk never reaches the engine.

Lines are handed over with a non-blocking ``put``; the thread writes and flushes each one.
Nothing is dropped until ``limit`` lines are waiting; beyond that the oldest are dropped and
counted. Every failure or backlog is reported through ``on_fault`` (and recovery through
``on_recover``) so the daemon can raise and clear a technical alarm.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable
from typing import IO


class ThreadedLineWriter:
    def __init__(self, name: str, stream: IO[str], *, on_fault: Callable[[str], None],
                 on_recover: Callable[[str], None], limit: int = 1_000_000,
                 behind_at: int = 10_000, close_stream: bool = False) -> None:
        self.name = name
        self._stream = stream
        self._on_fault = on_fault
        self._on_recover = on_recover
        self._limit = limit
        self._behind_at = behind_at
        self._close_stream = close_stream
        self._lines: collections.deque[str] = collections.deque()
        self._ready = threading.Condition()
        self._closing = False
        self.dropped = 0
        self.written = 0
        self._faulted = False
        self._behind = False
        self._stalled = False
        self._write_started: float | None = None  # monotonic time of the write in progress
        self._thread = threading.Thread(target=self._run, name=f"cryoguard-{name}", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        """Queue one line (without its newline). Never blocks for IO."""
        with self._ready:
            self._lines.append(line)
            if len(self._lines) > self._limit:
                self._lines.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    self._on_fault(f"{self.dropped} line(s) dropped: the reader is not keeping up")
            if len(self._lines) >= self._behind_at and not self._behind:
                self._behind = True
                self._on_fault(f"falling behind: {len(self._lines)} lines waiting")
            self._ready.notify()

    @property
    def pending(self) -> int:
        return len(self._lines)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def check_stalled(self, after_s: float, now: float | None = None) -> None:
        """Report a write that has not returned for ``after_s`` (a reader that stopped
        reading): the thread itself cannot, it is blocked. Called from the daemon's ticker."""
        started = self._write_started
        now = time.monotonic() if now is None else now
        if started is not None and now - started >= after_s and not self._stalled:
            self._stalled = True
            self._on_fault(f"stalled: a write has not completed for {now - started:.0f} s "
                           f"(is the reader reading?); {self.pending} lines waiting")

    def close(self, timeout_s: float = 2.0) -> None:
        """Write what is queued (for at most ``timeout_s``), then stop the thread."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(timeout_s)
        if self._close_stream:
            with contextlib.suppress(OSError):
                self._stream.close()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._lines and not self._closing:
                    self._ready.wait()
                if not self._lines and self._closing:
                    return
                batch = list(self._lines)
                self._lines.clear()
            self._write(batch)

    def _write(self, batch: list[str]) -> None:
        for line in batch:
            self._write_started = time.monotonic()
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError) as exc:
                self._write_started = None
                self.dropped += 1
                if not self._faulted:
                    self._faulted = True
                    self._on_fault(f"cannot write: {exc}")
                continue
            self._write_started = None
            self.written += 1
            if self._faulted or self._stalled or (
                    self._behind and len(self._lines) < self._behind_at // 2):
                self._faulted = self._behind = self._stalled = False
                self._on_recover("writing again")
