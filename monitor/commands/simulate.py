"""``cryoguard simulate``: serve an emulated device on a pseudo-terminal until stopped.

Prints the link path on standard output once it exists (one line, so scripts can read it),
then plays the scenario. SIGINT or SIGTERM: the link is removed and the exit status is 0.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path

from monitor.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "simulate", help="serve an emulated thermocouple device on a pseudo-terminal",
        description="Serve an emulated device playing a scenario behind the symlink PATH, "
                    "until stopped (Ctrl-C or SIGTERM).")
    parser.add_argument("--scenario", required=True, metavar="NAME",
                        help="scenario to play (`cryoguard scenarios` lists them)")
    parser.add_argument("--protocol", required=True, choices=("line", "dcon", "modbus"))
    parser.add_argument("--link", required=True, metavar="PATH",
                        help="symlink to create in front of the pseudo-terminal")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="session seconds per wall second (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--address", type=int, default=1, help="DCON module address")
    parser.add_argument("--checksum", action="store_true", help="DCON checksum on")
    parser.add_argument("--unit-id", type=int, default=1, help="Modbus unit id")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from simulators.scenarios import SCENARIOS

    if args.scenario not in SCENARIOS:
        raise UsageError(f"--scenario: unknown scenario {args.scenario!r}; "
                         f"known: {', '.join(SCENARIOS)}")
    if not args.speed > 0 or args.speed == float("inf"):
        raise UsageError(f"--speed: must be a positive number, got {args.speed}")
    if not 0 <= args.address <= 255:
        raise UsageError(f"--address: must be 0..255, got {args.address}")
    link = Path(args.link)
    if link.exists() and not link.is_symlink():
        raise UsageError(f"--link: {link} exists and is not a symlink; refusing to replace it")
    asyncio.run(_serve(args))
    return 0


async def _serve(args: argparse.Namespace) -> None:
    import asyncio

    from simulators.emulators import serve

    loop = asyncio.get_running_loop()
    task = asyncio.create_task(serve(
        args.scenario, args.protocol, args.link, speed=args.speed, seed=args.seed,
        address=args.address, checksum=args.checksum, unit_id=args.unit_id,
        on_ready=_announce))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _announce(link: Path) -> None:
    print(link, flush=True)
    print(f"cryoguard simulate: serving on {link} -> {link.resolve()}", file=sys.stderr,
          flush=True)
