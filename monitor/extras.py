"""Optional parts of CryoGuard: a missing one is a one-line message naming the extra to install.

``report`` plots need matplotlib (``pip install 'cryoguard[report]'``) and Parquet files need
pyarrow (``pip install 'cryoguard[parquet]'``). A command calls :func:`require` before it
starts work, so the user gets exit status 2 and the install line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from types import ModuleType

from monitor.errors import UsageError

#: extra -> what it gives, for the message
EXTRAS = {"report": "report plots", "parquet": "Parquet files"}


class MissingExtra(UsageError):
    """An optional module is not installed: exit status 2, one line."""


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.partition(".")[0]
        missing = (exc.name or "").partition(".")[0]
        if missing and missing != top:
            # The module is there but one of its own dependencies is broken: say which.
            raise MissingExtra(
                f"{module} is installed but cannot be imported ({exc}); reinstall it with: "
                f"pip install --force-reinstall 'cryoguard[{extra}]'") from exc
        what = EXTRAS.get(extra, extra)
        raise MissingExtra(f"{what} need {top}, which is not installed: "
                           f"pip install 'cryoguard[{extra}]'") from exc


def requiring(run: Callable[[argparse.Namespace], int], module: str, *, extra: str,
              when: Callable[[argparse.Namespace], bool] | None = None
              ) -> Callable[[argparse.Namespace], int]:
    """``run`` after :func:`require` (only ``when(args)`` is true): for ``set_defaults(func=)``."""

    def command(args: argparse.Namespace) -> int:
        if when is None or when(args):
            require(module, extra=extra)
        return run(args)

    return command
