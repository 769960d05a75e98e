"""``cryoguard check-config FILE``: validate a config and show the thresholds it puts in force.

A site checks its file before a procedure, not during one: every problem is listed at once
(exit 2), and a good file prints what the monitor will actually alarm on (exit 0).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from monitor.examples import add_example_arguments, config_examples, with_example

if TYPE_CHECKING:
    from monitor.config.schema import AnyDevice, Config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "check-config", help="validate a config file and summarise the thresholds in force",
        description="Validate a CryoGuard TOML config. Exit 0 with a summary when it is good; "
                    "exit 2 listing every problem (field path and bad value) when it is not.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", metavar="FILE", nargs="?", help="the TOML config file")
    add_example_arguments(parser, source, list(config_examples()), "config")
    parser.set_defaults(func=with_example(run, config_examples, "file"))


def run(args: argparse.Namespace) -> int:
    from monitor.config.schema import load_config

    config = load_config(args.file)  # ConfigError: the dispatcher prints it and exits 2
    print("\n".join(summary(config, args.file)))
    return 0


def summary(config: Config, source: str) -> list[str]:
    """The lines printed for a good config."""
    from monitor.config.schema import describe_thresholds, redact_url

    station = config.station
    operator = f" (operator: {station.operator})" if station.operator else ""
    lines = [f"{source}: OK", f"station: {station.name}{operator}"]
    lines.append(f"devices: {len(config.devices) or 'none (quick mode learns channels)'}")
    for device in config.devices:
        lines.append(f"  {device.id}: {device.protocol} on {device.port} at "
                     f"{device.baudrate} baud{_device_detail(device)}")
    lines.append(f"channels: {len(config.channels) or 'none (named ch0, ch1, ... from the scan)'}")
    from monitor.daemon.devices import channel_tc_types
    tc_types = channel_tc_types(config)
    for channel in config.channels:
        label = f"  {channel.label}" if channel.label else ""
        override = "  [overrides]" if any(True for _ in channel.alarms.items()) else ""
        tc = tc_types.get(channel.id)
        owner = config.device(channel.device)
        tc_text = (f"  type {tc}" if tc else "  type: the module's"
                   if owner is not None and owner.protocol != "line" else "")
        lines.append(f"  {channel.id:<8} {channel.role.value:<9} {channel.device}[{channel.index}]"
                     f"{tc_text}{label}{override}")
    cycles = config.cycles
    active = f", active thaw {cycles.active_thaw_s:g} s" if cycles.active_thaw_s else ""
    lines.append(f"cycles: freeze {cycles.freeze_s:g} s, passive thaw {cycles.passive_thaw_s:g} s, "
                 f"freeze {cycles.second_freeze_s:g} s{active}; detection "
                 f"{'on' if cycles.detect else 'off'}")
    recording = config.recording
    lines.append(f"recording: {recording.directory if recording.enabled else 'off'}")
    lines.append(f"mqtt: {redact_url(config.mqtt.url) if config.mqtt.url else 'off'}")
    lines.append("thresholds in force:")
    lines += [f"  {line}" for line in describe_thresholds(config)]
    return lines


def _device_detail(device: AnyDevice) -> str:
    from monitor.config.schema import DconDevice, ModbusDevice

    if isinstance(device, ModbusDevice):
        last = device.start_register + device.channel_count - 1
        fmt = ("data format read at connect" if device.data_format == "auto"
               else f"data format {device.data_format} (config)")
        return (f", unit {device.unit_id}, registers {device.start_register}-{last}, "
                f"poll {device.poll_interval_s:g} s, {fmt}")
    if isinstance(device, DconDevice):
        checksum = ", checksum" if device.checksum else ""
        fmt = ("data format checked at connect" if device.data_format == "auto"
               else "data format engineering (config, unchecked)")
        return (f", address {device.address:02X}{checksum}, poll {device.poll_interval_s:g} s, "
                f"{fmt}")
    tc_type = f", type {device.tc_type}" if device.tc_type else ""
    width = (f", {device.scan_width} fields per scan" if device.scan_width
             else ", scan width learned at connect")
    checksum = ", *HH checksum" if device.checksum else ""
    return f", values in {device.units}{tc_type}{width}{checksum}"
