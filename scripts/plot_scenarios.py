"""Draw every scenario's sensor traces to docs/scenarios/<name>.png (matplotlib, Agg).

Run: ``.venv/bin/python scripts/plot_scenarios.py [--out DIR] [--seed N]``. Nerve and skin
channels on the main axis with the default thresholds, the probe tip below; console phases
shaded, manoeuvres and faults marked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from monitor.model import Role, Status
from simulators.scenarios import SCENARIOS, Scenario

PHASE_COLOURS = {"freeze": "#cfe3ff", "thaw_passive": "#fff2cc", "thaw_active": "#ffd9cc"}
LINES = ((15.0, "below warning 15 °C", "#d4a000"), (10.0, "below critical 10 °C", "#c00000"),
         (0.0, "freezing 0 °C", "#700000"), (42.0, "above warning 42 °C", "#d4a000"),
         (45.0, "above critical 45 °C", "#c00000"))


def plot(sc: Scenario, out: Path, seed: int) -> Path:
    trace = sc.generate(seed=seed)
    minutes = trace.t / 60.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    for ax in (top, bottom):
        for span in sc.phases:
            colour = PHASE_COLOURS.get(span.phase)
            if colour:
                end = min(span.end_s, sc.duration_s)
                ax.axvspan(span.start_s / 60, end / 60, color=colour, lw=0)
    for c, ch in enumerate(trace.channels):
        values = trace.values[:, c]
        if ch.role is Role.PROBE:
            bottom.plot(minutes, values, lw=1, label=f"{ch.id} {ch.label}")
            continue
        top.plot(minutes, values, lw=1, label=f"{ch.id} {ch.label} ({ch.role})")
        opened = trace.status[:, c] == int(Status.OPEN)
        if opened.any():
            first = minutes[np.argmax(opened)]
            top.axvline(first, color="k", ls=":", lw=1)
            top.annotate(f"{ch.id} OPEN", (first, 36), xytext=(4, 0),
                         textcoords="offset points", fontsize=8)
    for level, label, colour in LINES:
        top.axhline(level, color=colour, lw=0.8, ls="--")
        top.annotate(label, (0, level), xytext=(2, 2), textcoords="offset points",
                     fontsize=7, color=colour)
    for event in trace.events:
        if event.kind == "spike":
            continue
        top.axvspan(event.start_s / 60, max(event.end_s, event.start_s + 3) / 60,
                    color="#888888", alpha=0.25)
        top.annotate(event.detail or event.kind, (event.start_s / 60, 3), fontsize=8)
    top.set_ylabel("°C (needle reading)")
    top.set_ylim(-12, 50)
    top.legend(loc="lower left", fontsize=8)
    top.set_title(f"{sc.name}: {sc.summary}", fontsize=10)
    bottom.set_ylabel("probe °C")
    bottom.set_xlabel("session time, minutes (blue freeze, yellow passive thaw, "
                      "orange active thaw)")
    bottom.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = out / f"{sc.name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/scenarios"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for sc in SCENARIOS.values():
        print(plot(sc, args.out, args.seed))


if __name__ == "__main__":
    main()
