"""Write text captures of the bedside display, for the README and docs/display-capture.txt.

Runs the real engine on simulated scenarios and renders the dashboard with the same function
the live display uses, at the two terminal sizes the docs show (80×24 and 120×40):

- ``breach``: an unprotected nerve needle falls through 15 °C and 10 °C during a freeze; the
  operator acknowledges the early warnings; captured just after the 10 °C (high) alarm.
- ``co2-rescue``: the operator types ``mark co2`` when the physics injects carbon dioxide;
  captured 90 s later, with the marker on the nerve's sparkline and the time since the
  injection in the header.

    .venv/bin/python scripts/capture_display.py [--out PATH] [--svg PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from monitor.config.schema import parse_config
from monitor.display.render import render_dashboard
from monitor.display.sparkline import History, spec_levels
from monitor.engine import Engine, Snapshot
from monitor.model import Event, EventType, Reading
from simulators.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
SIZES = ((120, 40), (80, 24))
STARTED = "2026-11-24T10:15:00+00:00"  # shown in UTC so the file is the same everywhere
ACK_AFTER_S = 8.0  # the operator acknowledges a warning this long after it sounds
AFTER_CRITICAL_S = 2.0  # capture a moment after the critical alarm, as a glance would
AFTER_MARK_S = 90.0


def simulate(scenario_name: str, until: str | None = None, after_mark_s: float | None = None
             ) -> tuple[Snapshot, dict[str, Any], History]:
    """Run the scenario through the engine until ``until`` is raised (plus a moment), or until
    ``after_mark_s`` after the operator's first action."""
    scenario = SCENARIOS[scenario_name]
    trace = scenario.generate(seed=0)
    config = parse_config({
        "station": {"name": "ct-suite-2"},
        "devices": [{"id": "sim", "protocol": "line", "port": "/dev/ttyUSB0"}],
        "channels": [{"id": c.id, "label": c.label, "device": "sim", "index": c.index,
                      "role": str(c.role)} for c in scenario.channels],
    }, f"scenario {scenario_name}")
    spec = config.engine_spec()
    engine = Engine(spec, t0=0.0)
    history = History(300.0)
    header: dict[str, Any] = {
        "station": config.station.name, "mode": "simulated", "started": STARTED, "speed": 1.0,
        "levels": spec_levels(spec), "actions": config.display.alarm_actions(),
        "audio_output": {"output": "speaker", "requested": "auto", "device": "default"}}
    actions = list(scenario.operator_actions)
    ack_at: float | None = None
    stop_at: float | None = None

    def handle(events: list[Event]) -> None:
        nonlocal ack_at, stop_at
        for event in events:
            if event.type is EventType.ALARM_RAISED:
                if event.get("condition") == "below_warning" and ack_at is None:
                    ack_at = event.t + ACK_AFTER_S
                if event.get("condition") == until and stop_at is None:
                    stop_at = event.t + AFTER_CRITICAL_S

    scan: list[Reading] = []
    for reading in trace.readings():
        if scan and reading.t != scan[0].t:
            t = scan[0].t
            handle(engine.feed(scan))
            scan = []
            if ack_at is not None and t >= ack_at:
                handle(engine.acknowledge(t))
                ack_at = float("inf")
            while actions and actions[0][0] <= t:
                at, line = actions.pop(0)
                verb, _, kind = line.partition(" ")
                if verb == "mark" and kind in ("co2", "saline"):
                    # What the daemon writes for the stdin command (an intervention event).
                    history.note_events([{"t": at, "type": "intervention", "kind": kind}])
                    if after_mark_s is not None and stop_at is None:
                        stop_at = at + after_mark_s
            history.record(engine.snapshot())
            if stop_at is not None and t >= stop_at:
                break
        scan.append(reading)
    else:
        raise SystemExit(f"scenario {scenario_name!r} never reached the capture point")
    return engine.snapshot(), header, history


def render(snapshot: Snapshot, header: dict[str, Any], history: History, width: int,
           height: int, svg: Path | None = None) -> str:
    console = Console(record=True, width=width, height=height, force_terminal=True,
                      color_system="truecolor", file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_dashboard(snapshot, header, width=width, height=height, blink_on=True,
                                   blink_slow=True, history=history))
    if svg is not None:
        svg.write_text(console.export_svg(title="cryoguard", clear=False), encoding="utf-8")
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "display-capture.txt")
    parser.add_argument("--svg", type=Path, help="also write the 120×40 breach capture as SVG")
    args = parser.parse_args(argv)
    os.environ["TZ"] = "UTC"
    time.tzset()
    parts = []
    breach = simulate("breach", until="below_critical")
    for width, height in SIZES:
        svg = args.svg if (width, height) == SIZES[0] else None
        parts.append(f"=== breach, just after the 10 °C alarm, {width}×{height} ===\n"
                     + render(*breach, width, height, svg))
    co2 = simulate("co2-rescue", after_mark_s=AFTER_MARK_S)
    for width, height in SIZES:
        parts.append(f"=== co2-rescue, 90 s after `mark co2`, {width}×{height} ===\n"
                     + render(*co2, width, height))
    text = "\n".join(parts)
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
