"""Other loggers' CSV exports: a preamble, a header, a time column and temperature columns.

The layout is found rather than assumed: the standard library's :class:`csv.Sniffer` proposes
the dialect from the data at the end of the file (a preamble would mislead it), a separator
that appears the same number of times on every data line wins over a decimal comma, the header
is the last text row before the data (an optional units row under it, like PicoScope's
``(s),(°C)``), and the time column is the one named ``t``/``time``/``timestamp``/``date/time``/
``record time`` or else the first. Each other column is a channel when it holds numbers in a
temperature unit: ``T1 (°C)``, ``Temp [degC]``, ``(°F)`` and ``K`` are converted to °C, a
column without a unit is °C unless the preamble says ``Unit: F``; a column in volts or any
other unit is never read as a temperature. Rows are read one at a time: a row whose width
differs from the header's, an empty or unreadable cell, a time that cannot be read or goes
backwards, is reported with its line number and counted as bad data on its channels; values
are never shifted into another column. What cannot be read gets one line saying what to
change. docs/replay.md lists the formats and the test corpus they come from.
"""

from __future__ import annotations

import contextlib
import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from monitor.engine.block import F64
from monitor.model import Status
from monitor.replay import timecolumn
from monitor.replay.csvsource import FAULT_TOKENS, Builder, CsvData, empty
from monitor.sessions.schema import ChannelInfo

SEPARATORS = "\t;,"  # in order of preference when several are consistent
TIME_NAMES = ("t", "time", "timestamp", "date/time", "date time", "datetime", "date_time",
              "record time", "time1", "elapsed time", "time stamp", "seconds", "elapsed",
              "zeit", "datum/zeit", "uhrzeit", "temps", "heure", "tiempo", "hora", "tempo",
              "ora", "tijd")
DATE_NAMES = ("date",)
SKIP_NAMES = ("no", "no.", "#", "index", "idx", "sample", "record", "record no", "event",
              "events", "comment", "comments", "note", "notes", "remark", "remarks", "time2",
              "status", "flag", "flags")
TEMPERATURE_UNITS = {"°c": "C", "c": "C", "degc": "C", "deg c": "C", "℃": "C", "celsius": "C",
                     "° c": "C", "°f": "F", "f": "F", "degf": "F", "deg f": "F", "℉": "F",
                     "fahrenheit": "F", "° f": "F", "k": "K", "kelvin": "K"}
OTHER_UNITS = {"v", "mv", "µv", "uv", "kv", "a", "ma", "µa", "ua", "%", "%rh", "rh", "pa",
               "kpa", "hpa", "mbar", "bar", "psi", "ω", "ohm", "ohms", "kω", "kohm", "lux", "lx",
               "ppm", "hz", "khz", "w", "mw", "db", "dbm", "g", "n", "nm", "mm", "cm", "m"}
TIME_UNITS = set(timecolumn.SECONDS_PER)
_SUFFIX = re.compile(r"^(?P<name>.*?)\s*[(\[](?P<unit>[^()\[\]]*)[)\]]\s*$")
_PREAMBLE_UNIT = re.compile(r"\bunits?\s*[:=;,]\s*[\"']?\s*(°\s*[CF]|deg\s*[CF]|[CFK])\b",
                            re.IGNORECASE)
_COMMENT = ("#", "//")


@dataclass
class Column:
    index: int
    header: str
    name: str
    unit: str | None  # normalised: "C", "F", "K", a time unit, another unit, or None
    unit_text: str = ""  # as the file writes it, for messages


@dataclass
class Layout:
    """What was found: used by :func:`parse_logger_csv` and told to the user."""

    separator: str
    header_at: int  # index into the parsed rows
    data_from: int
    columns: list[Column]
    preamble_lines: int
    parsed: list[list[str]] = field(default_factory=list)  # every row, split
    default_unit: str = "C"
    decimal_comma: bool = False
    notes: list[str] = field(default_factory=list)


def parse_logger_csv(lines: list[str]) -> CsvData:
    """Read another logger's export; never raises on content."""
    rows = _rows(lines)
    if not rows:
        return empty("the file has no header row and no data")
    layout = _layout(lines, rows)
    if isinstance(layout, str):
        return empty(layout)
    return _read(rows, layout)


