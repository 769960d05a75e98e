"""CSV files as engine input: CryoGuard's own layouts fast, other loggers' files carefully.

CryoGuard's own layouts, long (``t,channel,temp_c[,status][,time,label,role]``, what ``export``
writes) and wide (``t,A,B,...``), are parsed column-wise: hundreds of thousands of rows in a
fraction of a second. Any irregularity sends the file through a careful row-by-row path that
keeps every good row, reports each bad one with its line number, and counts it as bad data on
its channel. Anything else (a preamble, another separator, a clock or calendar time column,
unit suffixes) is read by :mod:`monitor.replay.loggers`. The reader never raises on content:
what cannot be used is described in :attr:`CsvData.errors` and :attr:`CsvData.fatal`.
Formats and reasons: docs/replay.md.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from monitor.engine.block import F64, I8, I32
from monitor.model import Role, Status
from monitor.sessions.schema import ChannelInfo, parse_iso

LONG_COLUMNS = ("t", "channel", "temp_c")
_STATUS_NAMES = {s.name: int(s) for s in Status}
_STATUS_NAMES.update({"": int(Status.OK), "OVER": int(Status.OVER_RANGE),
                      "UNDER": int(Status.UNDER_RANGE), "BAD": int(Status.BAD_DATA),
                      "OC": int(Status.OPEN), "NC": int(Status.OPEN),
                      "SCG": int(Status.SHORT), "SCV": int(Status.SHORT),
                      "ERR": int(Status.BAD_DATA)})
FAULT_TOKENS = {k: v for k, v in _STATUS_NAMES.items() if k and v != int(Status.OK)}
MAX_ERRORS_KEPT = 1000
MAX_ABS_T = 1e10  # seconds: Unix times fit (year 2286); 1e300 is not a time
INTERVAL_SAMPLE = 20_000  # readings used to find a file's sampling interval


@dataclass
class CsvData:
    """Columns in file order, plus what could not be used."""

    layout: str  # "long", "wide", "logger" or "none"
    channels: list[str]
    t: F64
    channel: I32  # index into ``channels``
    temp_c: F64  # NaN where status is not OK
    status: I8
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)
    bad_rows: int = 0
    fatal: str | None = None  # set when nothing in the file can be used
    channel_info: list[ChannelInfo] = field(default_factory=list)  # label/role when given
    wall_start: datetime | None = None  # wall time of t = 0, when the file says
    interval_s: float | None = None  # the file's own sampling interval
    notes: list[str] = field(default_factory=list)  # how the file was read

    def __len__(self) -> int:
        return int(self.t.shape[0])


def read_csv(path: str | Path) -> CsvData:
    """Read a CSV file from disk; unreadable files give ``fatal`` rather than an exception."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return empty(f"cannot read {path}: {exc.strerror or exc}")
    return parse_csv(decode(raw))


def decode(raw: bytes) -> str:
    """UTF-8 (with or without a BOM); files that are not UTF-8 are read as Windows-1252, the
    code page of most loggers' PC software (``°`` is byte 0xB0 there)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def parse_csv(text: str) -> CsvData:
    """Parse ``text``; the result's ``interval_s`` is set for every layout."""
    data = _parse(text.lstrip("\ufeff").replace("\x00", ""))
    if data.fatal is None and data.interval_s is None:
        data.interval_s = sampling_interval(data.t, data.channel)
    if data.fatal is None and not bool((data.status != Status.BAD_DATA).any()):
        first = f": line {data.errors[0][0]}: {data.errors[0][1]}" if data.errors else \
            ": the file has a header and no data rows"
        return empty(f"nothing to replay{first}", data.errors, data.bad_rows)
    return data


def _parse(text: str) -> CsvData:
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines)
                      if line.strip() and not line.lstrip().startswith("#")), None)
    if header_at is None:
        return empty("the file has no header row and no data")
    cells = next(csv.reader([lines[header_at]]), [])
    header = [c.strip().lower() for c in cells]
    names = [c.strip() for c in cells]
    if header[:3] == list(LONG_COLUMNS):
        return _long(lines, header_at + 1, header)
    if (header and header[0] == "t" and len(header) >= 2 and all(header[1:])
            and _plain_names(names[1:])):
        return _wide(lines, header_at + 1, names[1:])
    from monitor.replay.loggers import parse_logger_csv

    return parse_logger_csv(lines)


