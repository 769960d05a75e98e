"""The ``line`` protocol: one ASCII scan per line, positional or keyed (docs/devices.md).

:class:`LineParser` is a pure state machine: ``feed(bytes)`` returns the scans completed by
those bytes. It never raises on any input, bounds its buffer (a line over ``max_line`` bytes
is bad data and the parser resynchronises at the next newline), and never turns a token it
cannot read into a temperature.

A line is a scan only if all of it follows the grammar: a byte outside printable ASCII, a
token that is neither a number nor a fault word, a mixed positional/keyed line, or a failed
checksum makes the whole line bad data, because once one field is garbage the positions of
the others cannot be trusted. The scan's shape (how many positional fields, or which keys) is
configured or learned from the first consistent lines and then fixed: a line of another
shape is bad data as a whole and never creates channels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from drivers import thermocouple
from drivers.types import Key, ParsedScan, ParsedValue, bad_frame, fault, ok
from monitor.model import Status
from monitor.text import printable

MAX_LINE = 4096
MAX_TOKEN = 24  # the longest number or key=value a device sends is far shorter
LEARN_LINES = 3  # consecutive good lines of one shape that fix a device's scan shape
UNSETTLED_AFTER = 10  # good lines without a settled shape before it is reported

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
_CHECKSUM = re.compile(r"(.*)\*([0-9A-Fa-f]{2})")
_ALLOWED = bytes([0x09, *range(0x20, 0x7F)])  # printable ASCII and TAB


def parse_token(token: str) -> tuple[float | None, Status]:
    """A value token → (number or None, status); unknown text is BAD_DATA, never a number."""
    word = token.strip()
    status = FAULT_TOKENS.get(word.upper())
    if status is not None:
        return None, status
    if len(word) > MAX_TOKEN or not _NUMBER.fullmatch(word):
        return None, Status.BAD_DATA
    try:
        value = float(word)
    except (ValueError, OverflowError):
        return None, Status.BAD_DATA
    if value != value or value in (float("inf"), float("-inf")):
        return None, Status.BAD_DATA
    return value, Status.OK


def line_checksum(body: bytes) -> str:
    """The optional line checksum: XOR of every byte before ``*``, two hex digits (NMEA 0183)."""
    acc = 0
    for b in body:
        acc ^= b
    return f"{acc:02X}"


@dataclass(frozen=True, slots=True)
class LineSettings:
    """How to read values: °C directly, or thermocouple mV with a cold-junction source.

    ``tc_types`` gives a channel's own thermocouple type (by scan key), overriding
    ``tc_type`` for that channel; ``scan_width`` fixes the number of positional fields
    instead of learning it; ``checksum`` requires a ``*HH`` suffix on every line.
    """

    units: str = "C"
    tc_type: str | None = None
    cjc_c: float | None = None
    cjc_channel: Key | None = None
    tc_types: Mapping[Key, str] = field(default_factory=lambda: MappingProxyType({}))
    scan_width: int | None = None
    checksum: bool = False

    def validated(self) -> LineSettings:
        types = MappingProxyType({k: thermocouple.check_type(v) for k, v in self.tc_types.items()})
        if self.scan_width is not None and not 1 <= self.scan_width <= 256:
            raise ValueError(f"scan_width must be 1..256 fields, got {self.scan_width}")
        unit = self.units.strip()
        if unit.upper() in ("C", "°C", "DEGC"):
            return LineSettings("C", self.tc_type, self.cjc_c, self.cjc_channel, types,
                                self.scan_width, self.checksum)
        if unit.lower() != "mv":
            raise ValueError(f"units must be 'C' or 'mV', got {self.units!r}")
        if self.tc_type is None:
            raise ValueError("units = 'mV' needs tc_type (the thermocouple type, e.g. 'T')")
        tc_type = thermocouple.check_type(self.tc_type)
        if self.cjc_c is None and self.cjc_channel is None:
            raise ValueError("units = 'mV' needs a cold junction: cjc_c or cjc_channel")
        return LineSettings("mV", tc_type, self.cjc_c, self.cjc_channel, types,
                            self.scan_width, self.checksum)

    def type_of(self, key: Key) -> str | None:
        """The thermocouple type that converts the channel at ``key``."""
        found = self.tc_types.get(key)
        if found is None:
            alt: Key | None = str(key) if isinstance(key, int) else (
                int(key) if key.isdigit() else None)
            found = self.tc_types.get(alt) if alt is not None else None
        return found or self.tc_type


@dataclass(frozen=True, slots=True)
class Shape:
    """A scan's shape: ``width`` positional fields, or (``keys`` not empty) a keyed line."""

    width: int = 0
    keys: frozenset[str] = frozenset()

    @property
    def keyed(self) -> bool:
        return bool(self.keys)


