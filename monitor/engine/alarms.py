"""The alarm manager: IEC 60601-1-8 semantics on top of raw condition changes.

Conditions come and go (the channel logic decides that); the manager decides what the operator
sees and hears. A latching alarm stays until its condition has cleared *and* it has been
acknowledged, in either order (Phoebus). Acknowledge silences audio only. An audio pause lasts
``audio_pause_s`` and a new alarm of higher priority than any sounding at the pause breaks it.
Every change is an :class:`~monitor.model.Event`; the manager is sequential and has no clock.

An alarm keeps the value, limit, rate and message it was raised with for as long as it is
shown: a later reading or the clearing reading never rewrites them, so "falling fast,
-6 °C/min" stays what tripped it while the live rate beside it (the channel view) says -12.
Only a new raise (a latched alarm whose condition returns) records new trip values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.model import Category, Event, EventType, Priority


@dataclass(slots=True)
class Alarm:
    """One alarm the operator can see: active, or latched after its condition ended."""

    id: str
    channel: str
    condition: str
    category: Category
    priority: Priority
    latching: bool
    raised_t: float
    value: float | None  # the reading that raised it (°C), kept while the alarm is shown
    limit: float | None  # the level it tripped at (°C)
    message: str  # as raised
    active: bool = True
    acknowledged: bool = False
    acknowledged_t: float | None = None
    condition_cleared_t: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # event fields of the raise
    cleared: tuple[float | None, float | None, str, dict[str, Any]] | None = None
    detail: str | None = None  # the latest word on a standing technical alarm (outputs)

    @property
    def trip_rate_c_per_min(self) -> float | None:
        """The slope that raised a rate (or prediction) alarm, °C/min."""
        rate = self.extra.get("slope_c_per_min")
        return float(rate) if isinstance(rate, int | float) else None

    @property
    def latched(self) -> bool:
        """Shown although its condition has ended, waiting for an acknowledge."""
        return not self.active

    @property
    def audible(self) -> bool:
        return not self.acknowledged


@dataclass(frozen=True, slots=True)
class AudioState:
    paused: bool
    paused_until: float | None
    sounding: Priority | None  # the highest priority the bell should sound now


class AlarmManager:
    def __init__(self, audio_pause_s: float) -> None:
        self.audio_pause_s = audio_pause_s
        self.alarms: dict[str, Alarm] = {}
        self.paused_until: float | None = None
        self._pause_floor: Priority = Priority.LOW

    # Condition changes -------------------------------------------------------------------

    def raise_alarm(self, t: float, alarm: Alarm) -> list[Event]:
        events: list[Event] = []
        existing = self.alarms.get(alarm.id)
        if existing is not None and existing.active:
            return events  # already raised: nothing new to say
        if existing is not None:
            # A latched alarm whose condition comes back: raised again (new trip values),
            # active again and audible again; it keeps its place in the list.
            existing.active = True
            existing.acknowledged = False
            existing.acknowledged_t = None
            existing.condition_cleared_t = None
            existing.cleared = None
            existing.value, existing.limit, existing.message = (alarm.value, alarm.limit,
                                                                alarm.message)
            existing.extra = alarm.extra
            existing.raised_t = alarm.raised_t
            alarm = existing
        else:
            self.alarms[alarm.id] = alarm
        events.append(self._alarm_event(t, EventType.ALARM_RAISED, alarm, alarm.message,
                                        alarm.value, alarm.limit, alarm.extra))
        if self.paused_until is not None and alarm.priority > self._pause_floor:
            events.append(self._resume(t, f"higher-priority alarm {alarm.id}"))
        return events

    def clear_condition(self, t: float, alarm_id: str, value: float | None, limit: float | None,
                        message: str, extra: dict[str, Any] | None = None) -> list[Event]:
        alarm = self.alarms.get(alarm_id)
        if alarm is None or not alarm.active:
            return []
        alarm.active = False
        alarm.condition_cleared_t = t
        if alarm.latching and not alarm.acknowledged:
            # Latched: stays (with its trip value) until acknowledged; the clear is reported
            # then, with the value and level it cleared at.
            alarm.cleared = (value, limit, message, dict(extra or {}))
            return []
        del self.alarms[alarm_id]
        return [self._alarm_event(t, EventType.ALARM_CLEARED, alarm, message, value, limit,
                                  extra or {})]

    # Operator actions --------------------------------------------------------------------

    def acknowledge(self, t: float, alarm_id: str | None, by: str) -> list[Event]:
        """Acknowledge one alarm or all; returns no events when there was nothing to do."""
        targets = [a for a in self.alarms.values()
                   if not a.acknowledged and (alarm_id is None or a.id == alarm_id)]
        events: list[Event] = []
        for alarm in targets:
            alarm.acknowledged = True
            alarm.acknowledged_t = t
            events.append(self._alarm_event(
                t, EventType.ALARM_ACKNOWLEDGED, alarm, f"{alarm.id} acknowledged by {by}",
                alarm.value, alarm.limit, {"by": by}))
            if not alarm.active:
                del self.alarms[alarm.id]
                cleared_at = alarm.condition_cleared_t
                value, limit = (alarm.cleared[0], alarm.cleared[1]) if alarm.cleared \
                    else (None, None)
                events.append(self._alarm_event(
                    t, EventType.ALARM_CLEARED, alarm,
                    f"{alarm.id} cleared (condition ended at {cleared_at:.1f} s, acknowledged)"
                    if cleared_at is not None else f"{alarm.id} cleared",
                    value, limit, {"condition_cleared_t": cleared_at}))
        return events

    def pause_audio(self, t: float, by: str) -> list[Event]:
        self.paused_until = t + self.audio_pause_s
        sounding = self.sounding_priority()
        self._pause_floor = sounding if sounding is not None else Priority.LOW
        return [Event(t, EventType.AUDIO_PAUSED, {
            "until": self.paused_until, "duration_s": self.audio_pause_s, "by": by,
            "message": f"audio paused for {self.audio_pause_s:.0f} s by {by}; alarms above "
                       f"{self._pause_floor.label} priority sound through"})]

    def expire_pause(self, until: float) -> list[Event]:
        """The pause that was due to end at ``until`` ends now (if it is still that pause)."""
        if self.paused_until is None or self.paused_until != until:
            return []
        return [self._resume(until, "audio pause ended")]

    def _resume(self, t: float, reason: str) -> Event:
        self.paused_until = None
        return Event(t, EventType.AUDIO_RESUMED,
                     {"reason": reason, "message": f"audio on: {reason}"})

    # Views -------------------------------------------------------------------------------

    def sounding_priority(self) -> Priority | None:
        audible = [a.priority for a in self.alarms.values() if a.audible]
        return max(audible) if audible else None

    def audio(self) -> AudioState:
        audible = [a.priority for a in self.alarms.values() if a.audible]
        if self.paused_until is not None:
            audible = [p for p in audible if p > self._pause_floor]
        return AudioState(self.paused_until is not None, self.paused_until,
                          max(audible) if audible else None)

    def ordered(self) -> list[Alarm]:
        """Active alarms, most urgent first, then oldest first."""
        return sorted(self.alarms.values(), key=lambda a: (-a.priority, a.raised_t, a.id))

    @staticmethod
    def _alarm_event(t: float, kind: EventType, alarm: Alarm, message: str, value: float | None,
                     limit: float | None, extra: dict[str, Any]) -> Event:
        fields: dict[str, Any] = {
            "alarm": alarm.id, "channel": alarm.channel, "condition": alarm.condition,
            "category": str(alarm.category), "priority": alarm.priority.label,
            "value": _round(value), "limit": _round(limit), "message": message,
            "latching": alarm.latching,
        }
        fields.update(extra)
        return Event(t, kind, fields)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
