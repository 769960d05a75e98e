"""Operator and device inputs: one mapping from a recorded input to the engine call.

The daemon applies inputs through :func:`apply_input` and records them with the same kind and
payload, so a replay that applies the recorded inputs in order reproduces every event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.engine import Engine
from monitor.model import Event
from monitor.sessions.schema import InputKind

MARKS = ("freeze", "thaw", "active-thaw", "end")


def apply_input(engine: Engine, t: float, kind: str, payload: Mapping[str, Any]) -> list[Event]:
    """Run one input through the engine; an unknown kind is ignored (newer file, older code)."""
    by = str(payload.get("by", "operator"))
    device = str(payload.get("device", ""))
    if kind == InputKind.ACK:
        alarm = payload.get("alarm")
        return engine.acknowledge(t, str(alarm) if alarm else None, by=by)
    if kind == InputKind.PAUSE:
        return engine.pause_audio(t, by=by)
    if kind == InputKind.MARK:
        return engine.mark(t, str(payload.get("mark", "")), by=by)
    if kind == InputKind.DEVICE_LOST:
        return engine.device_lost(t, device, str(payload.get("reason", "")))
    if kind == InputKind.DEVICE_CONNECTED:
        return engine.device_connected(t, device, str(payload.get("detail", "")))
    if kind == InputKind.DEVICE_BAD_DATA:
        return engine.device_bad_data(t, device, str(payload.get("detail", "")))
    return []
