"""Thermocouple conversion against the NIST ITS-90 vectors in docs/devices.md."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import thermocouple
from monitor.model import Status

# t (°C), type T (mV), type K (mV) — docs/devices.md (NIST SRD 60), 0 °C reference.
VECTORS = [
    (-196.0, -5.5389, -5.8289),
    (-100.0, -3.3786, -3.5536),
    (-40.0, -1.4750, -1.5269),
    (10.0, 0.3910, 0.3969),
    (37.0, 1.4863, 1.4889),
    (45.0, 1.8227, 1.8171),
]


@pytest.mark.parametrize(("t_c", "t_mv", "k_mv"), VECTORS)
def test_forward_matches_nist_vectors(t_c: float, t_mv: float, k_mv: float) -> None:
    assert thermocouple.emf_mv("T", t_c) == pytest.approx(t_mv, abs=5e-5)
    assert thermocouple.emf_mv("K", t_c) == pytest.approx(k_mv, abs=5e-5)


@pytest.mark.parametrize(("t_c", "t_mv", "k_mv"), VECTORS)
def test_inverse_matches_nist_vectors(t_c: float, t_mv: float, k_mv: float) -> None:
    # 4-decimal mV vectors carry ±0.05 µV, i.e. a few mK even at 16 µV/°C.
    for tc_type, mv in (("T", t_mv), ("K", k_mv)):
        temp, status = thermocouple.mv_to_celsius(tc_type, mv, 0.0)
        assert status is Status.OK
        assert temp == pytest.approx(t_c, abs=0.01)


def test_cold_junction_example_adds_emf_not_temperature() -> None:
    temp, status = thermocouple.mv_to_celsius("T", -4.000, 23.0)
    assert status is Status.OK
    assert temp is not None and temp == pytest.approx(-90.011, abs=0.001)
    # Adding temperatures instead (t(E) + T_cj) would be off by several degrees.
    naive, _ = thermocouple.mv_to_celsius("T", -4.000, 0.0)
    assert naive is not None and abs((naive + 23.0) - temp) > 1.0


@pytest.mark.parametrize(("tc_type", "mv", "status"), [
    ("T", -7.0, Status.UNDER_RANGE),     # below −270 °C
    ("T", 21.5, Status.OVER_RANGE),      # above 400 °C
    ("K", 60.0, Status.OVER_RANGE),
    ("K", -6.6, Status.UNDER_RANGE),
    ("J", 80.0, Status.OVER_RANGE),
    ("E", -10.0, Status.UNDER_RANGE),
])
def test_out_of_range_is_a_status_never_clamped(tc_type: str, mv: float, status: Status) -> None:
    assert thermocouple.mv_to_celsius(tc_type, mv, 0.0) == (None, status)


def test_cold_junction_pushes_in_range_reading_over_range() -> None:
    # 20.8 mV is inside type T's span at 0 °C, but with a 25 °C cold junction it is above 400 °C.
    assert thermocouple.mv_to_celsius("T", 20.8, 0.0)[1] is Status.OK
    assert thermocouple.mv_to_celsius("T", 20.8, 25.0) == (None, Status.OVER_RANGE)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_inputs_are_bad_data(bad: float) -> None:
    assert thermocouple.mv_to_celsius("T", bad, 23.0) == (None, Status.BAD_DATA)
    assert thermocouple.mv_to_celsius("T", 1.0, bad) == (None, Status.BAD_DATA)


def test_unknown_type_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="supported"):
        thermocouple.check_type("Q")
    assert thermocouple.mv_to_celsius("Q", 1.0, 0.0) == (None, Status.BAD_DATA)
    assert thermocouple.check_type(" t ") == "T"


@pytest.mark.parametrize("tc_type", ["T", "K", "J", "E"])
@given(data=st.data())
def test_round_trip_with_cold_junction(tc_type: str, data: st.DataObject) -> None:
    low, high = thermocouple.temperature_range_c(tc_type)
    t_c = data.draw(st.floats(max(low, -260.0), min(high, 1000.0)))
    cjc = data.draw(st.floats(0.0, 40.0))
    emf = thermocouple.emf_mv(tc_type, t_c, cjc)
    temp, status = thermocouple.mv_to_celsius(tc_type, emf, cjc)
    assert status is Status.OK
    assert temp == pytest.approx(t_c, abs=0.01)
