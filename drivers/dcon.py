"""DCON ASCII (ADAM-4018/4018+, ICP DAS I-7018/M-7018): frames, replies and module info.

Pure functions only; the polling device lives in :mod:`drivers.dcon_device`. Reply parsing
never raises: anything it cannot read (bad checksum, ``?AA``, noise) is bad data, and the
burn-out and over/under-range codes of both module generations become statuses. A ``#AA``
reply is read field by field from the left, so every field keeps its channel position
whatever its width (docs/devices.md, "DCON"): 7-character values, the classic 5-character
``+9999``/``-0000`` codes, and 7 spaces for a disabled ADAM-4018+ channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.types import ParsedScan, ParsedValue, bad_frame, fault, ok
from monitor.model import Status

CR = b"\r"
FIELD_WIDTH = 7
MAX_REPLY = 256  # the longest real reply is ~60 bytes; anything longer is noise

BURN_OUT = 888888.0
OVER_LIMIT = 9999.0  # classic +9999.9 and ADAM-4018+ +999999 are both at or above this

BAUD_CODES: dict[str, int] = {
    "03": 1200, "04": 2400, "05": 4800, "06": 9600, "07": 19200, "08": 38400,
    "09": 57600, "0A": 115200,
}

# Thermocouple input type codes → (letter, low °C, high °C). ADAM-4018 spans and ICP DAS
# I-7018/M-7018 spans (the full NIST span of each type): sources in docs/devices.md.
ADAM_TC_TYPES: dict[str, tuple[str, float, float]] = {
    "0E": ("J", 0.0, 760.0), "0F": ("K", 0.0, 1370.0), "10": ("T", -100.0, 400.0),
    "11": ("E", 0.0, 1000.0), "12": ("R", 500.0, 1750.0), "13": ("S", 500.0, 1750.0),
    "14": ("B", 500.0, 1800.0),
}
ICPDAS_TC_TYPES: dict[str, tuple[str, float, float]] = {
    "0E": ("J", -210.0, 760.0), "0F": ("K", -270.0, 1372.0), "10": ("T", -270.0, 400.0),
    "11": ("E", -270.0, 1000.0), "12": ("R", 0.0, 1768.0), "13": ("S", 0.0, 1768.0),
    "14": ("B", 0.0, 1820.0),
}

#: Temperatures each channel role must be able to read (°C). A nerve-side needle never needs
#: much below the freezing alarms; a cryoprobe or ice-ball reference reaches liquid-argon depths.
ROLE_SPAN_C: dict[str, tuple[float, float]] = {
    "nerve": (-40.0, 60.0), "skin": (-40.0, 60.0), "reference": (-40.0, 60.0),
    "other": (-40.0, 60.0), "probe": (-196.0, 60.0),
}

_NUMBER = re.compile(r"[+-](?:\d+(?:\.\d*)?|\.\d+)")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")


# Commands ---------------------------------------------------------------------------------

def checksum(data: bytes) -> bytes:
    """Sum of the bytes mod 256 as two upper-case hex digits."""
    return f"{sum(data) % 256:02X}".encode("ascii")


def command(text: str, *, with_checksum: bool) -> bytes:
    """A complete command frame: text, optional checksum, CR."""
    body = text.encode("ascii")
    return body + (checksum(body) if with_checksum else b"") + CR


def _addr(address: int) -> str:
    if not 0 <= address <= 0xFF:
        raise ValueError(f"DCON address must be 0..255, got {address}")
    return f"{address:02X}"


def read_all(address: int, *, with_checksum: bool = False) -> bytes:
    """``#AA``: read every analog input."""
    return command(f"#{_addr(address)}", with_checksum=with_checksum)


def read_name(address: int, *, with_checksum: bool = False) -> bytes:
    """``$AAM``: the module name."""
    return command(f"${_addr(address)}M", with_checksum=with_checksum)


def read_config(address: int, *, with_checksum: bool = False) -> bytes:
    """``$AA2``: input type, baud rate and data format."""
    return command(f"${_addr(address)}2", with_checksum=with_checksum)


# Reply framing ----------------------------------------------------------------------------

