"""The ``cryoguard`` command: a thin dispatcher over one module per sub-command.

Each module in :mod:`monitor.commands` has ``register(subparsers)``, which adds its parser and
sets ``func(args) -> int``. Exit status: 0 success, 2 bad arguments or config, 1 other errors.

Every start builds the whole parser (``--help``, shell completion), so the command modules
import only the standard library at module level and load the engine, numpy, pydantic, rich,
MQTT and the drivers inside the functions that run the command (a test keeps it so; the
start-up time is measured by ``bench/cli_startup.py``). See docs/packaging.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from monitor.commands.lazy_default import resolve_defaults
from monitor.errors import CryoGuardError, UsageError

PROG = "cryoguard"

# In the order ``cryoguard --help`` lists them.
COMMANDS = (
    "demo", "run", "simulate", "replay", "export", "report", "summary", "check_config",
    "scenarios", "watch", "ports", "probe", "audio_test",
)

COMPLETION_SHELLS = ("bash", "zsh", "tcsh")

# Arguments whose value is a file or a folder, by metavar: the completion script offers paths.
_FILE_METAVARS = {"FILE", "SOURCE", "SESSION", "PATH", "PATH|-", "FILE.wav"}
_DIR_METAVARS = {"DIR"}


class ArgumentsError(UsageError):
    """argparse rejected the command line; ``prog`` is the (sub-)command that said so."""

    def __init__(self, prog: str, message: str) -> None:
        self.prog = prog
        super().__init__(message)


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line reason, as the contract asks."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise ArgumentsError(self.prog, message)

    def parse_known_args(  # type: ignore[override]
            self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, rest = super().parse_known_args(args, namespace)
        return resolve_defaults(parsed), rest


class _PrintCompletion(argparse.Action):
    """``--print-completion SHELL``: the shell's completion script for every command."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        sys.stdout.write(completion_script(parser, str(values)))
        parser.exit(0)


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script (shtab), with file and folder completion where a path goes."""
    import shtab  # imported here: it costs more than the rest of the start-up

    for action in _all_actions(parser):
        metavar = action.metavar if isinstance(action.metavar, str) else None
        if metavar in _FILE_METAVARS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif metavar in _DIR_METAVARS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
    script: str = shtab.complete(parser, shell=shell)
    return script


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    actions: list[argparse.Action] = []
    for action in parser._actions:
        actions.append(action)
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                actions += _all_actions(sub)
    return actions


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG,
                     description="Neuroforaminal temperature monitor for spine cryoablation.")
    from monitor import __version__

    parser.add_argument("--version", action="version", version=f"cryoguard {__version__}")
    parser.add_argument("--print-completion", action=_PrintCompletion, metavar="SHELL",
                        choices=COMPLETION_SHELLS,
                        help=f"print the tab-completion script for {', '.join(COMPLETION_SHELLS)}"
                             " and exit (README: shell completion)")
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


def error_line(prog: str, exc: BaseException) -> str:
    """``cryoguard replay: <message>``: the command's name once, whoever wrote the message."""
    text = str(exc)
    command = prog.removeprefix(f"{PROG} ")
    for lead in (f"{prog}: ", f"{PROG}: ", f"{command}: "):
        if text.startswith(lead):
            text = text[len(lead):]
            break
    return f"{prog}: {text}"


def main(argv: Sequence[str] | None = None) -> int:
    prog = PROG
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        prog = f"{PROG} {args.command}"
        return int(args.func(args))
    except ArgumentsError as exc:
        print(error_line(exc.prog, exc), file=sys.stderr)
        return 2
    except UsageError as exc:
        print(error_line(prog, exc), file=sys.stderr)
        return 2
    except CryoGuardError as exc:
        print(error_line(prog, exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
