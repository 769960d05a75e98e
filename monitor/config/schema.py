"""The TOML configuration: pydantic models, loading with every problem listed, engine spec.

Every default comes from :mod:`monitor.config.defaults` (the one module that writes default
values, each listed with its source in ``docs/clinical-defaults.md``); a config file overrides
them per key, first per role (``[roles.<role>.<condition>]``) and then per channel
(``alarms``). Loading never raises anything but :class:`~monitor.errors.ConfigError`, which
lists every problem as ``field.path: message (got <bad value>)``.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tomllib
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor.config.defaults import (
    ALARM_ACTION_MAX_CHARS,
    ALARM_ACTIONS,
    AUDIO_PAUSE_S,
    CYCLE_ACTIVE_THAW_ABOVE_C,
    CYCLE_ACTIVE_THAW_RISE_C_PER_MIN,
    CYCLE_ACTIVE_THAW_S,
    CYCLE_DETECT,
    CYCLE_FREEZE_BELOW_C,
    CYCLE_FREEZE_FALL_C_PER_MIN,
    CYCLE_FREEZE_S,
    CYCLE_PASSIVE_THAW_S,
    CYCLE_SECOND_FREEZE_S,
    CYCLE_THAW_RISE_C_PER_MIN,
    DCON_ADDRESS,
    DCON_BAUDRATE,
    DCON_CHECKSUM,
    DEVICE_DATA_FORMAT,
    DEVICE_LOST_PRIORITY,
    DEVICE_POLL_INTERVAL_S,
    DEVICE_TIMEOUT_S,
    DISPLAY_BELL,
    DISPLAY_COLOUR,
    DISPLAY_MAX_REFRESH_HZ,
    DISPLAY_REFRESH_HZ,
    DISPLAY_SPARKLINE_S,
    HIGH_COLD_MAX_DELAY_S,
    HIGHEST_PLAUSIBLE_C,
    LINE_BAUDRATE,
    LINE_CHECKSUM,
    LINE_UNITS,
    MODBUS_BAUDRATE,
    MODBUS_CHANNEL_COUNT,
    MODBUS_CJC_REGISTER,
    MODBUS_CJC_SCALE_C,
    MODBUS_OPEN_VALUE,
    MODBUS_READ_CJC,
    MODBUS_SCALE_C,
    MODBUS_START_REGISTER,
    MODBUS_UNIT_ID,
    MQTT_DISCOVERY,
    MQTT_PUBLISH_HZ,
    MQTT_QOS_EVENTS,
    MQTT_QUEUE_LIMIT,
    RECORDING_COMMIT_INTERVAL_S,
    RECORDING_DIRECTORY,
    RECORDING_ENABLED,
    STATION_NAME,
    TREND_MAX_GAP_S,
    TREND_MAX_POINTS,
    TREND_MIN_POINTS,
    TREND_MIN_SPAN_S,
    TREND_WINDOW_S,
    UNKNOWN_CHANNEL_ROLE,
)
from monitor.config.units import (
    UnitError,
    parse_rate_c_per_min,
    parse_rate_c_per_s,
    parse_seconds,
    parse_temperature_c,
    parse_temperature_delta_c,
)
from monitor.engine.spec import (
    ChannelSpec,
    Condition,
    CycleSpec,
    EngineSpec,
    Kind,
    TrendSpec,
    resolved_conditions,
    role_defaults,
)
from monitor.errors import ConfigError
from monitor.model import Category, Priority, Role
from monitor.redact import redact_url as redact_url  # check-config shows the URL masked
from monitor.redact import without_password
from monitor.text import control_characters, printable

# Defaults: every one is written in monitor.config.defaults and imported above. Below are the
# bounds of validation, not defaults.

LARGEST_NUMBER = 1e12  # no setting is meant beyond this; a bigger one is a typo (docs/security.md)
TREND_MAX_POINTS_LIMIT = 100_000  # the trend keeps a few arrays of this size per channel
MQTT_QUEUE_LIMIT_MAX = 1_000_000  # messages held in memory while the broker is away

TC_TYPES = ("B", "E", "J", "K", "N", "R", "S", "T")  # NIST letters thermocouple-its90 knows
SERIAL_URL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")
ENV_MQTT_USERNAME = "CRYOGUARD_MQTT_USERNAME"
ENV_MQTT_PASSWORD = "CRYOGUARD_MQTT_PASSWORD"

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_STATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# Field types --------------------------------------------------------------------------------

def _id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("must be 1-32 letters, digits, '_' or '-', starting with a letter or "
                         "digit (it appears in MQTT topics, alarm names and file names)")
    return value


def _station(value: str) -> str:
    if not _STATION.match(value):
        raise ValueError("must be 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                         "or digit (it appears in MQTT topics and file names)")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _position_or_key(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a position (integer) or a key (string)")
    if isinstance(value, int) and value < 0:
        raise ValueError("a position must not be negative")
    if isinstance(value, str) and not value.strip():
        raise ValueError("a key must not be empty")
    return value


def _tc_type(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _plausible_temperature(value: float) -> float:
    if value > HIGHEST_PLAUSIBLE_C:
        raise ValueError(f"above {HIGHEST_PLAUSIBLE_C:g} °C: a reading that high is "
                         "out_of_range, so this level could never act")
    return value


def check_value(value: object) -> object:
    """Every field of every section: a number must be finite and of a sane size, and text
    shown on a terminal (labels, names, ports, paths) must hold no control characters.

    TOML allows ``nan``, ``inf`` and integers of any length, and ``"\u001b"`` in a string:
    each would otherwise pass as a valid setting (``scale = nan`` turns every reading into
    bad data; an escape in a label clears the bedside alarm panel). docs/security.md.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, int | float) and abs(value) > LARGEST_NUMBER:
        digits = len(str(abs(int(value)))) if isinstance(value, int) else None
        size = f"{digits} digits" if digits is not None else f"{value:.3g}"
        raise ValueError(f"number too large ({size}); no setting goes beyond "
                         f"{LARGEST_NUMBER:.0e}")
    if isinstance(value, str):
        found = control_characters(value)
        if found:
            raise ValueError(f"contains control character(s) {', '.join(found)}, which can "
                             "rewrite a terminal (clear it, hide the alarm panel) or reorder "
                             "what it shows; remove them")
    return value