def unframe(reply: bytes, *, with_checksum: bool) -> tuple[str | None, str | None]:
    """Strip the CR and verify the checksum: (body, None) or (None, reason)."""
    if len(reply) > MAX_REPLY:
        return None, f"reply longer than {MAX_REPLY} bytes"
    raw = reply[:-1] if reply.endswith(CR) else reply
    if CR in raw:
        return None, "several frames run together"
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None, f"non-ASCII bytes in reply {raw[:40]!r}"
    if not text.isprintable():
        return None, f"control characters in reply {raw[:40]!r}"
    if with_checksum:
        if len(text) < 3 or not _HEX2.fullmatch(text[-2:]):
            return None, f"reply without checksum {text[:40]!r}"
        body, got = text[:-2], text[-2:].upper()
        want = checksum(body.encode("ascii")).decode("ascii")
        if got != want:
            return None, f"checksum mismatch in {text[:40]!r}: got {got}, expected {want}"
        return body, None
    return text, None


def reply_problem(body: str) -> str | None:
    """Why a (framed, checked) reply is not a data reply, or None when it is one."""
    if body.startswith("?"):
        return f"module {body[1:3] or '??'} rejected the command (reply {body!r})"
    if not body.startswith(">"):
        return f"unexpected reply {body[:40]!r}"
    return None


# Reading replies --------------------------------------------------------------------------

CLASSIC_CODES = ("+9999", "-0000")  # ADAM-4000 engineering-units over / under range
DISABLED = " " * FIELD_WIDTH  # an ADAM-4018+ channel switched off with $AA5VV
_FIELD = re.compile(r"[+-](?:\d{6}|\d+\.\d+)")


def field_value(index: int, text: str) -> ParsedValue:
    """One signed field → a value or a status (burn-out, over/under, bad data)."""
    word = text.strip()
    if word == "-0000":
        return fault(index, Status.UNDER_RANGE)  # classic ADAM-4000 under-range
    if not _NUMBER.fullmatch(word):
        return fault(index, Status.BAD_DATA)
    value = float(word)
    if value == BURN_OUT:
        return fault(index, Status.OPEN)
    if value >= OVER_LIMIT:
        return fault(index, Status.OVER_RANGE)
    if value <= -OVER_LIMIT:
        return fault(index, Status.UNDER_RANGE)
    return ok(index, value)


def split_fields(data: str) -> tuple[list[tuple[int, str]], int] | None:
    """Fields of a ``>`` reply as (channel position, text) plus the number of positions.

    Read from the left: 7 spaces are a disabled channel (a position with no field); a
    5-character ``+9999``/``-0000`` followed by the next field's sign, a blank field or the
    end is a classic range code; anything else must be a 7-character signed number. None
    when any part does not fit, since then no later position can be trusted.
    """
    if not data:
        return None
    fields: list[tuple[int, str]] = []
    pos = index = 0
    while pos < len(data):
        if data.startswith(DISABLED, pos):
            pos += FIELD_WIDTH
        elif data[pos:pos + 5] in CLASSIC_CODES and (
                pos + 5 == len(data) or data[pos + 5] in "+- "):
            fields.append((index, data[pos:pos + 5]))
            pos += 5
        elif len(data) - pos >= FIELD_WIDTH and _FIELD.fullmatch(data[pos:pos + FIELD_WIDTH]):
            fields.append((index, data[pos:pos + FIELD_WIDTH]))
            pos += FIELD_WIDTH
        else:
            return None
        index += 1
    return fields, index


def parse_read_reply(reply: bytes, *, with_checksum: bool = False,
                     positions: int | None = None) -> ParsedScan:
    """Parse the reply to ``#AA``; never raises.

    ``positions`` is the number of channel positions this module's replies have (learned
    from its first good reply): a reply with another count is bad data as a whole.
    """
    body, problem = unframe(reply, with_checksum=with_checksum)
    if body is None:
        return bad_frame(problem or "unreadable reply")
    problem = reply_problem(body)
    if problem is not None:
        return bad_frame(problem)
    split = split_fields(body[1:])
    if split is None:
        return bad_frame(f"reply does not split into channel fields: {body[:72]!r}")
    fields, count = split
    if positions is not None and count != positions:
        return bad_frame(f"reply with {count} channel positions where this module sends "
                         f"{positions}: {body[:72]!r}")
    if not fields:
        return bad_frame(f"every channel disabled in reply {body[:72]!r}")
    values = tuple(field_value(i, text) for i, text in fields)
    return ParsedScan(values, ())


