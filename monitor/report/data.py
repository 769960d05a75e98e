"""Everything a procedure report shows, recomputed by replaying the session through the engine.

The report never trusts a summary written live: it replays the recorded readings and operator
inputs through the same engine (:func:`monitor.replay.core.replay`), so its cycles, statistics and
alarm log are the ones live monitoring produced, and it also checks that the replayed alarms
match the recorded ones. ``cryoguard summary`` builds its cohort table from the same data.

Interventions (CO2 or warm saline injected near a nerve) come from the replayed ``intervention``
events: per intervention, each nerve channel's reading then (the last valid one at or before
it), 60 s later (the last valid one at or before t + 60 s; none if the recording ends sooner)
and the lowest in between. ``first_warning_to_intervention_s`` is the time from the first
cold-side physiological alarm on a nerve channel (below warning, below critical, freezing,
predicted below critical, falling fast) to the first intervention: negative when the team
intervened before any warning (CO2 injected at 15 °C before the lagging needle read it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.config.schema import Config, default_config, parse_config
from monitor.engine import Engine
from monitor.engine.cycles import ChannelCycleStats, CycleSummary
from monitor.engine.spec import ChannelSpec, Condition, ConditionSpec, CycleSpec, Kind
from monitor.errors import ConfigError, UsageError
from monitor.model import Category, Event, EventType, Role
from monitor.replay.core import alarm_differences, engine_spec, load_source, replay
from monitor.replay.whatif import AlarmChange, compare_alarms
from monitor.sessions.reader import SessionInput, open_session
from monitor.sessions.schema import ChannelInfo, InputKind

DEFAULTS_DOC = "docs/clinical-defaults.md"
LEVEL_CONDITIONS = (Condition.BELOW_WARNING, Condition.BELOW_CRITICAL, Condition.FREEZING)
EFFECT_WINDOW_S = 60.0  # "60 s later": the effect of an intervention on the nerve readings


@dataclass(frozen=True, slots=True)
class AlarmLogRow:
    alarm: str
    channel: str
    condition: str
    category: str
    priority: str
    raised_t: float
    value: float | None
    limit: float | None
    message: str
    cleared_t: float | None = None  # the alarm ended (a latched one: cleared and acknowledged)
    condition_ended_t: float | None = None  # the condition itself ended
    acknowledged_t: float | None = None
    acknowledged_by: str | None = None


@dataclass(frozen=True, slots=True)
class ThresholdRow:
    scope: str  # "role nerve" or "channel N1"
    condition: str
    setting: str
    priority: str
    latching: bool
    enabled: bool
    source: str  # "default" or where it was overridden


@dataclass(frozen=True, slots=True)
class Series:
    """One channel's recorded valid readings (NaN where the reading was not OK)."""

    channel: str
    role: str
    label: str
    t: NDArray[np.float64]
    v: NDArray[np.float64]
    levels: tuple[tuple[str, float], ...]  # (condition, trip °C) of the cold conditions in use


@dataclass(frozen=True, slots=True)
class NerveEffect:
    """One nerve channel around one intervention (°C; ``None`` where there is no reading)."""

    channel: str
    temp_at_c: float | None
    temp_after_60s_c: float | None
    lowest_between_c: float | None


@dataclass(frozen=True, slots=True)
class InterventionRow:
    t: float
    kind: str  # "co2" or "saline"
    by: str
    nerves: tuple[NerveEffect, ...]

    def effect(self, channel: str) -> NerveEffect | None:
        return next((n for n in self.nerves if n.channel == channel), None)


@dataclass(frozen=True, slots=True)
class NoteRow:
    t: float
    text: str
    by: str


