"""Emulated acquisition devices on pseudo-terminals, driven by a scenario.

``await serve(scenario, "line" | "dcon" | "modbus", link_path, speed=..., seed=...)`` publishes a
pty behind the symlink ``link_path`` and plays the scenario on it until cancelled; the link is
removed on the way out. Session time = wall time × ``speed`` (or the injected ``clock`` × speed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from simulators.emulators.dcon import DconModule, serve_dcon
from simulators.emulators.line import serve_line
from simulators.emulators.modbus import serve_modbus
from simulators.emulators.player import Clock, Faults, Player, SessionClock
from simulators.ptylink import PtyLink
from simulators.scenarios import Scenario, get

Protocol = Literal["line", "dcon", "modbus"]
PROTOCOLS: tuple[Protocol, ...] = ("line", "dcon", "modbus")

__all__ = ["PROTOCOLS", "Faults", "Protocol", "serve"]


async def serve(scenario: Scenario | str, protocol: str, link_path: str | os.PathLike[str], *,
                speed: float = 1.0, seed: int = 0, clock: Clock | None = None,
                faults: Faults | None = None, rate_hz: float = 10.0, address: int = 1,
                checksum: bool = False, unit_id: int = 1,
                on_ready: Callable[[Path], None] | None = None) -> None:
    """Serve one emulated device until cancelled.

    ``on_ready(link)`` is called once the symlink exists (that is how a caller learns the path
    is live). ``address``/``checksum`` configure the DCON module, ``unit_id`` the Modbus one.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    sc = get(scenario) if isinstance(scenario, str) else scenario
    trace = sc.generate(seed=seed, rate_hz=rate_hz)
    player = Player(trace, faults, seed=seed)
    link = PtyLink(link_path)
    session = SessionClock(speed, clock)
    try:
        if on_ready is not None:
            on_ready(link.link)
        if protocol == "line":
            await serve_line(player, link, session)
        elif protocol == "dcon":
            await serve_dcon(player, link, session, DconModule(address, checksum))
        else:
            await serve_modbus(player, link, session, unit_id=unit_id)
    finally:
        link.close()
