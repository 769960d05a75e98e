"""``cryoguard replay SOURCE``: a recorded session or CSV through the engine again.

With ``--config`` it answers "what would these thresholds have done": for a session file it
lists the alarms that appear or vanish against the recording.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from monitor.errors import ConfigError, UsageError
from monitor.examples import add_example_arguments, csv_examples, with_example
from monitor.model import Event, EventType, utc_now

if TYPE_CHECKING:
    from monitor.config.schema import Config
    from monitor.engine import Engine
    from monitor.outputs.base import Output
    from monitor.replay.core import ReplaySource

LOGGED = {EventType.ALARM_RAISED, EventType.ALARM_CLEARED, EventType.ALARM_ACKNOWLEDGED,
          EventType.AUDIO_PAUSED, EventType.AUDIO_RESUMED, EventType.DEVICE_LOST,
          EventType.DEVICE_CONNECTED, EventType.CYCLE_PHASE, EventType.CYCLE_MARK}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "replay", help="replay a recorded session or a CSV file through the engine",
        description="Replay a session file or a CSV (long: t,channel,temp_c[,status]; wide: "
                    "t,<channel>,...) through the same engine as live monitoring.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("source", metavar="SOURCE", nargs="?", help="session file or CSV file")
    add_example_arguments(parser, source, list(csv_examples()), "example CSV")
    parser.add_argument("--config", metavar="FILE",
                        help="thresholds to use instead of the recorded ones (CSV: instead "
                             "of the defaults, every channel a nerve)")
    parser.add_argument("--speed", default="max", type=_speed, metavar="X|max",
                        help="replay speed factor, or 'max' for as fast as possible "
                             "(default: max)")
    parser.add_argument("--events-out", metavar="PATH|-",
                        help="write the event stream (JSON Lines) to PATH, or stdout with '-'")
    parser.add_argument("--headless", action="store_true",
                        help="no live display: alarm log lines on stderr (a paced replay in "
                             "a terminal otherwise shows the display, read-only)")
    parser.add_argument("--quiet", action="store_true", help="only the summary on stderr")
    parser.set_defaults(func=with_example(run, csv_examples, "source"))


def _speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a speed factor or 'max': {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"the speed factor must be above 0, got {text!r}")
    return value


def resolve_config(args: argparse.Namespace, source: ReplaySource) -> Config:
    from monitor.config.schema import default_config, load_config, parse_config

    if args.config:
        return load_config(args.config)
    if source.kind == "session" and source.config:
        try:
            return parse_config(source.config, f"{source.path} (recorded config)")
        except ConfigError as exc:
            raise UsageError(f"{exc}\n  (use --config to replay with another config)") from exc
    return default_config()


def run(args: argparse.Namespace) -> int:
    from monitor.engine import Engine
    from monitor.outputs.eventstream import EventWriter
    from monitor.replay.core import load_source, replay

    source = load_source(args.source)
    config = resolve_config(args, source)
    engine = Engine(config.engine_spec(), t0=0.0 if source.kind == "session" else None)
    wall_start = source.wall_start or utc_now()
    writer = EventWriter(args.events_out, wall_start) if args.events_out else None
    log = sys.stderr
    for line_no, message in source.errors:
        print(f"{source.path}:{line_no}: {message}", file=log)
    if source.bad_rows > len(source.errors):
        print(f"{source.path}: {source.bad_rows - len(source.errors)} more bad rows not listed",
              file=log)
    t_start = float(source.t.min()) if len(source) else 0.0
    start = Event(0.0 if source.kind == "session" else t_start, EventType.SESSION_STARTED, {
        "mode": "replay", "source": str(source.path), "station": config.station.name,
        "message": f"replay of {source.path}"})

    shows_display = _display_wanted(args)

    def emit(event: Event) -> None:
        if writer is not None:
            writer.write(event)
        if not args.quiet and not shows_display and (
                args.headless or args.events_out != "-") and event.type in LOGGED:
            _log_line(event, log)

    emit(start)
    display = _display(args, config)
    try:
        if display is not None and args.speed is not None:
            from monitor.replay.view import replay_on_display  # asyncio: only for the display

            result = replay_on_display(source, engine, emit, args.speed, display,
                                       _header(config, engine, source, args.speed, wall_start))
        else:
            result = replay(source, engine, emit, args.speed)
    except KeyboardInterrupt:
        print("replay stopped", file=log)
        return 130
    end_t = engine.now if engine.now > float("-inf") else start.t
    emit(Event(end_t, EventType.SESSION_ENDED, {
        "mode": "replay", "readings": result.readings,
        "message": f"replay ended after {result.readings} readings"}))
    if writer is not None:
        writer.close()
    _summary(source, result.events, result.readings, result.wall_seconds, log)
    if source.kind == "session" and args.config:
        _differences(source, result.events, log)
    return 0


def _display_wanted(args: argparse.Namespace) -> bool:
    """The live display for a paced replay in a terminal, unless --headless."""
    return (not args.headless and args.speed is not None and args.events_out != "-"
            and sys.stdout.isatty() and sys.stdin.isatty())


def _display(args: argparse.Namespace, config: Config) -> Output | None:
    if not _display_wanted(args):
        return None
    from monitor.outputs.display import LiveDisplay

    output: Output = LiveDisplay(config.display, read_only=True)
    return output


def _header(config: Config, engine: Engine, source: ReplaySource, speed: float,
            wall_start: datetime) -> dict[str, Any]:
    from monitor.config.schema import describe_thresholds
    from monitor.display.sparkline import spec_levels

    return {"station": config.station.name, "mode": "replay", "source": str(source.path),
            "started": wall_start.isoformat(timespec="seconds"), "speed": speed,
            "thresholds": describe_thresholds(config), "levels": spec_levels(engine.spec),
            "sources": "docs/clinical-defaults.md"}


def _log_line(event: Event, out: TextIO) -> None:
    print(f"{event.t:10.1f} s  {event.type:<19} {event.get('message', '')}", file=out)


def _summary(source: ReplaySource, events: list[Event], readings: int, seconds: float,
             out: TextIO) -> None:
    raised = Counter(str(e.get("priority")) for e in events if e.type is EventType.ALARM_RAISED)
    rate = readings / seconds if seconds > 0 else float("inf")
    print(f"replayed {readings} readings from {len(source.channels)} channel(s) in "
          f"{seconds:.3f} s ({rate:,.0f} readings/s); bad rows: {source.bad_rows}", file=out)
    print("alarms raised: " + ", ".join(f"{raised.get(p, 0)} {p}"
                                        for p in ("high", "medium", "low")), file=out)


def _differences(source: ReplaySource, events: list[Event], out: TextIO) -> None:
    from monitor.replay.core import alarm_differences

    appear, vanish = alarm_differences(source.recorded_events, events)
    if not appear and not vanish:
        print("against the recording: the same alarms were raised", file=out)
        return
    for alarm, t in appear:
        print(f"  + {alarm} at {t:.1f} s (raised with this config, not in the recording)",
              file=out)
    for alarm, t in vanish:
        print(f"  - {alarm} at {t:.1f} s (in the recording, not raised with this config)",
              file=out)