def _plain_names(names: list[str]) -> bool:
    """Channel names CryoGuard would write: no unit suffix, no duplicates (else: loggers)."""
    return len(set(names)) == len(names) and not any(
        ch in name for name in names for ch in "([°")


def _long(lines: list[str], start: int, header: list[str]) -> CsvData:
    """``t,channel,temp_c[,status]`` and the named extra columns of an export."""
    named = ("status", "time", "label", "role")
    at: dict[str, int] = {name: header.index(name) for name in named if name in header}
    data = _fast_long(lines, start, len(header), at.get("status"))
    if data is None:
        data = _careful(lines, start, "long", len(header), [], at.get("status"))
    if "label" in at or "role" in at:
        data.channel_info = _channel_map(lines, start, data.channels, at)
    if "time" in at:
        data.wall_start = _wall_start(lines, start, at["time"])
    return data


def _wide(lines: list[str], start: int, names: list[str]) -> CsvData:
    data = _fast_wide(lines, start, names)
    return data if data is not None else _careful(lines, start, "wide", len(names) + 1,
                                                  names, None)


def _channel_map(lines: list[str], start: int, channels: list[str], at: dict[str, int]
                 ) -> list[ChannelInfo]:
    """The first label and role given for each channel (an export repeats them per row)."""
    found: dict[str, tuple[str, Role | None]] = {}
    for row in csv.reader(io.StringIO("\n".join(lines[start:]))):
        if len(row) <= max(at.values()) or len(row) < 2:
            continue
        name = row[1].strip()
        if not name or name in found:
            continue
        label = row[at["label"]].strip() if "label" in at else ""
        role_text = row[at["role"]].strip().lower() if "role" in at else ""
        role = Role(role_text) if role_text in Role.__members__.values() else None
        found[name] = (label, role)
        if len(found) == len(channels):
            break
    return [ChannelInfo(id=name, label=found[name][0], role=found[name][1],
                        configured=found[name][1] is not None)
            for name in channels if name in found]


def _wall_start(lines: list[str], start: int, at: int) -> datetime | None:
    """Wall time of t = 0 from an export's first row that has both ``t`` and ``time``."""
    for row in csv.reader(io.StringIO("\n".join(lines[start:start + 50]))):
        if len(row) <= at or not row[at].strip():
            continue
        try:
            t = float(row[0])
            moment = parse_iso(row[at].strip())
        except ValueError:
            continue
        if moment.tzinfo is None or not math.isfinite(t) or abs(t) > 1e8:
            continue
        from datetime import timedelta

        return moment - timedelta(seconds=t)
    return None


def sampling_interval(t: F64, channel: I32) -> float | None:
    """The median time between one channel's consecutive distinct sample times (from the
    first :data:`INTERVAL_SAMPLE` readings: a statistic, and the fast path stays fast)."""
    t, channel = t[:INTERVAL_SAMPLE], channel[:INTERVAL_SAMPLE]
    if t.shape[0] < 2:
        return None
    order = np.lexsort((t, channel))
    tt, cc = t[order], channel[order]
    step = np.diff(tt)
    same = cc[1:] == cc[:-1]
    gaps = step[same & (step > 0)]
    return float(np.median(gaps)) if gaps.size else None


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


def _times_ok(t: F64) -> bool:
    """Finite, not absurd, never going backwards: else the careful path names the rows."""
    return bool(np.isfinite(t).all() and (np.abs(t) <= MAX_ABS_T).all()
                and (t.shape[0] < 2 or (np.diff(t) >= 0).all()))


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
    if not _times_ok(t) or not np.isfinite(temp[ok]).all():
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
    if not np.isfinite(grid).all() or not _times_ok(grid[:, 0]):
        return None
    rows = grid.shape[0]
    t = np.repeat(grid[:, 0], len(names))
    codes = np.tile(np.arange(len(names), dtype=np.int32), rows)
    temp = grid[:, 1:].reshape(-1).copy()
    return CsvData("wide", list(names), t, codes, temp, np.zeros(temp.shape[0], np.int8))


