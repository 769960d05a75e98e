"""Modbus register maps as data, and a pure decode from registers to values.

The default is the ICP DAS M-7018 layout: input registers 30001–30008 are channels 0–7 as
signed int16 in 0.1 °C, 0x7FFF means an open thermocouple, the cold junction is at 30129 in
0.01 °C. Other modules differ only in these numbers, so they are fields, not code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers.types import ParsedScan, ParsedValue, bad_frame, fault, ok
from monitor.config import defaults
from monitor.model import Status

INPUT_REGISTER_BASE = 30001  # protocol numbering: 3xxxx input registers start at address 0
M7018_CJC_REGISTER = defaults.MODBUS_CJC_REGISTER
CJC_KEY = "cjc"


def register_address(register: int) -> int:
    """Protocol address (function 04) of a register: 30001 → 0; below 30001 taken as is."""
    if register >= INPUT_REGISTER_BASE:
        return register - INPUT_REGISTER_BASE
    if register < 0:
        raise ValueError(f"register must be >= 0, got {register}")
    return register


def to_int16(raw: int) -> int:
    return raw - 0x10000 if raw >= 0x8000 else raw


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """Where the channels are and how to read them."""

    start_register: int = defaults.MODBUS_START_REGISTER
    count: int = defaults.MODBUS_CHANNEL_COUNT
    scale: float = defaults.MODBUS_SCALE_C
    open_value: int | None = defaults.MODBUS_OPEN_VALUE
    under_value: int | None = defaults.MODBUS_UNDER_VALUE
    cjc_register: int | None = None
    cjc_scale: float = defaults.MODBUS_CJC_SCALE_C

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 125:
            raise ValueError(f"count must be 1..125 registers, got {self.count}")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        register_address(self.start_register)
        if self.cjc_register is not None:
            register_address(self.cjc_register)

    @property
    def address(self) -> int:
        return register_address(self.start_register)

    @property
    def cjc_address(self) -> int | None:
        return None if self.cjc_register is None else register_address(self.cjc_register)


def decode_register(key: int | str, raw: int, scale: float, rmap: RegisterMap) -> ParsedValue:
    """One register → a value or a status (sentinels compare on the raw 16-bit word)."""
    if not isinstance(raw, int) or not 0 <= raw <= 0xFFFF:
        return fault(key, Status.BAD_DATA)
    if rmap.open_value is not None and raw == rmap.open_value & 0xFFFF:
        return fault(key, Status.OPEN)
    if rmap.under_value is not None and raw == rmap.under_value & 0xFFFF:
        return fault(key, Status.UNDER_RANGE)
    return ok(key, round(to_int16(raw) * scale, 6))


def decode_registers(registers: Sequence[int], rmap: RegisterMap,
                     cjc_raw: int | None = None) -> ParsedScan:
    """The input-register block (and optional CJC register) → one scan; never raises."""
    if not registers:
        return bad_frame("empty register block")
    values = [decode_register(i, raw, rmap.scale, rmap)
              for i, raw in enumerate(registers[: rmap.count])]
    notes: list[str] = []
    if len(registers) < rmap.count:
        notes.append(f"short reply: {len(registers)} of {rmap.count} registers")
        values += [fault(i, Status.BAD_DATA) for i in range(len(registers), rmap.count)]
    if cjc_raw is not None:
        values.append(decode_register(CJC_KEY, cjc_raw, rmap.cjc_scale, rmap))
    return ParsedScan(tuple(values), tuple(notes))


def encode_celsius(temp_c: float, scale: float = defaults.MODBUS_SCALE_C) -> int:
    """°C → the raw register word (for emulators and tests)."""
    value = round(temp_c / scale)
    if not -0x8000 < value < 0x7FFF:
        raise ValueError(f"{temp_c} °C does not fit an int16 register at scale {scale}")
    return value & 0xFFFF