# Layout ----------------------------------------------------------------------------------


def _rows(lines: list[str]) -> list[tuple[int, str]]:
    """Non-empty, non-comment lines with their line numbers (1-based)."""
    return [(i + 1, line) for i, line in enumerate(lines)
            if line.strip() and not line.lstrip().startswith(_COMMENT)]


def _separator(rows: Sequence[tuple[int, str]]) -> str:
    """The separator of the data at the end of the file (a preamble would mislead).

    :class:`csv.Sniffer` proposes one; but with decimal commas (``23,5;24,1``) the comma is as
    regular as the semicolon and the sniffer prefers it, so a tab or ``;`` that splits every
    sampled line into the same number of fields wins (neither ever appears inside a number).
    """
    sample = [line for _, line in rows[-30:]]
    guess = ","
    with contextlib.suppress(csv.Error):
        guess = csv.Sniffer().sniff("\n".join(sample), delimiters=SEPARATORS).delimiter
    for sep in "\t;":
        widths = [len(_split(line, sep)) for line in sample]
        if min(widths) > 1 and widths.count(widths[-1]) >= 0.8 * len(widths):
            return sep
    return guess


def _split_all(rows: Sequence[tuple[int, str]], sep: str) -> list[list[str]]:
    """Every line split at once (one reader); line by line when a quoted field spans lines."""
    lines = [line for _, line in rows]
    parsed = list(csv.reader(lines, delimiter=sep, skipinitialspace=True))
    if len(parsed) != len(lines):
        parsed = [_split(line, sep) for line in lines]
    return parsed


def _split(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep, skipinitialspace=True), [])


def _numeric(cell: str) -> bool:
    return timecolumn.number(cell) is not None or cell.strip().upper() in FAULT_TOKENS


def _valuey(cell: str) -> bool:
    """A number, a fault token, a time or a date: data, not a column name."""
    return _numeric(cell) or timecolumn.looks_like_time(cell)


def _texty(cells: list[str]) -> bool:
    filled = [c for c in cells if c.strip()]
    return len(filled) >= 2 and sum(_valuey(c) for c in filled) <= len(filled) // 2


def _datalike(cells: list[str], width: int) -> bool:
    return len(cells) >= 2 and abs(len(cells) - width) <= 1 and any(
        _numeric(c) for c in cells[1:])


def _layout(lines: list[str], rows: list[tuple[int, str]]) -> Layout | str:
    sep = _separator(rows)
    parsed = _split_all(rows, sep)
    tail = [len(c) for c in parsed[-30:]]
    width = max(set(tail), key=tail.count)
    header_at = next((i for i in range(len(parsed) - 1)
                      if _texty(parsed[i]) and abs(len(parsed[i]) - width) <= 1
                      and _data_follows(parsed, i + 1, width)), None)
    if header_at is None:
        return ("no header row naming the columns: CryoGuard needs a row like "
                "'time,T1 (°C),T2 (°C)' above the data (or a first column 't' in seconds)")
    data_from = header_at + 1
    header = [c.strip() for c in parsed[header_at]]
    units_row = data_from < len(parsed) and _units_row(parsed[data_from])
    columns = []
    for k, text in enumerate(header):
        name, unit_text = split_unit(text)
        if units_row and k < len(parsed[data_from]) and not unit_text:
            unit_text = parsed[data_from][k].strip().strip("()[]").strip() or None
        unit = _unit(unit_text) if unit_text else None
        columns.append(Column(k, text, name, unit, unit_text or ""))
    if units_row:
        data_from += 1
    preamble = "\n".join(line for _, line in rows[:header_at])
    layout = Layout(sep, header_at, data_from, columns, preamble_lines=rows[header_at][0] - 1,
                    parsed=parsed)
    found = _PREAMBLE_UNIT.search(preamble)
    if found:
        layout.default_unit = _unit(found.group(1)) or "C"
    layout.decimal_comma = sep != "," and any(
        re.search(r"\d,\d", c) for cells in parsed[data_from:data_from + 20] for c in cells)
    return layout


def _data_follows(parsed: list[list[str]], i: int, width: int) -> bool:
    """Data right under a header (or under its units row)."""
    if i < len(parsed) and _units_row(parsed[i]):
        i += 1
    return i < len(parsed) and _datalike(parsed[i], width)


