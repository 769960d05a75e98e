"""CSV recordings as engine input: long (``t,channel,temp_c[,status]``) or wide (``t,A,B,...``).

A clean file is parsed column-wise (hundreds of thousands of rows in a fraction of a second);
any irregularity sends the file through a careful row-by-row path that keeps every good row,
reports each bad one with its line number, and counts it as bad data on its channel. The reader
never raises on content: what cannot be used is described in :attr:`CsvData.errors`.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.engine.block import F64, I8, I32
from monitor.model import Status

LONG_COLUMNS = ("t", "channel", "temp_c")
_STATUS_NAMES = {s.name: int(s) for s in Status}
_STATUS_NAMES.update({"": int(Status.OK), "OVER": int(Status.OVER_RANGE),
                      "UNDER": int(Status.UNDER_RANGE), "BAD": int(Status.BAD_DATA),
                      "OC": int(Status.OPEN), "NC": int(Status.OPEN),
                      "SCG": int(Status.SHORT), "SCV": int(Status.SHORT),
                      "ERR": int(Status.BAD_DATA)})
_FAULT_TOKENS = {k: v for k, v in _STATUS_NAMES.items() if k and v != int(Status.OK)}
MAX_ERRORS_KEPT = 1000


@dataclass
class CsvData:
    """Columns in file order, plus what could not be used."""

    layout: str  # "long", "wide" or "none"
    channels: list[str]
    t: F64
    channel: I32  # index into ``channels``
    temp_c: F64  # NaN where status is not OK
    status: I8
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)
    bad_rows: int = 0
    fatal: str | None = None  # set when nothing in the file can be used

    def __len__(self) -> int:
        return int(self.t.shape[0])


def read_csv(path: str | Path) -> CsvData:
    """Read a CSV file from disk; unreadable files give ``fatal`` rather than an exception."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return _empty(f"cannot read {path}: {exc.strerror or exc}")
    return parse_csv(raw.decode("utf-8", errors="replace"))


def parse_csv(text: str) -> CsvData:
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines)
                      if line.strip() and not line.lstrip().startswith("#")), None)
    if header_at is None:
        return _empty("the file has no header row and no data")
    header = [c.strip().lower() for c in next(csv.reader([lines[header_at]]))]
    if header[:3] == list(LONG_COLUMNS):
        layout = "long"  # extra named columns (an export's wall "time") are ignored
    elif header and header[0] == "t" and len(header) >= 2 and all(header[1:]):
        layout = "wide"
    else:
        return _empty(f"line {header_at + 1}: header must be 't,channel,temp_c[,status]' "
                      f"(long) or 't,<channel>,<channel>,...' (wide), got {lines[header_at]!r}")
    body_start = header_at + 1
    names = [c.strip() for c in next(csv.reader([lines[header_at]]))]
    status_at = header.index("status") if "status" in header else None
    fast = (_fast_long(lines, body_start, len(header), status_at) if layout == "long"
            else _fast_wide(lines, body_start, names[1:]))
    if fast is not None:
        return fast
    return _careful(lines, body_start, layout, len(header), names[1:], status_at)


# Fast paths ------------------------------------------------------------------------------


def _body_text(lines: list[str], start: int) -> list[str] | None:
    body = lines[start:]
    joined = "\n".join(body)
    if '"' in joined or "\n\n" in joined or "\n#" in joined or (body and (
            not body[0] or body[0].startswith("#") or not body[-1])):
        return None
    return body


def _codes(cells: list[str], table: dict[str, int]) -> I32:
    """Integer codes of string cells in order of first appearance (C-speed mapping)."""
    for name in dict.fromkeys(cells):
        table.setdefault(name, len(table))
    return np.fromiter(map(table.__getitem__, cells), np.int32, len(cells))


def _fast_long(lines: list[str], start: int, width: int, status_at: int | None
               ) -> CsvData | None:
    body = _body_text(lines, start)
    if body is None:
        return None
    if not body:
        return _columns("long", [], [], [], [], [])
    parts = ",".join(body).split(",")
    if len(parts) != len(body) * width:
        return None
    try:
        t = np.array(parts[0::width], np.float64)
    except ValueError:
        return None
    names = parts[1::width]
    if any(n != n.strip() or not n for n in dict.fromkeys(names)):
        return None  # spaces or empty ids: the careful path names the rows
    temps = parts[2::width]
    if "" in temps:
        temps = [p or "nan" for p in temps]
    try:
        temp = np.array(temps, np.float64)
        if status_at is not None:
            cells = parts[status_at::width]
            lookup = {c: _STATUS_NAMES[c.strip().upper()] for c in dict.fromkeys(cells)}
            status = np.fromiter(map(lookup.__getitem__, cells), np.int8, len(cells))
        else:
            status = np.zeros(len(body), np.int8)
    except (ValueError, KeyError):
        return None
    ok = status == Status.OK
    if not np.isfinite(t).all() or not np.isfinite(temp[ok]).all():
        return None
    channels: dict[str, int] = {}
    codes = _codes(names, channels)
    temp[~ok] = np.nan
    return CsvData("long", list(channels), t, codes, temp, status)


