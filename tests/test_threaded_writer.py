"""The line writer's bound: nothing is dropped until ``limit`` lines wait, then the oldest.

A reader that stops reading (a stalled pipe) blocks the writer thread inside ``write``; the
queue then holds what the session produces. The bound keeps memory finite, and every line
dropped is counted and reported (docs/reliability.md).
"""

from __future__ import annotations

import io
import threading
import time

from monitor.outputs.base import WriteWatch
from monitor.outputs.threaded import ThreadedLineWriter


class BlockingStream(io.StringIO):
    """A stream whose writes wait until ``release`` is set, like a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait(10)
        return super().write(text)


def test_nothing_is_dropped_up_to_the_limit_then_the_oldest_and_it_is_reported() -> None:
    stream = BlockingStream()
    faults: list[str] = []
    watch = WriteWatch(after_s=2.0)
    writer = ThreadedLineWriter("events", stream, on_fault=faults.append,
                                on_recover=lambda _m: None, watch=watch, limit=5,
                                behind_at=1000)
    writer.put("first")  # the thread takes it and blocks in write
    deadline = time.monotonic() + 5
    while not watch.busy and time.monotonic() < deadline:
        time.sleep(0.005)
    assert watch.busy
    for i in range(5):
        writer.put(f"line{i}")
    assert writer.pending == 5 and writer.dropped == 0 and faults == []  # at the limit
    writer.put("line5")
    assert writer.pending == 5 and writer.dropped == 1
    assert faults and "1 line(s) dropped" in faults[0]
    stream.release.set()
    assert writer.close(timeout_s=5)
    assert stream.getvalue().split() == ["first", "line1", "line2", "line3", "line4", "line5"]
