"""Arguments and outputs shared by the commands that start a monitoring session."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.daemon.grammar import USAGE
from monitor.errors import UsageError

if TYPE_CHECKING:
    import asyncio

    from drivers.params import AnyParams
    from monitor.config.schema import Config
    from monitor.daemon.shell import SessionClock
    from monitor.outputs.base import Output

LOG_LEVELS = ("debug", "info", "warning", "error")
AUDIO_MODES = ("speaker", "bell", "off")


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true",
                        help=f"no live display: event lines on stderr, operator commands on "
                             f"stdin ({USAGE})")
    parser.add_argument("--events-out", metavar="PATH|-",
                        help="event stream as JSON Lines to PATH, or to stdout with '-'; an "
                             "existing non-empty PATH is refused unless --append")
    parser.add_argument("--append", action="store_true",
                        help="with --events-out PATH: add to the end of an existing file")
    parser.add_argument("--session", metavar="PATH", type=Path,
                        help="session file to record to (default: a new file under the "
                             "config's recording directory, 'sessions/')")
    parser.add_argument("--audio", choices=AUDIO_MODES, default=None,
                        help="the alarm sound: speaker (IEC 60601-1-8 bursts on the sound "
                             "device), bell (the terminal bell) or off (no sound at all; the "
                             "header says AUDIO OFF). Default: speaker when an output device "
                             "opens, else bell (the header says why)")
    parser.add_argument("--mqtt", metavar="URL",
                        help="publish to an MQTT broker: mqtt[s]://[user:pass@]host[:port]/"
                             "station (the station named here names the whole session)")
    level = parser.add_mutually_exclusive_group()
    level.add_argument("--log-level", choices=LOG_LEVELS, default=None,
                       help="what the headless log on stderr shows: debug (also driver "
                            "details), info (default: every event), warning (alarms raised, "
                            "devices lost, problems), error (problems only)")
    level.add_argument("-v", "--verbose", dest="log_level", action="store_const",
                       const="debug", help="--log-level debug")
    level.add_argument("-q", "--quiet", dest="log_level", action="store_const",
                       const="warning", help="--log-level warning")


def _display(config: Config) -> Output | None:
    """The live display, with its own bell off: the audio output makes the one alarm sound
    (speakers or the terminal bell, docs/audio.md), so a burst is never heard twice."""
    import importlib

    try:
        module = importlib.import_module("monitor.outputs.display")
    except ModuleNotFoundError:
        return None
    output: Output = module.LiveDisplay(config.display.model_copy(update={"bell": False}))
    return output


def with_station(config: Config, station: str) -> Config:
    """``config`` naming ``station`` (docs/architecture.md, "One station name")."""
    if station == config.station.name:
        return config
    return config.model_copy(update={
        "station": config.station.model_copy(update={"name": station})})


def start_session(args: argparse.Namespace, config: Config, devices: Sequence[AnyParams], *,
                  mode: str, speed: float = 1.0, duration_s: float | None = None,
                  header_extra: dict[str, Any] | None = None,
                  extra_tasks: Callable[[asyncio.Event], Sequence[Callable[[], Any]]]
                  | None = None,
                  script: Sequence[tuple[float, str]] = (),
                  clock: SessionClock | None = None,
                  last_words: Callable[[], Sequence[str]] | None = None) -> int:
    """Build the outputs the arguments ask for and run the session until it ends.

    ``extra_tasks(ready)`` gives coroutines started before the session clock (simulated
    hardware); the clock starts once one of them sets ``ready``. ``script`` holds operator
    command lines applied at their session times (a demo scenario's actions). ``clock`` is
    the session clock (default: wall time × ``speed``; a demo passes one on its steady
    clock, docs/simulator.md "Pacing at high speed"). ``last_words()`` gives lines for the end
    of the session, printed before the line that says whether the session was saved.

    The alarm sound is an output of its own (``--audio``, docs/audio.md): the header shows
    what it goes through (``audio_output``) and ``session.started`` records it (``audio``).

    One station name per session: the MQTT station (the ``--mqtt`` URL's path, else
    ``[mqtt] station``) when publishing, else ``[station] name``; it is the station of the
    events, the session file, MQTT and so the report.
    """
    import asyncio
    import logging

    from monitor.daemon.shell import SessionClock, SessionOptions, SessionShell
    from monitor.outputs.audio import AudioOutput

    if args.append and not args.events_out:
        raise UsageError("--append goes with --events-out PATH")
    if args.append and args.events_out == "-":
        raise UsageError("--append: standard output (--events-out -) cannot be appended to")
    outputs: list[Output] = []
    to_stdout = args.events_out == "-"
    display = None
    if not args.headless and not to_stdout and sys.stdout.isatty() and sys.stdin.isatty():
        display = _display(config)
    headless = display is None
    if display is not None:
        outputs.append(display)
    if args.mqtt or config.mqtt.url:
        from monitor.outputs.mqtt import MqttOutput

        mqtt = MqttOutput(args.mqtt, config.mqtt, station=config.station.name)
        config = with_station(config, mqtt.station)
        outputs.append(mqtt)
    # Opened last (a refused argument above leaves no sound device open); first among the
    # outputs, so it hears of an alarm before the screen is drawn.
    audio = AudioOutput(getattr(args, "audio", None) or "auto")
    outputs.insert(0, audio)
    level = getattr(logging, (args.log_level or "info").upper())
    options = SessionOptions(
        mode=mode, events_out=args.events_out, append=args.append,
        session_path=args.session, speed=speed, duration_s=duration_s,
        stdin_commands=headless, log=headless, log_level=level, script=tuple(script),
        header_extra={**(header_extra or {}), "audio_output": audio.header_entry(),
                      "actions": config.display.alarm_actions()},
        started_fields=audio.started_fields(), last_words=last_words)

    stuck: list[bool] = []

    async def main() -> int:
        session_clock = clock or SessionClock(speed)
        ready = asyncio.Event() if extra_tasks else None
        tasks = extra_tasks(ready) if extra_tasks and ready else ()
        shell = SessionShell(config, devices, options, outputs=outputs, clock=session_clock,
                             extra_tasks=tasks, ready=ready)
        try:
            return await shell.run()
        finally:
            stuck.append(shell.stuck)

    try:
        status = asyncio.run(main())
    finally:
        audio.discard()
    if any(stuck):
        # The session file is closed and the last lines are out (or could not be): only a
        # write to a reader that never reads is left. A normal exit would wait for it for
        # ever (or abort) while flushing; end now.
        os._exit(status)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        os._exit(status)  # the terminal is gone (SIGHUP): nothing more can be said
    return status