Identifier = Annotated[str, AfterValidator(_id)]
TempC = Annotated[float, BeforeValidator(parse_temperature_c),
                  AfterValidator(_plausible_temperature)]
DeltaC = Annotated[float, BeforeValidator(parse_temperature_delta_c),
                   AfterValidator(_non_negative)]
Seconds = Annotated[float, BeforeValidator(parse_seconds), AfterValidator(_non_negative)]
PositiveSeconds = Annotated[float, BeforeValidator(parse_seconds), AfterValidator(_positive)]
RateCPerMin = Annotated[float, BeforeValidator(parse_rate_c_per_min)]
RateCPerS = Annotated[float, BeforeValidator(parse_rate_c_per_s)]
PositiveHz = Annotated[float, AfterValidator(_positive)]
PriorityName = Literal["high", "medium", "low"]
PositionOrKey = Annotated[int | str, BeforeValidator(_position_or_key)]
TcType = Annotated[Literal["B", "E", "J", "K", "N", "R", "S", "T"], BeforeValidator(_tc_type)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="after", check_fields=False)
    @classmethod
    def _sane(cls, value: object, info: ValidationInfo) -> object:
        if info.field_name == "password":
            return value  # any character may be in a password, and it is never shown
        return check_value(value)


# Condition overrides ------------------------------------------------------------------------

class _Override(_Model):
    """Keys every condition accepts; ``None`` means "not set here"."""

    priority: PriorityName | None = None
    latching: bool | None = None
    delay_s: Seconds | None = None
    enabled: bool | None = None


class ThresholdOverride(_Override):
    """A level condition (below_*/above_*/freezing): trips at ``trip_c``, clears at ``clear_c``."""

    trip_c: TempC | None = None
    clear_c: TempC | None = None


class PredictedOverride(_Override):
    """predicted_below_critical: the trend reaches the limit within ``horizon_s``."""

    horizon_s: PositiveSeconds | None = None
    clear_horizon_s: PositiveSeconds | None = None


class SlopeOverride(_Override):
    """falling_fast: the trend slope at or below ``trip_c_per_min``."""

    trip_c_per_min: RateCPerMin | None = None
    clear_c_per_min: RateCPerMin | None = None


class StaleOverride(_Override):
    """stale: no valid reading for ``after_s``."""

    after_s: PositiveSeconds | None = None


class StuckOverride(_Override):
    """stuck: the reading has not changed at all for ``after_s``."""

    after_s: PositiveSeconds | None = None


class JumpOverride(_Override):
    """implausible_jump: a change faster than ``max_c_per_s`` and larger than ``min_step_c``."""

    max_c_per_s: Annotated[RateCPerS, AfterValidator(_positive)] | None = None
    min_step_c: DeltaC | None = None


class StatusOverride(_Override):
    """Status conditions (sensor_open, ...): only the common keys."""


OVERRIDE_MODELS: Mapping[Kind, type[_Override]] = MappingProxyType({
    Kind.LOW: ThresholdOverride, Kind.HIGH: ThresholdOverride, Kind.PREDICTED: PredictedOverride,
    Kind.SLOPE: SlopeOverride, Kind.STALE: StaleOverride, Kind.JUMP: JumpOverride,
    Kind.STUCK: StuckOverride,
    Kind.STATUS: StatusOverride,
})


class ConditionOverrides(_Model):
    """Per-condition override tables (a ``[roles.<role>]`` table or a channel's ``alarms``)."""

    sensor_open: StatusOverride | None = None
    sensor_short: StatusOverride | None = None
    out_of_range: StatusOverride | None = None
    bad_data: StatusOverride | None = None
    implausible_jump: JumpOverride | None = None
    stale: StaleOverride | None = None
    stuck: StuckOverride | None = None
    freezing: ThresholdOverride | None = None
    below_critical: ThresholdOverride | None = None
    below_warning: ThresholdOverride | None = None
    predicted_below_critical: PredictedOverride | None = None
    falling_fast: SlopeOverride | None = None
    above_critical: ThresholdOverride | None = None
    above_warning: ThresholdOverride | None = None

    def items(self) -> Iterator[tuple[Condition, dict[str, Any]]]:
        """The conditions set here, with only the keys set here."""
        for name in type(self).model_fields:
            table = getattr(self, name)
            if table is not None:
                yield Condition(name), table.model_dump(exclude_none=True)


class RolesConfig(_Model):
    nerve: ConditionOverrides | None = None
    skin: ConditionOverrides | None = None
    probe: ConditionOverrides | None = None
    reference: ConditionOverrides | None = None
    other: ConditionOverrides | None = None

    def for_role(self, role: Role) -> ConditionOverrides | None:
        value: ConditionOverrides | None = getattr(self, role.value)
        return value


# Devices ------------------------------------------------------------------------------------

def _port(value: str) -> str:
    if not value.strip():
        raise ValueError("must name a serial port (a path like /dev/ttyUSB0, or a URL)")
    scheme, sep, _ = value.partition("://")
    if sep and scheme.lower() not in SERIAL_URL_SCHEMES:
        raise ValueError(f"unknown serial URL scheme {scheme!r} "
                         f"(pyserial knows {', '.join(SERIAL_URL_SCHEMES)})")
    return value


Port = Annotated[str, AfterValidator(_port)]
Baudrate = Annotated[int, Field(gt=0, le=4_000_000)]


class _Device(_Model):
    id: Identifier
    port: Port


