"""``cryoguard ports``: list serial ports so a technician can find the device to configure."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "ports", help="list serial ports",
        description="List serial ports, with their /dev/serial/by-id names where they exist "
                    "(use those in config files: they survive replugging).")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivers.ports import list_serial_ports

    ports = list_serial_ports()
    if not ports:
        print("No serial ports found. Plug in the USB-serial adapter and run this again "
              "(emulated devices from `cryoguard simulate` are pseudo-terminals: use their "
              "--link path directly).")
        return 0
    for port in ports:
        print(port.device)
        for link in port.by_id:
            print(f"  by-id:       {link}")
        if port.description:
            print(f"  description: {port.description}")
        if port.hwid and port.hwid != "n/a":
            print(f"  hardware:    {port.hwid}")
    return 0
