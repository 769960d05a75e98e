"""``run_device``: one asyncio task per device, reconnecting with backoff until cancelled."""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.backoff import Backoff
from drivers.dcon_device import DconSession
from drivers.line_device import LineSession
from drivers.link import DeviceLost, LinkState
from drivers.modbus_device import ModbusSession
from drivers.params import AnyParams, DconParams, LineParams, ModbusParams
from drivers.sink import DriverSink

log = logging.getLogger("cryoguard.drivers")


def make_session(params: AnyParams, sink: DriverSink, clock: Callable[[], float],
                 state: LinkState) -> LineSession | DconSession | ModbusSession:
    if isinstance(params, LineParams):
        return LineSession(params, sink, clock, state)
    if isinstance(params, DconParams):
        return DconSession(params, sink, clock, state)
    if isinstance(params, ModbusParams):
        return ModbusSession(params, sink, clock, state)
    raise TypeError(f"unknown device parameters {type(params).__name__}")


async def run_device(params: AnyParams, sink: DriverSink, clock: Callable[[], float], *,
                     backoff: Backoff | None = None) -> None:
    """Read one device until cancelled: report scans, bad data, connected and lost.

    Every failure (cannot open, read error, end of file, silence of a polled module, even an
    unexpected driver error) becomes ``lost`` with a reason and a retry after the backoff;
    the task itself only ends by cancellation, which closes the port.
    """
    backoff = backoff or Backoff()
    state = LinkState(sink, params.id, clock)
    session = make_session(params, sink, clock, state)
    while True:
        before = state.connections
        try:
            await session.run()
        except DeviceLost as exc:
            state.mark_lost(exc.reason)
        except Exception as exc:  # a driver bug must not end monitoring silently
            log.exception("device %s: driver error", params.id)
            state.mark_lost(f"driver error: {type(exc).__name__}: {exc}")
        if state.connections != before:
            backoff.reset()
        await backoff.wait()
