"""The ``line`` protocol: one ASCII scan per line, positional or keyed (DESIGN.md).

:class:`LineParser` is a pure state machine: ``feed(bytes)`` returns the scans completed by
those bytes. It never raises on any input, bounds its buffer (a line over ``max_line`` bytes
is bad data and the parser resynchronises at the next newline), and never turns a token it
cannot read into a temperature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers import thermocouple
from drivers.types import Key, ParsedScan, ParsedValue, bad_frame, fault, ok
from monitor.model import Status

MAX_LINE = 4096

FAULT_TOKENS: dict[str, Status] = {
    "OPEN": Status.OPEN, "OC": Status.OPEN, "NC": Status.OPEN,
    "SHORT": Status.SHORT, "SCG": Status.SHORT, "SCV": Status.SHORT,
    "OVER": Status.OVER_RANGE, "UNDER": Status.UNDER_RANGE, "ERR": Status.BAD_DATA,
}


# Strict decimal: no nan/inf, no underscores or hex that float() would accept.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")
_SEP_SPACES = re.compile(r"\s*([=:])\s*")
_FIELD_SPLIT = re.compile(r"\s*,\s*|\s+")


def parse_token(token: str) -> tuple[float | None, Status]:
    """A value token → (number or None, status); unknown text is BAD_DATA, never a number."""
    word = token.strip()
    status = FAULT_TOKENS.get(word.upper())
    if status is not None:
        return None, status
    if not _NUMBER.fullmatch(word):
        return None, Status.BAD_DATA
    try:
        value = float(word)
    except (ValueError, OverflowError):
        return None, Status.BAD_DATA
    if value != value or value in (float("inf"), float("-inf")):
        return None, Status.BAD_DATA
    return value, Status.OK


@dataclass(frozen=True, slots=True)
class LineSettings:
    """How to read values: °C directly, or thermocouple mV with a cold-junction source."""

    units: str = "C"
    tc_type: str | None = None
    cjc_c: float | None = None
    cjc_channel: Key | None = None

    def validated(self) -> LineSettings:
        unit = self.units.strip()
        if unit.upper() in ("C", "°C", "DEGC"):
            return LineSettings("C", self.tc_type, self.cjc_c, self.cjc_channel)
        if unit.lower() != "mv":
            raise ValueError(f"units must be 'C' or 'mV', got {self.units!r}")
        if self.tc_type is None:
            raise ValueError("units = 'mV' needs tc_type (the thermocouple type, e.g. 'T')")
        tc_type = thermocouple.check_type(self.tc_type)
        if self.cjc_c is None and self.cjc_channel is None:
            raise ValueError("units = 'mV' needs a cold junction: cjc_c or cjc_channel")
        return LineSettings("mV", tc_type, self.cjc_c, self.cjc_channel)


class LineParser:
    """Bytes in, :class:`ParsedScan` out; counts every malformed line and token."""

    def __init__(self, settings: LineSettings | None = None, *, max_line: int = MAX_LINE) -> None:
        self.settings = (settings or LineSettings()).validated()
        self.max_line = max_line
        self._buf = bytearray()
        self._overlong = False
        self.lines = 0
        self.bad_lines = 0
        self.bad_tokens = 0

    def feed(self, data: bytes) -> list[ParsedScan]:
        """Consume ``data``; return the scans of every line it completes."""
        scans: list[ParsedScan] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._append(data[start:])
                return scans
            self._append(data[start:end])
            scan = self._complete()
            if scan is not None:
                scans.append(scan)
            start = end + 1

    def _append(self, chunk: bytes) -> None:
        if self._overlong or not chunk:
            return
        if len(self._buf) + len(chunk) > self.max_line:
            self._overlong = True
            self._buf.clear()
        else:
            self._buf += chunk

    def _complete(self) -> ParsedScan | None:
        if self._overlong:
            self._overlong = False
            self.lines += 1
            self.bad_lines += 1
            return bad_frame(f"line longer than {self.max_line} bytes discarded")
        raw = bytes(self._buf)
        self._buf.clear()
        scan = self.parse_line(raw)
        if scan is not None:
            self.lines += 1
            if scan.is_bad:
                self.bad_lines += 1
            else:
                self.bad_tokens += sum(v.status is Status.BAD_DATA for v in scan.values)
        return scan

    def parse_line(self, raw: bytes) -> ParsedScan | None:
        """One line without its newline; ``None`` for blank lines and comments."""
        text = raw.decode("ascii", errors="replace").strip()
        if not text or text.startswith("#"):
            return None
        body = _SEP_SPACES.sub(r"\1", text).rstrip(", \t")
        tokens = _FIELD_SPLIT.split(body) if body else []
        if any("=" in t or ":" in t for t in tokens):
            values, notes, readable = _keyed(tokens)
        else:
            values, notes, readable = _positional(tokens)
        if readable == 0:
            # Nothing in the line was a value or a fault token: line noise, not a scan. It
            # must not invent BAD_DATA channels (or learn new ones) from garbage.
            return bad_frame(f"unreadable line {_excerpt(text)}")
        if self.settings.units == "mV":
            values, more = self._convert(values)
            notes += more
        return ParsedScan(tuple(values), tuple(notes))

    def _convert(self, values: list[ParsedValue]) -> tuple[list[ParsedValue], list[str]]:
        s = self.settings
        assert s.tc_type is not None
        cjc_c = s.cjc_c
        notes: list[str] = []
        cj_key = s.cjc_channel
        if cj_key is not None:
            cj = next((v for v in values if str(v.key) == str(cj_key)), None)
            if cj is None or cj.status is not Status.OK or cj.temp_c is None:
                state = "missing" if cj is None else cj.status.name
                notes.append(f"cold-junction channel {cj_key} is {state}: mV values unusable")
                cjc_c = None
            else:
                cjc_c = cj.temp_c
        out: list[ParsedValue] = []
        for v in values:
            if cj_key is not None and str(v.key) == str(cj_key):
                out.append(v)  # the cold junction itself is already in °C
            elif v.status is not Status.OK or v.temp_c is None:
                out.append(v)
            elif cjc_c is None:
                out.append(fault(v.key, Status.BAD_DATA))
            else:
                temp, status = thermocouple.mv_to_celsius(s.tc_type, v.temp_c, cjc_c)
                out.append(ParsedValue(v.key, temp, status))
        return out, notes


def _value(key: Key, token: str) -> ParsedValue:
    number, status = parse_token(token)
    if status is Status.OK and number is not None:
        return ok(key, number)  # the engine judges the range (below absolute zero: out of range)
    return fault(key, status)


def _positional(tokens: list[str]) -> tuple[list[ParsedValue], list[str], int]:
    values = [_value(i, tok) for i, tok in enumerate(tokens)]
    notes = [f"bad value {_excerpt(tok)} at position {i}"
             for i, (tok, v) in enumerate(zip(tokens, values, strict=True))
             if v.status is Status.BAD_DATA and tok.upper() != "ERR"]
    return values, notes, len(values) - len(notes)


def _keyed(tokens: list[str]) -> tuple[list[ParsedValue], list[str], int]:
    values: list[ParsedValue] = []
    notes: list[str] = []
    seen: set[str] = set()
    readable = 0
    for tok in tokens:
        cut = min((i for i in (tok.find("="), tok.find(":")) if i >= 0), default=-1)
        if cut <= 0:
            notes.append(f"token {_excerpt(tok)} has no channel key")
            continue
        key, value = tok[:cut], tok[cut + 1:]
        if not _KEY.fullmatch(key):
            notes.append(f"bad channel key {_excerpt(key)}")
            continue
        if key in seen:
            notes.append(f"channel key {key} repeated in one line; first value kept")
            continue
        seen.add(key)
        parsed = _value(key, value)
        if parsed.status is Status.BAD_DATA and value.upper() != "ERR":
            notes.append(f"bad value {_excerpt(value)} for {key}")
        else:
            readable += 1
        values.append(parsed)
    return values, notes, readable


def _excerpt(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
