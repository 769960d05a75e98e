"""Run every benchmark, print one table of figures with their targets, optionally into README.

    python bench/run_all.py [--quick] [--only NAME ...] [--write-readme] [--json-out FILE]

Each bench script prints its own lines (shown here as it runs) and, last, one JSON line of
figures (``bench/_figures.py``). This script collects them, describes the machine (CPU model,
cores, memory, Python, NumPy, OS, and the load average before and after, since a busy machine
slows every figure) and prints a Markdown table: what was measured and by which command, the
figure, the target. ``--write-readme`` replaces the README's table between its
``<!-- bench:begin -->`` and ``<!-- bench:end -->`` markers. A full run takes about 25 minutes
(the four alarm-latency runs wait for 300 alarms each); ``--quick`` is a short smoke run whose
figures are not for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
README = REPO / "README.md"
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


@dataclass
class Run:
    script: str
    args: list[str] = field(default_factory=list)
    quick: list[str] = field(default_factory=list)  # added with --quick

    @property
    def command(self) -> str:
        return " ".join([f"python bench/{self.script}.py", *self.args])


RUNS = [
    Run("cli_startup", quick=["--runs", "5"]),
    Run("replay_throughput", quick=["--runs", "1"]),
    Run("alarm_latency", quick=["--alarms", "20"]),
    Run("alarm_latency", ["--display"], quick=["--alarms", "20"]),
    Run("alarm_latency", ["--mqtt", "local"], quick=["--alarms", "20"]),
    Run("alarm_latency", ["--channels", "64", "--rate", "100"], quick=["--alarms", "20"]),
    Run("recorder_throughput", quick=["--seconds", "600"]),
    Run("memory_24h", quick=["--hours", "3"]),
    Run("frame_time", quick=["--frames", "10", "--seconds", "1"]),
    Run("report_time", quick=["--minutes", "20"]),
    Run("mqtt_rate", quick=["--events", "2000", "--states", "2000", "--latency-samples", "50"]),
    Run("simulate_speed"),
]


def scripts_not_run() -> list[str]:
    """Bench scripts on disk that RUNS forgets (so a new one is never silently left out)."""
    listed = {run.script for run in RUNS}
    return sorted(p.stem for p in BENCH.glob("*.py")
                  if not p.stem.startswith("_") and p.stem != "run_all" and p.stem not in listed)


# --- the machine ----------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    except OSError:
        pass
    return platform.platform()


def numpy_version() -> str:
    try:
        import numpy

        return str(numpy.__version__)
    except ImportError:
        return "not installed"


def machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "arch": platform.machine(), "cores": os.cpu_count(),
            "memory_gib": memory_gib(), "python": platform.python_version(),
            "numpy": numpy_version(), "os": os_name()}


def machine_line(info: dict[str, Any], load: tuple[float, float]) -> str:
    memory = f", {info['memory_gib']:.0f} GiB" if info["memory_gib"] else ""
    return (f"{info['cpu']} ({info['arch']}), {info['cores']} cores{memory}; Python "
            f"{info['python']}, NumPy {info['numpy']}; {info['os']}; load average "
            f"{load[0]:.2f} at the start, {load[1]:.2f} at the end")


# --- running ----------------------------------------------------------------------------------

def run_one(run: Run, quick: bool) -> tuple[dict[str, Any] | None, str]:
    """Run a bench script, echo its lines, return its figures (None if it failed)."""
    argv = [sys.executable, str(BENCH / f"{run.script}.py"), *run.args,
            *(run.quick if quick else [])]
    print(f"\n== {' '.join(['python', f'bench/{run.script}.py', *argv[2:]])}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    last: dict[str, Any] | None = None
    for line in proc.stdout:
        stripped = line.strip()
        if stripped.startswith("{") and '"bench"' in stripped:
            try:
                last = json.loads(stripped)
                continue
            except json.JSONDecodeError:
                pass
        print(f"   {line}", end="", flush=True)
    status = proc.wait()
    took = f"{time.monotonic() - started:.0f} s"
    if status != 0:
        return None, f"failed (exit {status}) after {took}"
    if last is None:
        return None, f"printed no figures (no final JSON line) after {took}"
    return last, took


def table(results: list[tuple[Run, dict[str, Any] | None, str]]) -> list[str]:
    rows = ["| what (command) | figure | target |", "|---|---|---|"]
    for run, result, note in results:
        if result is None:
            rows.append(f"| `{run.command}` | {note} | |")
            continue
        for fig in result["figures"]:
            target = fig.get("target") or ""
            met = fig.get("met")
            if target and met is not None:
                target += " ✓" if met else " ✗ (not met)"
            rows.append(f"| {fig['what']} | {fig['text']} | {target} |")
    return rows


def write_readme(lines: list[str]) -> None:
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        sys.exit(f"{README}: no {BEGIN} ... {END} markers to write between")
    block = "\n".join([BEGIN, *lines, END])
    README.write_text(pattern.sub(lambda _m: block, text, count=1), encoding="utf-8")
    print(f"\nwrote the table into {README.relative_to(REPO)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs to check the benchmarks work (not README figures)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="run only these scripts (e.g. cli_startup alarm_latency)")
    parser.add_argument("--write-readme", action="store_true",
                        help="replace the README's performance table with this run's")
    parser.add_argument("--json-out", type=Path, metavar="FILE",
                        help="also write the machine and every figure as JSON")
    args = parser.parse_args()
    if args.write_readme and (args.quick or args.only):
        parser.error("--write-readme needs a full run (no --quick, no --only)")
    forgotten = scripts_not_run()
    if forgotten:
        sys.exit(f"bench/run_all.py does not run {', '.join(forgotten)}: add them to RUNS")
    runs = [r for r in RUNS if not args.only or r.script in args.only]
    info = machine()
    load_start = os.getloadavg()[0]
    started = datetime.now(UTC)
    results = [(run, *run_one(run, args.quick)) for run in runs]
    load = (load_start, os.getloadavg()[0])
    lines = [f"Measured {started:%Y-%m-%d} by `python bench/run_all.py` on: "
             f"{machine_line(info, load)}.", "", *table(results)]
    print("\n" + "\n".join(lines))
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "machine": info, "load": load, "started": started.isoformat(), "quick": args.quick,
            "runs": [{"command": r.command, "result": res, "note": note}
                     for r, res, note in results]}, indent=1, ensure_ascii=False))
    if args.write_readme:
        write_readme(lines)
    if any(res is None for _, res, _ in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
