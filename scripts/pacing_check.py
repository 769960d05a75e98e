"""Count false ``stale`` alarms of a simulated session at high speed, with and without pacing.

Runs what ``cryoguard demo`` runs (the line emulator on a pseudo-terminal, the real driver, the
daemon; no display, no recording) for the whole ``demo`` scenario, ``--runs`` times with the
plain clock and as many with :class:`simulators.emulators.player.SteadyClock` shared by the
emulator and the daemon, and prints the stale alarms of each run and the pauses the steady
clock took out. The scenario has no sensor fault: every stale alarm is false.

    .venv/bin/python scripts/pacing_check.py [--speed 60] [--runs 3] [--scenario demo]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from monitor.config.schema import parse_config
from monitor.daemon.devices import device_params
from monitor.daemon.shell import Daemon, DaemonOptions, SessionClock
from simulators.emulators import serve
from simulators.emulators.player import SteadyClock
from simulators.scenarios import get


async def one_run(scenario_name: str, speed: float, steady: SteadyClock | None,
                  workdir: Path) -> int:
    scenario = get(scenario_name)
    link = workdir / "ttySIM0"
    config = parse_config({
        "station": {"name": "pace"},
        "devices": [{"id": "sim", "protocol": "line", "port": str(link)}],
        "channels": [{"id": c.id, "label": c.label, "device": "sim", "index": c.index,
                      "role": str(c.role)} for c in scenario.channels]}, "pacing check")
    events = workdir / "events.jsonl"
    events.unlink(missing_ok=True)
    options = DaemonOptions(mode="demo", headless=True, events_out=str(events), record=False,
                            speed=speed, duration_s=scenario.duration_s, stdin_commands=False,
                            log=False)
    ready = asyncio.Event()
    clock = SessionClock(speed, monotonic=steady) if steady else SessionClock(speed)

    async def device() -> None:
        await serve(scenario, "line", link, speed=speed, clock=steady,
                    on_ready=lambda _path: ready.set())

    tasks = [device] + ([steady.run] if steady else [])
    daemon = Daemon(config, device_params(config), options, clock=clock, extra_tasks=tasks,
                    ready=ready)
    await daemon.run()
    records = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    return sum(1 for r in records
               if r["type"] == "alarm.raised" and r.get("condition") == "stale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="demo")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cryoguard-pacing-") as tmp:
        for label in ("plain", "steady"):
            for n in range(args.runs):
                steady = SteadyClock.for_speed(args.speed) if label == "steady" else None
                count = asyncio.run(one_run(args.scenario, args.speed, steady, Path(tmp)))
                extra = (f"  pauses taken out: {steady.stalls}, longest "
                         f"{steady.longest_stall_s * 1000:.0f} ms, total "
                         f"{steady.stalled_s * 1000:.0f} ms") if steady else ""
                print(f"speed ×{args.speed:g}  {label:<6} run {n + 1}: "
                      f"{count} false stale alarms{extra}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
