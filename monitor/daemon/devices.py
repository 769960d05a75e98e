"""From config devices to driver parameters (the drivers know nothing of pydantic)."""

from __future__ import annotations

from drivers.params import AnyParams, DconParams, LineParams, ModbusParams
from drivers.types import Key
from monitor.config.schema import Config, DconDevice, LineDevice, ModbusDevice


def device_params(config: Config, *, learn_channels: bool = False) -> list[AnyParams]:
    """One parameter set per ``[[devices]]`` entry, with its channel map and roles.

    With ``learn_channels`` (quick mode) readings at unmapped positions become channels named
    ``ch<index>`` rather than being dropped.
    """
    out: list[AnyParams] = []
    for dev in config.devices:
        channels = config.channels_of(dev.id)
        channel_map: dict[Key, str] = {c.index: c.id for c in channels}
        roles = {c.id: str(c.role) for c in channels}
        tc_types = {c.id: c.tc_type for c in channels if c.tc_type is not None}
        if isinstance(dev, LineDevice):
            out.append(LineParams(
                id=dev.id, port=dev.port, baudrate=dev.baudrate, channel_map=channel_map,
                learn_channels=learn_channels, roles=roles, units=dev.units,
                tc_type=dev.tc_type, cjc_c=dev.cjc_c, cjc_channel=dev.cjc_channel,
                channel_tc_types=tc_types, scan_width=dev.scan_width, checksum=dev.checksum))
        elif isinstance(dev, DconDevice):
            out.append(DconParams(
                id=dev.id, port=dev.port, baudrate=dev.baudrate, channel_map=channel_map,
                learn_channels=learn_channels, roles=roles, address=dev.address,
                checksum=dev.checksum, poll_interval_s=dev.poll_interval_s,
                timeout_s=dev.timeout_s, data_format=dev.data_format, tc_types=tc_types))
        elif isinstance(dev, ModbusDevice):
            out.append(ModbusParams(
                id=dev.id, port=dev.port, baudrate=dev.baudrate, channel_map=channel_map,
                learn_channels=learn_channels, roles=roles,
                unit_id=dev.unit_id, poll_interval_s=dev.poll_interval_s,
                timeout_s=dev.timeout_s, start_register=dev.start_register,
                count=dev.channel_count, scale=dev.scale, open_value=dev.open_value,
                cjc_register=dev.cjc_register if dev.read_cjc else None,
                cjc_scale=dev.cjc_scale, data_format=dev.data_format, tc_types=tc_types))
    return out


def channel_tc_types(config: Config) -> dict[str, str | None]:
    """Each configured channel's effective thermocouple type, for the session's channel map.

    A channel's own ``tc_type`` wins; on a line device without one the device's type
    applies (it converts that channel's millivolts). DCON and Modbus modules linearise
    themselves: a channel there has a type only when the config states one, which the driver
    checks against the module's input type at connect.
    """
    types: dict[str, str | None] = {}
    for channel in config.channels:
        device = config.device(channel.device)
        found = channel.tc_type
        if found is None and isinstance(device, LineDevice):
            found = device.tc_type
        types[channel.id] = found
    return types
