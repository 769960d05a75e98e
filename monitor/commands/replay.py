"""``cryoguard replay SOURCE``: a recorded session, an export or a CSV through the engine again.

With ``--config`` it answers "what would these thresholds have done": the recorded channels
keep their roles, and for a session file the alarms are compared with the recording (on
stderr in words, with ``--diff-out`` as JSON Lines). The work is in
:mod:`monitor.replay.command`; this module imports only the standard library.
"""

from __future__ import annotations

import argparse

from monitor.examples import add_example_arguments, csv_examples, with_example


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "replay", help="replay a recorded session or a CSV file through the engine",
        description="Replay a session file, an export (CSV or Parquet) or a logger's CSV file "
                    "(long: t,channel,temp_c[,status]; wide: a time column and one column per "
                    "channel; see docs/replay.md) through the same engine as live monitoring.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("source", metavar="SOURCE", nargs="?",
                        help="session file, exported CSV/Parquet file, or a logger's CSV file")
    add_example_arguments(parser, source, list(csv_examples()), "example CSV")
    parser.add_argument("--config", metavar="FILE",
                        help="thresholds to use instead of the recorded ones; the recorded "
                             "channels keep their roles (CSV without roles: every channel a "
                             "nerve)")
    parser.add_argument("--speed", default="max", type=_speed, metavar="X|max",
                        help="replay speed factor, or 'max' for as fast as possible "
                             "(default: max)")
    parser.add_argument("--events-out", metavar="PATH|-",
                        help="write the event stream (JSON Lines) to PATH, or stdout with '-'")
    parser.add_argument("--append", action="store_true",
                        help="add to an existing --events-out file (without it a non-empty "
                             "file is refused)")
    parser.add_argument("--diff-out", metavar="PATH|-",
                        help="session files: write the comparison with the recording as JSON "
                             "Lines (one object per alarm raise: same, earlier, later, "
                             "appeared, vanished) to PATH, or stdout with '-'")
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
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"the speed factor must be above 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from monitor.replay.command import run as replay_command

    return replay_command(args)
