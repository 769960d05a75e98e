"""How a bench script hands its figures to ``bench/run_all.py``: one JSON line, printed last.

Each figure says what was measured (``what``, precise enough to reproduce), the figure as
shown in the README (``text``), the number behind it (``value`` in ``unit``) and, where the
project has one, the target (``target`` as text, ``met`` true/false). Benchmarks never fail
on a figure: they measure and print.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Sequence
from typing import Any

# Measure what an installed CryoGuard does: pip compiles bytecode at install and Python caches
# it on first import, but an environment may forbid writing it (PYTHONDONTWRITEBYTECODE), and
# then every start recompiles the project's modules, a cost no user pays. The benchmarks and
# the processes they start run with the cache on.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
    sys.dont_write_bytecode = False
    print("note: PYTHONDONTWRITEBYTECODE unset for this benchmark (bytecode cached, as after an "
          "install)", flush=True)


def figure(key: str, what: str, text: str, *, value: float | None = None,
           unit: str | None = None, target: str | None = None,
           met: bool | None = None) -> dict[str, Any]:
    return {"key": key, "what": what, "text": text,
            "value": None if value is None else float(value), "unit": unit,
            "target": target, "met": None if met is None else bool(met)}


def emit(bench: str, figures: Sequence[dict[str, Any]]) -> None:
    """The last line of the script's output: ``{"bench": ..., "figures": [...]}``."""
    print(json.dumps({"bench": bench, "figures": list(figures)}, ensure_ascii=False),
          flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation (numpy's default), no numpy needed."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