def _units_row(cells: list[str]) -> bool:
    filled = [c.strip() for c in cells if c.strip()]
    return bool(filled) and all(
        (c.startswith(("(", "[")) or _unit(c) is not None) and not _numeric(c) for c in filled)


def _unit(text: str) -> str | None:
    key = " ".join(text.strip().lower().split())
    if key in TEMPERATURE_UNITS:
        return TEMPERATURE_UNITS[key]
    if key in OTHER_UNITS or key in TIME_UNITS:
        return key
    return None


def split_unit(header: str) -> tuple[str, str | None]:
    """``T1 (°C)`` → ``("T1", "°C")``; ``Channel A (V)`` → ``("Channel A", "V")``; a
    parenthesis that names no known unit stays part of the name (``N1 (L4 right)``)."""
    m = _SUFFIX.match(header)
    if m is not None and _unit(m.group("unit")) is not None:
        return m.group("name").strip(), m.group("unit").strip()
    return header.strip(), None


# Reading ---------------------------------------------------------------------------------


def _key(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split()) if name != "date_time" else name


def _find_time(layout: Layout) -> tuple[Column, Column | None, bool]:
    """The time column (by name, else the first), a separate date column, and whether the
    column was chosen by its name."""
    by_name = [c for c in layout.columns if _key(c.name) in TIME_NAMES]
    date = next((c for c in layout.columns if _key(c.name) in DATE_NAMES), None)
    if by_name:
        return by_name[0], date, True
    first = layout.columns[0]
    if date is not None and date.index == 0 and len(layout.columns) > 1:
        return layout.columns[1], date, False  # Date, Time, ...
    return first, date, False


def _read(rows: list[tuple[int, str]], layout: Layout) -> CsvData:
    parsed = layout.parsed
    body = list(range(layout.data_from, len(parsed)))
    time_col, date_col, named = _find_time(layout)
    cells = [parsed[i][time_col.index] for i in body if time_col.index < len(parsed[i])]
    fmt = timecolumn.detect(cells, time_col.unit, _key(time_col.name))
    names = ", ".join(repr(c.header) for c in layout.columns)
    if fmt is not None and fmt.name == "seconds" and not named and time_col.unit is None:
        fmt = None  # plain numbers under another name: a reference column, an index, ...
    if fmt is None:
        example = next((c for c in cells if c.strip() and timecolumn.number(c) is None
                        and not timecolumn.looks_like_time(c)),
                       next((c for c in cells if c.strip()), ""))
        return empty(f"no time column: column {time_col.header!r} holds {example!r}, not a "
                     "time; put the time first (seconds, ISO 8601, dd-mm-yyyy hh:mm:ss or "
                     f"hh:mm:ss) or name its column 'time' (columns: {names})")
    if date_col is not None and fmt.name not in ("clock",):
        date_col = None
    channels, skipped = _channels(layout, parsed, body, {time_col.index} | (
        {date_col.index} if date_col is not None else set()))
    if not channels:
        volts = [c for c in skipped if c[1] == "unit"]
        if volts:
            which = ", ".join(repr(c[0].header) for c in volts)
            return empty(f"no temperature column: {which} in {volts[0][0].unit_text}, not a "
                         "temperature; CryoGuard never reads a voltage or another unit as °C: "
                         "export temperatures (°C or °F) from the logger, or convert the "
                         "column and put '(°C)' in its header")
        return empty(f"no temperature column besides the time column {time_col.header!r}: "
                     f"add columns of temperatures in °C (columns: {names})")
    return _values(rows, parsed, body, layout, fmt, time_col, date_col, channels, skipped)


def _channels(layout: Layout, parsed: list[list[str]], body: list[int], used: set[int]
              ) -> tuple[list[Column], list[tuple[Column, str]]]:
    channels: list[Column] = []
    skipped: list[tuple[Column, str]] = []
    for column in layout.columns:
        if column.index in used:
            continue
        if _key(column.name) in SKIP_NAMES or (not column.name and column.unit is None):
            skipped.append((column, "name"))
            continue
        if column.unit is not None and column.unit not in ("C", "F", "K"):
            skipped.append((column, "unit"))
            continue
        k = column.index
        cells = (parsed[i][k] for i in body if k < len(parsed[i]))  # stops at the first hit
        if not any(c.strip() for c in cells):
            skipped.append((column, "empty"))
            continue
        if not any(_numeric(parsed[i][k]) for i in body if k < len(parsed[i])):
            skipped.append((column, "text"))
            continue
        channels.append(column)
    return channels, skipped


