"""The session header: what is monitored, with which thresholds, recorded where.

The same mapping goes to the display (its top lines), MQTT (the retained ``info``) and, as
lines, to the headless log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from drivers.params import AnyParams
from monitor.config.schema import Config, describe_thresholds
from monitor.daemon.grammar import USAGE
from monitor.display.sparkline import spec_levels
from monitor.engine.spec import EngineSpec
from monitor.text import printable


def session_header(config: Config, devices: Sequence[AnyParams], spec: EngineSpec, *,
                   mode: str, speed: float, wall_start: datetime,
                   extra: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "station": config.station.name,
        "operator": config.station.operator,
        "mode": mode,
        "started": wall_start.isoformat(timespec="seconds"),
        "speed": speed,
        "devices": [{"id": d.id, "protocol": type(d).__name__.removesuffix("Params").lower(),
                     "port": d.port} for d in devices],
        "channels": [{"id": c.id, "label": c.label, "role": str(c.role), "device": c.device}
                     for c in config.channels],
        "thresholds": describe_thresholds(config),
        "levels": spec_levels(spec),
        "sources": "docs/clinical-defaults.md",
        **extra,
    }


def header_lines(header: Mapping[str, Any], session: os.PathLike[str] | None) -> list[str]:
    """The session header: what is monitored, with which thresholds, recorded where."""
    lines = [f"CryoGuard {header['mode']} — station {header['station']}, started "
             f"{header['started']} UTC" + (f", speed ×{header['speed']:g}"
                                            if header.get("speed", 1) != 1 else "")]
    if header.get("scenario"):
        lines.append(f"  scenario: {header['scenario']}")
    if header.get("pacing"):
        lines.append(f"  pacing: {header['pacing']}")
    audio = audio_words(header.get("audio_output"))
    if audio:
        lines.append(f"  alarm sound: {audio}")
    for dev in header.get("devices", []):
        lines.append(f"  device {dev['id']}: {dev['protocol']} on {dev['port']}")
    for ch in header.get("channels", []):
        lines.append(f"  channel {ch['id']} ({ch['role']}): {ch['label'] or ch['id']}")
    lines.append(f"  thresholds in force (sources: {header.get('sources')}):")
    lines += [f"    {line}" for line in header.get("thresholds", [])]
    if session is not None:
        lines.append(f"  recording to {os.fspath(session)}")
    lines.append(f"  commands: {USAGE}")
    return [printable(line) for line in lines]


def audio_words(entry: object) -> str:
    """The header's ``audio_output`` entry in words, for the log (the display has its own)."""
    if not isinstance(entry, Mapping):
        return ""
    output, problem = entry.get("output"), entry.get("problem")
    why = f" ({problem})" if problem else ""
    if output == "speaker":
        device = entry.get("device")
        return f"speakers{f' ({device})' if device else ''}"
    if output == "bell":
        return f"terminal bell only{why}"
    if output == "off":
        return f"AUDIO OFF{': nothing can sound' + why if problem else ' (--audio off)'}"
    return ""
