"""What a device driver reports to: the daemon implements this, tests record it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from monitor.model import Reading


class DriverSink(Protocol):
    """Receives everything a device task learns; called on the event loop, must not block."""

    def scan(self, readings: Sequence[Reading]) -> None:
        """One scan, already mapped to channel ids and stamped."""

    def bad_data(self, t: float, device: str, detail: str) -> None:
        """A frame that yielded no reading, or a communication fault such as a reply timeout."""

    def connected(self, t: float, device: str, detail: str) -> None:
        """The device answers (again); ``detail`` says what it is and how it is set up."""

    def lost(self, t: float, device: str, reason: str) -> None:
        """The device stopped answering; reported once per outage, with a readable reason."""
