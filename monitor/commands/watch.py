"""``cryoguard watch --mqtt URL [--station NAME]``: a read-only remote view over MQTT.

With a station: the bedside dashboard, drawn by the same renderer from the station's MQTT
messages. Without: one line per station on the broker with its worst alarm. ``--headless``
prints a line whenever a station's line changes; ``--once`` prints the current lines and exits.
A station that disconnected or stopped sending is OFFLINE, never shown with its last values.
There is no acknowledge: the view only subscribes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from monitor.commands.lazy_default import LazyDefault
from monitor.errors import CryoGuardError

if TYPE_CHECKING:
    import asyncio

    from monitor.mqtt.connection import MqttSettings
    from monitor.mqtt.watch_state import WatchState

TICK_S = 0.25  # timeouts are checked (and the screen redrawn) four times a second
ONCE_WAIT_S = 2.0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "watch", help="read-only remote view of stations over MQTT",
        description="Follow CryoGuard stations through an MQTT broker: one station's dashboard "
                    "(--station, or the URL's path) or every station with its worst alarm. "
                    "Read-only: alarms are acknowledged at the bedside.")
    parser.add_argument("--mqtt", metavar="URL",
                        help="broker: mqtt[s]://[user:pass@]host[:port][/station] "
                             "(default: [mqtt] url of --config)")
    parser.add_argument("--station", metavar="NAME", help="show this station only")
    parser.add_argument("--config", metavar="FILE",
                        help="config file whose [mqtt] section gives TLS files and credentials")
    parser.add_argument("--headless", action="store_true",
                        help="no screen: print a line each time a station's state changes")
    parser.add_argument("--once", action="store_true",
                        help="print the current state of the stations and exit")
    parser.add_argument("--wait", type=_seconds, default=ONCE_WAIT_S, metavar="S",
                        help=f"with --once: listen this long first (default {ONCE_WAIT_S:g})")
    parser.add_argument("--stale-after", type=_seconds, metavar="S",
                        default=LazyDefault("monitor.mqtt.watch_state", "DATA_TIMEOUT_S", "g"),
                        help="a station with no channel data for S seconds is OFFLINE "
                             "(default %(default)s)")
    parser.add_argument("--duration", type=_seconds, metavar="S",
                        help="stop after S seconds (default: until Ctrl-C)")
    parser.set_defaults(func=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0 s, got {text!r}")
    return value


def settings_from_args(args: argparse.Namespace) -> tuple[MqttSettings, str | None]:
    from monitor.config.schema import MqttConfig, load_config
    from monitor.mqtt.connection import MqttSettings
    from monitor.mqtt.url import check_station

    config = load_config(args.config).mqtt if args.config else MqttConfig()
    settings = MqttSettings.resolve(args.mqtt, config, require_station=False)
    station = args.station or settings.url.station
    if station is not None:
        check_station(station)
    return settings, station


def run(args: argparse.Namespace) -> int:
    import asyncio

    from monitor.mqtt.watch_state import WatchState

    settings, station = settings_from_args(args)
    state = WatchState(station=station, data_timeout_s=args.stale_after,
                       connection=settings.describe_connection())
    if args.once:
        return asyncio.run(_once(settings, state, args.wait, sys.stdout))
    interactive = not args.headless and sys.stdout.isatty() and sys.stdin.isatty()
    if interactive:
        return asyncio.run(_live(settings, state, args.duration))
    return asyncio.run(_headless(settings, state, args.duration, sys.stdout, sys.stderr))


# --once -------------------------------------------------------------------------------------

async def _once(settings: MqttSettings, state: WatchState, wait_s: float,
                out: IO[str]) -> int:
    import asyncio

    from monitor.mqtt.subscriber import follow

    problems: list[str] = []

    def connection(reason: str | None) -> None:
        if reason is not None:
            problems.append(reason)

    task = asyncio.create_task(follow(settings, state, on_connection=connection, once=True))
    try:
        await asyncio.wait_for(asyncio.shield(task), wait_s)
    except TimeoutError:
        pass
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    from monitor.text import printable

    if problems:
        raise CryoGuardError(f"broker {settings.url.redacted()} unreachable: {problems[0]}")
    print(f"watch: {settings.url.redacted()} ({settings.describe_connection()})",
          file=sys.stderr, flush=True)
    now = time.monotonic()
    names = sorted(state.stations) if state.only is None else [state.only]
    if not names:
        print(f"no CryoGuard station on {settings.url.redacted()}", file=out, flush=True)
    for name in names:
        print(printable(state.summary_line(name, now)), file=out, flush=True)
        for line in state.details(name, now):
            print(f"  {printable(line)}", file=out, flush=True)
    return 0


# --headless ---------------------------------------------------------------------------------

class LinePrinter:
    """Prints a station's summary line when it changes (WAITING is not news, OFFLINE is)."""

    def __init__(self, state: WatchState, out: IO[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state = state
        self.out = out
        self.clock = clock
        self.last: dict[str, str] = {}
        self.start = clock()

    def check(self, name: str) -> None:
        from monitor.mqtt.watch_state import Presence
        from monitor.text import printable

        presence, _ = self.state.presence(name, self.clock())
        for news in self.state.take_news(name):  # phase changes, injections, notes
            print(printable(news), file=self.out, flush=True)
        if presence is Presence.WAITING:
            return
        line = self.state.summary_line(name, self.clock())
        if self.last.get(name) != line:
            self.last[name] = line
            print(printable(line), file=self.out, flush=True)

    def check_all(self) -> None:
        names = set(self.state.stations)
        only = self.state.only
        if only is not None and self.clock() - self.start > self.state.data_timeout_s:
            names.add(only)  # a station never heard of is news too, once given time
        for name in sorted(names):
            self.check(name)


async def _headless(settings: MqttSettings, state: WatchState, duration_s: float | None,
                    out: IO[str], err: IO[str]) -> int:
    import asyncio

    from monitor.mqtt.subscriber import follow

    printer = LinePrinter(state, out)

    def connection(reason: str | None) -> None:
        if reason is None:
            print(f"watch: following {settings.url.redacted()} "
                  f"({settings.describe_connection()})", file=err, flush=True)
        else:
            print(f"watch: broker {settings.url.redacted()} unreachable: {reason}; retrying",
                  file=err, flush=True)
        printer.check_all()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(TICK_S)
            printer.check_all()

    return await _until_stopped(
        [follow(settings, state, on_message=printer.check, on_connection=connection),
         ticker()], duration_s)


async def _until_stopped(jobs: list[Any], duration_s: float | None,
                         stop: asyncio.Event | None = None) -> int:
    import asyncio

    """Run ``jobs`` until Ctrl-C, SIGTERM, ``stop`` or ``duration_s``."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], timeout=duration_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        for task in done:
            if task is not waiter and task.exception() is not None:
                raise CryoGuardError(f"watch failed: {task.exception()!r}")
        return 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


# The screen ---------------------------------------------------------------------------------

async def _live(settings: MqttSettings, state: WatchState, duration_s: float | None) -> int:
    import asyncio

    from rich.console import Console
    from rich.live import Live

    from monitor.config.defaults import DISPLAY_SPARKLINE_S
    from monitor.display.keys import cbreak
    from monitor.display.sparkline import History
    from monitor.mqtt.subscriber import follow

    console = Console(highlight=False)
    history = History(DISPLAY_SPARKLINE_S)
    stop = asyncio.Event()
    fd = sys.stdin.fileno()
    loop = asyncio.get_running_loop()

    def on_key() -> None:
        try:
            data = os.read(fd, 64)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
        elif b"q" in data.lower():
            stop.set()

    async def screen() -> None:
        with Live(console=console, screen=True, auto_refresh=False, redirect_stdout=False,
                  redirect_stderr=False) as live:
            while True:
                now = time.monotonic()
                live.update(render_view(state, now, console, history), refresh=True)
                await asyncio.sleep(TICK_S)

    with cbreak(fd) as keys:
        if keys:
            loop.add_reader(fd, on_key)
        try:
            return await _until_stopped([follow(settings, state), screen()], duration_s, stop)
        finally:
            if keys:
                with contextlib.suppress(Exception):
                    loop.remove_reader(fd)


def render_view(state: WatchState, now: float, console: Any, history: Any) -> Any:
    """The frame: one station's dashboard (read-only), or the list of stations."""
    from monitor.display.render import blink_phases, render_dashboard

    width, height = console.size
    monochrome = console.no_color or console.color_system is None
    fast, slow = blink_phases(now)
    if state.only is not None:
        from rich.console import Group
        from rich.text import Text

        snapshot, header = state.snapshot(state.only, now)
        history.record(snapshot)
        details = [d for d in state.details(state.only, now) if not d.startswith("cycle ")]
        extra = Text(no_wrap=True, overflow="ellipsis")
        extra.append(" " + "   ".join(details) if details else "")
        dashboard = render_dashboard(snapshot, header, width=width, height=height - 1,
                                     blink_on=fast, blink_slow=slow, history=history,
                                     read_only=True, monochrome=monochrome)
        return Group(extra, dashboard)
    return stations_view(state, now, width, fast, slow, monochrome)


def stations_view(state: WatchState, now: float, width: int, fast: bool, slow: bool,
                  monochrome: bool) -> Any:
    from rich.console import Group
    from rich.text import Text

    from monitor.model import Priority
    from monitor.mqtt.watch_state import Presence

    colours = {Priority.HIGH: ("bold bright_white on red", "bold red"),
               Priority.MEDIUM: ("bold black on yellow", "bold yellow"),
               Priority.LOW: ("cyan", "cyan")}
    title = Text(no_wrap=True, overflow="ellipsis")
    title.append(" CRYOGUARD ", style="bold reverse")
    title.append(f" stations on the broker: {len(state.stations)}   ")
    insecure = state.connection.startswith("NO TLS") or "anonymous" in state.connection
    title.append(state.connection, style="bold reverse" if insecure else "")
    if not state.broker_ok:
        title.append(f"   BROKER UNREACHABLE: {state.broker_problem}", style="bold reverse")
    lines: list[Text] = [title]
    for name in sorted(state.stations):
        line = Text(no_wrap=True, overflow="ellipsis")
        presence, _ = state.presence(name, now)
        alarm = state.worst_alarm(name) if presence is Presence.ONLINE else None
        style = ""
        if presence is not Presence.ONLINE:
            style = "bold reverse" if monochrome else "bold bright_white on blue"
        elif alarm is not None and not monochrome:
            on, off = colours[alarm.priority]
            blink = fast if alarm.priority is Priority.HIGH else slow
            style = on if alarm.active and blink and alarm.priority is not Priority.LOW else off
        line.append(state.summary_line(name, now), style=style)
        line.truncate(width, overflow="ellipsis")
        lines.append(line)
    footer = Text(no_wrap=True, overflow="ellipsis")
    footer.append(" read-only remote view ", style="reverse")
    footer.append("  acknowledge at the bedside station; q or Ctrl-C leaves")
    lines.append(footer)
    return Group(*lines)
