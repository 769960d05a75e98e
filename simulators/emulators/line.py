"""The ``line`` device: one positional CSV scan per line at the scenario rate.

``v0,v1,...\\n`` with one decimal; a channel that is not OK sends its fault token (``OPEN``,
``SHORT``, ``OVER``, ``UNDER``, ``ERR``) instead of a number.
"""

from __future__ import annotations

import asyncio

from monitor.model import Status
from simulators.emulators.player import Player, Scan, SessionClock
from simulators.ptylink import PtyLink

TOKENS = {Status.OPEN: "OPEN", Status.SHORT: "SHORT", Status.OVER_RANGE: "OVER",
          Status.UNDER_RANGE: "UNDER", Status.BAD_DATA: "ERR"}
TICK_S = 0.005  # wall-clock polling period of the writer


def encode(scan: Scan) -> bytes:
    """One scan as the line the device sends."""
    fields = [f"{v:.1f}" if s is Status.OK and v is not None else TOKENS[s]
              for s, v in zip(scan.statuses, scan.values, strict=True)]
    return (",".join(fields) + "\n").encode("ascii")


async def serve_line(player: Player, link: PtyLink, clock: SessionClock) -> None:
    """Write every scan when its time comes; faults as scheduled. Runs until cancelled."""
    sent = 0  # scans written or skipped so far
    pending = b""
    while True:
        t = clock.now()
        if player.unplugged(t):
            if link.plugged:
                link.unplug()
            pending = b""
        elif not link.plugged:
            link.plug()
        due = player.sample_number(t) + 1
        out = bytearray()
        for k in range(sent, due):
            ts = k * player.period_s
            if player.unplugged(ts) or player.silent(ts):
                continue
            line = encode(player.scan_at(k, ts))
            if player.garbage.due(ts):
                out += player.garbage_bytes() + b"\n"
            if player.partial.due(ts):
                line = line[: max(1, len(line) // 2)]  # the rest never comes: cut mid-frame
            out += line
        sent = max(sent, due)
        if link.plugged and (out or pending):
            data = pending + bytes(out)
            written = link.write(data)
            pending = data[written:][-4096:]  # a full buffer drops the oldest, like a UART FIFO
        await asyncio.sleep(TICK_S)