# Careful path ----------------------------------------------------------------------------


class Builder:
    """Readings collected row by row; bad rows reported and counted on their channels."""

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
        if self.last_t is not None and when < self.last_t:
            when = self.last_t  # never a reading back in time
        for ch in channels:
            self.add(when, ch, math.nan, int(Status.BAD_DATA))

    def time(self, line_no: int, cell: str, channels: list[int]) -> float | None:
        """The row's time, or ``None`` after reporting why it cannot be used."""
        t = parse_seconds(cell)
        if t is None:
            self.bad(line_no, f"t is not a finite number of seconds: {cell!r}", channels, None)
            return None
        return self.in_order(line_no, t, cell, channels)

    def in_order(self, line_no: int, t: float, cell: str, channels: list[int]) -> float | None:
        if self.last_t is not None and t < self.last_t:
            self.bad(line_no, f"time goes backwards: {cell!r} after {self.last_t:g} s",
                     channels, None)
            return None
        return t

    def result(self) -> CsvData:
        data = _columns(self.layout, list(self.index), self.t, self.ch, self.v, self.st)
        data.errors, data.bad_rows = self.errors, self.bad_rows
        return data


def parse_seconds(cell: str) -> float | None:
    """A time in seconds: finite and not absurd (|t| ≤ 1e10 s)."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) <= MAX_ABS_T else None


def parse_value(cell: str) -> tuple[float, int] | None:
    """A temperature cell: a finite number, or a fault token; ``None`` when malformed."""
    token = cell.strip().upper()
    if token in FAULT_TOKENS:
        return math.nan, FAULT_TOKENS[token]
    try:
        value = float(token)
    except ValueError:
        return None
    return (value, int(Status.OK)) if math.isfinite(value) else None


def _careful(lines: list[str], start: int, layout: str, width: int,
             names: list[str], status_at: int | None) -> CsvData:
    out = Builder(layout, names if layout == "wide" else [])
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


def _careful_long(out: Builder, line_no: int, cells: list[str], width: int,
                  status_at: int | None) -> None:
    named = [out.channel(cells[1])] if len(cells) > 1 and cells[1] else []
    if len(cells) != width:
        out.bad(line_no, f"expected {width} fields, got {len(cells)}", named,
                parse_seconds(cells[0]))
        return
    t = out.time(line_no, cells[0], named)
    if t is None:
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
        parsed = parse_value(cells[2])
        if parsed is None or (parsed[1] == Status.OK and not cells[2]):
            out.bad(line_no, f"temp_c is not a temperature: {cells[2]!r}", named, t)
            return
        value, status = parsed
    else:
        value = math.nan
    out.add(t, named[0], value, status)
    out.last_t = t


def _careful_wide(out: Builder, line_no: int, cells: list[str], names: list[str]) -> None:
    every = list(range(len(names)))
    t = out.time(line_no, cells[0], every)
    if t is None:
        return
    if len(cells) != len(names) + 1:
        out.bad(line_no, f"expected {len(names) + 1} fields, got {len(cells)}", every, t)
        return
    for i, cell in enumerate(cells[1:]):
        parsed = parse_value(cell) if cell else None
        if parsed is None:
            out.bad(line_no, f"column {names[i]!r}: not a temperature: {cell!r}", [i], t)
            continue
        out.add(t, i, parsed[0], parsed[1])
    out.last_t = t


def _columns(layout: str, channels: list[str], t: list[float] | F64, ch: list[int] | I32,
             v: list[float] | F64, st: list[int] | I8) -> CsvData:
    return CsvData(layout, channels, np.asarray(t, np.float64), np.asarray(ch, np.int32),
                   np.asarray(v, np.float64), np.asarray(st, np.int8))


def empty(reason: str, errors: list[tuple[int, str]] | None = None, bad_rows: int = 0
          ) -> CsvData:
    """A file nothing can be replayed from; ``reason`` is the one line the user reads."""
    data = _columns("none", [], [], [], [], [])
    data.fatal = reason
    data.errors = errors if errors is not None else [(1, reason)]
    data.bad_rows = bad_rows
    return data
