"""The contract between the daemon and its outputs.

The daemon runs detection on the event loop and hands results to outputs through calls that
must return at once: an output keeps its own bounded queue (or only the latest snapshot) and
does its slow work in its own task or thread. An output that fails or falls behind reports it
through :class:`OutputContext` and the daemon raises a technical alarm; detection goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from monitor.engine import Snapshot
from monitor.model import Priority


class OutputContext(Protocol):
    """What the daemon offers an output. Safe to call from the event loop thread only,
    except the ``*_threadsafe`` variants."""

    def fault(self, output: str, message: str, priority: Priority) -> None:
        """Raise (or keep) the technical alarm ``<output>.output_failed``."""

    def recovered(self, output: str, message: str) -> None:
        """Clear ``<output>.output_failed``."""

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None: ...

    def recovered_threadsafe(self, output: str, message: str) -> None: ...

    # Operator actions, as the headless stdin commands (display keys use these).
    def acknowledge(self, alarm: str | None = None) -> None: ...

    def pause_audio(self) -> None: ...

    def mark(self, mark: str) -> None:
        """``freeze``, ``thaw``, ``active-thaw`` or ``end``."""

    def request_quit(self) -> None: ...

    def snapshot(self) -> Snapshot:
        """The engine's latest state (cheap; copies)."""

    @property
    def header(self) -> Mapping[str, Any]:
        """Session header: station, wall start, speed, devices, thresholds in force, ..."""


class Output(Protocol):
    """One output of the daemon."""

    name: str

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        """New events as event-stream records (``t``, ``time``, ``type``, fields). Never
        blocks; keeps them in order."""

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """The latest state after a scan; an output may keep only the newest."""

    async def run(self, context: OutputContext) -> None:
        """Background work until cancelled (rendering, publishing, writing)."""

    async def close(self) -> None:
        """Flush what can be flushed quickly; called once at shutdown."""
