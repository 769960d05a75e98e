"""Tissue physics: the sanity a reader of docs/simulator.md relies on."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.physics import (
    Annulus,
    Disc,
    Injection,
    PhaseSpan,
    Point,
    Probe,
    Setup,
    simulate,
)
from simulators.sensors import first_order_lag

FREEZE = (PhaseSpan("freeze", 0.0, 600.0),)


def _setup(points: tuple[Point, ...], **kw: object) -> Setup:
    return Setup(probes=(Probe(0.0, 0.0),), phases=FREEZE, sensors=points, **kw)  # type: ignore[arg-type]


def test_colder_nearer_the_probe() -> None:
    points = tuple(Point(d, 0.0) for d in (3.0, 6.0, 9.0, 12.0, 18.0, 30.0))
    result = simulate(_setup(points), 600.0)
    final = result.temps[-1]
    assert np.all(np.diff(final) > 0), final
    assert final[0] < -20.0 and final[-1] > 30.0


def test_ice_ball_matches_published_figures() -> None:
    """0 °C at the ice-ball edge, lethal −20…−40 °C isotherms a few mm inside it
    (docs/clinical-defaults.md [7])."""
    result = simulate(_setup((Point(0.0, 0.0),)), 600.0)
    edge = result.isotherm_radius_mm(-1.0)  # freezing starts at the liquidus
    zero = result.isotherm_radius_mm(0.0)
    lethal = result.isotherm_radius_mm(-20.0)
    assert 10.0 <= zero <= 25.0
    assert abs(zero - edge) <= 1.5  # the ice-ball surface sits at about 0 °C
    assert 3.0 <= zero - lethal <= 8.0


def test_co2_slows_the_fall_at_the_nerve() -> None:
    nerve = Point(11.0, 0.0)
    plain = _setup((nerve,), nerves=(Disc(11.0, 0.0, 1.5),))
    insulated = _setup((nerve,), nerves=(Disc(11.0, 0.0, 1.5),), injections=(
        Injection("co2", Annulus(11.0, 0.0, 1.6, 5.0), 0.0),))
    a = simulate(plain, 600.0).temps[:, 0]
    b = simulate(insulated, 600.0).temps[:, 0]
    assert b[-1] > a[-1] + 5.0
    assert np.all(b[1:] >= a[1:] - 0.05)


def test_warm_saline_heats_the_nerve() -> None:
    nerve = Point(14.0, 0.0)
    setup = _setup((nerve,), injections=(
        Injection("saline", Annulus(14.0, 0.0, 1.6, 4.0), 100.0, 160.0, temp_c=47.0),))
    temps = simulate(setup, 300.0).temps[:, 0]
    assert temps.max() > 44.0
    assert temps[-1] < temps.max() - 3.0  # and it cools once the injection stops


def test_finer_grid_converges() -> None:
    """Isotherm positions agree within a few tenths of a millimetre as the cells shrink 4x."""
    positions = []
    for dx in (1.0, 0.5, 0.25):
        setup = Setup(probes=(Probe(0.0, 0.0, r_mm=2.0),), phases=FREEZE,
                      sensors=(Point(4.0, 0.0),), size_mm=24.0)
        result = simulate(setup, 90.0, dx_mm=dx)
        positions.append([result.isotherm_radius_mm(level) for level in (0.0, -20.0, -40.0)])
    spread = np.ptp(np.array(positions), axis=0)
    finest = np.abs(np.array(positions[2]) - np.array(positions[1]))
    assert np.all(spread <= 0.5), positions
    assert np.all(finest <= 0.3), positions


@pytest.mark.parametrize("with_co2", [False, True])
def test_energy_balance(with_co2: bool) -> None:
    """Enthalpy change = probe + perfusion + saline + material change, to 1e-9 relative."""
    injections: tuple[Injection, ...] = (
        Injection("saline", Disc(15.0, 0.0, 3.0), 50.0, 150.0, temp_c=45.0),)
    if with_co2:
        injections += (Injection("co2", Annulus(10.0, 0.0, 1.6, 4.0), 100.0),)
    setup = Setup(probes=(Probe(0.0, 0.0),),
                  phases=(PhaseSpan("freeze", 0.0, 200.0), PhaseSpan("thaw_passive", 200.0, 260.0),
                          PhaseSpan("thaw_active", 260.0, 300.0)),
                  sensors=(Point(10.0, 0.0),), bone=(Disc(-6.0, 0.0, 12.0),),
                  injections=injections, size_mm=60.0)
    ledger = simulate(setup, 300.0).ledger
    assert ledger.probes < 0 and ledger.perfusion > 0 and ledger.saline > 0
    assert abs(ledger.imbalance) <= 1e-9 * abs(ledger.initial)


def test_first_order_lag_settles_in_10_to_15_seconds() -> None:
    t = np.linspace(0.0, 30.0, 301)
    x = np.where(t < 1.0, 37.0, 10.0)[:, None]
    y = first_order_lag(t, x.astype(float), np.array([4.0]))[:, 0]
    settled = t[np.argmax(np.abs(y - 10.0) <= 0.05 * 27.0)] - 1.0
    assert 10.0 <= settled <= 15.0
