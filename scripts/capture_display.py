"""Write a text capture of the bedside display during an alarm, for the README and docs.

Runs the real engine on a simulated scenario (``breach`` by default: an unprotected nerve
needle falls through 15 °C and 10 °C during a freeze), with the operator acknowledging the
early warnings, and stops just after the high-priority ``below_critical`` alarm is raised. The
dashboard at that moment is rendered by the same function the live display uses and saved as
plain text (and optionally as SVG, with colours).

    .venv/bin/python scripts/capture_display.py [--scenario NAME] [--out PATH] [--svg PATH]
"""

from __future__ import annotations

import argparse
import sys
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
WIDTH, HEIGHT = 100, 30
ACK_AFTER_S = 8.0  # the operator acknowledges a warning this long after it sounds
AFTER_CRITICAL_S = 2.0  # capture a moment after the critical alarm, as a glance would


def simulate(scenario_name: str, until: str) -> tuple[Snapshot, dict[str, Any], History]:
    """Run the scenario through the engine until ``until`` is raised (plus a moment)."""
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
    header: dict[str, Any] = {"station": config.station.name, "mode": "simulated",
                              "levels": spec_levels(spec)}
    phase_start = 0.0
    ack_at: float | None = None
    stop_at: float | None = None
    scan: list[Reading] = []

    def handle(events: list[Event]) -> None:
        nonlocal phase_start, ack_at, stop_at
        for event in events:
            if event.type is EventType.CYCLE_PHASE:
                header["phase"] = event.get("phase")
                header["cycle"] = event.get("cycle")
                phase_start = event.t
            if event.type is EventType.ALARM_RAISED:
                if event.get("condition") == "below_warning" and ack_at is None:
                    ack_at = event.t + ACK_AFTER_S
                if event.get("condition") == until and stop_at is None:
                    stop_at = event.t + AFTER_CRITICAL_S

    for reading in trace.readings():
        if scan and reading.t != scan[0].t:
            t = scan[0].t
            handle(engine.feed(scan))
            scan = []
            if ack_at is not None and t >= ack_at:
                handle(engine.acknowledge(t))
                ack_at = float("inf")
            history.record(engine.snapshot())
            if stop_at is not None and t >= stop_at:
                break
        scan.append(reading)
    else:
        raise SystemExit(f"scenario {scenario_name!r} never raised {until!r}")
    snapshot = engine.snapshot()
    if "phase" in header:
        header["phase_elapsed_s"] = snapshot.t - phase_start
        header["phase_target_s"] = config.cycles.freeze_s if header["phase"] == "freeze" \
            else None
    return snapshot, header, history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="breach", choices=sorted(SCENARIOS))
    parser.add_argument("--until", default="below_critical",
                        help="capture when this condition is raised (default below_critical)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "display-capture.txt")
    parser.add_argument("--svg", type=Path, help="also write a coloured SVG here")
    args = parser.parse_args(argv)
    snapshot, header, history = simulate(args.scenario, args.until)
    console = Console(record=True, width=WIDTH, height=HEIGHT, force_terminal=True,
                      color_system="truecolor", file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render_dashboard(snapshot, header, width=WIDTH, height=HEIGHT, blink_on=True,
                                   blink_slow=True, history=history))
    if args.svg is not None:
        args.svg.write_text(console.export_svg(title="cryoguard", clear=False),
                            encoding="utf-8")
    text = "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
