"""The body of ``cryoguard replay`` (the parser lives in :mod:`monitor.commands.replay`).

A session, an exported CSV/Parquet file or another logger's CSV goes through the same engine as
live monitoring. With ``--config`` the recorded channels keep their roles and the config's
thresholds apply (:mod:`monitor.replay.whatif`); for a session the alarms are compared with
the recording, in words on stderr and as JSON Lines with ``--diff-out``. docs/replay.md.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from monitor.config import defaults
from monitor.engine import Engine
from monitor.engine.spec import default_engine_spec
from monitor.errors import ConfigError, UsageError
from monitor.model import Event, EventType, record_line, utc_now
from monitor.outputs.base import Output
from monitor.outputs.eventstream import EventWriter
from monitor.replay.core import ReplaySource, engine_spec, load_source, replay
from monitor.replay.whatif import compare_alarms, summary_lines
from monitor.text import printable

if TYPE_CHECKING:
    from monitor.config.schema import Config

LOGGED = {EventType.ALARM_RAISED, EventType.ALARM_CLEARED, EventType.ALARM_ACKNOWLEDGED,
          EventType.AUDIO_PAUSED, EventType.AUDIO_RESUMED, EventType.DEVICE_LOST,
          EventType.DEVICE_CONNECTED, EventType.CYCLE_PHASE, EventType.CYCLE_MARK,
          EventType.INTERVENTION, EventType.NOTE}


def resolve_config(config_path: str | None, source: ReplaySource) -> Config:
    """``--config`` if given, else the config recorded with the source, else the defaults."""
    from monitor.config.schema import default_config, load_config, parse_config

    if config_path:
        return load_config(config_path)
    if source.config:
        try:
            return parse_config(source.config, f"{source.path} (recorded config)")
        except ConfigError as exc:
            raise UsageError(f"{exc}\n  (use --config to replay with another config)") from exc
    return default_config()


def run(args: argparse.Namespace) -> int:
    diff_out: str | None = getattr(args, "diff_out", None)
    if diff_out == "-" and args.events_out == "-":
        raise UsageError("--events-out - and --diff-out - cannot both use standard output")
    source = load_source(args.source)
    if diff_out is not None and source.kind != "session":
        raise UsageError(f"--diff-out compares with a recording: {source.path} holds no "
                         "recorded alarms (only a session file does)")
    shows_display = _display_wanted(args)
    # The config layer (pydantic, ~0.1 s to import) only when a config is involved: with none,
    # the default spec is the same one (tests/test_config.py holds them equal).
    config = (resolve_config(args.config, source)
              if args.config or source.config or shows_display else None)
    base = config.engine_spec() if config is not None else default_engine_spec()
    spec, notes = engine_spec(source, base)
    session_clock = source.kind in ("session", "export")  # t = 0 is the session's start
    engine = Engine(spec, t0=0.0 if session_clock else None)
    wall_start = source.wall_start or utc_now()
    log = sys.stderr
    _report_source(source, notes, log)
    writer = EventWriter(args.events_out, wall_start,
                         append=bool(getattr(args, "append", False))) if args.events_out else None
    station = source.station or (config.station.name if config is not None
                                 else defaults.STATION_NAME)
    t_start = float(source.t.min()) if len(source) else 0.0
    start = Event(0.0 if session_clock else t_start, EventType.SESSION_STARTED, {
        "mode": "replay", "source": str(source.path), "station": station,
        "message": f"replay of {source.path}"})

    def emit(event: Event) -> None:
        if writer is not None:
            writer.write(event)
        if not args.quiet and not shows_display and (
                args.headless or args.events_out != "-") and event.type in LOGGED:
            _log_line(event, log)

    emit(start)
    try:
        if shows_display and config is not None and args.speed is not None:
            from monitor.replay.view import replay_on_display

            result = replay_on_display(source, engine, emit, args.speed, _display(config),
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
    if source.kind == "session" and (args.config or diff_out is not None):
        changes = compare_alarms(source.recorded_events, result.events)
        for line in summary_lines(changes):
            print(line, file=log)
        if diff_out is not None:
            _write_diff(diff_out, [c.record() for c in changes])
    return 0


def _report_source(source: ReplaySource, notes: list[str], log: TextIO) -> None:
    """How the file was read and every row it could not use, one line each."""
    for note in [*source.notes, *notes]:
        print(f"{source.path}: {printable(note)}", file=log)
    for line_no, message in source.errors:
        print(f"{source.path}:{line_no}: {printable(message)}", file=log)
    if source.bad_rows > len(source.errors):
        print(f"{source.path}: {source.bad_rows - len(source.errors)} more bad rows not listed",
              file=log)


def _write_diff(target: str, records: list[dict[str, Any]]) -> None:
    text = "".join(record_line(r) + "\n" for r in records)
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from monitor.files import UnsafePathError, write_private

    try:
        write_private(Path(target), text)
    except UnsafePathError as exc:
        raise UsageError(f"--diff-out: {exc}") from exc
    except OSError as exc:
        from monitor.errors import CryoGuardError

        raise CryoGuardError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _display_wanted(args: argparse.Namespace) -> bool:
    """The live display for a paced replay in a terminal, unless --headless."""
    return (not args.headless and args.speed is not None and args.events_out != "-"
            and getattr(args, "diff_out", None) != "-"
            and sys.stdout.isatty() and sys.stdin.isatty())


def _display(config: Config) -> Output:
    from monitor.outputs.display import LiveDisplay

    output: Output = LiveDisplay(config.display, read_only=True)
    return output


def _header(config: Config, engine: Engine, source: ReplaySource, speed: float,
            wall_start: datetime) -> dict[str, Any]:
    from monitor.config.schema import describe_thresholds
    from monitor.display.sparkline import spec_levels

    return {"station": source.station or config.station.name, "mode": "replay",
            "source": str(source.path), "started": wall_start.isoformat(timespec="seconds"),
            "speed": speed, "thresholds": describe_thresholds(config),
            "levels": spec_levels(engine.spec), "sources": "docs/clinical-defaults.md"}


def _log_line(event: Event, out: TextIO) -> None:
    print(f"{event.t:10.1f} s  {event.type:<19} {printable(str(event.get('message', '')))}",
          file=out)


def _summary(source: ReplaySource, events: list[Event], readings: int, seconds: float,
             out: TextIO) -> None:
    raised = Counter(str(e.get("priority")) for e in events if e.type is EventType.ALARM_RAISED)
    rate = readings / seconds if seconds > 0 else float("inf")
    print(f"replayed {readings} readings from {len(source.channels)} channel(s) in "
          f"{seconds:.3f} s ({rate:,.0f} readings/s); bad rows: {source.bad_rows}", file=out)
    print("alarms raised: " + ", ".join(f"{raised.get(p, 0)} {p}"
                                        for p in ("high", "medium", "low")), file=out)
