"""The ``dcon`` device: an ADAM-4018+ style module answering polls on its pty.

Commands end with CR. ``#AA`` reads all channels (``>`` + one signed 7-character field per
channel), ``$AAM`` the module name, ``$AA2`` the configuration. With the checksum option every
command must carry a valid checksum and every reply gets one. Wrong address, bad checksum or
a silent fault window: no reply at all, as on the real bus. Type T inputs span -100..+400 °C,
so a cryoprobe tip reads as under-range.
"""

from __future__ import annotations

import asyncio
import contextlib

from monitor.model import Status
from simulators.emulators.player import Player, Scan, SessionClock, follow_plug
from simulators.ptylink import PtyLink

CODES = {Status.OPEN: "+888888", Status.OVER_RANGE: "+999999",
         Status.UNDER_RANGE: "-999999", Status.SHORT: "-999999", Status.BAD_DATA: "+999999"}
RANGE_C = (-100.0, 400.0)  # ADAM-4018 type T (code 10), docs/devices.md
BAUD_CODES = {1200: "03", 2400: "04", 4800: "05", 9600: "06", 19200: "07", 38400: "08",
              57600: "09", 115200: "0A"}
TICK_S = 0.05


def checksum(data: bytes) -> bytes:
    """Two upper-case hex digits: the sum of the bytes mod 256."""
    return f"{sum(data) % 256:02X}".encode("ascii")


def field(status: Status, value: float | None) -> str:
    if status is not Status.OK or value is None:
        return CODES[status]
    if value < RANGE_C[0]:
        return CODES[Status.UNDER_RANGE]
    if value > RANGE_C[1]:
        return CODES[Status.OVER_RANGE]
    return f"{value:+07.1f}"


def read_reply(scan: Scan) -> str:
    return ">" + "".join(field(s, v) for s, v in zip(scan.statuses, scan.values, strict=True))


class DconModule:
    """Pure command → reply logic (``None`` = no reply), so it can be tested without a pty."""

    def __init__(self, address: int = 1, use_checksum: bool = False,
                 baudrate: int = 115200) -> None:
        self.address = address
        self.use_checksum = use_checksum
        self.baud_code = BAUD_CODES.get(baudrate, "0A")

    def reply(self, command: bytes, scan: Scan) -> bytes | None:
        body = command.rstrip(b"\r")
        if self.use_checksum:
            if len(body) < 3 or checksum(body[:-2]) != body[-2:].upper():
                return None
            body = body[:-2]
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            return None
        if len(text) < 3 or text[0] not in "#$%@~":
            return None
        try:
            if int(text[1:3], 16) != self.address:
                return None
        except ValueError:
            return None
        aa = f"{self.address:02X}"
        lead, rest = text[0], text[3:]
        if lead == "#" and rest == "":
            out = read_reply(scan)
        elif lead == "$" and rest == "M":
            out = f"!{aa}4018P"
        elif lead == "$" and rest == "2":
            ff = 0x40 if self.use_checksum else 0x00
            out = f"!{aa}10{self.baud_code}{ff:02X}"
        else:
            out = f"?{aa}"
        data = out.encode("ascii")
        if self.use_checksum:
            data += checksum(data)
        return data + b"\r"


async def serve_dcon(player: Player, link: PtyLink, clock: SessionClock,
                     module: DconModule) -> None:
    """Answer polls until cancelled; unplug/replug, silences and bad frames as scheduled."""
    loop = asyncio.get_running_loop()
    buffer = b""
    readable = asyncio.Event()
    watched: int | None = None
    try:
        while True:
            t = clock.now()
            watched, pulled = follow_plug(player, link, t, loop, watched, readable.set)
            if pulled:
                buffer = b""
            chunk = link.read()
            if chunk:
                buffer += chunk
                while b"\r" in buffer:
                    command, buffer = buffer.split(b"\r", 1)
                    answer = _answer(player, module, command, clock.now())
                    if answer:
                        link.write(answer)
                buffer = buffer[-256:]
                continue
            readable.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):  # 3.11's wait_for can swallow a cancel
                    await readable.wait()
    finally:
        if watched is not None:
            loop.remove_reader(watched)


def _answer(player: Player, module: DconModule, command: bytes, t: float) -> bytes | None:
    if player.silent(t) or player.unplugged(t):
        return None
    reply = module.reply(command, player.scan(t))
    if reply is None:
        return None
    if player.garbage.due(t):
        return player.garbage_bytes() + b"\r"
    if player.partial.due(t):
        return reply[: max(1, len(reply) // 2)]
    return reply
