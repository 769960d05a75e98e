"""DCON analog-input modules (ADAM-4018, ADAM-4018+, ICP DAS I-7018) as the manuals describe.

Written from the manuals, not from drivers/dcon.py:

* ADAM-4000 Series User's Manual, ch. 5 (analog input commands): ``#AA`` Analog Data In
  (p. 5-14: reply ``>(data)(cr)``; with a thermocouple input out of its configured range the
  module sends ``+9999`` over / ``-0000`` under in engineering units and % of span, ``FFFF`` /
  ``0000`` in two's complement); ``$AA2`` Configuration Status (p. 5-10: reply
  ``!AATTCCFF``); ``$AA5VV`` enable/disable channels (p. 5-16); ``$AAM`` module name.
* ADAM-4018+: burn-out ``+888888``, ``+999999`` / ``-999999`` over / under range, and a
  disabled channel sent as seven spaces so the others keep their positions.
* Command frame and checksum (ADAM-4000 manual app. on checksum; ICP DAS I-7011/I-7018
  manual §1.10, §2): ``[delimiter][AA][command][CHK](cr)``, CHK = sum of the bytes before it
  mod 256 as two hex digits; a syntax, address or checksum error gets no reply at all; a
  valid frame with an unknown command gets ``?AA``.
* Data format (FF bits 1-0): 00 engineering units, 01 % of full-scale range, 10 two's
  complement hex (four hex digits, +full scale = 7FFF), as in the I-7011/I-7018 "analog input
  type and data format table" and the NuDAM-6018 data-format chapter (hex = value / full
  scale × 32768).
* Type code 10 = type T thermocouple: ADAM-4018 −100…400 °C; ICP DAS I-7018 −270…400 °C.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from tests.peers.ptys import PeerPty

OPEN = "open"  # an input value meaning the thermocouple wire is broken

SPANS = {  # (module family, type code) -> (low °C, high °C)
    ("adam", "10"): (-100.0, 400.0), ("adam", "0F"): (0.0, 1370.0),
    ("icpdas", "10"): (-270.0, 400.0), ("icpdas", "0F"): (-270.0, 1372.0),
}


def sum_checksum(data: bytes) -> bytes:
    return b"%02X" % (sum(data) & 0xFF)


@dataclass
class DconModule:
    """One module on the bus. ``model`` is 4018, 4018+ (name 4018P) or 7018."""

    address: int = 1
    model: str = "4018+"
    type_code: str = "10"
    data_format: int = 0  # 0 engineering, 1 % of FSR, 2 two's complement hex
    checksum: bool = False
    inputs: list[float | str] = field(default_factory=lambda: [21.5] * 8)
    enabled: int = 0xFF  # $AA5VV mask: bit n = channel n
    drop_config_replies: int = 0  # the next N replies to $AA2 are lost on the wire
    received: list[bytes] = field(default_factory=list)

    @property
    def family(self) -> str:
        return "icpdas" if self.model == "7018" else "adam"

    @property
    def name(self) -> str:
        return {"4018": "4018", "4018+": "4018P", "7018": "7018"}[self.model]

    def span(self) -> tuple[float, float]:
        return SPANS[(self.family, self.type_code)]

    # One channel in the configured format ------------------------------------------------

    def field(self, channel: int) -> str:
        plus = self.model in ("4018+", "7018")
        if plus and not self.enabled >> channel & 1:
            return " " * 7
        value = self.inputs[channel]
        low, high = self.span()
        full_scale = max(abs(low), abs(high))
        if value == OPEN:
            if plus:
                return "+888888"
            value = high + 100.0  # an open input drives the classic module up-scale
        assert isinstance(value, float | int)
        if self.data_format == 2:
            if value > high:
                return "FFFF"
            if value < low:
                return "0000"
            counts = round(value / full_scale * (32767 if value >= 0 else 32768))
            return "%04X" % (counts & 0xFFFF)
        if value > high:
            return "+999999" if plus else "+9999"
        if value < low:
            return "-999999" if plus else "-0000"
        if self.data_format == 1:
            return "%+07.2f" % (value / full_scale * 100.0)
        return f"{value:+07.1f}"

    # Commands --------------------------------------------------------------------------

    def handle(self, frame: bytes) -> bytes | None:
        """One command without its CR → the reply with CR, or None (no reply)."""
        self.received.append(frame)
        if self.checksum:
            if len(frame) < 3 or sum_checksum(frame[:-2]) != frame[-2:].upper():
                return None
            frame = frame[:-2]
        try:
            text = frame.decode("ascii")
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
            reply = ">" + "".join(self.field(i) for i in range(len(self.inputs)))
        elif lead == "$" and rest == "2":
            if self.drop_config_replies > 0:
                self.drop_config_replies -= 1
                return None
            ff = self.data_format | (0x40 if self.checksum else 0)
            reply = f"!{aa}{self.type_code}06{ff:02X}"
        elif lead == "$" and rest == "M":
            reply = f"!{aa}{self.name}"
        elif lead == "$" and rest[:1] == "5" and len(rest) == 3:
            self.enabled = int(rest[1:], 16)
            reply = f"!{aa}"
        else:
            reply = f"?{aa}"
        out = reply.encode("ascii")
        if self.checksum:
            out += sum_checksum(out)
        return out + b"\r"


class DconBus:
    """Serves modules on a pty until stopped (an RS-485 line with several addresses)."""

    def __init__(self, pty: PeerPty, *modules: DconModule) -> None:
        self.pty = pty
        self.modules = list(modules)
        self._buf = b""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(pty.master, self._readable)

    def _readable(self) -> None:
        self._buf += self.pty.read()
        while b"\r" in self._buf:
            frame, self._buf = self._buf.split(b"\r", 1)
            for module in self.modules:
                reply = module.handle(frame)
                if reply is not None:
                    self.pty.write(reply)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self.pty.master)
