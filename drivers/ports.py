"""Serial ports on this machine, with their stable ``/dev/serial/by-id`` names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from serial.tools import list_ports

BY_ID_DIR = Path("/dev/serial/by-id")


@dataclass(frozen=True, slots=True)
class PortInfo:
    device: str
    by_id: tuple[str, ...]
    description: str
    hwid: str

    @property
    def best_name(self) -> str:
        """The name to put in a config file: by-id survives replugging into another socket."""
        return self.by_id[0] if self.by_id else self.device


def by_id_links(directory: Path = BY_ID_DIR) -> dict[str, list[str]]:
    """Real device path → the by-id symlinks that point at it."""
    links: dict[str, list[str]] = {}
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return links
    for entry in entries:
        try:
            target = os.path.realpath(entry)
        except OSError:
            continue
        links.setdefault(target, []).append(str(entry))
    return links


def list_serial_ports(by_id_dir: Path = BY_ID_DIR) -> list[PortInfo]:
    links = by_id_links(by_id_dir)
    ports = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        real = os.path.realpath(port.device)
        desc = port.description if port.description and port.description != "n/a" else ""
        ports.append(PortInfo(port.device, tuple(links.get(real, [])), desc, port.hwid or ""))
    return ports
