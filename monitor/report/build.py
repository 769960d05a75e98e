"""Assemble the procedure report: ``report.md``, ``report.html``, the PNGs next to them and,
on request, ``report.pdf``.

Every file is written privately (0600, in a 0700 folder when the folder is new) and replaced
atomically, never through a symlink (:mod:`monitor.files`): a report holds patient data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.engine.cycles import ChannelCycleStats, CycleSummary, Phase
from monitor.errors import CryoGuardError
from monitor.files import private_dir, write_private
from monitor.model import EventType, celsius
from monitor.report import plots
from monitor.report.data import DEFAULTS_DOC, ReportData, load_report_data
from monitor.report.document import (
    Block,
    Heading,
    Image,
    Para,
    Table,
    code,
    ident,
    text,
    to_html,
    to_markdown,
)
from monitor.report.marks import AFTER_S, Marks, kind_words


@dataclass(frozen=True, slots=True)
class ReportFiles:
    markdown: Path
    html: Path
    images: tuple[Path, ...]
    data: ReportData
    pdf: Path | None = None


def build_report(session: str | Path, out_dir: str | Path, *, pdf: bool = False
                 ) -> ReportFiles:
    """Replay ``session`` and write the report into ``out_dir`` (created 0700 if needed)."""
    data = load_report_data(session)
    out = Path(out_dir)
    try:
        private_dir(out)
        marks = Marks.of(data)
        images = [plots.overview(data, out / "overview.png", marks=marks)]
        images += [plots.cycle_figure(data, c, out / f"cycle-{c.cycle}.png", marks=marks)
                   for c in data.cycles]
        blocks = document(data, images, marks)
        md, page = out / "report.md", out / "report.html"
        write_private(md, to_markdown(blocks))
        write_private(page, to_html(blocks, f"CryoGuard report: {data.station}"))
        made = None
        if pdf:
            from monitor.report.pdf import write_pdf

            made = write_pdf(blocks, out / "report.pdf", f"CryoGuard report: {data.station}",
                             lambda dpi: _plot_pages(data, marks, dpi))
    except OSError as exc:
        raise CryoGuardError(f"cannot write the report in {out}: {exc.strerror or exc}") from exc
    return ReportFiles(md, page, tuple(images), data, made)


def _plot_pages(data: ReportData, marks: Marks, dpi: int) -> dict[str, bytes]:
    """The plots again at print resolution, for the PDF (PNG bytes by file name)."""
    out = {"overview.png": plots.overview_png(data, dpi=dpi, marks=marks)}
    for c in data.cycles:
        out[f"cycle-{c.cycle}.png"] = plots.cycle_png(data, c, dpi=dpi, marks=marks)
    return out


# Formatting ---------------------------------------------------------------------------------

def clock(t: float | None) -> str:
    """Session time as m:ss or h:mm:ss."""
    if t is None:
        return "–"
    whole = round(t)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def wall(data: ReportData, t: float | None) -> str:
    if t is None or data.wall_start is None:
        return ""
    return (data.wall_start + timedelta(seconds=round(t))).strftime("%H:%M:%S")


def at(data: ReportData, t: float | None) -> str:
    """``12:34 (08:42:34 UTC)``: session time and wall clock."""
    if t is None:
        return "–"
    w = wall(data, t)
    return f"{clock(t)} ({w} UTC)" if w else clock(t)


def temp(v: float | None) -> str:
    return "–" if v is None else f"{celsius(v)} °C"


def _started(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "unknown"


# The document -------------------------------------------------------------------------------

def document(data: ReportData, images: list[Path], marks: Marks | None = None
             ) -> list[Block]:
    marks = marks if marks is not None else Marks.of(data)
    blocks: list[Block] = [Heading(1, f"Procedure report: {ident(data.station)}")]
    blocks += _header(data)
    blocks += [Heading(2, "Freeze–thaw cycles"), *_cycles(data)]
    blocks += [Heading(2, "Interventions and notes"), *_interventions(data, marks)]
    blocks += [Heading(2, "Each channel in each cycle"), *_cycle_channels(data)]
    blocks += [Heading(2, "Whole session, per channel"),
               _stats_table(data.channel_stats, with_cycle=None)]
    blocks += [Heading(2, "Alarm log"), *_alarm_log(data)]
    blocks += [Heading(2, "Phase log"), _phase_log(data)]
    blocks += [Heading(2, "Plots")]
    for image in images:
        alt = ("temperatures over the whole session" if image.name == "overview.png"
               else image.stem.replace("-", " ") + ": nerve channels")
        blocks.append(Image(image, alt))
    blocks += [Heading(2, "Thresholds in force"), *_thresholds(data)]
    return blocks


def _header(data: ReportData) -> list[Block]:
    end_note = ("closed cleanly" if data.closed_cleanly else
                "**the recording did not close cleanly** (the process was killed or is still "
                "writing): everything committed is included and the end is the last recorded "
                "time")
    version = ident(data.meta.get("cryoguard_version", "?"))
    lines = [
        f"Session file {code(data.path.name)}, station **{ident(data.station)}**, started "
        f"{_started(data.wall_start)}, duration {clock(data.duration_s)} "
        f"({data.duration_s / 60:.1f} min), {data.readings:,} readings; {end_note}. "
        f"Recorded by CryoGuard {version}.",
        "All figures below were recomputed by replaying the recorded readings and operator "
        "inputs through the monitoring engine. " + _agreement(data),
    ]
    blocks: list[Block] = [Para(text) for text in lines]
    lost: dict[str, int] = {}
    for e in data.device_events:
        if e.type is EventType.DEVICE_LOST:
            device = str(e.get("device", ""))
            lost[device] = lost.get(device, 0) + 1
    blocks += [Heading(2, "Devices"), Table(
        ("device", "protocol", "port", "times lost"),
        tuple((ident(d), ident(p), code(port, cell=True), str(lost.get(d, 0)))
              for d, p, port in data.devices),
        empty="no devices in the recorded config")]
    blocks += [Heading(2, "Channels"), Table(
        ("channel", "label", "role", "device", "index", "in config"),
        tuple((ident(c.id), text(c.label), ident(c.role) if c.role is not None else "?",
               ident(c.device or ""), "" if c.index is None else text(c.index),
               "yes" if c.configured else "no")
              for c in data.channels))]
    return blocks


def _agreement(data: ReportData) -> str:
    if not data.appear and not data.vanish:
        return "The replay raised the same alarms as the recording."
    parts = [f"{ident(a)} at {clock(t)}" for a, t in data.appear]
    gone = [f"{ident(a)} at {clock(t)}" for a, t in data.vanish]
    text = "**The replay differs from the recording:**"
    if parts:
        text += " raised only in the replay: " + ", ".join(parts) + "."
    if gone:
        text += " recorded but not raised in the replay: " + ", ".join(gone) + "."
    return text


def _phase_text(cycle: CycleSummary, t_end: float) -> str:
    parts = []
    for p in cycle.phases:
        end = p.end_t if p.end_t is not None else t_end
        target = f" / {clock(p.target_s)}" if p.target_s else ""
        parts.append(f"{Phase(p.phase).words} {clock(end - p.start_t)}{target} "
                     f"({text(p.source)})")
    return " → ".join(parts)


def _cycles(data: ReportData) -> list[Block]:
    spec = data.cycle_spec
    protocol = (f"Protocol targets: freeze {clock(spec.freeze_s)}, passive thaw "
                f"{clock(spec.passive_thaw_s)}, second freeze {clock(spec.second_freeze_s)}"
                + (f", active thaw {clock(spec.active_thaw_s)}" if spec.active_thaw_s else "")
                + ". Phases come from the probe channels (a fall below "
                f"{spec.freeze_below_c:g} °C faster than {abs(spec.freeze_fall_c_per_min):g} "
                f"°C/min starts a freeze; a rise ends it; above {spec.active_thaw_above_c:g} °C "
                f"rising faster than {spec.active_thaw_rise_c_per_min:g} °C/min is an active "
                "thaw) and from operator marks, which win. Durations are shown as "
                "actual / target (m:ss).")
    rows = []
    for c in data.cycles:
        nerves = [s for s in c.channels if s.role == "nerve" and s.min_c is not None]
        coldest = min(nerves, key=lambda s: s.min_c or 0.0) if nerves else None
        cold_text = (f"{ident(coldest.channel)} {temp(coldest.min_c)} at "
                     f"{clock(coldest.min_t)}"
                     if coldest is not None else "–")
        alarms = [a for a in c.alarms if not a.alarm.startswith("cycle.")]
        rows.append((str(c.cycle), at(data, c.start_t),
                     at(data, c.end_t) if c.end_t is not None else "(running at the end)",
                     clock(c.duration_s), _phase_text(c, data.t_end), cold_text,
                     str(len(alarms))))
    return [Para(protocol), Table(
        ("cycle", "start", "end", "duration", "phases: actual / target (source)",
         "coldest nerve", "alarms"), tuple(rows),
        empty="no freeze–thaw cycle was detected or marked")]


def _cycle_channels(data: ReportData) -> list[Block]:
    blocks: list[Block] = [Para(
        "Time at or below each level counts every accepted reading until the next one (a gap "
        "longer than the channel's stale delay counts as no time). Levels are the channel's own "
        "warning, critical and freezing trip levels.")]
    stats = [(c.cycle, s) for c in data.cycles for s in c.channels]
    blocks.append(_stats_rows(stats, with_cycle=True))
    return blocks


def _stats_table(stats: list[ChannelCycleStats], with_cycle: int | None) -> Table:
    return _stats_rows([(with_cycle, s) for s in stats], with_cycle=with_cycle is not None)


def _stats_rows(stats: Sequence[tuple[int | None, ChannelCycleStats]], with_cycle: bool
                ) -> Table:
    rows = []
    for cycle, s in stats:
        below = ", ".join(f"≤{level:g}: {clock(sec)}" for level, sec in s.below)
        alarms = ", ".join(ident(a) for a in sorted(set(s.alarms), key=s.alarms.index)) or "–"
        row = (ident(s.channel), ident(s.role), temp(s.min_c), clock(s.min_t), below,
               clock(s.covered_s), alarms)
        rows.append(((str(cycle),) if with_cycle else ()) + row)
    headers = ("channel", "role", "minimum", "at", "time at or below (°C: m:ss)",
               "time with readings", "alarms raised")
    return Table((("cycle",) if with_cycle else ()) + headers, tuple(rows),
                 empty="no accepted readings")


def _alarm_log(data: ReportData) -> list[Block]:
    rows = []
    for a in data.alarm_log:
        rows.append((at(data, a.raised_t), ident(a.alarm), ident(a.priority), temp(a.value),
                     temp(a.limit), clock(a.condition_ended_t),
                     clock(a.cleared_t) if a.cleared_t is not None else "active at the end",
                     clock(a.acknowledged_t),
                     text(a.acknowledged_by) if a.acknowledged_by else "–"))
    note = Para("Every alarm raised, with when its condition ended, when it left the display "
                "(a latching alarm stays until it is also acknowledged) and when and by whom "
                "it was acknowledged. Times are session m:ss (UTC wall clock).")
    return [note, Table(("raised", "alarm", "priority", "value", "limit", "condition ended",
                         "cleared", "acknowledged", "by"), tuple(rows),
                        empty="no alarm was raised")]


def _phase_log(data: ReportData) -> Table:
    """Phase changes and operator marks; a mark names who made it once, in "by"."""
    rows = []
    for e in data.cycle_events:
        if e.type is EventType.CYCLE_MARK:
            rows.append((at(data, e.t), f"mark: {text(e.get('mark', ''))}", "",
                         "operator mark", text(e.get("by", "")) or "–"))
        else:
            rows.append((at(data, e.t), text(Phase(str(e.get("phase"))).words),
                         text(e.get("cycle")), text(e.get("source", "")), "–"))
    return Table(("time", "phase", "cycle", "source", "by"), tuple(rows),
                 empty="no phase change and no operator mark")


def _thresholds(data: ReportData) -> list[Block]:
    doc = _defaults_link()
    blocks: list[Block] = [Para(
        f"From {text(data.config_note)}. \"default\" means the built-in value; every default "
        f"and its clinical or engineering source is listed in {doc}.")]
    rows = tuple((r.scope, ident(r.condition), r.setting if r.enabled else "off",
                  ident(r.priority), "yes" if r.latching else "no", r.source)
                 for r in data.thresholds)  # our own words; channel ids are validated
    blocks.append(Table(("applies to", "condition", "setting", "priority", "latching",
                         "source"), rows))
    return blocks


def _defaults_link() -> str:
    """The doc by name: a ``file:`` link is refused by the safe HTML renderer anyway."""
    return f"{code(DEFAULTS_DOC)} of the CryoGuard source"


# Interventions and notes (figures: monitor/report/marks.py) --------------------------------

def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _interventions(data: ReportData, marks: Marks) -> list[Block]:
    blocks: list[Block] = []
    first = marks.first_warning
    if not marks.interventions:
        lead = "No CO₂ or warm saline injection was recorded."
    else:
        lead = (f"{len(marks.interventions)} injection(s) recorded. Per nerve channel: the "
                f"temperature at the injection, {AFTER_S:g} s later, and the lowest in between.")
    if first is not None:
        alarm, t = first
        lead += f" First cold-side warning: {ident(alarm)} at {at(data, t)}"
        delay = marks.first_warning_to_intervention_s
        if delay is None:
            lead += "; no injection was recorded."
        elif delay >= 0:
            lead += f"; the first injection followed {_duration(delay)} later."
        else:
            lead += f"; the first injection came {_duration(-delay)} before it."
    blocks.append(Para(lead))
    rows = []
    for item in marks.interventions:
        when = _num(item.t)
        who = text(item.by or "") or "–"
        what = text(kind_words(item.kind))
        if not item.nerves:
            rows.append((at(data, when), what, who, "–", temp(None), temp(None), temp(None)))
        for nerve in item.nerves:
            rows.append((at(data, when), what, who, ident(nerve.channel),
                         temp(_num(nerve.temp_at_c)), temp(_num(nerve.temp_after_60s_c)),
                         temp(_num(nerve.lowest_between_c))))
    blocks.append(Table(("time", "intervention", "by", "nerve channel", "at the injection",
                         f"{AFTER_S:g} s later", "lowest in between"), tuple(rows),
                        empty="no interventions"))
    notes = tuple((f"n{i}", at(data, n.t), text(n.by) or "–", text(n.text))
                  for i, n in enumerate(marks.notes, 1))
    blocks.append(Table(("note", "time", "by", "text"), notes, empty="no notes"))
    return blocks


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{clock(seconds)} (m:ss)" if seconds >= 60 else f"{seconds:.0f} s"
