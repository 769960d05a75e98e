"""The ``cryoguard`` command: a thin dispatcher over one module per sub-command.

Each module in :mod:`monitor.commands` has ``register(subparsers)``, which adds its parser and
sets ``func(args) -> int``. Exit status: 0 success, 2 bad arguments or config, 1 other errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from monitor.errors import CryoGuardError, UsageError

# In the order ``cryoguard --help`` lists them.
COMMANDS = (
    "demo", "run", "simulate", "replay", "export", "report", "summary", "check_config",
    "scenarios",
    "watch", "ports", "probe",
)


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line reason, as the contract asks."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cryoguard",
                     description="Neuroforaminal temperature monitor for spine cryoablation.")
    from monitor import __version__

    parser.add_argument("--version", action="version", version=f"cryoguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"monitor.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"monitor.commands.{name}":
                continue  # not built yet: the command is not offered at all
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args))
    except UsageError as exc:
        print(f"cryoguard: {exc}", file=sys.stderr)
        return 2
    except CryoGuardError as exc:
        print(f"cryoguard: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