class LineDevice(_Device):
    """An ASCII line device (Arduino/MAX31856 box): one scan per line, in °C or mV."""

    protocol: Literal["line"]
    baudrate: Baudrate = LINE_BAUDRATE
    units: Literal["C", "mV"] = LINE_UNITS
    tc_type: TcType | None = None
    cjc_c: TempC | None = None
    cjc_channel: PositionOrKey | None = None
    scan_width: Annotated[int, Field(ge=1, le=256)] | None = None  # None: learned at connect
    checksum: bool = LINE_CHECKSUM  # every line ends in *HH (XOR of the bytes before '*', NMEA)

    @model_validator(mode="after")
    def _cjc(self) -> LineDevice:
        sources = [s for s in (self.cjc_c, self.cjc_channel) if s is not None]
        if self.units == "mV":
            problems = []
            if self.tc_type is None:
                problems.append(("tc_type", "units = 'mV' needs a thermocouple type "
                                 f"(one of {', '.join(TC_TYPES)})"))
            if len(sources) != 1:
                got = "both" if sources else "neither"
                problems.append(("cjc_c", "units = 'mV' needs exactly one cold-junction "
                                 f"source, cjc_c or cjc_channel (got {got})"))
            if problems:
                raise _Problems(problems)
        elif sources:
            raise _Problems([("cjc_c" if self.cjc_c is not None else "cjc_channel",
                              "a cold-junction source is only used with units = 'mV'")])
        return self


class DconDevice(_Device):
    """A DCON ASCII module (ADAM-4018+, I-7018/M-7018 in DCON mode), polled with ``#AA``."""

    protocol: Literal["dcon"]
    baudrate: Baudrate = DCON_BAUDRATE
    address: Annotated[int, Field(ge=0, le=255)] = DCON_ADDRESS
    checksum: bool = DCON_CHECKSUM
    poll_interval_s: PositiveSeconds = DEVICE_POLL_INTERVAL_S
    timeout_s: PositiveSeconds = DEVICE_TIMEOUT_S
    # "auto": the module's $AA2 reply must confirm engineering units; "engineering": the site
    # vouches for it when the module cannot report its configuration (docs/devices.md).
    data_format: Literal["auto", "engineering"] = DEVICE_DATA_FORMAT


class ModbusDevice(_Device):
    """A Modbus RTU thermocouple module (M-7018 register layout by default)."""

    protocol: Literal["modbus"]
    baudrate: Baudrate = MODBUS_BAUDRATE
    unit_id: Annotated[int, Field(ge=1, le=247)] = MODBUS_UNIT_ID
    poll_interval_s: PositiveSeconds = DEVICE_POLL_INTERVAL_S
    timeout_s: PositiveSeconds = DEVICE_TIMEOUT_S
    start_register: Annotated[int, Field(ge=30001, le=49999)] = MODBUS_START_REGISTER
    channel_count: Annotated[int, Field(ge=1, le=125)] = MODBUS_CHANNEL_COUNT
    scale: Annotated[float, AfterValidator(_positive)] = MODBUS_SCALE_C
    open_value: Annotated[int, Field(ge=-32768, le=65535)] = MODBUS_OPEN_VALUE
    # "auto": read coil 00269 (0 hex, 1 engineering) and the type code at 40487 at connect;
    # "engineering" (0.1 °C per count) or "hex" (two's complement of the type's full scale)
    # set it for modules without that map (docs/devices.md).
    data_format: Literal["auto", "engineering", "hex"] = DEVICE_DATA_FORMAT
    read_cjc: bool = MODBUS_READ_CJC  # true: the cold junction is a channel, index = "cjc"
    cjc_register: Annotated[int, Field(ge=30001, le=49999)] = MODBUS_CJC_REGISTER
    cjc_scale: Annotated[float, AfterValidator(_positive)] = MODBUS_CJC_SCALE_C

    @model_validator(mode="after")
    def _registers(self) -> ModbusDevice:
        if self.start_register <= 39999 < self.start_register + self.channel_count - 1:
            raise _Problems([("channel_count", "the channel block runs past input register "
                              "39999")])
        return self

    @staticmethod
    def register_address(register: int) -> tuple[int, int]:
        """(function code, 0-based offset) of a 3xxxx input or 4xxxx holding register."""
        if register >= 40001:
            return 3, register - 40001
        return 4, register - 30001


AnyDevice = LineDevice | DconDevice | ModbusDevice
DeviceConfig = Annotated[AnyDevice, Field(discriminator="protocol")]
PROTOCOLS = ("line", "dcon", "modbus")
_DEVICE_MODELS: Mapping[str, type[_Device]] = MappingProxyType(
    {"line": LineDevice, "dcon": DconDevice, "modbus": ModbusDevice})


# Channels and sections ----------------------------------------------------------------------

class ChannelConfig(_Model):
    id: Identifier
    label: str = ""
    device: str
    index: PositionOrKey
    role: Role = Role.NERVE
    alarms: ConditionOverrides = Field(default_factory=ConditionOverrides)
    tc_type: TcType | None = None


class StationConfig(_Model):
    name: Annotated[str, AfterValidator(_station)] = STATION_NAME
    operator: str | None = None


class TrendConfig(_Model):
    window_s: PositiveSeconds = TREND_WINDOW_S
    min_points: Annotated[int, Field(ge=2)] = TREND_MIN_POINTS
    max_gap_s: PositiveSeconds = TREND_MAX_GAP_S
    min_span_s: PositiveSeconds = TREND_MIN_SPAN_S
    max_points: Annotated[int, Field(ge=2, le=TREND_MAX_POINTS_LIMIT)] = TREND_MAX_POINTS

    @model_validator(mode="after")
    def _span(self) -> TrendConfig:
        problems = []
        if self.min_span_s > self.window_s:
            problems.append(("min_span_s", f"must not exceed window_s ({self.window_s:g} s)"))
        if self.min_points > self.max_points:
            problems.append(("min_points", f"must not exceed max_points ({self.max_points})"))
        if problems:
            raise _Problems(problems)
        return self

    def spec(self) -> TrendSpec:
        return TrendSpec(window_s=self.window_s, min_points=self.min_points,
                         max_gap_s=self.max_gap_s, min_span_s=self.min_span_s,
                         max_points=self.max_points)


