"""The cohort table: one row per session and nerve channel, from the report's engine replay.

What a team needs to write up a series (nerve-side temperatures against outcomes): where and
when, how long, how many freeze–thaw cycles, each nerve channel's minimum and time at or below
each level in force, the alarms raised by condition, the interventions and their effect on that
channel, and the time from its first cold warning to the first intervention. Every figure comes
from :func:`monitor.report.data.load_report_data`, so the table and the procedure report always
agree. Columns: docs/replay.md ("cryoguard summary").
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.engine.spec import Condition, Kind
from monitor.errors import UsageError
from monitor.files import UnsafePathError, replace_privately
from monitor.model import EventType, Role
from monitor.report.data import ReportData, first_warning_t, first_warning_to_intervention

CHANNEL_CONDITIONS = tuple(c for c in Condition if c.kind is not Kind.DEVICE)
LEVELS = ("warning", "critical", "freezing")
COLUMNS = (
    "session", "station", "date", "start_utc", "duration_s", "closed_cleanly", "cycles",
    "channel", "label", "samples", "min_c", "min_t_s",
    *(f"{name}{suffix}" for level in LEVELS
      for name, suffix in ((f"{level}_c", ""), (f"s_at_or_below_{level}", ""))),
    *(f"alarms_{c.value}" for c in CHANNEL_CONDITIONS),
    "interventions", "intervention_kinds", "first_intervention_t_s",
    "first_intervention_kind", "temp_at_first_intervention_c",
    "temp_60s_after_first_intervention_c", "lowest_60s_after_first_intervention_c",
    "first_warning_t_s", "warning_to_intervention_s",
)
SHOWN = (("session", "session"), ("channel", "channel"), ("min_c", "min °C"),
         ("s_at_or_below_critical", "s ≤ critical"), ("alarms", "alarms"),
         ("interventions", "interv."), ("warning_to_intervention_s", "warning→interv. s"))


def session_rows(data: ReportData) -> list[dict[str, Any]]:
    """The rows of one session: one per nerve channel (one with no channel if it has none)."""
    start = data.wall_start
    base: dict[str, Any] = {
        "session": data.path.name, "station": data.station,
        "date": start.date().isoformat() if start else None,
        "start_utc": start.isoformat(timespec="seconds") if start else None,
        "duration_s": round(data.duration_s, 3), "closed_cleanly": data.closed_cleanly,
        "cycles": len(data.cycles), "interventions": len(data.interventions),
        "intervention_kinds": ",".join(r.kind for r in data.interventions) or None,
    }
    first = data.interventions[0] if data.interventions else None
    if first is not None:
        base.update(first_intervention_t_s=round(first.t, 3),
                    first_intervention_kind=first.kind)
    stats = {s.channel: s for s in data.channel_stats}
    labels = {c.id: c.label for c in data.channels}
    nerves = [s for s in data.series if s.role == Role.NERVE.value]
    raised = Counter((str(e.get("channel")), str(e.get("condition"))) for e in data.events
                     if e.type is EventType.ALARM_RAISED)
    rows = []
    for series in nerves:
        row = dict.fromkeys(COLUMNS)
        row.update(base)
        row.update(channel=series.channel, label=labels.get(series.channel) or series.label)
        stat = stats.get(series.channel)
        if stat is not None:
            row.update(samples=stat.samples, min_c=_r(stat.min_c), min_t_s=_r(stat.min_t))
            for name, (level, seconds) in zip(LEVELS, stat.below, strict=False):
                row[f"{name}_c"] = level
                row[f"s_at_or_below_{name}"] = round(seconds, 3)
        for condition in CHANNEL_CONDITIONS:
            row[f"alarms_{condition.value}"] = raised.get((series.channel, condition.value), 0)
        if first is not None:
            effect = first.effect(series.channel)
            if effect is not None:
                row.update(temp_at_first_intervention_c=_r(effect.temp_at_c),
                           temp_60s_after_first_intervention_c=_r(effect.temp_after_60s_c),
                           lowest_60s_after_first_intervention_c=_r(effect.lowest_between_c))
        row["first_warning_t_s"] = _r(first_warning_t(data.events, [series.channel]))
        row["warning_to_intervention_s"] = _r(first_warning_to_intervention(
            data.events, data.interventions, [series.channel]))
        rows.append(row)
    if not rows:
        row = dict.fromkeys(COLUMNS)
        row.update(base)
        rows.append(row)
    return rows


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def write_table(rows: Sequence[dict[str, Any]], out: Path) -> None:
    """``out`` by its suffix: ``.csv`` (UTF-8, header row) or ``.parquet``; 0600, replaced
    whole, never through a symlink."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"--out {out}: give a file name ending in .csv or .parquet")
    if suffix == ".parquet":
        from monitor.exports.session import pyarrow_modules

        pa, pq = pyarrow_modules()
    try:
        with replace_privately(out) as tmp:
            if suffix == ".csv":
                with tmp.open("w", encoding="utf-8", newline="") as handle:
                    writer = csv.DictWriter(handle, fieldnames=COLUMNS)
                    writer.writeheader()
                    writer.writerows({k: ("" if v is None else v) for k, v in row.items()}
                                     for row in rows)
            else:
                table = pa.Table.from_pylist(list(rows), schema=_schema(pa))
                pq.write_table(table, tmp)
    except UnsafePathError as exc:
        raise UsageError(f"--out: {exc}") from exc


def _schema(pa: Any) -> Any:
    kinds: dict[str, Any] = {"closed_cleanly": pa.bool_()}
    for name in ("cycles", "samples", "interventions",
                 *(f"alarms_{c.value}" for c in CHANNEL_CONDITIONS)):
        kinds[name] = pa.int64()
    text = {"session", "station", "date", "start_utc", "channel", "label",
            "intervention_kinds", "first_intervention_kind"}
    return pa.schema([(name, pa.string() if name in text else kinds.get(name, pa.float64()))
                      for name in COLUMNS])


def text_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """A few columns for the terminal; the file has them all."""
    cells = [[h for _, h in SHOWN]]
    for row in rows:
        alarms = sum(int(row.get(f"alarms_{c.value}") or 0) for c in CHANNEL_CONDITIONS)
        values = {**row, "alarms": alarms}
        cells.append([_show(values.get(key)) for key, _ in SHOWN])
    widths = [max(len(r[i]) for r in cells) for i in range(len(SHOWN))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in cells]


def _show(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
