"""How long the simulator takes: physics of a 32-minute procedure and a full 10 Hz trace.

Prints figures; not a pass/fail test. Run: ``.venv/bin/python bench/simulate_speed.py``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

from _figures import emit, figure

from simulators.physics import simulate
from simulators.scenarios import SCENARIOS


def main() -> None:
    sc = SCENARIOS["routine"]
    setup = replace(sc.anatomy, sensors=tuple(s.at for s in sc.sensors))
    physics = []
    for _ in range(5):
        start = time.perf_counter()
        result = simulate(setup, sc.duration_s)
        physics.append(time.perf_counter() - start)
    print(f"routine: {sc.duration_s / 60:.0f} simulated minutes, {len(result.t)} physics steps "
          f"of {result.dt_s:.3f} s on a {result.field_c.shape[0]}² grid of {result.dx_mm} mm")
    print(f"physics: median {statistics.median(physics) * 1000:.0f} ms, "
          f"best {min(physics) * 1000:.0f} ms")
    sc.physics()  # warm the cache, then time what generate adds (lag, noise, faults)
    start = time.perf_counter()
    trace = sc.generate(seed=1)
    print(f"trace at 10 Hz ({trace.values.size} samples, physics cached): "
          f"{(time.perf_counter() - start) * 1000:.0f} ms")
    total = 0.0
    for scenario in SCENARIOS.values():
        setup = replace(scenario.anatomy, sensors=tuple(s.at for s in scenario.sensors))
        start = time.perf_counter()
        simulate(setup, scenario.duration_s)
        total += time.perf_counter() - start
    print(f"all {len(SCENARIOS)} scenarios, physics from scratch: {total * 1000:.0f} ms")
    best = statistics.median(physics)
    emit("simulate_speed", [figure(
        "simulator", f"simulator physics, {sc.duration_s / 60:.0f}-min routine procedure, "
        "median of 5 (`python bench/simulate_speed.py`)", f"{best:.2f} s", value=best,
        unit="s", target="< 1 s", met=best < 1.0)])


if __name__ == "__main__":
    main()
