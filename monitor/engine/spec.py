"""What the engine needs to know, resolved: one immutable spec per channel and condition.

The config layer (``monitor.config.schema``) turns a TOML file into an :class:`EngineSpec`;
the engine never reads files. Every default below comes from :mod:`monitor.config.defaults`
(the one module that writes default values); quick mode builds the same spec from it alone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from monitor.config import defaults
from monitor.model import Category, Priority, Role


class Kind(enum.Enum):
    """How a condition is evaluated."""

    LOW = "low"  # value at or below trip_c, clears at or above clear_c
    HIGH = "high"  # value at or above trip_c, clears at or below clear_c
    PREDICTED = "predicted"  # trend reaches a limit within horizon_s
    SLOPE = "slope"  # slope at or below trip_c_per_min
    STATUS = "status"  # device status of the reading
    STALE = "stale"  # no valid reading for after_s
    STUCK = "stuck"  # the same value, unchanged, for after_s
    JUMP = "jump"  # a change no needle thermocouple can make
    DEVICE = "device"  # the device (not a channel) is lost


class Condition(enum.StrEnum):
    """Every alarm condition, in the order events of one reading are reported."""

    SENSOR_OPEN = "sensor_open"
    SENSOR_SHORT = "sensor_short"
    OUT_OF_RANGE = "out_of_range"
    BAD_DATA = "bad_data"
    IMPLAUSIBLE_JUMP = "implausible_jump"
    STALE = "stale"
    STUCK = "stuck"
    BELOW_WARNING = "below_warning"
    BELOW_CRITICAL = "below_critical"
    FREEZING = "freezing"
    PREDICTED_BELOW_CRITICAL = "predicted_below_critical"
    FALLING_FAST = "falling_fast"
    ABOVE_WARNING = "above_warning"
    ABOVE_CRITICAL = "above_critical"
    DEVICE_LOST = "device_lost"

    @property
    def kind(self) -> Kind:
        return _KINDS[self]

    @property
    def category(self) -> Category:
        physiological = {Kind.LOW, Kind.HIGH, Kind.PREDICTED, Kind.SLOPE}
        return Category.PHYSIOLOGICAL if self.kind in physiological else Category.TECHNICAL

    @property
    def cold(self) -> bool:
        """Cold-side physiological conditions: their delay is capped at one sample when high."""
        return self in {Condition.FREEZING, Condition.BELOW_CRITICAL, Condition.BELOW_WARNING,
                        Condition.PREDICTED_BELOW_CRITICAL, Condition.FALLING_FAST}

    @property
    def order(self) -> int:
        return _ORDER[self]

    @property
    def words(self) -> str:
        return self.value.replace("_", " ")


_KINDS: dict[Condition, Kind] = {
    Condition.SENSOR_OPEN: Kind.STATUS,
    Condition.SENSOR_SHORT: Kind.STATUS,
    Condition.OUT_OF_RANGE: Kind.STATUS,
    Condition.BAD_DATA: Kind.STATUS,
    Condition.IMPLAUSIBLE_JUMP: Kind.JUMP,
    Condition.STALE: Kind.STALE,
    Condition.STUCK: Kind.STUCK,
    Condition.FREEZING: Kind.LOW,
    Condition.BELOW_CRITICAL: Kind.LOW,
    Condition.BELOW_WARNING: Kind.LOW,
    Condition.PREDICTED_BELOW_CRITICAL: Kind.PREDICTED,
    Condition.FALLING_FAST: Kind.SLOPE,
    Condition.ABOVE_CRITICAL: Kind.HIGH,
    Condition.ABOVE_WARNING: Kind.HIGH,
    Condition.DEVICE_LOST: Kind.DEVICE,
}
_ORDER = {c: i for i, c in enumerate(Condition)}


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """One condition's settings. Only the fields of its kind are used.

    LOW/HIGH: ``trip_c``, ``clear_c``. PREDICTED: ``horizon_s``, ``clear_horizon_s`` and the
    limit it predicts (``trip_c``, normally the channel's below_critical trip). SLOPE:
    ``trip_c_per_min``, ``clear_c_per_min``. STALE, STUCK: ``after_s``. JUMP: ``max_c_per_s``
    and ``min_step_c``.
    """

    condition: Condition
    priority: Priority
    enabled: bool = defaults.CONDITION_ENABLED
    latching: bool = defaults.CONDITION_LATCHING
    delay_s: float = defaults.CONDITION_DELAY_S
    trip_c: float | None = None
    clear_c: float | None = None
    horizon_s: float | None = None
    clear_horizon_s: float | None = None
    trip_c_per_min: float | None = None
    clear_c_per_min: float | None = None
    after_s: float | None = None
    max_c_per_s: float | None = None
    min_step_c: float | None = None


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    id: str
    role: Role
    conditions: Mapping[Condition, ConditionSpec]
    label: str = ""
    device: str | None = None
    index: int | str | None = None

    @property
    def name(self) -> str:
        return self.label or self.id

    def enabled(self, condition: Condition) -> ConditionSpec | None:
        spec = self.conditions.get(condition)
        return spec if spec is not None and spec.enabled else None


@dataclass(frozen=True, slots=True)
class TrendSpec:
    """Least-squares slope over a trailing window (Home Assistant's trend sensor, windowed)."""

    window_s: float = defaults.TREND_WINDOW_S
    min_points: int = defaults.TREND_MIN_POINTS
    max_gap_s: float = defaults.TREND_MAX_GAP_S
    min_span_s: float = defaults.TREND_MIN_SPAN_S
    max_points: int = defaults.TREND_MAX_POINTS


@dataclass(frozen=True, slots=True)
class CycleSpec:
    """Freeze–thaw cycle detection and protocol timers (``[cycles]``; defaults and sources in
    ``docs/clinical-defaults.md``, the config layer fills every field)."""

    detect: bool = defaults.CYCLE_DETECT
    freeze_s: float = defaults.CYCLE_FREEZE_S
    passive_thaw_s: float = defaults.CYCLE_PASSIVE_THAW_S
    second_freeze_s: float = defaults.CYCLE_SECOND_FREEZE_S
    active_thaw_s: float | None = defaults.CYCLE_ACTIVE_THAW_S
    freeze_below_c: float = defaults.CYCLE_FREEZE_BELOW_C
    freeze_fall_c_per_min: float = defaults.CYCLE_FREEZE_FALL_C_PER_MIN
    thaw_rise_c_per_min: float = defaults.CYCLE_THAW_RISE_C_PER_MIN
    active_thaw_above_c: float = defaults.CYCLE_ACTIVE_THAW_ABOVE_C
    active_thaw_rise_c_per_min: float = defaults.CYCLE_ACTIVE_THAW_RISE_C_PER_MIN


@dataclass(frozen=True, slots=True)
class EngineSpec:
    channels: tuple[ChannelSpec, ...] = ()
    trend: TrendSpec = field(default_factory=TrendSpec)
    audio_pause_s: float = defaults.AUDIO_PAUSE_S
    unknown_channel_role: Role = defaults.UNKNOWN_CHANNEL_ROLE
    device_lost_priority: Priority = defaults.DEVICE_LOST_PRIORITY
    role_conditions: Mapping[Role, Mapping[Condition, ConditionSpec]] = field(
        default_factory=dict)
    cycles: CycleSpec = field(default_factory=CycleSpec)

    def channel(self, channel_id: str) -> ChannelSpec | None:
        for spec in self.channels:
            if spec.id == channel_id:
                return spec
        return None

    def spec_for_unknown(self, channel_id: str) -> ChannelSpec:
        """A channel that appears in the data but not in the config is monitored, never ignored."""
        conditions = self.role_conditions.get(self.unknown_channel_role)
        if conditions is None:
            conditions = role_conditions(self.unknown_channel_role)
        return ChannelSpec(id=channel_id, role=self.unknown_channel_role, conditions=conditions)


# The built-in defaults as specs -------------------------------------------------------------

def role_defaults(role: Role) -> dict[Condition, dict[str, Any]]:
    """The built-in settings of every condition of ``role`` (a fresh, mutable copy)."""
    return {Condition(name): dict(values) for name, values in defaults.ROLE_DEFAULTS[role].items()}


def role_conditions(role: Role) -> Mapping[Condition, ConditionSpec]:
    """The resolved :class:`ConditionSpec` of every condition for a role, with no overrides."""
    return MappingProxyType({condition: condition_spec(condition, values)
                             for condition, values in role_defaults(role).items()})


def resolved_conditions(
        values: Mapping[Condition, Mapping[str, Any]]) -> Mapping[Condition, ConditionSpec]:
    """ConditionSpecs in condition order from resolved settings (built-in defaults, then the
    config's overrides); the prediction learns the ``below_critical`` limit it predicts."""
    limit = values.get(Condition.BELOW_CRITICAL, {}).get("trip_c")
    specs = {}
    for condition in Condition:
        if condition not in values:
            continue
        fields = dict(values[condition])
        if condition is Condition.PREDICTED_BELOW_CRITICAL and limit is not None:
            fields["trip_c"] = limit
        specs[condition] = condition_spec(condition, fields)
    return MappingProxyType(specs)


def default_engine_spec() -> EngineSpec:
    """The spec of a config that changes nothing, built without the config layer (pydantic):
    a replay with no config starts faster. A test holds it equal to the default config's."""
    return EngineSpec(role_conditions=MappingProxyType({
        role: resolved_conditions(role_defaults(role)) for role in Role}))


def condition_spec(condition: Condition, values: Mapping[str, Any]) -> ConditionSpec:
    """A spec from config-style values (``priority`` may be a name)."""
    fields = dict(values)
    priority = fields.pop("priority")
    if isinstance(priority, str):
        priority = Priority.parse(priority)
    return ConditionSpec(condition=condition, priority=priority, **fields)