class AlarmsConfig(_Model):
    audio_pause_s: PositiveSeconds = AUDIO_PAUSE_S
    device_lost_priority: PriorityName = cast(PriorityName, DEVICE_LOST_PRIORITY.label)
    unknown_channel_role: Role = UNKNOWN_CHANNEL_ROLE


class CyclesConfig(_Model):
    detect: bool = CYCLE_DETECT
    freeze_s: PositiveSeconds = CYCLE_FREEZE_S
    passive_thaw_s: PositiveSeconds = CYCLE_PASSIVE_THAW_S
    second_freeze_s: PositiveSeconds = CYCLE_SECOND_FREEZE_S
    active_thaw_s: PositiveSeconds | None = CYCLE_ACTIVE_THAW_S
    freeze_below_c: TempC = CYCLE_FREEZE_BELOW_C
    freeze_fall_c_per_min: RateCPerMin = CYCLE_FREEZE_FALL_C_PER_MIN
    thaw_rise_c_per_min: RateCPerMin = CYCLE_THAW_RISE_C_PER_MIN
    active_thaw_above_c: TempC = CYCLE_ACTIVE_THAW_ABOVE_C
    active_thaw_rise_c_per_min: RateCPerMin = CYCLE_ACTIVE_THAW_RISE_C_PER_MIN

    def spec(self) -> CycleSpec:
        return CycleSpec(
            detect=self.detect, freeze_s=self.freeze_s, passive_thaw_s=self.passive_thaw_s,
            second_freeze_s=self.second_freeze_s, active_thaw_s=self.active_thaw_s,
            freeze_below_c=self.freeze_below_c, freeze_fall_c_per_min=self.freeze_fall_c_per_min,
            thaw_rise_c_per_min=self.thaw_rise_c_per_min,
            active_thaw_above_c=self.active_thaw_above_c,
            active_thaw_rise_c_per_min=self.active_thaw_rise_c_per_min)

    @model_validator(mode="after")
    def _signs(self) -> CyclesConfig:
        problems = []
        if self.freeze_fall_c_per_min >= 0:
            problems.append(("freeze_fall_c_per_min", "a fall must be negative"))
        if self.thaw_rise_c_per_min <= 0:
            problems.append(("thaw_rise_c_per_min", "a rise must be positive"))
        if self.active_thaw_rise_c_per_min <= 0:
            problems.append(("active_thaw_rise_c_per_min", "a rise must be positive"))
        if problems:
            raise _Problems(problems)
        return self


class RecordingConfig(_Model):
    enabled: bool = RECORDING_ENABLED
    directory: str = RECORDING_DIRECTORY
    commit_interval_s: Annotated[PositiveSeconds, Field(le=1.0)] = RECORDING_COMMIT_INTERVAL_S


def _mqtt_url(value: str) -> str:
    from monitor.mqtt.url import MqttUrlError, parse_mqtt_url

    try:
        parse_mqtt_url(value)
    except MqttUrlError as exc:  # the message masks the password; the value is not shown
        raise _Problems([((), str(exc).removeprefix("bad MQTT URL "))]) from None
    return value