@dataclass
class ReportData:
    path: Path
    station: str
    wall_start: datetime | None
    t_end: float
    closed_cleanly: bool
    meta: dict[str, str]
    devices: list[tuple[str, str, str]]  # (id, protocol, port)
    channels: list[ChannelInfo]
    thresholds: list[ThresholdRow]
    cycle_spec: CycleSpec
    config_note: str
    cycles: list[CycleSummary]
    channel_stats: list[ChannelCycleStats]
    alarm_log: list[AlarmLogRow]
    cycle_events: list[Event]  # cycle.phase and cycle.mark, in engine order
    device_events: list[Event]
    series: list[Series]
    readings: int
    appear: list[tuple[str, float]] = field(default_factory=list)
    vanish: list[tuple[str, float]] = field(default_factory=list)
    interventions: list[InterventionRow] = field(default_factory=list)
    notes: list[NoteRow] = field(default_factory=list)
    first_warning_to_intervention_s: float | None = None
    events: list[Event] = field(default_factory=list)  # everything the replay produced
    alarm_changes: list[AlarmChange] = field(default_factory=list)  # vs the recording

    @property
    def duration_s(self) -> float:
        return self.t_end


def load_report_data(path: str | Path) -> ReportData:
    """Replay the session at ``path`` and gather the report's contents."""
    source = load_source(path)
    if source.kind != "session":
        raise UsageError(f"{path}: a report needs a session file (.cgsession), not a CSV file; "
                         "use `cryoguard replay` for CSV files")
    config, note = _config(source.config, str(path))
    engine = Engine(engine_spec(source, config.engine_spec())[0], t0=0.0)
    events: list[Event] = []
    result = replay(source, engine, events.append)
    actions = operator_events(events, source.inputs)
    with open_session(path) as session:
        meta = dict(session.meta)
        infos = list(session.channels)
        closed = session.closed_cleanly
        station = session.station
    t_end = source.t_end if source.t_end is not None else max(engine.now, 0.0)
    appear, vanish = alarm_differences(source.recorded_events, events)
    specs = {c.spec.id: c.spec for c in engine.channels}
    series = _series(source.channels, source.t, source.channel, source.temp_c, specs)
    done = interventions(actions, series)
    known = {i.id for i in infos}
    infos += [ChannelInfo(id=cid, role=specs[cid].role, configured=False)
              for cid in source.channels if cid not in known and cid in specs]
    return ReportData(
        path=Path(path), station=station or config.station.name, wall_start=source.wall_start,
        t_end=float(t_end), closed_cleanly=closed, meta=meta,
        devices=[(d.id, str(d.protocol), str(d.port)) for d in config.devices],
        channels=infos, thresholds=threshold_rows(config), cycle_spec=config.cycles.spec(),
        config_note=note, cycles=engine.cycles_summary(),
        channel_stats=engine.channels_summary(), alarm_log=alarm_log(events),
        cycle_events=[e for e in events
                      if e.type in (EventType.CYCLE_PHASE, EventType.CYCLE_MARK)],
        device_events=[e for e in events
                       if e.type in (EventType.DEVICE_LOST, EventType.DEVICE_CONNECTED)],
        series=series, readings=result.readings, appear=appear, vanish=vanish,
        interventions=done,
        notes=[NoteRow(e.t, str(e.get("text", "")), str(e.get("by", ""))) for e in actions
               if e.type is EventType.NOTE],
        first_warning_to_intervention_s=first_warning_to_intervention(
            events, done, _nerves(series)),
        events=events, alarm_changes=compare_alarms(source.recorded_events, events))


def operator_events(events: list[Event], inputs: Sequence[SessionInput]) -> list[Event]:
    """The replayed ``intervention`` and ``note`` events; from the recorded inputs when this
    engine did not turn them into events (a file from a version that recorded them first)."""
    found = [e for e in events if e.type in (EventType.INTERVENTION, EventType.NOTE)]
    if found:
        return found
    kinds = {InputKind.INTERVENTION: EventType.INTERVENTION, InputKind.NOTE: EventType.NOTE}
    return [Event(i.t, kinds[InputKind(i.kind)], dict(i.payload)) for i in inputs
            if i.kind in kinds]