def _ids(channels: list[Column]) -> tuple[list[str], list[str]]:
    """Channel ids from the headers, unique; and notes on duplicates."""
    ids: list[str] = []
    notes: list[str] = []
    for column in channels:
        base = column.name or f"column {column.index + 1}"
        name, k = base, 2
        while name in ids:
            name, k = f"{base}#{k}", k + 1
        if name != base:
            notes.append(f"column {column.index + 1} is also named {base!r}: replayed as "
                         f"{name!r}")
        ids.append(name)
    return ids, notes


def _label(channel_id: str, column: Column) -> str:
    """The header as the channel's label; a duplicate name also says which column."""
    if channel_id != (column.name or f"column {column.index + 1}"):
        return f"{column.header} (column {column.index + 1})"
    return column.header


def _to_celsius(value: float, unit: str) -> float:
    if unit == "F":
        return (value - 32.0) * 5.0 / 9.0
    if unit == "K":
        return value - 273.15
    return value


def _values(rows: list[tuple[int, str]], parsed: list[list[str]], body: list[int],
            layout: Layout, fmt: timecolumn.TimeFormat, time_col: Column,
            date_col: Column | None, channels: list[Column],
            skipped: list[tuple[Column, str]]) -> CsvData:
    ids, notes = _ids(channels)
    units = [c.unit or layout.default_unit for c in channels]
    found = _bulk(parsed, body, layout, fmt, time_col, date_col, channels, units, ids)
    data, clock = found if found is not None else _rows_one_by_one(
        rows, parsed, body, layout, fmt, time_col, date_col, channels, units, ids)
    data.channel_info = [ChannelInfo(id=cid, label=_label(cid, c), configured=False)
                         for cid, c in zip(ids, channels, strict=True)]
    data.wall_start = clock.wall_start
    data.notes = _describe(layout, fmt, time_col, date_col, channels, units, clock) + notes + [
        _skip_note(column, why, layout) for column, why in skipped]
    return data


def _bulk(parsed: list[list[str]], body: list[int], layout: Layout,
          fmt: timecolumn.TimeFormat, time_col: Column, date_col: Column | None,
          channels: list[Column], units: list[str], ids: list[str]
          ) -> tuple[CsvData, timecolumn.Clock] | None:
    """A clean file column-wise (numpy parses each column at once); ``None`` at the first
    irregularity, and the row-by-row path reports it."""
    width = len(layout.columns)
    table = [parsed[i] for i in body if any(c.strip() for c in parsed[i])]
    if not table or any(len(r) != width for r in table):
        return None
    clock = timecolumn.Clock(fmt)
    times = []
    for r in table:
        value = timecolumn.moment(fmt, r[time_col.index])
        date = timecolumn.date_of(r[date_col.index]) if date_col is not None else None
        t = clock.seconds(value, date) if value is not None else None
        if t is None:
            return None
        times.append(t)
    t_rows = np.array(times, np.float64)
    if not (np.isfinite(t_rows).all() and (np.abs(t_rows) <= timecolumn.MAX_ABS_T).all()
            and (t_rows.shape[0] < 2 or (np.diff(t_rows) >= 0).all())):
        return None
    grid = np.empty((len(table), len(channels)), np.float64)
    for k, column in enumerate(channels):
        cells = [r[column.index] for r in table]
        if layout.decimal_comma:  # one C-level pass instead of a call per cell
            cells = "\n".join(cells).replace(",", ".").split("\n")
            if len(cells) != len(table):  # a quoted cell held a line break
                return None
        try:
            values = np.array(cells, np.float64)
        except ValueError:
            return None
        if not np.isfinite(values).all():
            return None
        grid[:, k] = _to_celsius_array(values, units[k])
    n = len(channels)
    out = CsvData("logger", list(ids), np.repeat(t_rows, n),
                  np.tile(np.arange(n, dtype=np.int32), len(table)), grid.reshape(-1),
                  np.zeros(grid.size, np.int8))
    return out, clock


