"""Interventions and notes for the report: the table rows and the marks on the plots.

The figures belong to monitor/report/data.py (``ReportData.interventions`` and
``first_warning_to_intervention_s``, which ``cryoguard summary`` prints too). Until that is on
this branch, :func:`_standin` computes the same shape from the session file, so the rendering
is written and tested against it; :meth:`Marks.of` uses data.py's fields whenever they exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.engine.spec import Condition
from monitor.errors import CryoGuardError
from monitor.report.data import AlarmLogRow, ReportData

KIND_WORDS = {"co2": "CO₂ injection", "saline": "warm saline injection"}
AFTER_S = 60.0


def kind_words(kind: object) -> str:
    return KIND_WORDS.get(str(kind), f"intervention {kind}")


@dataclass(frozen=True, slots=True)
class NerveFigures:
    """One nerve channel around one intervention (°C; ``None`` without a valid reading)."""

    temp_at_c: float | None
    temp_after_60s_c: float | None
    lowest_between_c: float | None


@dataclass(frozen=True, slots=True)
class InterventionFigures:
    t: float
    kind: str
    by: str
    channels: Mapping[str, NerveFigures]


@dataclass(frozen=True, slots=True)
class NoteRow:
    t: float
    text: str
    by: str


@dataclass(frozen=True, slots=True)
class Marks:
    """What the report lists and the plots draw besides readings: interventions and notes."""

    interventions: tuple[Any, ...] = ()
    notes: tuple[NoteRow, ...] = ()
    first_warning_to_intervention_s: float | None = None
    first_warning: tuple[str, float] | None = None  # (alarm, t)
    standin: bool = field(default=False, compare=False)

    @classmethod
    def of(cls, data: ReportData) -> Marks:
        local = _standin(data)
        given = getattr(data, "interventions", None)
        if given is None:
            return local
        notes = getattr(data, "notes", None)
        return cls(tuple(given), tuple(notes) if notes is not None else local.notes,
                   getattr(data, "first_warning_to_intervention_s", None),
                   local.first_warning)  # the alarm's name: data.py gives only the delay

    def times(self) -> list[tuple[float, str]]:
        """(t, kind) of every intervention, for the plots."""
        out = []
        for item in self.interventions:
            t = item.get("t") if isinstance(item, Mapping) else getattr(item, "t", None)
            kind = item.get("kind") if isinstance(item, Mapping) else getattr(item, "kind", "")
            if isinstance(t, int | float) and not isinstance(t, bool):
                out.append((float(t), str(kind)))
        return out


def _standin(data: ReportData) -> Marks:
    """Interventions, notes and the first warning, from the session's inputs and the replayed
    alarm log (see the module note)."""
    from monitor.sessions.reader import open_session
    from monitor.sessions.schema import InputKind

    try:
        with open_session(data.path) as session:
            inputs = session.inputs()
    except CryoGuardError:
        inputs = []
    nerves = [s for s in data.series if s.role == "nerve"]
    interventions = []
    notes = []
    for item in inputs:
        payload = item.payload
        if item.kind == InputKind.INTERVENTION:
            figures = {s.channel: around(s.t, s.v, item.t, data.t_end) for s in nerves}
            interventions.append(InterventionFigures(item.t, str(payload.get("kind", "")),
                                                     str(payload.get("by", "")), figures))
        elif item.kind == InputKind.NOTE:
            notes.append(NoteRow(item.t, str(payload.get("text", "")),
                                 str(payload.get("by", ""))))
    first = first_warning(data)
    delay = None
    if first is not None and interventions:
        delay = min(i.t for i in interventions) - first.raised_t
    return Marks(tuple(interventions), tuple(notes), delay,
                 (first.alarm, first.raised_t) if first is not None else None, standin=True)


def first_warning(data: ReportData) -> AlarmLogRow | None:
    """The first cold-side physiological alarm on a nerve channel (below warning, below
    critical, freezing, predicted below critical, falling fast), as data.py defines it."""
    nerves = {s.channel for s in data.series if s.role == "nerve"}
    cold = []
    for row in data.alarm_log:
        try:
            condition = Condition(row.condition)
        except ValueError:
            continue
        if row.channel in nerves and condition.cold and row.category == "physiological":
            cold.append(row)
    return min(cold, key=lambda a: a.raised_t) if cold else None


def around(t: NDArray[np.float64], v: NDArray[np.float64], at_t: float, t_end: float
           ) -> NerveFigures:
    """The last valid reading at ``at_t``, the last at ``at_t + 60 s`` (if the session lasted
    that long) and the lowest valid reading from one to the other."""
    valid = ~np.isnan(v)
    tv, vv = t[valid], v[valid]
    if tv.shape[0] == 0:
        return NerveFigures(None, None, None)

    def last_at(moment: float) -> float | None:
        i = int(np.searchsorted(tv, moment, side="right")) - 1
        return float(vv[i]) if i >= 0 else None

    then = last_at(at_t)
    later = last_at(at_t + AFTER_S) if at_t + AFTER_S <= t_end else None
    window = vv[(tv >= at_t) & (tv <= at_t + AFTER_S)]
    lowest = float(window.min()) if window.shape[0] else None
    if then is not None:
        lowest = then if lowest is None else min(lowest, then)
    return NerveFigures(then, later, lowest)
