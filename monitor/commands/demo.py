"""``cryoguard demo``: a whole simulated procedure on this machine, no hardware needed.

An emulated device serves a scenario on a pseudo-terminal; the real serial driver reads it,
the engine watches it, the display (or the log) shows it, and the session is recorded.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.commands.session_args import add_session_arguments, start_session
from monitor.errors import UsageError

if TYPE_CHECKING:
    import asyncio

    from monitor.config.schema import Config

DEFAULT_SCENARIO = "demo"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "demo", help="run a simulated procedure end to end (no hardware)",
        description="Serve a simulated procedure on a pseudo-terminal and monitor it through "
                    "the real driver, engine, display and recorder. `cryoguard scenarios` "
                    "lists the scenarios.")
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO, metavar="NAME",
                        help=f"scenario to play (default: {DEFAULT_SCENARIO})")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X",
                        help="session seconds per wall second (default 1, at most 60); the "
                             "emulated device and the monitor share one clock that stands "
                             "still while a busy machine pauses them")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="end after S seconds of session time (default: the scenario's "
                             "length)")
    parser.add_argument("--protocol", choices=("line", "dcon", "modbus"), default="line",
                        help="protocol of the emulated device (default line)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--rate", type=float, default=10.0, metavar="HZ",
                        help="scans per second of session time sent by the emulated device "
                             "(default 10)")
    add_session_arguments(parser)
    parser.set_defaults(func=run)


def demo_config(scenario: Any, protocol: str, link: Path) -> Config:
    """The config of a demo: one device ``sim`` on the link, the scenario's channels."""
    from monitor.config.schema import parse_config

    device: dict[str, Any] = {"id": "sim", "protocol": protocol, "port": str(link)}
    channels = [{"id": c.id, "label": c.label, "device": "sim", "index": c.index,
                 "role": str(c.role)} for c in scenario.channels]
    return parse_config({"station": {"name": "demo"}, "devices": [device],
                         "channels": channels}, f"demo scenario {scenario.name}")


def run(args: argparse.Namespace) -> int:
    import tempfile

    from monitor.daemon.devices import device_params
    from monitor.daemon.shell import SessionClock
    from simulators.emulators.player import MAX_DEMO_SPEED, SteadyClock
    from simulators.scenarios import SCENARIOS

    scenario = SCENARIOS.get(args.scenario)
    if scenario is None:
        raise UsageError(f"--scenario: unknown scenario {args.scenario!r}; "
                         f"known: {', '.join(SCENARIOS)}")
    if not (args.speed > 0 and args.speed < float("inf")):
        raise UsageError(f"--speed: must be a positive number, got {args.speed}")
    if args.speed > MAX_DEMO_SPEED:
        raise UsageError(f"--speed: at most {MAX_DEMO_SPEED:g}, got {args.speed:g} (faster, a "
                         "busy machine's ordinary delays look like stale sensors; "
                         "docs/simulator.md)")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration: must be a positive number of seconds, got {args.duration}")
    if not 0.2 <= args.rate <= 100:
        raise UsageError(f"--rate: must be between 0.2 and 100 scans per second, got {args.rate}")
    duration = args.duration if args.duration is not None else scenario.duration_s
    # One clock for the emulated device and the monitor that stands still while this
    # process is not running, so a pause is never shown as a stale sensor
    # (docs/simulator.md, "Pacing at high speed").
    steady = SteadyClock.for_speed(args.speed)
    with tempfile.TemporaryDirectory(prefix="cryoguard-demo-") as tmp:
        link = Path(tmp) / "ttySIM0"
        config = demo_config(scenario, args.protocol, link)

        def emulator(ready: asyncio.Event) -> Sequence[Callable[[], Any]]:
            from simulators.emulators import serve

            def on_ready(_path: Path) -> None:
                steady.reset_counts()  # count the session's pauses, not start-up's
                ready.set()

            async def serve_scenario() -> None:
                await serve(scenario, args.protocol, link, speed=args.speed, seed=args.seed,
                            rate_hz=args.rate, clock=steady, on_ready=on_ready)

            return [steady.run, serve_scenario]

        def pacing() -> list[str]:
            # What the steady clock did, so it can be checked: a pause of the whole process
            # (a busy machine) stopped the simulated world instead of making a gap in it.
            if not steady.stalls:
                return []
            return [f"demo pacing: {steady.stalls} pause(s) of this process taken out of "
                    f"session time (longest {steady.longest_stall_s * 1000:.0f} ms)"]

        return start_session(
            args, config, device_params(config), mode="demo", speed=args.speed,
            duration_s=duration, extra_tasks=emulator,
            header_extra={"scenario": f"{scenario.name}: {scenario.summary}",
                          "pacing": "steady clock shared by the emulated device and the "
                                    "monitor (a pause of this process is not session time)"},
            script=scripted_actions(scenario), clock=SessionClock(args.speed, monotonic=steady),
            last_words=pacing)


def scripted_actions(scenario: Any) -> tuple[tuple[float, str], ...]:
    """The scenario's operator actions, (session seconds, command line), e.g. ``mark co2``
    when the CO2 of a rescue is injected; applied by the simulator, ``by = "simulator"``."""
    actions = getattr(scenario, "operator_actions", ())
    return tuple((float(t), str(line)) for t, line in actions)