def _fast_wide(lines: list[str], start: int, names: list[str]) -> CsvData | None:
    body = _body_text(lines, start)
    if body is None:
        return None
    width = len(names) + 1
    if not body:
        return _columns("wide", names, [], [], [], [])
    parts = ",".join(body).split(",")
    if len(parts) != len(body) * width:
        return None
    try:
        grid = np.array(parts, np.float64).reshape(len(body), width)
    except ValueError:
        return None
    if not np.isfinite(grid).all():
        return None
    rows = grid.shape[0]
    t = np.repeat(grid[:, 0], len(names))
    codes = np.tile(np.arange(len(names), dtype=np.int32), rows)
    temp = grid[:, 1:].reshape(-1).copy()
    return CsvData("wide", list(names), t, codes, temp, np.zeros(temp.shape[0], np.int8))


# Careful path ----------------------------------------------------------------------------


class _Builder:
    def __init__(self, layout: str, channels: list[str]) -> None:
        self.layout = layout
        self.index = {name: i for i, name in enumerate(channels)}
        self.t: list[float] = []
        self.ch: list[int] = []
        self.v: list[float] = []
        self.st: list[int] = []
        self.errors: list[tuple[int, str]] = []
        self.bad_rows = 0
        self.last_t: float | None = None

    def channel(self, name: str) -> int:
        return self.index.setdefault(name, len(self.index))

    def add(self, t: float, ch: int, value: float, status: int) -> None:
        self.t.append(t)
        self.ch.append(ch)
        self.v.append(value if status == Status.OK else math.nan)
        self.st.append(status)

    def bad(self, line_no: int, message: str, channels: list[int], t: float | None) -> None:
        """A malformed row: reported, and counted as bad data on the channels it names."""
        self.bad_rows += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append((line_no, message))
        when = t if t is not None else self.last_t
        if when is None:
            return
        for ch in channels:
            self.add(when, ch, math.nan, int(Status.BAD_DATA))

    def result(self) -> CsvData:
        data = _columns(self.layout, list(self.index), self.t, self.ch, self.v, self.st)
        data.errors, data.bad_rows = self.errors, self.bad_rows
        return data


def _parse_time(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parse_value(cell: str) -> tuple[float, int] | None:
    """A temperature cell: a finite number, or a fault token; ``None`` when malformed."""
    token = cell.strip().upper()
    if token in _FAULT_TOKENS:
        return math.nan, _FAULT_TOKENS[token]
    try:
        value = float(token)
    except ValueError:
        return None
    return (value, int(Status.OK)) if math.isfinite(value) else None


def _careful(lines: list[str], start: int, layout: str, width: int,
             names: list[str], status_at: int | None) -> CsvData:
    out = _Builder(layout, names if layout == "wide" else [])
    reader = csv.reader(io.StringIO("\n".join(lines[start:])))
    for offset, row in enumerate(reader):
        line_no = start + 1 + offset
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if layout == "long":
            _careful_long(out, line_no, cells, width, status_at)
        else:
            _careful_wide(out, line_no, cells, names)
    return out.result()


def _careful_long(out: _Builder, line_no: int, cells: list[str], width: int,
                  status_at: int | None) -> None:
    named = [out.channel(cells[1])] if len(cells) > 1 and cells[1] else []
    if len(cells) != width:
        out.bad(line_no, f"expected {width} fields, got {len(cells)}", named,
                _parse_time(cells[0]))
        return
    t = _parse_time(cells[0])
    if t is None:
        out.bad(line_no, f"t is not a finite number of seconds: {cells[0]!r}", named, None)
        return
    if not named:
        out.bad(line_no, "channel is empty", [], t)
        return
    status_text = cells[status_at].upper() if status_at is not None else ""
    status = _STATUS_NAMES.get(status_text)
    if status is None:
        out.bad(line_no, f"unknown status {status_text!r}", named, t)
        return
    if status == Status.OK:
        parsed = _parse_value(cells[2])
        if parsed is None or (parsed[1] == Status.OK and not cells[2]):
            out.bad(line_no, f"temp_c is not a temperature: {cells[2]!r}", named, t)
            return
        value, status = parsed
    else:
        value = math.nan
    out.add(t, named[0], value, status)
    out.last_t = t


def _careful_wide(out: _Builder, line_no: int, cells: list[str], names: list[str]) -> None:
    every = list(range(len(names)))
    t = _parse_time(cells[0])
    if t is None:
        out.bad(line_no, f"t is not a finite number of seconds: {cells[0]!r}", every, None)
        return
    if len(cells) != len(names) + 1:
        out.bad(line_no, f"expected {len(names) + 1} fields, got {len(cells)}", every, t)
        return
    for i, cell in enumerate(cells[1:]):
        parsed = _parse_value(cell) if cell else None
        if parsed is None:
            out.bad(line_no, f"column {names[i]!r}: not a temperature: {cell!r}", [i], t)
            continue
        out.add(t, i, parsed[0], parsed[1])
    out.last_t = t


def _columns(layout: str, channels: list[str], t: list[float] | F64, ch: list[int] | I32,
             v: list[float] | F64, st: list[int] | I8) -> CsvData:
    return CsvData(layout, channels, np.asarray(t, np.float64), np.asarray(ch, np.int32),
                   np.asarray(v, np.float64), np.asarray(st, np.int8))


def _empty(reason: str) -> CsvData:
    data = _columns("none", [], [], [], [], [])
    data.fatal = reason
    data.errors = [(1, reason)]
    return data
