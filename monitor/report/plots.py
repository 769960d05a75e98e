"""Report figures (matplotlib, Agg): the whole session, and one zoomed figure per cycle.

Figures are made with the Agg canvas directly (no pyplot, no global backend state), so a report
can be built in any thread or process. Long sessions are drawn from a min/max envelope per pixel
column, so a 2-hour, 16-channel, 10 Hz session plots quickly and a one-sample dip stays visible.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from monitor.engine.cycles import CycleSummary
from monitor.files import replace_privately
from monitor.report.data import AlarmLogRow, ReportData, Series
from monitor.report.marks import Marks
from monitor.text import printable

WIDTH_IN, HEIGHT_IN, DPI = 11.0, 6.5, 100  # 1100 × 650 pixels
CYCLE_HEIGHT_IN = 4.5  # 1100 × 450 pixels
ENVELOPE_BUCKETS = 2000
PHASE_COLOURS = {"freeze": "#9ecae1", "thaw_passive": "#fdd0a2", "thaw_active": "#fc9272"}
PHASE_NAMES = {"freeze": "freeze", "thaw_passive": "passive thaw",
               "thaw_active": "active thaw"}
LEVEL_STYLES = {"below_warning": ("#d4a017", "--", "warning"),
                "below_critical": ("#c0392b", "-", "critical"),
                "freezing": ("#6c3483", ":", "freezing")}
PRIORITY_MARKERS = {"high": ("v", "#c0392b"), "medium": ("v", "#d4a017"),
                    "low": ("v", "#2e86c1")}
PATIENT_ROLES = ("nerve", "skin")
LABELLED_LINES = 6  # more lines than this: the legend names channels by id only


def envelope(t: NDArray[np.float64], v: NDArray[np.float64], buckets: int = ENVELOPE_BUCKETS
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """At most ``2 * buckets`` points keeping each bucket's minimum and maximum (NaN gaps stay
    gaps)."""
    n = t.shape[0]
    if n <= 2 * buckets:
        return t, v
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)[:-1]
    with np.errstate(invalid="ignore"):
        lo = np.fmin.reduceat(v, edges)
        hi = np.fmax.reduceat(v, edges)
    tt = t[edges]
    return np.repeat(tt, 2), np.column_stack((lo, hi)).reshape(-1)


def _minutes(t: NDArray[np.float64]) -> NDArray[np.float64]:
    return t / 60.0


def _min(t: float) -> float:
    return t / 60.0


def _shade(ax: Axes, data: ReportData, t_lo: float, t_hi: float) -> None:
    seen: set[str] = set()
    for cycle in data.cycles:
        cycle_end = cycle.end_t if cycle.end_t is not None else data.t_end
        if cycle_end < t_lo or cycle.start_t > t_hi:
            continue  # drawn outside the axes it would squeeze the plot
        for phase in cycle.phases:
            end = phase.end_t if phase.end_t is not None else data.t_end
            if end < t_lo or phase.start_t > t_hi:
                continue
            colour = PHASE_COLOURS.get(phase.phase)
            if colour is None:
                continue
            label = PHASE_NAMES[phase.phase] if phase.phase not in seen else None
            seen.add(phase.phase)
            ax.axvspan(_min(max(phase.start_t, t_lo)), _min(min(end, t_hi)),
                       color=colour, alpha=0.45, lw=0, label=label, zorder=0)
        if cycle.start_t >= t_lo:
            ax.text(_min(cycle.start_t), 1.0, f" cycle {cycle.cycle}",
                    transform=ax.get_xaxis_transform(), va="top", ha="left", fontsize=8,
                    color="#333333")


def _levels(ax: Axes, series: Sequence[Series]) -> None:
    drawn: dict[tuple[str, float], None] = {}
    for s in series:
        for condition, level in s.levels:
            drawn.setdefault((condition, level), None)
    for condition, level in drawn:
        colour, style, words = LEVEL_STYLES[condition]
        ax.axhline(level, color=colour, ls=style, lw=1.1,
                   label=f"{words} {level:g} °C", zorder=1)


def _alarms(ax: Axes, rows: Sequence[AlarmLogRow], series: Sequence[Series], t_lo: float,
            t_hi: float) -> None:
    mine = {s.channel for s in series}
    labelled: set[str] = set()
    for row in rows:
        if row.channel not in mine or row.category != "physiological" or row.value is None:
            continue
        if not t_lo <= row.raised_t <= t_hi:
            continue
        marker, colour = PRIORITY_MARKERS.get(row.priority, ("v", "black"))
        label = f"{row.priority} alarm" if row.priority not in labelled else None
        labelled.add(row.priority)
        ax.plot(_min(row.raised_t), row.value, marker=marker, color=colour, ms=8,
                mec="black", mew=0.6, ls="none", label=label, zorder=5)


def _lines(ax: Axes, series: Sequence[Series], t_lo: float, t_hi: float) -> None:
    for s in series:
        sel = (s.t >= t_lo) & (s.t <= t_hi)
        t, v = envelope(s.t[sel], s.v[sel])
        name = f"{s.channel} ({s.label})" if s.label and len(series) <= LABELLED_LINES \
            else s.channel
        # A label is text from the config: no control characters, no $...$ maths.
        ax.plot(_minutes(t), v, lw=1.0, label=printable(name).replace("$", "\\$"), zorder=3)


def _finish(ax: Axes, title: str) -> None:
    ax.set_title(title, fontsize=10, loc="left", parse_math=False)
    ax.set_ylabel("°C")
    ax.grid(True, alpha=0.3)
    entries = len(ax.get_legend_handles_labels()[1])
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7 if entries > 12 else 8,
              frameon=False, ncols=2 if entries > 14 else 1)


def _figure(height_in: float) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


INTERVENTION_STYLES = {"co2": ("#1a9850", "CO₂ injection"),
                       "saline": ("#d6604d", "warm saline injection")}
NOTE_COLOUR = "#555555"


def _marks(ax: Axes, marks: Marks | None, t_lo: float, t_hi: float, *, notes: bool) -> None:
    """Interventions as vertical lines (one legend entry per kind), notes as numbered ticks
    at the top (``n1``, ``n2``: the report's note table)."""
    if marks is None:
        return
    labelled: set[str] = set()
    for t, kind in marks.times():
        if not t_lo <= t <= t_hi:
            continue
        colour, words = INTERVENTION_STYLES.get(kind, ("#7b3294", f"intervention {kind}"))
        label = words if kind not in labelled else None
        labelled.add(kind)
        ax.axvline(_min(t), color=colour, lw=1.6, ls="-.", label=label, zorder=4)
    if not notes:
        return
    for i, note in enumerate(marks.notes, 1):
        if t_lo <= note.t <= t_hi:
            ax.axvline(_min(note.t), color=NOTE_COLOUR, lw=0.8, ls=":", zorder=4)
            ax.text(_min(note.t), 0.99, f"n{i}", transform=ax.get_xaxis_transform(),
                    va="top", ha="center", fontsize=7, color=NOTE_COLOUR, parse_math=False,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})