class MqttConfig(_Model):
    url: Annotated[str, AfterValidator(_mqtt_url)] | None = None
    station: Annotated[str, AfterValidator(_station)] | None = None
    publish_hz: Annotated[PositiveHz, Field(le=100.0)] = MQTT_PUBLISH_HZ
    qos_events: Literal[0, 1, 2] = MQTT_QOS_EVENTS
    queue_limit: Annotated[int, Field(ge=1, le=MQTT_QUEUE_LIMIT_MAX)] = MQTT_QUEUE_LIMIT
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None  # never echoed in a problem (_shown_input)
    password_file: str | None = None
    discovery: bool = MQTT_DISCOVERY

    @model_validator(mode="after")
    def _one_password(self) -> MqttConfig:
        if self.password is not None and self.password_file is not None:
            raise _Problems([("password_file", "set password or password_file, not both")])
        return self

    def credentials(self, env: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
        """Username and password: the config's (``password`` or the first line of
        ``password_file``), else ``CRYOGUARD_MQTT_USERNAME``/``PASSWORD``.

        Raises ``ConfigError`` naming ``mqtt.password_file`` when that file cannot be read.
        """
        env = os.environ if env is None else env
        password = self.password
        if password is None and self.password_file is not None:
            password = read_password_file(self.password_file)
        return (self.username if self.username is not None else env.get(ENV_MQTT_USERNAME),
                password if password is not None else env.get(ENV_MQTT_PASSWORD))


def read_password_file(path: str) -> str:
    """The first line of ``path`` (its line ending removed), for ``[mqtt] password_file``."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError("config", [f"mqtt.password_file: cannot read {path}: "
                                     f"{exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("config", [f"mqtt.password_file: {path} is not UTF-8 text"]) from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise ConfigError("config", [f"mqtt.password_file: {path} is empty (the password is "
                                     "its first line)"])
    return password


def _actions(value: dict[str, str]) -> dict[str, str]:
    """``[display.actions]``: "<role>.<condition>" or "<condition>" of a physiological condition
    -> one line of text ("" hides the built-in one)."""
    physiological = {c.value for c in Condition if c.category is Category.PHYSIOLOGICAL}
    problems: list[tuple[str | Path_, str]] = []
    for key, text in value.items():
        role, _, condition = key.rpartition(".")
        if condition not in physiological or (role and role not in {r.value for r in Role}):
            problems.append((key, "must name a physiological condition, optionally after a "
                                  f"role (\"nerve.below_critical\"); known conditions: "
                                  f"{', '.join(sorted(physiological))}"))
        elif control_characters(text):
            problems.append((key, "must not contain control characters "
                                  f"({', '.join(control_characters(text))})"))
        elif len(text) > ALARM_ACTION_MAX_CHARS:
            problems.append((key, f"at most {ALARM_ACTION_MAX_CHARS} characters "
                                  f"(got {len(text)})"))
    if problems:
        raise _Problems(problems)
    return value


class DisplayConfig(_Model):
    bell: bool = DISPLAY_BELL
    refresh_hz: Annotated[PositiveHz, Field(le=DISPLAY_MAX_REFRESH_HZ)] = DISPLAY_REFRESH_HZ
    sparkline_s: PositiveSeconds = DISPLAY_SPARKLINE_S
    colour: Literal["auto", "always", "never"] = DISPLAY_COLOUR
    actions: Annotated[dict[str, str], AfterValidator(_actions)] = Field(default_factory=dict)

    def alarm_actions(self) -> dict[str, str]:
        """The built-in action texts with the site's replacements (empty ones dropped), for
        the session header's ``actions`` key."""
        merged = {**ALARM_ACTIONS, **self.actions}
        return {key: text for key, text in merged.items() if text.strip()}


# Cross-field checks -------------------------------------------------------------------------

Path_ = tuple[str | int, ...]


class _Problems(ValueError):
    """Several problems found by one validator, each ``(relative path, message)``."""

    def __init__(self, problems: Sequence[tuple[str | Path_, str]]) -> None:
        self.problems = [((p,) if isinstance(p, str) else p, m) for p, m in problems]
        super().__init__("; ".join(m for _, m in self.problems))


def _resolve(base: Mapping[Condition, Mapping[str, Any]],
             overrides: ConditionOverrides | None) -> dict[Condition, dict[str, Any]]:
    merged = {condition: dict(values) for condition, values in base.items()}
    if overrides is not None:
        for condition, values in overrides.items():
            merged.setdefault(condition, {}).update(values)
    return merged


def _check_condition(condition: Condition, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems of one resolved condition, as (key, message)."""
    get = values.get
    problems: list[tuple[str, str]] = []
    kind = condition.kind
    if get("priority") is None:
        problems.append(("priority", "required: no default for this condition and role"))
    trip, clear = get("trip_c"), get("clear_c")
    if kind is Kind.LOW and trip is not None and clear is not None and clear <= trip:
        problems.append(("clear_c", "must be above trip_c on a low-side condition "
                         f"(got trip_c={trip:g}, clear_c={clear:g})"))
    if kind is Kind.HIGH and trip is not None and clear is not None and clear >= trip:
        problems.append(("clear_c", "must be below trip_c on a high-side condition "
                         f"(got trip_c={trip:g}, clear_c={clear:g})"))
    horizon, clear_horizon = get("horizon_s"), get("clear_horizon_s")
    if horizon is not None and clear_horizon is not None and clear_horizon < horizon:
        problems.append(("clear_horizon_s", "must not be shorter than horizon_s "
                         f"(got horizon_s={horizon:g}, clear_horizon_s={clear_horizon:g})"))
    slope_trip, slope_clear = get("trip_c_per_min"), get("clear_c_per_min")
    if kind is Kind.SLOPE and slope_trip is not None:
        if slope_trip >= 0:
            problems.append(("trip_c_per_min", f"must be a fall, below zero (got {slope_trip:g})"))
        elif slope_clear is not None and slope_clear <= slope_trip:
            problems.append(("clear_c_per_min", "must be above trip_c_per_min (a slower fall) "
                             f"(got trip_c_per_min={slope_trip:g}, "
                             f"clear_c_per_min={slope_clear:g})"))
    priority = get("priority")
    delay = get("delay_s") or 0.0
    if condition.cold and priority in ("high", Priority.HIGH) and delay > HIGH_COLD_MAX_DELAY_S:
        problems.append(("delay_s", "a high-priority cold condition is never delayed by more "
                         "than one sample; the engine would cap this delay, so asking for it "
                         f"is an error (at most {HIGH_COLD_MAX_DELAY_S:g} s, got {delay:g})"))
    return problems


def _stale_after(values: Mapping[Condition, Mapping[str, Any]]) -> float | None:
    stale = values.get(Condition.STALE, {})
    after = stale.get("after_s")
    return float(after) if after is not None and stale.get("enabled", True) else None


def cross_check(devices: Sequence[tuple[int, AnyDevice]],
                channels: Sequence[tuple[int, ChannelConfig]], roles: RolesConfig | None,
                unvalidated_device_ids: frozenset[str] = frozenset(),
                bare_channels: frozenset[int] = frozenset()) -> list[tuple[Path_, str]]:
    """Problems between fields: thresholds, delays, ids, device references and indexes.

    Works on the pieces that validated, so a file with field errors still gets these checks;
    ``unvalidated_device_ids`` are devices that exist but failed their own validation, and
    ``bare_channels`` are channels reduced to id, device and index (their role was invalid).
    """
    problems: list[tuple[Path_, str]] = []
    role_values: dict[Role, dict[Condition, dict[str, Any]]] = {}
    role_ok: dict[Role, set[Condition]] = {}
    for role in Role:
        overrides = roles.for_role(role) if roles is not None else None
        resolved = _resolve(role_defaults(role), overrides)
        role_values[role] = resolved
        role_ok[role] = set()
        set_conditions = dict(overrides.items()) if overrides is not None else {}
        for condition, values in resolved.items():
            found = _check_condition(condition, values)
            if not found:
                role_ok[role].add(condition)
            elif condition in set_conditions:
                problems += [(("roles", role.value, condition.value, key), message)
                             for key, message in found]
    device_ids: dict[str, int] = {}
    device_by_id: dict[str, AnyDevice] = {}
    for i, device in devices:
        if device.id in device_ids:
            problems.append((("devices", i, "id"), f"duplicate device id (first at "
                             f"devices[{device_ids[device.id]}]) (got {device.id!r})"))
        else:
            device_ids[device.id] = i
            device_by_id[device.id] = device
    channel_ids: dict[str, int] = {}
    used: dict[tuple[str, int | str], str] = {}
    for i, channel in channels:
        if channel.id in channel_ids:
            problems.append((("channels", i, "id"), f"duplicate channel id (first at "
                             f"channels[{channel_ids[channel.id]}]) (got {channel.id!r})"))
        else:
            channel_ids[channel.id] = i
        base = role_values[channel.role]
        resolved = _resolve(base, channel.alarms)
        for condition, _ in channel.alarms.items():
            found = _check_condition(condition, resolved[condition])
            if found and condition in role_ok[channel.role]:
                problems += [(("channels", i, "alarms", condition.value, key), message)
                             for key, message in found]
        found_device = device_by_id.get(channel.device)
        if found_device is None:
            if channel.device not in unvalidated_device_ids:
                known = ", ".join(repr(d) for d in device_ids) or "none defined"
                problems.append((("channels", i, "device"), f"no such device (devices: {known}) "
                                 f"(got {channel.device!r})"))
            continue
        problems += _check_index(i, channel, found_device, used)
        after = _stale_after(resolved)
        interval = getattr(found_device, "poll_interval_s", None)
        if after is not None and interval is not None and interval >= after \
                and i not in bare_channels:
            problems.append((("devices", device_ids[found_device.id], "poll_interval_s"),
                             f"must be shorter than the stale delay of channel {channel.id!r} "
                             f"(after_s = {after:g} s) (got {interval:g})"))
    return problems


def _check_index(i: int, channel: ChannelConfig, device: AnyDevice,
                 used: dict[tuple[str, int | str], str]) -> list[tuple[Path_, str]]:
    problems: list[tuple[Path_, str]] = []
    index = channel.index
    path: Path_ = ("channels", i, "index")
    if isinstance(device, ModbusDevice) and index == "cjc":
        if not device.read_cjc:
            problems.append((path, f"index 'cjc' needs read_cjc = true on device "
                             f"{device.id!r} (got {index!r})"))
    elif device.protocol != "line" and not isinstance(index, int):
        problems.append((path, f"a {device.protocol} device numbers its channels: the index "
                         f"must be an integer position (got {index!r})"))
    elif isinstance(device, ModbusDevice) and isinstance(index, int) \
            and index >= device.channel_count:
        problems.append((path, f"device {device.id!r} has {device.channel_count} channels "
                         f"(index 0-{device.channel_count - 1}) (got {index})"))
    elif isinstance(device, LineDevice) and isinstance(index, int) \
            and device.scan_width is not None and index >= device.scan_width:
        problems.append((path, f"device {device.id!r} sends {device.scan_width} fields per "
                         f"scan (index 0-{device.scan_width - 1}) (got {index})"))
    key = (device.id, index)
    if key in used:
        problems.append((path, f"device {device.id!r} index {index!r} is already channel "
                         f"{used[key]!r} (got {index!r})"))
    else:
        used[key] = channel.id
    return problems


# The whole config ---------------------------------------------------------------------------

class Config(_Model):
    """A validated configuration. Build it with :func:`load_config` or :func:`parse_config`."""

    station: StationConfig = Field(default_factory=StationConfig)
    devices: list[DeviceConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)
    roles: RolesConfig = Field(default_factory=RolesConfig)
    trend: TrendConfig = Field(default_factory=TrendConfig)
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    cycles: CyclesConfig = Field(default_factory=CyclesConfig)
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    display: DisplayConfig = Field(default_factory=DisplayConfig)

    @model_validator(mode="after")
    def _cross(self) -> Config:
        problems = cross_check(list(enumerate(self.devices)), list(enumerate(self.channels)),
                               self.roles)
        if problems:
            raise _Problems(problems)
        return self

    def device(self, device_id: str) -> AnyDevice | None:
        return next((d for d in self.devices if d.id == device_id), None)

    def channels_of(self, device_id: str) -> list[ChannelConfig]:
        return [c for c in self.channels if c.device == device_id]

    def role_values(self, role: Role) -> dict[Condition, dict[str, Any]]:
        """Resolved settings of every condition of ``role``: defaults <- ``[roles]``."""
        return _resolve(role_defaults(role), self.roles.for_role(role))

    def channel_values(self, channel: ChannelConfig) -> dict[Condition, dict[str, Any]]:
        """Resolved settings of a channel: defaults <- ``[roles]`` <- the channel's alarms."""
        return _resolve(self.role_values(channel.role), channel.alarms)

    def engine_spec(self) -> EngineSpec:
        """What the engine needs, with every override applied."""
        channels = tuple(
            ChannelSpec(id=c.id, role=c.role,
                        conditions=resolved_conditions(self.channel_values(c)),
                        label=c.label, device=c.device, index=c.index)
            for c in self.channels)
        return EngineSpec(
            channels=channels, trend=self.trend.spec(), audio_pause_s=self.alarms.audio_pause_s,
            unknown_channel_role=self.alarms.unknown_channel_role,
            device_lost_priority=Priority.parse(self.alarms.device_lost_priority),
            role_conditions=MappingProxyType({
                role: resolved_conditions(self.role_values(role)) for role in Role}),
            cycles=self.cycles.spec())

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable copy for the session file; secrets left out, re-parseable."""
        data = self.model_dump(mode="json", exclude_none=True)
        mqtt = data.get("mqtt", {})
        mqtt.pop("password", None)  # password_file stays: a path, not the secret
        if "url" in mqtt:
            mqtt["url"] = without_password(mqtt["url"])
        return data


# Error messages -----------------------------------------------------------------------------

def _path(loc: Path_) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = printable(part)  # a key is shown too: "\u001b" = 1 is a valid TOML key
            text += f".{part}" if text else part
    return text


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shown_input(loc: Path_, value: object) -> str:
    """The bad value for a problem line; a password is never shown, a URL only masked."""
    key = loc[-1] if loc else None
    if key == "password":
        return "***"
    if key == "url" and isinstance(value, str):
        return _show(redact_url(value))
    return _show(value)


def _unwrap(tp: Any) -> list[type[BaseModel]]:
    """The model classes a field annotation can hold (through Optional, list, Annotated)."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _unwrap(get_args(tp)[0])
    if origin in (list, Union, types.UnionType):
        return [m for arg in get_args(tp) for m in _unwrap(arg)]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def _model_at(raw_loc: Path_) -> type[BaseModel] | None:
    """The model class at a pydantic loc (discriminator tags pick the device model)."""
    model: type[BaseModel] = Config
    parts = [p for p in raw_loc if isinstance(p, str)]
    while parts:
        field = model.model_fields.get(parts.pop(0))
        models = _unwrap(field.annotation) if field is not None else []
        if len(models) > 1:
            if not parts or parts[0] not in _DEVICE_MODELS:
                return None
            models = [_DEVICE_MODELS[parts.pop(0)]]
        if not models:
            return None
        model = models[0]
    return model


def _strip_tags(loc: Path_) -> Path_:
    """Drop pydantic's discriminator tag (``devices.0.line.x`` -> ``devices[0].x``)."""
    if len(loc) >= 3 and loc[0] == "devices" and loc[2] in PROTOCOLS:
        return (*loc[:2], *loc[3:])
    return loc


def _allowed(raw_loc: Path_) -> tuple[str, list[str]]:
    """What an unknown key at ``raw_loc`` should have been: (noun, allowed keys)."""
    model = _model_at(raw_loc[:-1])
    if model is None:
        return "key", []
    nouns: dict[type[BaseModel], str] = {Config: "section", ConditionOverrides: "condition",
                                         RolesConfig: "role"}
    keys = list(model.model_fields)
    if issubclass(model, _Override):  # the condition's own keys first
        keys = [k for k in keys if k not in _Override.model_fields] + list(_Override.model_fields)
    return nouns.get(model, "key"), keys


def _message(error: Mapping[str, Any]) -> tuple[Path_, str, bool]:
    """(path, message, whether to append the bad value) of one pydantic error."""
    raw_loc: Path_ = tuple(error["loc"])
    loc = _strip_tags(raw_loc)
    kind = error["type"]
    if kind == "missing":
        return loc, "required", False
    if kind == "extra_forbidden":
        noun, allowed = _allowed(raw_loc)
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return loc, f"unknown {noun}{hint}", True
    if kind == "union_tag_not_found":
        return (*loc, "protocol"), f"required (one of {', '.join(PROTOCOLS)})", False
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        return (*loc, "protocol"), f"must be one of {', '.join(PROTOCOLS)} (got {tag!r})", False
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return loc, "must be a table", True
    if kind == "list_type":
        return loc, "must be a list (an array of tables, e.g. [[channels]])", True
    if kind == "value_error":
        exc = error.get("ctx", {}).get("error")
        if isinstance(exc, UnitError):
            return loc, exc.reason, True
        message = str(exc) if exc is not None else error["msg"].removeprefix("Value error, ")
        return loc, message, "(got " not in message
    message = error["msg"]
    message = message.replace("Input should be", "must be")
    return loc, message[:1].lower() + message[1:], True


def _problem_lines(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for error in exc.errors():
        raw = error.get("ctx", {}).get("error") if error["type"] == "value_error" else None
        if isinstance(raw, _Problems):
            base = _strip_tags(tuple(error["loc"]))
            for sub, message in raw.problems:
                lines.append(f"{_path((*base, *sub))}: {message}")
            continue
        loc, message, show = _message(error)
        line = f"{_path(loc) or '(top level)'}: {message}"
        if show:
            line += f" (got {_shown_input(loc, error.get('input'))})"
        unit_error = error.get("ctx", {}).get("error")
        if isinstance(unit_error, UnitError) and unit_error.hint:
            line += f"; {unit_error.hint}"
        lines.append(line)
    return lines


def _partial_cross_check(data: Mapping[str, Any]) -> list[str]:
    """Cross-field checks over the pieces of an invalid file that validate on their own."""
    device_adapter: TypeAdapter[AnyDevice] = TypeAdapter(DeviceConfig)
    devices: list[tuple[int, AnyDevice]] = []
    failed: set[str] = set()
    raw_devices = data.get("devices")
    for i, item in enumerate(raw_devices if isinstance(raw_devices, list) else []):
        try:
            devices.append((i, device_adapter.validate_python(item)))
        except ValidationError:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                failed.add(item["id"])
    channels: list[tuple[int, ChannelConfig]] = []
    partial: set[int] = set()
    raw_channels = data.get("channels")
    for i, item in enumerate(raw_channels if isinstance(raw_channels, list) else []):
        try:
            channels.append((i, ChannelConfig.model_validate(item)))
        except ValidationError:  # still check its id, device and index
            if isinstance(item, dict):
                bare = {k: item[k] for k in ("id", "device", "index") if k in item}
                with contextlib.suppress(ValidationError):
                    channels.append((i, ChannelConfig.model_validate(bare)))
                    partial.add(i)
    raw_roles = data.get("roles")
    valid_roles: dict[str, Any] = {}
    roles_ok = True
    for name, table in (raw_roles.items() if isinstance(raw_roles, dict) else []):
        try:
            valid_roles[name] = RolesConfig.model_validate({name: table}).for_role(Role(name))
        except (ValidationError, ValueError):
            roles_ok = False
    problems = cross_check(devices, channels, RolesConfig(**valid_roles), frozenset(failed),
                           frozenset(partial))
    if not roles_ok:  # overrides checked against a broken [roles] table would mislead
        problems = [p for p in problems if "alarms" not in p[0]]
    return [f"{_path(path)}: {message}" for path, message in problems]


# Public API ---------------------------------------------------------------------------------

def parse_config(data: Mapping[str, Any], source: str) -> Config:
    """Validate a parsed TOML document; every problem is listed in one ConfigError."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, [f"(top level): must be a table (got {_show(data)})"])
    try:
        return Config.model_validate(dict(data))
    except ValidationError as exc:
        problems = _problem_lines(exc)
        field_errors = any(e["loc"] != () for e in exc.errors())
        if field_errors:
            for line in _partial_cross_check(data):
                if line not in problems:
                    problems.append(line)
        raise ConfigError(source, problems) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file. Raises only :class:`ConfigError`."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, ["file not found"]) from None
    except IsADirectoryError:
        raise ConfigError(source, ["is a directory, not a config file"]) from None
    except PermissionError:
        raise ConfigError(source, ["cannot read: permission denied"]) from None
    except OSError as exc:
        raise ConfigError(source, [f"cannot read: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                                   f"{exc.start}); save the file as UTF-8"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    return parse_config(data, source)


def default_config() -> Config:
    """The built-in defaults: no devices, no channels."""
    return Config()


def quick_config(port: str, protocol: str,
                 channels: Sequence[tuple[str, str]] | None = None) -> Config:
    """The config of ``cryoguard run --port P --protocol X [--channel ID[:ROLE]]...``.

    One device ``dev0``; channels take the given ids in position order (role ``nerve`` when
    none is given). With no channels the daemon names them ch0, ch1, ... from the first scan.
    """
    data: dict[str, Any] = {
        "devices": [{"id": "dev0", "protocol": protocol, "port": port}],
        "channels": [{"id": channel_id, "device": "dev0", "index": i,
                      "role": role or Role.NERVE.value}
                     for i, (channel_id, role) in enumerate(channels or [])],
    }
    return parse_config(data, "command line")


# Human summary -----------------------------------------------------------------------------

def _describe(condition: Condition, v: Mapping[str, Any]) -> str:
    kind = condition.kind
    if kind is Kind.LOW:
        what = f"trip ≤ {v['trip_c']:g} °C, clear ≥ {v['clear_c']:g} °C"
    elif kind is Kind.HIGH:
        what = f"trip ≥ {v['trip_c']:g} °C, clear ≤ {v['clear_c']:g} °C"
    elif kind is Kind.PREDICTED:
        limit = v.get("trip_c")
        target = f"{limit:g} °C" if limit is not None else "the below_critical limit"
        what = (f"trend reaches {target} within {v['horizon_s']:g} s, "
                f"clear > {v['clear_horizon_s']:g} s or rising")
    elif kind is Kind.SLOPE:
        what = (f"trip ≤ {v['trip_c_per_min']:g} °C/min, "
                f"clear ≥ {v['clear_c_per_min']:g} °C/min")
    elif kind is Kind.STALE:
        what = f"no valid reading for {v['after_s']:g} s"
    elif kind is Kind.STUCK:
        what = f"reading unchanged for {v['after_s']:g} s"
    elif kind is Kind.JUMP:
        what = f"faster than {v['max_c_per_s']:g} °C/s and larger than {v['min_step_c']:g} °C"
    else:
        what = "status from the device"
    priority = v["priority"]
    priority = priority.label if isinstance(priority, Priority) else str(priority)
    extra = ", latching" if v.get("latching") else ""
    if v.get("delay_s"):
        extra += f", delay {v['delay_s']:g} s"
    return f"{condition.value:<25} {what}; {priority}{extra}"


_TECHNICAL = frozenset({Kind.STATUS, Kind.STALE, Kind.STUCK, Kind.JUMP, Kind.DEVICE})


def _condition_lines(values: Mapping[Condition, Mapping[str, Any]],
                     marked: Mapping[Condition, str], indent: str,
                     only: frozenset[Condition] | None = None) -> list[str]:
    lines = []
    off = []
    for condition in sorted(Condition, key=lambda c: (c.kind in _TECHNICAL, c.order)):
        if condition not in values or (only is not None and condition not in only):
            continue
        v = dict(values[condition])
        if condition is Condition.PREDICTED_BELOW_CRITICAL:
            v["trip_c"] = values.get(Condition.BELOW_CRITICAL, {}).get("trip_c")
        mark = f"  {marked[condition]}" if condition in marked else ""
        if not v.get("enabled", True):
            off.append(condition.value + mark)
            continue
        lines.append(f"{indent}{_describe(condition, v)}{mark}")
    if off:
        lines.append(f"{indent}{'disabled':<25} {', '.join(off)}")
    return lines


def describe_thresholds(config: Config) -> list[str]:
    """Lines summarising the thresholds in force, per role in use, channel overrides marked."""
    lines = [
        f"trend window {config.trend.window_s:g} s (at least {config.trend.min_points} points "
        f"over {config.trend.min_span_s:g} s, gaps under {config.trend.max_gap_s:g} s); "
        f"audio pause {config.alarms.audio_pause_s:g} s; device lost: "
        f"{config.alarms.device_lost_priority}",
    ]
    roles_in_use = [r for r in Role if any(c.role is r for c in config.channels)]
    if not roles_in_use:
        roles_in_use = [config.alarms.unknown_channel_role]
    for role in roles_in_use:
        members = [c.id for c in config.channels if c.role is role]
        who = f"channels {', '.join(members)}" if members else "channels found in the data"
        lines.append(f"role {role.value} ({who}):")
        overrides = config.roles.for_role(role)
        marked = {c: "[roles override]" for c, _ in overrides.items()} if overrides else {}
        lines += _condition_lines(config.role_values(role), marked, "  ")
    for channel in config.channels:
        changed = frozenset(c for c, _ in channel.alarms.items())
        if not changed:
            continue
        lines.append(f"channel {channel.id} ({channel.role.value}) overrides:")
        lines += _condition_lines(config.channel_values(channel),
                                  dict.fromkeys(changed, "[channel override]"), "  ", changed)
    return lines
