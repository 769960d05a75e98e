"""A command-line default that lives in a heavy module, read only when a command needs it.

``cryoguard`` builds every sub-command's parser on each start (for ``--help`` and shell
completion), so ``register()`` must not import the engine, numpy or MQTT just to learn a
default. ``LazyDefault("monitor.mqtt.watch_state", "DATA_TIMEOUT_S")`` keeps the number in
its one home: ``%(default)s`` in the help text reads it when that help is printed, and the
dispatcher (``monitor.cli``) puts the value in the parsed arguments before the command runs.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any


class LazyDefault:
    """The value of ``module.name``, imported on first use."""

    def __init__(self, module: str, name: str, fmt: str = "") -> None:
        self.module = module
        self.name = name
        self.fmt = fmt

    def resolve(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)

    def __str__(self) -> str:
        return format(self.resolve(), self.fmt)

    def __repr__(self) -> str:
        return f"LazyDefault({self.module}.{self.name})"


def resolve_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Replace every :class:`LazyDefault` left in ``args`` (options not given) by its value."""
    for key, value in vars(args).items():
        if isinstance(value, LazyDefault):
            setattr(args, key, value.resolve())
    return args