def _save(fig: Figure, out: Path) -> Path:
    """A private PNG (0600, atomically, never through a symlink)."""
    with replace_privately(out) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    return out


def _png(fig: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    return buffer.getvalue()


def overview(data: ReportData, out: Path, marks: Marks | None = None) -> Path:
    """Every channel over the whole session: probes above, patient channels below."""
    return _save(_overview(data, marks), out)


def overview_png(data: ReportData, *, dpi: int, marks: Marks | None = None) -> bytes:
    return _png(_overview(data, marks), dpi)


def cycle_figure(data: ReportData, cycle: CycleSummary, out: Path, pad_s: float = 60.0,
                 marks: Marks | None = None) -> Path:
    """One cycle, zoomed on the nerve channels (all patient channels when there is no nerve)."""
    return _save(_cycle(data, cycle, pad_s, marks), out)


def cycle_png(data: ReportData, cycle: CycleSummary, *, dpi: int, marks: Marks | None = None
              ) -> bytes:
    return _png(_cycle(data, cycle, 60.0, marks), dpi)


def _overview(data: ReportData, marks: Marks | None) -> Figure:
    probes = [s for s in data.series if s.role not in PATIENT_ROLES]
    patients = [s for s in data.series if s.role in PATIENT_ROLES]
    panels = [p for p in (patients, probes) if p] or [[]]
    ratios = [2.0, 1.0] if len(panels) == 2 else [1.0]
    fig = _figure(HEIGHT_IN)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False, height_ratios=ratios)
    t_hi = data.t_end
    for ax, group in zip(axes[:, 0], panels, strict=True):
        _shade(ax, data, 0.0, t_hi)
        if group is patients:
            _levels(ax, group)
        _lines(ax, group, 0.0, t_hi)
        _alarms(ax, data.alarm_log, group, 0.0, t_hi)
        _marks(ax, marks, 0.0, t_hi, notes=ax is axes[0, 0])
        title = ("patient channels (nerve, skin)" if group is patients
                 else "probe and reference channels")
        _finish(ax, title)
    axes[-1, 0].set_xlabel("session time (min)")
    axes[-1, 0].set_xlim(0.0, max(_min(t_hi), 1e-3))
    fig.suptitle(f"{printable(data.station)}: temperatures over the session", fontsize=11,
                 x=0.01, ha="left", parse_math=False)
    return fig


def _cycle(data: ReportData, cycle: CycleSummary, pad_s: float, marks: Marks | None
           ) -> Figure:
    nerves = [s for s in data.series if s.role == "nerve"] or [
        s for s in data.series if s.role in PATIENT_ROLES] or list(data.series)
    end = cycle.end_t if cycle.end_t is not None else data.t_end
    t_lo, t_hi = max(0.0, cycle.start_t - pad_s), min(data.t_end, end + pad_s)
    fig = _figure(CYCLE_HEIGHT_IN)
    ax = fig.subplots()
    _shade(ax, data, t_lo, t_hi)
    _levels(ax, nerves)
    _lines(ax, nerves, t_lo, t_hi)
    _alarms(ax, data.alarm_log, nerves, t_lo, t_hi)
    _marks(ax, marks, t_lo, t_hi, notes=True)
    _finish(ax, f"cycle {cycle.cycle}: nerve channels, {_min(cycle.start_t):.1f}–"
                f"{_min(end):.1f} min")
    ax.set_xlabel("session time (min)")
    ax.set_xlim(_min(t_lo), _min(max(t_hi, t_lo + 1.0)))
    return fig
