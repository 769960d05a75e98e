"""``cryoguard probe``: print a few scans from one device, to check wiring before a case."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from monitor.errors import CryoGuardError, UsageError
from monitor.model import Status

if TYPE_CHECKING:
    from drivers.collect import CollectingSink, SinkEvent
    from drivers.params import AnyParams


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "probe", help="print a few scans from one device",
        description="Connect to one device, print a few scans as a table, and exit: a wiring "
                    "check before a case. Exit 0 when data came, 1 when it did not.")
    parser.add_argument("--port", required=True,
                        help="device path (/dev/serial/by-id/...) or pyserial URL")
    parser.add_argument("--protocol", required=True, choices=("line", "dcon", "modbus"))
    parser.add_argument("--count", type=int, default=5, help="scans to print (default 5)")
    parser.add_argument("--baudrate", type=int,
                        help="baud rate (default 115200 for line, 9600 for dcon/modbus)")
    parser.add_argument("--address", type=int, default=1, help="DCON module address (default 1)")
    parser.add_argument("--checksum", action="store_true", help="DCON checksum enabled")
    parser.add_argument("--unit-id", type=int, default=1, help="Modbus unit id (default 1)")
    parser.add_argument("--units", choices=("C", "mV"), default="C",
                        help="line: values in °C (default) or thermocouple mV")
    parser.add_argument("--tc-type", help="line, mV: thermocouple type (T, K, J, E, ...)")
    parser.add_argument("--cjc-c", type=float, help="line, mV: cold-junction temperature, °C")
    parser.add_argument("--wait", type=float, default=5.0,
                        help="seconds to wait for data before giving up (default 5)")
    parser.set_defaults(func=run)


def build_params(args: argparse.Namespace) -> AnyParams:
    from drivers.params import DconParams, LineParams, ModbusParams

    common: dict[str, Any] = dict(id="probe", port=args.port, learn_channels=True)
    if args.baudrate:  # else each protocol's default (monitor/config/defaults.py)
        common["baudrate"] = args.baudrate
    try:
        if args.protocol == "line":
            return LineParams(**common, units=args.units, tc_type=args.tc_type,
                              cjc_c=args.cjc_c)
        if args.protocol == "dcon":
            return DconParams(**common, address=args.address, checksum=args.checksum)
        return ModbusParams(**common, unit_id=args.unit_id)
    except ValueError as exc:
        raise UsageError(f"probe: {exc}") from exc


def format_scan(number: int, event: SinkEvent) -> str:
    lines = [f"scan {number} at {event.t:.3f} s", f"  {'channel':<12} {'value':>10}  status"]
    for r in event.readings:
        value = f"{r.temp_c:.2f} °C" if r.status is Status.OK and r.temp_c is not None else "—"
        lines.append(f"  {r.channel:<12} {value:>10}  {r.status.name}")
    return "\n".join(lines)


def _more_than(n: int) -> Callable[[CollectingSink], bool]:
    return lambda sink: len(sink.events) > n


async def probe(params: AnyParams, count: int, wait_s: float) -> int:
    import asyncio

    from drivers.collect import CollectingSink
    from drivers.runner import run_device

    sink = CollectingSink()
    start = time.monotonic()
    task = asyncio.create_task(run_device(params, sink, lambda: time.monotonic() - start))
    seen = 0
    scans = 0
    last_problem: str | None = None
    try:
        while scans < count:
            got = await sink.wait_until(_more_than(seen), wait_s)
            if not got:
                extra = f" (last problem: {last_problem})" if last_problem else ""
                raise CryoGuardError(f"no data from {params.port} within {wait_s:g} s{extra}")
            for event in list(sink.events)[seen:]:
                seen += 1
                if event.kind == "scan" and scans < count:
                    scans += 1
                    print(format_scan(scans, event), flush=True)
                elif event.kind == "connected":
                    print(f"connected: {event.detail}", flush=True)
                elif event.kind == "bad_data":
                    last_problem = event.detail
                    print(f"bad data: {event.detail}", flush=True)
                elif event.kind == "lost":
                    if scans == 0:
                        raise CryoGuardError(f"{params.port}: {event.detail}")
                    print(f"lost: {event.detail}", flush=True)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return 0


def run(args: argparse.Namespace) -> int:
    import asyncio

    if args.count < 1:
        raise UsageError("probe: --count must be at least 1")
    if not args.wait > 0:
        raise UsageError("probe: --wait must be positive")
    if "://" not in args.port and not os.path.exists(args.port):
        raise CryoGuardError(
            f"{args.port} does not exist (`cryoguard ports` lists the serial ports)")
    params = build_params(args)
    # The probe prints every connect, loss and bad frame itself; keep library logs quiet.
    logging.getLogger("cryoguard.drivers").setLevel(logging.ERROR)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    return asyncio.run(probe(params, args.count, args.wait))
