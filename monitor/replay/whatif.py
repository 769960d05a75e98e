"""What-if replay: recorded channels under another config's thresholds, and the comparison.

``cryoguard replay SESSION --config FILE`` answers "what would these thresholds have done". The
recorded channels are kept (id, label, role, device and index, from the session's channel map
or an export's ``label``/``role`` columns); the config's thresholds and settings apply to them,
and a channel the config defines under the same id takes the config's definition. Without that,
a probe missing from the config would be monitored as a nerve (the default role of an unknown
channel) and raise alarms it never could live.

The comparison pairs each alarm's raises in the recording with those of the replay: identical
times first (``same``), then in order between those anchors (``earlier``/``later`` with the
shift), and what is left ``appeared`` or ``vanished``. Details: docs/replay.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from monitor.engine.core import OUTPUT_FAILED
from monitor.engine.spec import ChannelSpec, Condition, EngineSpec
from monitor.model import Event, EventType
from monitor.sessions.schema import ChannelInfo

SAME_WITHIN_S = 0.0005  # event times are written to the microsecond; this is "the same moment"
STALE_INTERVALS = 2.5  # a file's channel is stale after this many of its sampling intervals
CHANGES = ("same", "earlier", "later", "appeared", "vanished")
OUTPUT_FAULT = f".{OUTPUT_FAILED}"  # the station's own outputs: not compared


def replay_spec(spec: EngineSpec, recorded: Sequence[ChannelInfo]) -> EngineSpec:
    """``spec`` (from the config) with the recorded channels kept, in recorded order.

    A recorded channel the config defines keeps the config's definition; the others keep their
    recorded role, label, device and index and take the config's thresholds for that role. A
    channel recorded without a role (first seen in the data) gets the config's role for
    unknown channels, as it would live.
    """
    configured = {c.id: c for c in spec.channels}
    channels: list[ChannelSpec] = []
    seen: set[str] = set()
    for info in recorded:
        if info.id in seen:
            continue
        seen.add(info.id)
        if info.id in configured:
            channels.append(configured[info.id])
            continue
        role = info.role if info.role is not None else spec.unknown_channel_role
        conditions = spec.role_conditions.get(role)
        if conditions is None:
            conditions = spec.spec_for_unknown(info.id).conditions
        channels.append(ChannelSpec(id=info.id, role=role, conditions=conditions,
                                    label=info.label, device=info.device, index=info.index))
    channels += [c for c in spec.channels if c.id not in seen]
    return replace(spec, channels=tuple(channels))


def stale_for_interval(spec: EngineSpec, interval_s: float | None) -> tuple[EngineSpec, float]:
    """Staleness judged against a file's own sampling interval.

    A logger that samples every 5 s is not stale 2 s after a sample: every ``stale`` condition
    waits at least :data:`STALE_INTERVALS` intervals (one missing sample is tolerated, two are
    not). Returns the spec and the longest ``after_s`` now in force.
    """
    if interval_s is None or not interval_s > 0:
        return spec, _longest_stale(spec)
    floor = STALE_INTERVALS * interval_s

    def widen(conditions: Mapping[Condition, Any]) -> Mapping[Condition, Any]:
        stale = conditions.get(Condition.STALE)
        if stale is None or stale.after_s is None or stale.after_s >= floor:
            return conditions
        return {**conditions, Condition.STALE: replace(stale, after_s=floor)}

    channels = tuple(replace(c, conditions=widen(c.conditions)) for c in spec.channels)
    roles = {role: widen(conds) for role, conds in spec.role_conditions.items()}
    widened = replace(spec, channels=channels, role_conditions=roles)
    return widened, _longest_stale(widened)


def _longest_stale(spec: EngineSpec) -> float:
    values = [c.conditions[Condition.STALE].after_s for c in spec.channels
              if Condition.STALE in c.conditions]
    values += [conds[Condition.STALE].after_s for conds in spec.role_conditions.values()
               if Condition.STALE in conds]
    return max((v for v in values if v is not None), default=0.0)


# The comparison ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """One raise of one alarm, in the recording, the replay, or both."""

    alarm: str
    change: str  # same | earlier | later | appeared | vanished
    recorded_t: float | None
    replayed_t: float | None

    @property
    def shift_s(self) -> float | None:
        """``replayed_t − recorded_t`` (negative: the replay raised it earlier)."""
        if self.recorded_t is None or self.replayed_t is None:
            return None
        return round(self.replayed_t - self.recorded_t, 6)

    @property
    def t(self) -> float:
        """When it happened first, for sorting."""
        times = [x for x in (self.recorded_t, self.replayed_t) if x is not None]
        return min(times) if times else 0.0

    def record(self) -> dict[str, Any]:
        """The ``--diff-out`` JSON object."""
        return {"alarm": self.alarm, "change": self.change, "recorded_t": _us(self.recorded_t),
                "replayed_t": _us(self.replayed_t), "shift_s": self.shift_s}

    def words(self) -> str:
        """One line a clinician can read: ``N1 below critical: 38.0 s earlier (...)``."""
        name = alarm_words(self.alarm)
        if self.change == "appeared":
            return f"{name}: appeared at {_clock(self.replayed_t)} (not in the recording)"
        if self.change == "vanished":
            return f"{name}: vanished (recorded at {_clock(self.recorded_t)})"
        if self.change == "same":
            return f"{name}: the same, at {_clock(self.recorded_t)}"
        shift = abs(self.shift_s or 0.0)
        return (f"{name}: {shift:.1f} s {self.change} ({_clock(self.replayed_t)} instead of "
                f"{_clock(self.recorded_t)})")


def alarm_words(alarm: str) -> str:
    """``N1.below_critical`` → ``N1 below critical`` (channel ids hold no dots)."""
    channel, _, condition = alarm.rpartition(".")
    return f"{channel} {condition.replace('_', ' ')}" if channel else alarm.replace("_", " ")


def _us(t: float | None) -> float | None:
    return None if t is None else round(t, 6)


def _clock(t: float | None) -> str:
    """Session time as ``m:ss.s``, the way the display and the report show it."""
    if t is None:
        return "–"
    minutes, seconds = divmod(abs(t), 60.0)
    return f"{'-' if t < 0 else ''}{int(minutes)}:{seconds:04.1f}"


def raised_times(recorded: Iterable[Mapping[str, Any]] = (), replayed: Iterable[Event] = ()
                 ) -> dict[str, list[float]]:
    """Raise times per alarm, from recorded event records or replayed events.

    The recording station's own output faults (``<output>.output_failed``: a full disk, a
    missing sound device, a stalled terminal) are left out: they came from that machine, not
    from the readings, so no replay can raise them and no threshold changes them.
    """
    out: dict[str, list[float]] = {}
    for record in recorded:
        if record.get("type") != EventType.ALARM_RAISED:
            continue
        if str(record.get("alarm")).endswith(OUTPUT_FAULT):
            continue
        t = record.get("t")
        if isinstance(t, int | float) and not isinstance(t, bool):
            out.setdefault(str(record.get("alarm")), []).append(float(t))
    for event in replayed:
        if event.type is EventType.ALARM_RAISED and not str(event.get("alarm")).endswith(
                OUTPUT_FAULT):
            out.setdefault(str(event.get("alarm")), []).append(float(event.t))
    return out


def compare_alarms(recorded: Iterable[Mapping[str, Any]], replayed: Iterable[Event]
                   ) -> list[AlarmChange]:
    """Every raise of every alarm, paired between recording and replay, in time order."""
    before = raised_times(recorded=recorded)
    after = raised_times(replayed=replayed)
    changes: list[AlarmChange] = []
    for alarm in sorted(set(before) | set(after)):
        changes += _pair(alarm, sorted(before.get(alarm, [])), sorted(after.get(alarm, [])))
    return sorted(changes, key=lambda c: (c.t, c.alarm))


def _pair(alarm: str, rec: list[float], rep: list[float]) -> list[AlarmChange]:
    anchors: list[tuple[int, int]] = []
    j = 0
    for i, t in enumerate(rec):  # identical moments first: both lists are sorted
        while j < len(rep) and rep[j] < t - SAME_WITHIN_S:
            j += 1
        if j < len(rep) and abs(rep[j] - t) <= SAME_WITHIN_S:
            anchors.append((i, j))
            j += 1
    out: list[AlarmChange] = []
    lo_i = lo_j = 0
    for i, j in [*anchors, (len(rec), len(rep))]:
        gap_rec, gap_rep = rec[lo_i:i], rep[lo_j:j]
        for a, b in zip(gap_rec, gap_rep, strict=False):  # in order between the anchors
            out.append(AlarmChange(alarm, "earlier" if b < a else "later", a, b))
        out += [AlarmChange(alarm, "vanished", a, None) for a in gap_rec[len(gap_rep):]]
        out += [AlarmChange(alarm, "appeared", None, b) for b in gap_rep[len(gap_rec):]]
        if i < len(rec):
            out.append(AlarmChange(alarm, "same", rec[i], rep[j]))
        lo_i, lo_j = i + 1, j + 1
    return out


def summary_lines(changes: Sequence[AlarmChange]) -> list[str]:
    """The human comparison: a count line, then one line per alarm that differs."""
    counts = {name: sum(c.change == name for c in changes) for name in CHANGES}
    differ = [c for c in changes if c.change != "same"]
    if not differ:
        return [f"against the recording: the same alarms were raised ({counts['same']} alarm "
                "raise(s), each at the same moment)"]
    parts = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    return [f"against the recording: {parts}"] + [f"  {c.words()}" for c in differ]