def _nerves(series: list[Series]) -> list[Series]:
    return [s for s in series if s.role == Role.NERVE.value]


def interventions(events: list[Event], series: list[Series]) -> list[InterventionRow]:
    """Each intervention with every nerve channel's reading then, 60 s later and the lowest
    in between."""
    rows = []
    for event in events:
        if event.type is not EventType.INTERVENTION:
            continue
        effects = tuple(nerve_effect(s, event.t) for s in _nerves(series))
        rows.append(InterventionRow(event.t, str(event.get("kind", "")),
                                    str(event.get("by", "")), effects))
    return rows


def nerve_effect(series: Series, t: float, after_s: float = EFFECT_WINDOW_S) -> NerveEffect:
    """Readings of one channel around time ``t``: last valid at or before ``t``, last valid at
    or before ``t + after_s`` (none if the channel's readings end before it), lowest valid in
    ``[t, t + after_s]``."""
    valid = np.isfinite(series.v)
    tt, vv = series.t[valid], series.v[valid]

    def last_at(moment: float) -> float | None:
        k = int(np.searchsorted(tt, moment, "right")) - 1
        return float(vv[k]) if k >= 0 else None

    ends = float(series.t[-1]) if series.t.shape[0] else -math.inf
    window = vv[(tt >= t) & (tt <= t + after_s)]
    return NerveEffect(series.channel, last_at(t),
                       last_at(t + after_s) if ends >= t + after_s else None,
                       float(window.min()) if window.shape[0] else None)


def first_warning_t(events: list[Event], channels: Sequence[str]) -> float | None:
    """When the first cold-side physiological alarm was raised on one of ``channels``."""
    wanted = set(channels)
    for event in events:
        if event.type is not EventType.ALARM_RAISED or event.get("channel") not in wanted:
            continue
        try:
            condition = Condition(str(event.get("condition")))
        except ValueError:
            continue
        if condition.cold and condition.category is Category.PHYSIOLOGICAL:
            return event.t
    return None


def first_warning_to_intervention(events: list[Event], rows: list[InterventionRow],
                                  nerves: Sequence[Series] | Sequence[str]) -> float | None:
    """Seconds from the first cold warning on a nerve channel to the first intervention;
    negative when the team intervened before any warning, ``None`` when either is missing."""
    names = [n if isinstance(n, str) else n.channel for n in nerves]
    warned = first_warning_t(events, names)
    if warned is None or not rows:
        return None
    return round(min(r.t for r in rows) - warned, 6)


def _config(recorded: dict[str, Any] | None, where: str) -> tuple[Config, str]:
    if not recorded:
        return default_config(), "no config recorded in the session: built-in defaults used"
    try:
        return parse_config(recorded, f"{where} (recorded config)"), "the config recorded " \
            "in the session"
    except ConfigError as exc:
        return default_config(), f"the recorded config could not be read ({exc}); built-in " \
            "defaults used"


def alarm_log(events: list[Event]) -> list[AlarmLogRow]:
    """One row per alarm raised, with when it cleared and when (and by whom) it was
    acknowledged."""
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, dict[str, Any]] = {}
    for e in events:
        alarm = e.alarm
        if alarm is None:
            continue
        if e.type is EventType.ALARM_RAISED:
            row = {"alarm": alarm, "channel": str(e.get("channel", "")),
                   "condition": str(e.get("condition", "")),
                   "category": str(e.get("category", "")),
                   "priority": str(e.get("priority", "")), "raised_t": e.t,
                   "value": e.get("value"), "limit": e.get("limit"),
                   "message": str(e.get("message", ""))}
            rows.append(row)
            open_rows[alarm] = row
            continue
        found = open_rows.get(alarm)
        if found is None:
            continue
        row = found
        if e.type is EventType.ALARM_ACKNOWLEDGED and "acknowledged_t" not in row:
            row["acknowledged_t"] = e.t
            row["acknowledged_by"] = str(e.get("by", ""))
        elif e.type is EventType.ALARM_CLEARED:
            cleared = e.get("condition_cleared_t")
            row["cleared_t"] = e.t
            row["condition_ended_t"] = (float(cleared) if isinstance(cleared, (int, float))
                                        else e.t)
            del open_rows[alarm]
    return [AlarmLogRow(**row) for row in rows]


