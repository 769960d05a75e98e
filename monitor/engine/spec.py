"""What the engine needs to know, resolved: one immutable spec per channel and condition.

The config layer (``monitor.config.schema``) turns a TOML file into an :class:`EngineSpec`;
the engine never reads files. Quick mode builds the same spec from
:mod:`monitor.config.defaults` alone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitor.model import Category, Priority, Role


class Kind(enum.Enum):
    """How a condition is evaluated."""

    LOW = "low"  # value at or below trip_c, clears at or above clear_c
    HIGH = "high"  # value at or above trip_c, clears at or below clear_c
    PREDICTED = "predicted"  # trend reaches a limit within horizon_s
    SLOPE = "slope"  # slope at or below trip_c_per_min
    STATUS = "status"  # device status of the reading
    STALE = "stale"  # no valid reading for after_s
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
    ``trip_c_per_min``, ``clear_c_per_min``. STALE: ``after_s``. JUMP: ``max_c_per_s`` and
    ``min_step_c``.
    """

    condition: Condition
    priority: Priority
    enabled: bool = True
    latching: bool = False
    delay_s: float = 0.0
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

    window_s: float = 15.0
    min_points: int = 5
    max_gap_s: float = 2.0
    min_span_s: float = 5.0
    max_points: int = 4096


@dataclass(frozen=True, slots=True)
class CycleSpec:
    """Freeze–thaw cycle detection and protocol timers (``[cycles]``; defaults and sources in
    ``docs/clinical-defaults.md``, the config layer fills every field)."""

    detect: bool = True
    freeze_s: float = 600.0  # 10-min freeze (CLINICAL §2)
    passive_thaw_s: float = 480.0  # 8-min passive thaw (CLINICAL §2)
    second_freeze_s: float = 600.0  # 10-min second freeze (CLINICAL §2)
    active_thaw_s: float | None = None  # optional target, none by default
    freeze_below_c: float = -20.0
    freeze_fall_c_per_min: float = -20.0
    thaw_rise_c_per_min: float = 10.0
    active_thaw_above_c: float = 0.0
    active_thaw_rise_c_per_min: float = 30.0


@dataclass(frozen=True, slots=True)
class EngineSpec:
    channels: tuple[ChannelSpec, ...] = ()
    trend: TrendSpec = field(default_factory=TrendSpec)
    audio_pause_s: float = 120.0
    unknown_channel_role: Role = Role.NERVE
    device_lost_priority: Priority = Priority.HIGH
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
        from monitor.config.defaults import role_conditions

        conditions = self.role_conditions.get(self.unknown_channel_role)
        if conditions is None:
            conditions = role_conditions(self.unknown_channel_role)
        return ChannelSpec(id=channel_id, role=self.unknown_channel_role, conditions=conditions)
