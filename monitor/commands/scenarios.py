"""``cryoguard scenarios``: list the simulator's scenarios, one line each."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("scenarios", help="list the simulated procedures",
                            description="List the simulator's scenarios with one line each.")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also print each scenario's channels, length and expected alarms")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulators.scenarios import SCENARIOS

    width = max(len(name) for name in SCENARIOS)
    for name, sc in SCENARIOS.items():
        print(f"{name:<{width}}  {sc.summary}")
        if args.verbose:
            channels = ", ".join(f"{c.id} ({c.role}) {c.label}" for c in sc.channels)
            print(f"{'':<{width}}  {sc.duration_s / 60:.1f} min; channels: {channels}")
            if sc.expected.raised:
                print(f"{'':<{width}}  raises: {', '.join(sorted(sc.expected.raised))}")
    return 0