def _to_celsius_array(values: F64, unit: str) -> F64:
    if unit == "F":
        return (values - 32.0) * 5.0 / 9.0
    if unit == "K":
        return values - 273.15
    return values


def _rows_one_by_one(rows: list[tuple[int, str]], parsed: list[list[str]], body: list[int],
                     layout: Layout, fmt: timecolumn.TimeFormat, time_col: Column,
                     date_col: Column | None, channels: list[Column], units: list[str],
                     ids: list[str]) -> tuple[CsvData, timecolumn.Clock]:
    out = Builder("logger", ids)
    clock = timecolumn.Clock(fmt)
    width = len(layout.columns)
    every = list(range(len(channels)))
    for i in body:
        line_no, cells = rows[i][0], parsed[i]
        while len(cells) > width and not cells[-1].strip():
            cells = cells[:-1]  # a trailing separator
        if not any(c.strip() for c in cells):
            continue
        t = _row_time(out, line_no, cells, time_col, date_col, fmt, clock, every)
        if t is None:
            continue
        if len(cells) != width:
            out.bad(line_no, f"{len(cells)} fields where the header has {width}: the row is "
                    "not used (values are never shifted to another column)", every, t)
            out.last_t = t
            continue
        for k, column in enumerate(channels):
            cell = cells[column.index].strip()
            token = cell.upper()
            if token in FAULT_TOKENS:
                out.add(t, k, math.nan, FAULT_TOKENS[token])
                continue
            value = timecolumn.number(cell)
            if value is None:
                what = "empty" if not cell else f"not a temperature: {cell!r}"
                out.bad(line_no, f"column {column.header!r}: {what}", [k], t)
                continue
            out.add(t, k, _to_celsius(value, units[k]), int(Status.OK))
        out.last_t = t
    return out.result(), clock


def _row_time(out: Builder, line_no: int, cells: list[str], time_col: Column,
              date_col: Column | None, fmt: timecolumn.TimeFormat, clock: timecolumn.Clock,
              every: list[int]) -> float | None:
    cell = cells[time_col.index].strip() if time_col.index < len(cells) else ""
    value = timecolumn.moment(fmt, cell) if cell else None
    date = None
    if date_col is not None and date_col.index < len(cells):
        date = timecolumn.date_of(cells[date_col.index])
    t = clock.seconds(value, date) if value is not None else None
    if t is None or not math.isfinite(t) or abs(t) > timecolumn.MAX_ABS_T:
        what = "empty" if not cell else f"{cell!r} is not a time in {fmt.words}"
        if value is not None:
            what = f"{cell!r} is too far from the first row's time"
        out.bad(line_no, f"time {what}", every, None)
        return None
    return out.in_order(line_no, t, cell, every)


def _describe(layout: Layout, fmt: timecolumn.TimeFormat, time_col: Column,
              date_col: Column | None, channels: list[Column], units: list[str],
              clock: timecolumn.Clock) -> list[str]:
    parts = [f"read as a logger export: separator {_sep_words(layout.separator)}"]
    if layout.decimal_comma:
        parts.append("decimal comma")
    if layout.preamble_lines:
        parts.append(f"{layout.preamble_lines} line(s) before the header")
    when = f"time column {time_col.header!r} ({fmt.words}"
    if date_col is not None:
        when += f", date from {date_col.header!r}"
    if clock.naive:
        when += ", no time zone: taken as UTC"
    parts.append(when + ")")
    shown = [f"{c.name or c.header} ({'°' if u != 'K' else ''}{u})"
             for c, u in zip(channels, units, strict=True)]
    parts.append("channels " + ", ".join(shown))
    return ["; ".join(parts)]


def _sep_words(sep: str) -> str:
    return {"\t": "tab", ";": "';'", ",": "','"}.get(sep, repr(sep))


def _skip_note(column: Column, why: str, layout: Layout) -> str:
    what: dict[str, str] = {
        "unit": f"is in {column.unit_text}, not a temperature: not replayed (CryoGuard never reads "
                "it as °C)",
        "empty": "is empty in every row: not replayed",
        "text": "holds no numbers: not replayed",
        "name": "is not a temperature channel (index, event or comment): not replayed",
    }
    return f"column {column.header!r} {what[why]}"
