"""Built-in defaults per role: the single source for quick mode, config and docs.

Every number here is listed with its source (or "engineering choice") in
``docs/clinical-defaults.md``; ``config/default.toml`` repeats them for the reader and a test
keeps the three in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from monitor.engine.spec import Condition, ConditionSpec
from monitor.model import Priority, Role

H, M, L = Priority.HIGH, Priority.MEDIUM, Priority.LOW

# Shared pieces ---------------------------------------------------------------------------

_COLD_HOT: dict[Condition, dict[str, Any]] = {
    Condition.BELOW_WARNING: {"trip_c": 15.0, "clear_c": 16.0, "priority": M},
    Condition.BELOW_CRITICAL: {"trip_c": 10.0, "clear_c": 11.0, "priority": H, "latching": True},
    Condition.FREEZING: {"trip_c": 0.0, "clear_c": 1.0, "priority": H, "latching": True},
    Condition.PREDICTED_BELOW_CRITICAL: {"horizon_s": 60.0, "clear_horizon_s": 90.0,
                                         "priority": M},
    Condition.FALLING_FAST: {"trip_c_per_min": -6.0, "clear_c_per_min": -4.0, "priority": L},
    Condition.ABOVE_WARNING: {"trip_c": 42.0, "clear_c": 41.0, "priority": M},
    Condition.ABOVE_CRITICAL: {"trip_c": 45.0, "clear_c": 44.0, "priority": H, "latching": True},
}


def _technical(sensor: Priority, data: Priority, jump_c_per_s: float) -> dict[Condition,
                                                                               dict[str, Any]]:
    return {
        Condition.SENSOR_OPEN: {"priority": sensor},
        Condition.SENSOR_SHORT: {"priority": sensor},
        Condition.OUT_OF_RANGE: {"priority": sensor},
        Condition.STALE: {"after_s": 2.0, "priority": sensor},
        Condition.BAD_DATA: {"priority": data},
        Condition.IMPLAUSIBLE_JUMP: {"max_c_per_s": jump_c_per_s, "min_step_c": 3.0,
                                     "priority": data},
    }


def _disabled(conditions: dict[Condition, dict[str, Any]]) -> dict[Condition, dict[str, Any]]:
    return {c: {**values, "enabled": False} for c, values in conditions.items()}


_SKIN_COLD_HOT: dict[Condition, dict[str, Any]] = {
    **_COLD_HOT,
    Condition.BELOW_WARNING: {"trip_c": 15.0, "clear_c": 16.0, "priority": L},
    Condition.BELOW_CRITICAL: {"trip_c": 10.0, "clear_c": 11.0, "priority": M},
    Condition.PREDICTED_BELOW_CRITICAL: {**_COLD_HOT[Condition.PREDICTED_BELOW_CRITICAL],
                                         "enabled": False},
    Condition.FALLING_FAST: {**_COLD_HOT[Condition.FALLING_FAST], "enabled": False},
}

ROLE_DEFAULTS: Mapping[Role, Mapping[Condition, Mapping[str, Any]]] = MappingProxyType({
    # Juxtaneural needles: the protection window 10-45 °C (Sag & Husain 2022).
    Role.NERVE: {**_COLD_HOT, **_technical(H, M, 10.0)},
    # Skin: frostbite and burns matter, nerve injury does not: one step lower priorities.
    Role.SKIN: {**_SKIN_COLD_HOT, **_technical(M, M, 10.0)},
    # Probe / ice-ball reference: fast and deep by design; only sensor health is alarmed.
    Role.PROBE: {**_disabled(_COLD_HOT), **_technical(M, L, 60.0)},
    Role.REFERENCE: {**_disabled(_COLD_HOT), **_technical(M, L, 10.0)},
    Role.OTHER: {**_disabled(_COLD_HOT), **_technical(M, L, 10.0)},
})

# Everything not per-role ------------------------------------------------------------------

TREND_WINDOW_S = 15.0  # longer than the 10-15 s lag of a needle thermocouple (CLINICAL §3)
TREND_MIN_POINTS = 5  # engineering choice
TREND_MAX_GAP_S = 2.0  # engineering choice: the same as the stale delay
TREND_MIN_SPAN_S = 5.0  # engineering choice: a third of the window
AUDIO_PAUSE_S = 120.0  # CLINICAL §5 (typical 2-min audio pause), §7.9
CYCLE_FREEZE_S = 600.0  # CLINICAL §2: 10-min freeze
CYCLE_PASSIVE_THAW_S = 480.0  # CLINICAL §2 / §7.6: 8-min passive thaw (within 5-10 min)


def role_conditions(role: Role) -> Mapping[Condition, ConditionSpec]:
    """The resolved :class:`ConditionSpec` of every condition for a role, with no overrides."""
    return MappingProxyType({
        condition: condition_spec(condition, values)
        for condition, values in ROLE_DEFAULTS[role].items()
    })


def condition_spec(condition: Condition, values: Mapping[str, Any]) -> ConditionSpec:
    fields = dict(values)
    priority = fields.pop("priority")
    if isinstance(priority, str):
        priority = Priority.parse(priority)
    return ConditionSpec(condition=condition, priority=priority, **fields)


# What to do, shown under a physiological alarm on the bedside screen ----------------------
# Keys: "<role>.<condition>" or "<condition>"; a site replaces them in [display.actions]. All
# engineering choices, worded after CLINICAL §1.1 (act before the limit: CO2 or warm saline,
# Sag & Husain 2022) and §1.4 (temporary interruption of the freeze and warm saline restored
# function, Tsoumakidou 2013); docs/display.md lists them.
ALARM_ACTIONS: Mapping[str, str] = MappingProxyType({
    "nerve.below_warning": "consider CO2 / warm saline; watch the trend",
    "nerve.predicted_below_critical": "consider CO2 / warm saline now",
    "nerve.falling_fast": "cooling fast: prepare CO2 / warm saline",
    "nerve.below_critical": "consider CO2 / warm saline; consider pausing the freeze",
    "nerve.freezing": "consider stopping the freeze; warm saline",
    "nerve.above_warning": "too warm: stop warm saline",
    "nerve.above_critical": "stop warm saline / heating now",
    "skin.below_warning": "warm the skin at the entry site",
    "skin.below_critical": "warm the skin now; consider pausing the freeze",
    "skin.freezing": "skin freezing: warm it; consider stopping the freeze",
})
ALARM_ACTION_MAX_CHARS = 80  # one line of an 80-column screen
