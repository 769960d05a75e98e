"""``cryoguard run``: monitor real devices, from a config file or quick flags."""

from __future__ import annotations

import argparse

from monitor.commands.session_args import add_session_arguments, start_session
from monitor.errors import UsageError
from monitor.model import Role

PROTOCOLS = ("line", "dcon", "modbus")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "run", help="monitor real devices (config file or quick flags)",
        description="Monitor thermocouple devices. Either --config FILE, or --port and "
                    "--protocol for one device whose channels are named by position (ch0, "
                    "ch1, ...) or by --channel, with the nerve role unless one is given.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="FILE", help="TOML config file")
    source.add_argument("--port", metavar="PORT",
                        help="serial port path or pyserial URL (quick mode)")
    parser.add_argument("--protocol", choices=PROTOCOLS, help="device protocol (quick mode)")
    parser.add_argument("--channel", action="append", default=[], metavar="ID[:ROLE]",
                        help="name the next position's channel, optionally with a role "
                             f"({', '.join(r.value for r in Role)}); repeat per channel")
    add_session_arguments(parser)
    parser.set_defaults(func=run)


def parse_channel(text: str) -> tuple[str, str]:
    ident, _, role = text.partition(":")
    role = role or "nerve"
    if not ident:
        raise UsageError(f"--channel: empty channel id in {text!r}")
    if role not in {r.value for r in Role}:
        raise UsageError(f"--channel {text}: unknown role {role!r} "
                         f"(one of {', '.join(r.value for r in Role)})")
    return ident, role


def run(args: argparse.Namespace) -> int:
    from monitor.config.schema import load_config, quick_config
    from monitor.daemon.devices import device_params

    if args.config:
        if args.protocol or args.channel:
            raise UsageError("--protocol and --channel go with --port, not with --config")
        config = load_config(args.config)
        learn = False
    else:
        if not args.protocol:
            raise UsageError("--port needs --protocol line|dcon|modbus")
        channels = [parse_channel(c) for c in args.channel]
        config = quick_config(args.port, args.protocol, channels or None)
        learn = not channels
    if not config.devices:
        raise UsageError(f"{args.config}: no [[devices]] to monitor")
    return start_session(args, config, device_params(config, learn_channels=learn), mode="run")
