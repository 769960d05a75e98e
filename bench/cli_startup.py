"""Start-up time of the ``cryoguard`` command: ``--help`` and ``--version``.

    python bench/cli_startup.py [--runs 10]

Wall time of the whole process as a user waits for it (exec of the installed ``cryoguard``
script, interpreter start, imports, building the parser, printing), median of ``--runs``
runs after one warm-up run. ``python -c pass`` beside it is the interpreter's own share. Then
the ten slowest imports of ``--help`` by ``python -X importtime`` (cumulative).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from _figures import emit, figure, median

HELP_TARGET_S = 0.150


def command() -> list[str]:
    """The installed console script beside this Python, else ``python -m monitor.cli``."""
    script = Path(sys.executable).with_name("cryoguard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor.cli"]


def wall(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def slowest_imports(count: int = 10) -> list[tuple[float, str]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "monitor.cli", "--help"],
                          capture_output=True, text=True, check=True)
    found = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(2)) <= 2:  # top-level imports and their direct children
            found.append((int(m.group(1)) / 1e6, m.group(3)))
    return sorted(found, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    cg = command()
    print(f"command: {' '.join(cg)}; python {platform.python_version()}, "
          f"{os.cpu_count()} cores")
    help_s = median(wall([*cg, "--help"], args.runs))
    version_s = median(wall([*cg, "--version"], args.runs))
    python_s = median(wall([sys.executable, "-c", "pass"], args.runs))
    print(f"cryoguard --help:    median {help_s * 1e3:.0f} ms of {args.runs}")
    print(f"cryoguard --version: median {version_s * 1e3:.0f} ms of {args.runs}")
    print(f"python -c pass:      median {python_s * 1e3:.0f} ms of {args.runs}")
    print("slowest imports of --help (cumulative):")
    for seconds, name in slowest_imports():
        print(f"  {seconds * 1e3:7.1f} ms  {name}")
    emit("cli_startup", [
        figure("cli.help", f"`cryoguard --help` wall time, median of {args.runs} "
               "(`python bench/cli_startup.py`)",
               f"{help_s * 1e3:.0f} ms (python -c pass: {python_s * 1e3:.0f} ms)",
               value=help_s, unit="s", target=f"≤ {HELP_TARGET_S * 1e3:.0f} ms",
               met=help_s <= HELP_TARGET_S),
        figure("cli.version", f"`cryoguard --version`, median of {args.runs} (same bench)",
               f"{version_s * 1e3:.0f} ms", value=version_s, unit="s"),
    ])


if __name__ == "__main__":
    main()