def describe(spec: ConditionSpec) -> str:
    """A condition's setting in words, in the units of the config keys."""
    kind = spec.condition.kind
    if kind is Kind.LOW:
        return f"≤ {spec.trip_c:g} °C, clears ≥ {spec.clear_c:g} °C"
    if kind is Kind.HIGH:
        return f"≥ {spec.trip_c:g} °C, clears ≤ {spec.clear_c:g} °C"
    if kind is Kind.PREDICTED:
        return (f"{spec.trip_c:g} °C predicted within {spec.horizon_s:g} s, clears beyond "
                f"{spec.clear_horizon_s:g} s or rising")
    if kind is Kind.SLOPE:
        return f"≤ {spec.trip_c_per_min:g} °C/min, clears ≥ {spec.clear_c_per_min:g} °C/min"
    if kind is Kind.STALE:
        return f"no valid reading for {spec.after_s:g} s"
    if kind is Kind.STUCK:
        return f"reading unchanged for {spec.after_s:g} s"
    if kind is Kind.JUMP:
        return f"faster than {spec.max_c_per_s:g} °C/s and more than {spec.min_step_c:g} °C"
    return "status reported by the device"


def threshold_rows(config: Config) -> list[ThresholdRow]:
    """The thresholds in force for each role in use, then each channel's own overrides."""
    spec = config.engine_spec()
    rows: list[ThresholdRow] = []
    order = list(Role)
    roles = sorted({c.role for c in config.channels}, key=order.index)
    if not roles:
        roles = [config.alarms.unknown_channel_role]
    for role in roles:
        overrides = config.roles.for_role(role)
        changed = {c for c, _ in overrides.items()} if overrides is not None else set()
        for condition, cs in spec.role_conditions[role].items():
            source = f"[roles.{role.value}] override" if condition in changed else "default"
            rows.append(_row(f"role {role.value}", cs, source))
    for channel in config.channels:
        changed = {c for c, _ in channel.alarms.items()}
        resolved = spec.channel(channel.id)
        if not changed or resolved is None:
            continue
        for condition in sorted(changed, key=lambda c: c.order):
            rows.append(_row(f"channel {channel.id}", resolved.conditions[condition],
                             "channel override"))
    return rows


def _row(scope: str, cs: ConditionSpec, source: str) -> ThresholdRow:
    return ThresholdRow(scope, cs.condition.value, describe(cs), cs.priority.label, cs.latching,
                        cs.enabled, source)


def cold_levels(spec: ChannelSpec) -> tuple[tuple[str, float], ...]:
    out = []
    for condition in LEVEL_CONDITIONS:
        cs = spec.enabled(condition)
        if cs is not None and cs.trip_c is not None:
            out.append((condition.value, cs.trip_c))
    return tuple(out)


def _series(names: list[str], t: NDArray[np.float64], channel: NDArray[np.int32],
            temp_c: NDArray[np.float64], specs: dict[str, ChannelSpec]) -> list[Series]:
    if t.shape[0] == 0:
        return []
    order = np.argsort(channel, kind="stable")
    chans = channel[order]
    cuts = np.flatnonzero(np.diff(chans)) + 1
    out = []
    for rows in np.split(order, cuts):
        name = names[int(channel[rows[0]])]
        spec = specs.get(name)
        if spec is None:
            continue
        out.append(Series(name, str(spec.role), spec.label, t[rows], temp_c[rows],
                          cold_levels(spec)))
    rank = {name: i for i, name in enumerate(specs)}
    return sorted(out, key=lambda s: rank[s.channel])