def reply_positions(reply: bytes, *, with_checksum: bool = False) -> int | None:
    """The number of channel positions in a good ``#AA`` reply (None if it is not one)."""
    body, _ = unframe(reply, with_checksum=with_checksum)
    if body is None or reply_problem(body) is not None:
        return None
    split = split_fields(body[1:])
    return None if split is None else split[1]


# Module information -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DconConfig:
    """The ``$AA2`` reply, decoded."""

    address: int
    type_code: str
    baud_code: str
    format_code: int

    @property
    def checksum_enabled(self) -> bool:
        return bool(self.format_code & 0x40)

    @property
    def baudrate(self) -> int | None:
        return BAUD_CODES.get(self.baud_code)

    @property
    def data_format(self) -> str:
        return ("engineering units", "% of FSR", "two's complement hex", "ohms")[
            self.format_code & 0x03]

    @property
    def engineering_units(self) -> bool:
        return self.format_code & 0x03 == 0

    def describe(self) -> str:
        baud = self.baudrate or f"code {self.baud_code}"
        return (f"input type {self.type_code}, {baud} baud, {self.data_format}, "
                f"checksum {'on' if self.checksum_enabled else 'off'}")


def parse_name_reply(reply: bytes, *, with_checksum: bool = False) -> str | None:
    """``!AA<name>`` → the module name, or None if the reply is not one."""
    body, _ = unframe(reply, with_checksum=with_checksum)
    if body is None or not body.startswith("!") or len(body) < 4:
        return None
    if not _HEX2.fullmatch(body[1:3]):
        return None
    return body[3:].strip() or None


def parse_config_reply(reply: bytes, *, with_checksum: bool = False) -> DconConfig | None:
    """``!AATTCCFF`` → :class:`DconConfig`, or None if the reply is not one."""
    body, _ = unframe(reply, with_checksum=with_checksum)
    if body is None or len(body) != 9 or not body.startswith("!"):
        return None
    parts = [body[i:i + 2] for i in (1, 3, 5, 7)]
    if not all(_HEX2.fullmatch(p) for p in parts):
        return None
    address, type_code, baud_code, fmt = (p.upper() for p in parts)
    return DconConfig(int(address, 16), type_code, baud_code, int(fmt, 16))


def input_span_c(config: DconConfig, module_name: str | None) -> tuple[str, float, float] | None:
    """(type letter, low °C, high °C) of the configured input, or None if not a thermocouple."""
    icpdas = module_name is not None and "7018" in module_name and "4018" not in module_name
    table = ICPDAS_TC_TYPES if icpdas else ADAM_TC_TYPES
    return table.get(config.type_code)


def range_warning(config: DconConfig, module_name: str | None, role: str) -> str | None:
    """A warning when the module's input type cannot read what channels of ``role`` need."""
    need = ROLE_SPAN_C.get(role)
    if need is None:
        return None
    span = input_span_c(config, module_name)
    if span is None:
        return (f"input type code {config.type_code} is not a thermocouple range this driver "
                f"knows; check the module reads temperatures for {role} channels")
    letter, low, high = span
    if low > need[0]:
        return (f"type {letter} (code {config.type_code}) on {module_name or 'this module'} "
                f"reads only down to {low:g} °C; {role} channels need {need[0]:g} °C")
    if high < need[1]:
        return (f"type {letter} (code {config.type_code}) reads only up to {high:g} °C; "
                f"{role} channels need {need[1]:g} °C")
    return None


def format_read_reply(values: list[float | Status | None], *, with_checksum: bool = False,
                      ) -> bytes:
    """Encode a ``#AA`` reply (for emulators and tests): None is a blank (disabled) field."""
    parts = []
    for v in values:
        if v is None:
            parts.append(" " * FIELD_WIDTH)
        elif isinstance(v, Status):
            parts.append({Status.OPEN: "+888888", Status.OVER_RANGE: "+999999",
                          Status.UNDER_RANGE: "-999999"}.get(v, "+888888"))
        else:
            parts.append(f"{v:+07.1f}")
    return command(">" + "".join(parts), with_checksum=with_checksum)
