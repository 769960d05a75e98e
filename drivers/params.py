"""Device parameters, one frozen dataclass per protocol, mirroring ``[[devices]]`` in config.

``channel_map`` maps a device index (positional data) or key (keyed data) to a channel id.
With ``learn_channels`` (quick mode) an unmapped index becomes ``ch<index>`` and an unmapped
key keeps its own name, so no reading is ever dropped silently. ``roles`` (channel id → role)
lets a driver warn when the hardware cannot read what a role needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from drivers import modbus_map
from drivers.line import LineSettings
from drivers.types import Key
from monitor.config import defaults


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class DeviceParams:
    """What every device has: an id for events, a port (path or pyserial URL), a baud rate."""

    id: str
    port: str
    baudrate: int = defaults.SERIAL_BAUDRATE
    channel_map: Mapping[Key, str] = field(default_factory=dict)
    learn_channels: bool = False
    roles: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("device id must not be empty")
        if not self.port:
            raise ValueError(f"device {self.id}: port must not be empty")
        if self.baudrate <= 0:
            raise ValueError(f"device {self.id}: baudrate must be positive")


@dataclass(frozen=True, kw_only=True)
class LineParams(DeviceParams):
    """``protocol = "line"``: values in °C, or mV with a type and a cold-junction source."""

    baudrate: int = defaults.LINE_BAUDRATE
    units: str = defaults.LINE_UNITS
    tc_type: str | None = None
    cjc_c: float | None = None
    cjc_channel: Key | None = None
    channel_tc_types: Mapping[str, str] = field(default_factory=dict)
    scan_width: int | None = None
    checksum: bool = defaults.LINE_CHECKSUM

    def __post_init__(self) -> None:
        super().__post_init__()
        self.settings()  # raises ValueError naming what is missing

    def settings(self) -> LineSettings:
        """Parser settings; channel ids (cold junction, per-channel types) become scan keys."""
        cj: Key | None = self.cjc_channel
        if cj is not None:
            for key, channel in self.channel_map.items():
                if channel == cj:
                    cj = key
                    break
        types = {key: self.channel_tc_types[channel] for key, channel in self.channel_map.items()
                 if channel in self.channel_tc_types}
        return LineSettings(self.units, self.tc_type, self.cjc_c, cj, types, self.scan_width,
                            self.checksum).validated()


@dataclass(frozen=True, kw_only=True)
class PolledParams(DeviceParams):
    """What a polled (command and reply) module adds: the polling pace, when it counts as
    lost, the data format confirmed at connect and the configured thermocouple types."""

    FORMATS: ClassVar[tuple[str, ...]] = ("auto", "engineering")

    poll_interval_s: float = defaults.DEVICE_POLL_INTERVAL_S
    timeout_s: float = defaults.DEVICE_TIMEOUT_S
    max_timeouts: int = defaults.DEVICE_MAX_TIMEOUTS
    # "auto": read from the module at connect; otherwise the site's word
    data_format: str = defaults.DEVICE_DATA_FORMAT
    tc_types: Mapping[str, str] = field(default_factory=dict)  # channel id → configured type

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.data_format not in self.FORMATS:
            raise ValueError(f"device {self.id}: data_format must be one of "
                             f"{', '.join(self.FORMATS)}, got {self.data_format!r}")
        _positive("poll_interval_s", self.poll_interval_s)
        _positive("timeout_s", self.timeout_s)
        if self.max_timeouts < 1:
            raise ValueError(f"device {self.id}: max_timeouts must be >= 1")


@dataclass(frozen=True, kw_only=True)
class DconParams(PolledParams):
    """``protocol = "dcon"``: ADAM-4018/I-7018 family polled with ``#AA``; ``$AA2`` confirms
    the data format."""

    baudrate: int = defaults.DCON_BAUDRATE
    address: int = defaults.DCON_ADDRESS
    checksum: bool = defaults.DCON_CHECKSUM
    lost_after_s: float = defaults.DEVICE_LOST_AFTER_S
    config_attempts: int = defaults.DCON_CONFIG_ATTEMPTS

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.address <= 0xFF:
            raise ValueError(f"device {self.id}: DCON address must be 0..255")
        if self.config_attempts < 1:
            raise ValueError(f"device {self.id}: config_attempts must be >= 1")
        _positive("lost_after_s", self.lost_after_s)


@dataclass(frozen=True, kw_only=True)
class ModbusParams(PolledParams):
    """``protocol = "modbus"``: RTU input registers, M-7018 layout by default."""

    FORMATS: ClassVar[tuple[str, ...]] = ("auto", "engineering", "hex")

    baudrate: int = defaults.MODBUS_BAUDRATE
    unit_id: int = defaults.MODBUS_UNIT_ID
    start_register: int = defaults.MODBUS_START_REGISTER
    count: int = defaults.MODBUS_CHANNEL_COUNT
    scale: float = defaults.MODBUS_SCALE_C
    open_value: int | None = defaults.MODBUS_OPEN_VALUE
    under_value: int | None = defaults.MODBUS_UNDER_VALUE
    cjc_register: int | None = None
    cjc_scale: float = defaults.MODBUS_CJC_SCALE_C
    format_coil: int | None = modbus_map.M7018_FORMAT_COIL
    type_register: int | None = modbus_map.M7018_TYPE_REGISTER

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.data_format == "auto" and (self.format_coil is None
                                           or self.type_register is None):
            raise ValueError(f"device {self.id}: data_format = 'auto' reads the format coil "
                             "and the type register; give both or set data_format")
        if not 0 <= self.unit_id <= 247:
            raise ValueError(f"device {self.id}: unit_id must be 0..247")
        self.register_map()

    def register_map(self) -> modbus_map.RegisterMap:
        return modbus_map.RegisterMap(
            start_register=self.start_register, count=self.count, scale=self.scale,
            open_value=self.open_value, under_value=self.under_value,
            cjc_register=self.cjc_register, cjc_scale=self.cjc_scale)


AnyParams = LineParams | DconParams | ModbusParams