def describe_shape(shape: Shape) -> str:
    if shape.keyed:
        return "keys " + ", ".join(sorted(shape.keys))
    return f"{shape.width} positional field{'s' if shape.width != 1 else ''}"


class LineParser:
    """Bytes in, :class:`ParsedScan` out; counts every malformed line.

    ``learn_lines`` consecutive well-formed lines of one shape fix the scan shape (unless
    ``settings.scan_width`` fixes it from the start); the lines before that yield nothing,
    the line that completes it is the first scan. The shape survives :meth:`resync`.
    """

    def __init__(self, settings: LineSettings | None = None, *, max_line: int = MAX_LINE,
                 learn_lines: int = 1) -> None:
        self.settings = (settings or LineSettings()).validated()
        self.max_line = max_line
        self.learn_lines = max(1, learn_lines)
        self._buf = bytearray()
        self._overlong = False
        self.lines = 0
        self.bad_lines = 0
        self.shape: Shape | None = (
            Shape(self.settings.scan_width) if self.settings.scan_width else None)
        self.learned_from = 0 if self.shape is not None else None
        self._candidate: Shape | None = None
        self._run = 0
        self._unsettled = 0
        self._skip = False

    def resync(self) -> None:
        """A new connection may start mid-line: skip to the next newline; keep the shape."""
        self._buf.clear()
        self._overlong = False
        self._skip = True

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
        if self._skip or self._overlong or not chunk:
            return
        if len(self._buf) + len(chunk) > self.max_line:
            self._overlong = True
            self._buf.clear()
        else:
            self._buf += chunk

    def _complete(self) -> ParsedScan | None:
        if self._skip:  # the cut line before a resync: not a scan, not bad data
            self._skip = False
            self._overlong = False
            self._buf.clear()
            return None
        if self._overlong:
            self._overlong = False
            self._buf.clear()
            self.lines += 1
            self.bad_lines += 1
            self._run, self._candidate = 0, None
            return bad_frame(f"line longer than {self.max_line} bytes discarded")
        raw = bytes(self._buf)
        self._buf.clear()
        scan = self._gate(self.parse_line(raw))
        if scan is not None:
            self.lines += 1
            if scan.is_bad:
                self.bad_lines += 1
        return scan

    # One line ---------------------------------------------------------------------------

    def parse_line(self, raw: bytes) -> tuple[ParsedScan, Shape | None] | None:
        """One line without its newline → (scan, its shape), or None for blanks/comments.

        A bad line comes back as a bad frame with shape None. Pure: no learning here.
        """
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        strays = raw.translate(None, _ALLOWED)
        if strays:
            return bad_frame(f"byte 0x{strays[0]:02X} outside the line grammar in "
                             f"{_excerpt(raw.decode('latin-1'))}"), None
        text = raw.decode("ascii").strip()
        if not text or text.startswith("#"):
            return None
        if self.settings.checksum:
            m = _CHECKSUM.fullmatch(text)
            if m is None:
                return bad_frame(f"line without its *HH checksum: {_excerpt(text)}"), None
            want = line_checksum(m.group(1).encode("ascii"))
            if m.group(2).upper() != want:
                return bad_frame(f"checksum mismatch (got {m.group(2).upper()}, expected "
                                 f"{want}) in {_excerpt(text)}"), None
            text = m.group(1).strip()
        body = _SEP_SPACES.sub(r"\1", text).rstrip(", \t")
        tokens = _FIELD_SPLIT.split(body) if body else []
        if not tokens:
            return bad_frame(f"no fields in line {_excerpt(text)}"), None
        if any(len(t) > MAX_TOKEN for t in tokens):
            return bad_frame(f"field longer than {MAX_TOKEN} characters in "
                             f"{_excerpt(text)}"), None
        if any("=" in t or ":" in t for t in tokens):
            result = self._keyed(tokens)
        else:
            result = self._positional(tokens)
        if isinstance(result, str):
            return bad_frame(f"{result} in line {_excerpt(text)}"), None
        values, shape = result
        notes: list[str] = []
        if self.settings.units == "mV":
            values, notes = self._convert(values)
        return ParsedScan(tuple(values), tuple(notes)), shape

    def _value(self, key: Key, token: str) -> ParsedValue | None:
        """None when the token is not a value at all (the line is then bad as a whole)."""
        number, status = parse_token(token)
        if status is Status.BAD_DATA and token.strip().upper() != "ERR":
            return None
        if status is not Status.OK or number is None:
            return fault(key, status)
        return ok(key, number)  # the engine judges the range (below absolute zero: out of range)

    def _positional(self, tokens: list[str]) -> tuple[list[ParsedValue], Shape] | str:
        values: list[ParsedValue] = []
        for i, tok in enumerate(tokens):
            v = self._value(i, tok)
            if v is None:
                return f"bad value {_excerpt(tok)} at position {i}"
            values.append(v)
        return values, Shape(len(values))

    def _keyed(self, tokens: list[str]) -> tuple[list[ParsedValue], Shape] | str:
        values: list[ParsedValue] = []
        seen: set[str] = set()
        for tok in tokens:
            cut = min((i for i in (tok.find("="), tok.find(":")) if i >= 0), default=-1)
            if cut <= 0:
                return f"token {_excerpt(tok)} without a channel key in a keyed line"
            key, value = tok[:cut], tok[cut + 1:]
            if not _KEY.fullmatch(key):
                return f"bad channel key {_excerpt(key)}"
            if key in seen:
                return f"channel key {key} repeated"
            seen.add(key)
            v = self._value(key, value)
            if v is None:
                return f"bad value {_excerpt(value)} for {key}"
            values.append(v)
        return values, Shape(keys=frozenset(seen))

    def _convert(self, values: list[ParsedValue]) -> tuple[list[ParsedValue], list[str]]:
        s = self.settings
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
            tc_type = s.type_of(v.key)
            if cj_key is not None and str(v.key) == str(cj_key):
                out.append(v)  # the cold junction itself is already in °C
            elif v.status is not Status.OK or v.temp_c is None:
                out.append(v)
            elif cjc_c is None or tc_type is None:
                out.append(fault(v.key, Status.BAD_DATA))
            else:
                temp, status = thermocouple.mv_to_celsius(tc_type, v.temp_c, cjc_c)
                out.append(ParsedValue(v.key, temp, status))
        return out, notes

    # The scan shape ---------------------------------------------------------------------

    def _gate(self, parsed: tuple[ParsedScan, Shape | None] | None) -> ParsedScan | None:
        """Learn the shape from consistent lines, then hold every line to it."""
        if parsed is None:
            return None
        scan, shape = parsed
        if shape is None:  # a bad line breaks a learning run
            self._run = 0
            self._candidate = None
            return scan
        if self.shape is None:
            if shape == self._candidate:
                self._run += 1
            else:
                self._candidate, self._run = shape, 1
            if self._run < self.learn_lines:
                self._unsettled += 1
                if self._unsettled >= UNSETTLED_AFTER:
                    return bad_frame(f"scan shape not settled after {self._unsettled} lines "
                                     f"(last: {describe_shape(shape)})")
                return None
            self.shape = shape
            self.learned_from = self.learn_lines
            return scan
        expected = self.shape
        if not expected.keyed:
            if shape != expected:
                got = "keyed line" if shape.keyed else f"line with {describe_shape(shape)}"
                return bad_frame(f"{got}; this device's scans have {describe_shape(expected)}")
            return scan
        if not shape.keyed:
            return bad_frame(f"line with {describe_shape(shape)}; this device sends "
                             f"{describe_shape(expected)}")
        extra = shape.keys - expected.keys
        if extra:
            return bad_frame(f"unknown key(s) {', '.join(sorted(extra))}; this device sends "
                             f"{describe_shape(expected)}")
        return scan


def _excerpt(text: str, limit: int = 40) -> str:
    """A device's text quoted for an event message: repr-escaped, cut, control-free."""
    return printable(repr(text if len(text) <= limit else text[:limit] + "…"))
