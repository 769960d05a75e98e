"""An ICP DAS M-7018 Modbus RTU slave, written from the manuals (no pymodbus, no drivers/).

Sources:

* MODBUS over Serial Line Specification and Implementation Guide V1.02 (§2.3 RTU frame:
  address, function, data, CRC-16 low byte first, polynomial 0xA001 reflected, initial
  0xFFFF; §2.4 a slave only answers frames addressed to it) and MODBUS Application Protocol
  V1.1b3 (§6.1 Read Coils 01, §6.3 Read Holding Registers 03, §6.4 Read Input Registers 04;
  §7 exception responses: function | 0x80 and code 01 illegal function, 02 illegal address).
* I-7018 / M-7018 user manual, "Modbus Table (M-7018, M-7018R only)": 30001–30008 analog
  input of channels 0–7; 30129 CJC temperature in 0.01 °C; 40487 type code; 00269 Modbus data
  format, 0 = hex, 1 = engineering; 00257 protocol (1 = Modbus RTU); 00268 CJC enable.
* ICP DAS analog input type and data format table (I-7018 manual; WF-2000 series manual
  app. A.1): thermocouple type codes with their spans, 2's complement HEX with +full scale =
  7FFF (e.g. type N −270…1300 °C: −F.S. = E56B), and "0x7FFF in all thermocouple type codes
  means the thermocouple wires are broken". Engineering format: the value in 0.1 °C.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field

from tests.peers.ptys import PeerPty

OPEN = "open"
TYPE_SPANS = {0x0E: (-210.0, 760.0), 0x0F: (-270.0, 1372.0), 0x10: (-270.0, 400.0),
              0x15: (-270.0, 1300.0)}


def crc16(data: bytes) -> bytes:
    """Modbus RTU CRC-16 (spec §6.2.2), low byte first on the wire."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


@dataclass
class M7018:
    unit_id: int = 1
    engineering: bool = True  # coil 00269
    type_code: int = 0x10  # 40487
    cjc_c: float = 23.5
    inputs: list[float | str] = field(default_factory=lambda: [21.5] * 8)
    answer_config: bool = True  # False: coil 00269 / register 40487 give exception 02
    requests: list[bytes] = field(default_factory=list)

    def word(self, channel: int) -> int:
        value = self.inputs[channel]
        if value == OPEN:
            return 0x7FFF
        assert isinstance(value, float | int)
        if self.engineering:
            counts = round(value * 10)
        else:
            low, high = TYPE_SPANS[self.type_code]
            full_scale = max(abs(low), abs(high))
            counts = round(value / full_scale * (32767 if value >= 0 else 32768))
        return max(-32768, min(32767, counts)) & 0xFFFF

    def input_register(self, address: int) -> int | None:
        if 0 <= address < 8:
            return self.word(address)
        if address == 128:
            return round(self.cjc_c * 100) & 0xFFFF
        return None

    def holding_register(self, address: int) -> int | None:
        if 0 <= address < 8:
            return self.word(address)  # 40001-40008 mirror the inputs
        if address == 486 and self.answer_config:
            return self.type_code
        return None

    def coil(self, address: int) -> bool | None:
        if address == 268 and self.answer_config:
            return self.engineering
        if address == 256:
            return True  # 00257: Modbus RTU
        if address == 267:
            return True  # 00268: CJC enabled
        return None

    def handle(self, frame: bytes) -> bytes | None:
        """One request frame → the response frame, or None (not ours, or corrupt)."""
        self.requests.append(frame)
        if len(frame) < 4 or crc16(frame[:-2]) != frame[-2:]:
            return None
        if frame[0] != self.unit_id:
            return None  # another slave's request: silence
        function = frame[1]
        if function not in (1, 3, 4) or len(frame) != 8:
            return self._frame(bytes([function | 0x80, 0x01]))
        start, count = struct.unpack(">HH", frame[2:6])
        if function == 1:
            bits = [self.coil(a) for a in range(start, start + count)]
            if count < 1 or any(b is None for b in bits):
                return self._frame(bytes([0x81, 0x02]))
            packed = bytearray((count + 7) // 8)
            for i, bit in enumerate(bits):
                if bit:
                    packed[i // 8] |= 1 << (i % 8)
            return self._frame(bytes([1, len(packed)]) + bytes(packed))
        read = self.input_register if function == 4 else self.holding_register
        words = [read(a) for a in range(start, start + count)]
        if not 1 <= count <= 125 or any(w is None for w in words):
            return self._frame(bytes([function | 0x80, 0x02]))
        body = b"".join(struct.pack(">H", w) for w in words if w is not None)
        return self._frame(bytes([function, len(body)]) + body)

    def _frame(self, pdu: bytes) -> bytes:
        adu = bytes([self.unit_id]) + pdu
        return adu + crc16(adu)


class RtuBus:
    """Serves slaves on a pty. Requests for functions 01/03/04 are 8 bytes, so frames are cut
    by length (a pty keeps no 3.5-character gaps); any other byte soup is dropped."""

    def __init__(self, pty: PeerPty, *slaves: M7018) -> None:
        self.pty = pty
        self.slaves = list(slaves)
        self._buf = b""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(pty.master, self._readable)

    def _readable(self) -> None:
        self._buf += self.pty.read()
        while len(self._buf) >= 8:
            frame, self._buf = self._buf[:8], self._buf[8:]
            for slave in self.slaves:
                reply = slave.handle(frame)
                if reply is not None:
                    self.pty.write(reply)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self.pty.master)
