"""The example files shipped inside the package, found by name after any kind of install.

The repository's top-level ``config/`` folder (the default config and one example per
protocol) is the only copy: ``monitor/data/config`` is a symbolic link to it, so a checkout
or an editable install reads it in place and a wheel carries its files (setuptools copies
what the link points to; a test compares the wheel with ``config/``). The example CSVs live
in ``monitor/data/`` as ``example-<name>.csv``. See docs/packaging.md.

Standard library only: ``register()`` lists the names for ``--help`` and shell completion.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from monitor.errors import UsageError

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CONFIG = os.path.join(DATA, "config")

Command = Callable[[argparse.Namespace], int]


def config_examples() -> dict[str, str]:
    """``{"default": path, "line": path, ...}``: the default config, then one per example."""
    found = {"default": os.path.join(CONFIG, "default.toml")}
    examples = os.path.join(CONFIG, "examples")
    names = sorted(os.listdir(examples)) if os.path.isdir(examples) else []
    for name in names:
        stem, ext = os.path.splitext(name)
        if ext == ".toml":
            found[stem] = os.path.join(examples, name)
    return found


def csv_examples() -> dict[str, str]:
    """``{"breach": path}`` from ``monitor/data/example-breach.csv`` and its siblings."""
    names = sorted(os.listdir(DATA)) if os.path.isdir(DATA) else []
    return {name[len("example-"):-len(".csv")]: os.path.join(DATA, name)
            for name in names if name.startswith("example-") and name.endswith(".csv")}


def example_path(examples: dict[str, str], name: str) -> str:
    """The file of example ``name``, or a UsageError naming the ones there are."""
    path = examples.get(name)
    if path is None or not os.path.isfile(path):
        known = ", ".join(sorted(examples)) or "none in this installation"
        raise UsageError(f"--example: no example {name!r} (examples: {known})")
    return path


def with_example(run: Command, examples: Callable[[], dict[str, str]], dest: str) -> Command:
    """Wrap a command whose positional ``dest`` may instead come from ``--example NAME``.

    ``--example NAME --print`` writes the example to stdout (to copy and edit) instead of
    running the command.
    """

    def command(args: argparse.Namespace) -> int:
        name = getattr(args, "example", None)
        if name is None:
            if getattr(args, "print_example", False):
                raise UsageError("--print goes with --example NAME")
            return run(args)
        path = example_path(examples(), name)
        if getattr(args, "print_example", False):
            with open(path, encoding="utf-8") as handle:
                sys.stdout.write(handle.read())
            return 0
        setattr(args, dest, path)
        return run(args)

    return command


def add_example_arguments(parser: argparse.ArgumentParser,
                          group: argparse._MutuallyExclusiveGroup,
                          names: list[str], what: str) -> None:
    """``--example NAME`` (in the group that also holds the positional) and ``--print``."""
    group.add_argument("--example", choices=names, metavar="NAME",
                       help=f"use the {what} shipped with CryoGuard instead of a file: "
                            f"{', '.join(names)}")
    parser.add_argument("--print", dest="print_example", action="store_true",
                        help="with --example: print the example (to copy and edit) instead")
