"""Small builders for engine tests: a nerve channel with chosen overrides, and event filters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from monitor.engine import Engine
from monitor.engine.spec import ChannelSpec, Condition, EngineSpec, TrendSpec, role_conditions
from monitor.model import Event, EventType, Reading, Role, Status


def channel(cid: str = "N1", role: Role = Role.NERVE,
            **overrides: dict[str, Any]) -> ChannelSpec:
    conditions = dict(role_conditions(role))
    for name, values in overrides.items():
        cond = Condition(name)
        conditions[cond] = replace(conditions[cond], **values)
    return ChannelSpec(id=cid, role=role, conditions=conditions)


def engine(*channels: ChannelSpec, audio_pause_s: float = 120.0,
           trend: TrendSpec | None = None) -> Engine:
    chans = channels or (channel(),)
    return Engine(EngineSpec(channels=tuple(chans), audio_pause_s=audio_pause_s,
                             trend=trend or TrendSpec()), t0=0.0)


def readings(values: Sequence[float | Status], cid: str = "N1", dt: float = 0.1,
             start: float = 0.0) -> list[Reading]:
    out = []
    for i, v in enumerate(values):
        t = round(start + i * dt, 9)
        if isinstance(v, Status):
            out.append(Reading(t, cid, None, v))
        else:
            out.append(Reading(t, cid, float(v)))
    return out


def alarms(events: Iterable[Event], kind: EventType = EventType.ALARM_RAISED) -> list[str]:
    return [e.fields["alarm"] for e in events if e.type is kind]


def key(events: Iterable[Event]) -> list[tuple[float, str, dict[str, Any]]]:
    return [(e.t, str(e.type), dict(e.fields)) for e in events]
