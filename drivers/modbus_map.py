"""Modbus register maps as data, and a pure decode from registers to values.

The default is the ICP DAS M-7018 layout: input registers 30001–30008 are channels 0–7, the
cold junction is at 30129 in 0.01 °C, coil 00269 holds the data format (0 hex, 1 engineering)
and holding register 40487 the input type code. In engineering format a channel is a signed
int16 in 0.1 °C; in hex format it is a two's-complement fraction of the input type's full
scale (0x7FFF = +full scale). 0x7FFF also means an open thermocouple. Sources and the type
table: docs/devices.md, "Modbus". Other modules differ only in these numbers, so they are
fields, not code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers.types import ParsedScan, ParsedValue, bad_frame, fault, ok
from monitor.config import defaults
from monitor.model import Status

INPUT_REGISTER_BASE = 30001  # protocol numbering: 3xxxx input registers start at address 0
HOLDING_REGISTER_BASE = 40001  # 4xxxx holding registers start at address 0
M7018_CJC_REGISTER = defaults.MODBUS_CJC_REGISTER
M7018_FORMAT_COIL = 269  # 00269: 0 = hex, 1 = engineering
M7018_TYPE_REGISTER = 40487
CJC_KEY = "cjc"

#: ICP DAS thermocouple type codes → (letter, low °C, high °C). In hex format +0x7FFF is the
#: larger of |low| and |high| (docs/devices.md gives the manual tables this comes from).
ICPDAS_TC_TYPES: dict[int, tuple[str, float, float]] = {
    0x0E: ("J", -210.0, 760.0), 0x0F: ("K", -270.0, 1372.0), 0x10: ("T", -270.0, 400.0),
    0x11: ("E", -270.0, 1000.0), 0x12: ("R", 0.0, 1768.0), 0x13: ("S", 0.0, 1768.0),
    0x14: ("B", 0.0, 1820.0), 0x15: ("N", -270.0, 1300.0), 0x16: ("C", 0.0, 2320.0),
}
RANGE_MARGIN_C = 1.0  # a reading this far outside its type's span is out of range


def coil_address(coil: int) -> int:
    """Protocol address (function 01) of a coil: 00269 → 268."""
    if not 1 <= coil <= 9999:
        raise ValueError(f"coil must be 1..9999, got {coil}")
    return coil - 1


def holding_address(register: int) -> int:
    """Protocol address (function 03) of a holding register: 40487 → 486."""
    if not HOLDING_REGISTER_BASE <= register <= 49999:
        raise ValueError(f"holding register must be 40001..49999, got {register}")
    return register - HOLDING_REGISTER_BASE


def register_address(register: int) -> int:
    """Protocol address of a register: 30001 → 0 (function 04), 40001 → 0 (function 03);
    below 30001 taken as is (an input register's protocol address)."""
    if register >= HOLDING_REGISTER_BASE:
        return register - HOLDING_REGISTER_BASE
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
    hex_full_scale_c: float | None = None  # hex format: °C at +0x7FFF; None: engineering
    range_c: tuple[float, float] | None = None  # the input type's span, when known

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
    def table(self) -> str:
        """Which table the channel block is in: 4xxxx holding (function 03), else input."""
        return "holding" if self.start_register >= HOLDING_REGISTER_BASE else "input"

    @property
    def cjc_table(self) -> str:
        reg = self.cjc_register or 0
        return "holding" if reg >= HOLDING_REGISTER_BASE else "input"

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


def decode_channel(key: int, raw: int, rmap: RegisterMap) -> ParsedValue:
    """A channel register in the module's data format → °C or a status."""
    value = decode_register(key, raw, rmap.scale, rmap)
    if value.temp_c is None:
        return value
    temp = value.temp_c
    if rmap.hex_full_scale_c is not None:
        counts = to_int16(raw)
        temp = round(counts * rmap.hex_full_scale_c / (0x7FFF if counts >= 0 else 0x8000), 3)
    if rmap.range_c is not None:
        low, high = rmap.range_c
        if temp < low - RANGE_MARGIN_C:
            return fault(key, Status.UNDER_RANGE)
        if temp > high + RANGE_MARGIN_C:
            return fault(key, Status.OVER_RANGE)
    return ok(key, temp)


def decode_registers(registers: Sequence[int], rmap: RegisterMap,
                     cjc_raw: int | None = None) -> ParsedScan:
    """The input-register block (and optional CJC register) → one scan; never raises."""
    if not registers:
        return bad_frame("empty register block")
    values = [decode_channel(i, raw, rmap) for i, raw in enumerate(registers[: rmap.count])]
    notes: list[str] = []
    if len(registers) < rmap.count:
        notes.append(f"short reply: {len(registers)} of {rmap.count} registers")
        values += [fault(i, Status.BAD_DATA) for i in range(len(registers), rmap.count)]
    if cjc_raw is not None:
        values.append(decode_register(CJC_KEY, cjc_raw, rmap.cjc_scale, rmap))
    return ParsedScan(tuple(values), tuple(notes))


def encode_hex(temp_c: float, full_scale_c: float) -> int:
    """°C → the raw hex-format word (for tests): a two's-complement fraction of full scale."""
    counts = round(temp_c / full_scale_c * (0x7FFF if temp_c >= 0 else 0x8000))
    return max(-0x8000, min(0x7FFF, counts)) & 0xFFFF


def encode_celsius(temp_c: float, scale: float = defaults.MODBUS_SCALE_C) -> int:
    """°C → the raw register word (for emulators and tests)."""
    value = round(temp_c / scale)
    if not -0x8000 < value < 0x7FFF:
        raise ValueError(f"{temp_c} °C does not fit an int16 register at scale {scale}")
    return value & 0xFFFF
