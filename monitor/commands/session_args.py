"""Arguments and outputs shared by the commands that start a monitoring session."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import UsageError

if TYPE_CHECKING:
    import asyncio

    from drivers.params import AnyParams
    from monitor.config.schema import Config
    from monitor.outputs.base import Output


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true",
                        help="no live display: event lines on stderr, operator commands on "
                             "stdin (ack [ALARM], pause, mark freeze|thaw|active-thaw|end, quit)")
    parser.add_argument("--events-out", metavar="PATH|-",
                        help="event stream as JSON Lines to PATH, or to stdout with '-'")
    parser.add_argument("--session", metavar="PATH", type=Path,
                        help="session file to record to (default: a new file under the "
                             "config's recording directory, 'sessions/')")
    parser.add_argument("--mqtt", metavar="URL",
                        help="publish to an MQTT broker: mqtt[s]://[user:pass@]host[:port]/station")


def _display(config: Config) -> Output | None:
    try:
        module = importlib.import_module("monitor.outputs.display")
    except ModuleNotFoundError:
        return None
    output: Output = module.LiveDisplay(config.display)
    return output


def _mqtt(url: str | None, config: Config) -> Output:
    try:
        module = importlib.import_module("monitor.outputs.mqtt")
    except ModuleNotFoundError as exc:
        raise UsageError("MQTT publishing is not available in this installation") from exc
    output: Output = module.MqttOutput(url, config.mqtt, station=config.station.name)
    return output


def start_session(args: argparse.Namespace, config: Config, devices: Sequence[AnyParams], *,
                  mode: str, speed: float = 1.0, duration_s: float | None = None,
                  header_extra: dict[str, Any] | None = None,
                  extra_tasks: Callable[[asyncio.Event], Sequence[Callable[[], Any]]]
                  | None = None) -> int:
    """Build the outputs the arguments ask for and run the daemon until it ends.

    ``extra_tasks(ready)`` gives coroutines started before the session clock (simulated
    hardware); the clock starts once one of them sets ``ready``.
    """
    import asyncio

    from monitor.daemon.shell import Daemon, DaemonOptions, SessionClock

    outputs: list[Output] = []
    to_stdout = args.events_out == "-"
    display = None
    if not args.headless and not to_stdout and sys.stdout.isatty() and sys.stdin.isatty():
        display = _display(config)
    headless = display is None
    if display is not None:
        outputs.append(display)
    if args.mqtt or config.mqtt.url:
        outputs.append(_mqtt(args.mqtt, config))
    options = DaemonOptions(
        mode=mode, headless=headless, events_out=args.events_out, session_path=args.session,
        speed=speed, duration_s=duration_s, stdin_commands=headless, log=headless,
        header_extra=header_extra or {})
    async def main() -> int:
        clock = SessionClock(speed)
        ready = asyncio.Event() if extra_tasks else None
        tasks = extra_tasks(ready) if extra_tasks and ready else ()
        daemon = Daemon(config, devices, options, outputs=outputs, clock=clock,
                        extra_tasks=tasks, ready=ready)
        status = await daemon.run()
        stuck.append(daemon.stuck)
        return status

    stuck: list[bool] = []
    status = asyncio.run(main())
    if any(stuck):
        # The session file is closed; only a write to a reader that never reads is left.
        # Exiting normally would wait for it for ever while flushing stdout.
        print("cryoguard: the event stream reader stopped reading; exiting without it",
              file=sys.stderr, flush=True)
        os._exit(status)
    return status
