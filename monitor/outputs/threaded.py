"""A line writer on its own thread: a stalled pipe or a slow disk never reaches the engine.

Lines are handed over with a non-blocking ``put``; the thread writes and flushes each one.
Nothing is dropped until ``limit`` lines are waiting; beyond that the oldest are dropped and
counted. Write errors and backlog are reported through ``on_fault`` (recovery through
``on_recover``); a write that blocks (a reader that stopped reading) is seen by the shell's
watchdog through ``watch`` (:class:`~monitor.outputs.base.WriteWatch`): the blocked thread
cannot report it itself. The thread is a daemon thread, so a write blocked for ever never
keeps the process alive (docs/reliability.md).
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable
from typing import IO

from monitor.outputs.base import WriteWatch


class ThreadedLineWriter:
    def __init__(self, name: str, stream: IO[str], *, on_fault: Callable[[str], None],
                 on_recover: Callable[[str], None], watch: WriteWatch,
                 limit: int = 1_000_000, behind_at: int = 10_000,
                 close_stream: bool = False) -> None:
        self.name = name
        self.watch = watch
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
        self._thread = threading.Thread(target=self._run, name=f"cryoguard-{name}", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        """Queue one line (without its newline). Never blocks for IO."""
        with self._ready:
            if self._closing:
                return
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

    def close(self, timeout_s: float = 2.0) -> bool:
        """Write what is queued (for at most ``timeout_s``), then stop the thread. Returns
        True when everything was written and the thread has ended."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            return False  # blocked in a write: the stream is left to the process's end
        if self._close_stream:
            with contextlib.suppress(OSError, ValueError):
                self._stream.close()
        return not self._lines

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
            self.watch.begin()
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError) as exc:
                self.dropped += 1
                if not self._faulted:
                    self._faulted = True
                    self._on_fault(f"cannot write: {exc}")
                continue
            finally:
                self.watch.end()
            self.written += 1
            if self._faulted or (self._behind and len(self._lines) < self._behind_at // 2):
                self._faulted = self._behind = False
                self._on_recover("writing again")
