"""Interventions and notes for the report: the table rows and the marks on the plots.

The figures are computed once, in monitor/report/data.py (``ReportData.interventions``,
``notes`` and ``first_warning_to_intervention_s``; ``cryoguard summary`` prints the same ones).
This module only gathers them with the name of the first warning for the text and the plots.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.engine.spec import Condition
from monitor.report.data import AlarmLogRow, InterventionRow, NoteRow, ReportData

KIND_WORDS = {"co2": "CO₂ injection", "saline": "warm saline injection"}
AFTER_S = 60.0


def kind_words(kind: object) -> str:
    return KIND_WORDS.get(str(kind), f"intervention {kind}")


@dataclass(frozen=True, slots=True)
class Marks:
    """What the report lists and the plots draw besides readings: interventions and notes."""

    interventions: tuple[InterventionRow, ...] = ()
    notes: tuple[NoteRow, ...] = ()
    first_warning_to_intervention_s: float | None = None
    first_warning: tuple[str, float] | None = None  # (alarm, t)

    @classmethod
    def of(cls, data: ReportData) -> Marks:
        first = first_warning(data)
        return cls(tuple(data.interventions), tuple(data.notes),
                   data.first_warning_to_intervention_s,
                   (first.alarm, first.raised_t) if first is not None else None)

    def times(self) -> list[tuple[float, str]]:
        """(t, kind) of every intervention, for the plots."""
        return [(float(i.t), str(i.kind)) for i in self.interventions]


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
