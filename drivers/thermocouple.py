"""Thermocouple millivolts to °C (NIST ITS-90) with cold-junction compensation.

Backed by ``thermocouple-its90`` (checked against the NIST vectors in docs/devices.md). The cold
junction is compensated by emf addition, t = E⁻¹(E_meas + E(T_cj)), never by adding
temperatures. Out-of-range inputs become a status, never a clamped temperature.
"""

from __future__ import annotations

import math

import thermocouple_its90 as its90

from monitor.model import Status

#: Float rounding of E(t) − E(cj) + E(cj) at a table end (1 pV): not a measurable emf.
EMF_ROUNDING_MV = 1e-9

SUPPORTED_TYPES: tuple[str, ...] = ("B", "E", "J", "K", "N", "R", "S", "T")


def _tc(tc_type: str) -> its90.Thermocouple:
    letter = tc_type.strip().upper()
    if letter not in SUPPORTED_TYPES:
        raise ValueError(
            f"unknown thermocouple type {tc_type!r} (supported: {', '.join(SUPPORTED_TYPES)})"
        )
    return its90.get(letter)


def check_type(tc_type: str) -> str:
    """Validate and normalise a type letter; raises ValueError naming the supported types."""
    _tc(tc_type)
    return tc_type.strip().upper()


def temperature_range_c(tc_type: str) -> tuple[float, float]:
    """The type's defined temperature span in °C."""
    low, high = _tc(tc_type).range
    return float(low), float(high)


def emf_range_mv(tc_type: str) -> tuple[float, float]:
    """The emf span (0 °C reference) on which the inverse is defined."""
    low, high = _tc(tc_type).invertible_emf_range
    return float(low), float(high)


def emf_mv(tc_type: str, t_c: float, cjc_c: float = 0.0) -> float:
    """What a meter with its cold junction at ``cjc_c`` reads for a hot junction at ``t_c``.

    Raises ValueError outside the type's range (used by simulators and tests, never on data).
    """
    tc = _tc(tc_type)
    try:
        return float(tc.emf(t_c) - tc.emf(cjc_c))
    except its90.RangeError as exc:
        raise ValueError(str(exc)) from exc


def mv_to_celsius(tc_type: str, measured_mv: float, cjc_c: float) -> tuple[float | None, Status]:
    """Convert a measured emf to °C; returns (temperature or None, status). Never raises."""
    try:
        tc = _tc(tc_type)
    except ValueError:
        return None, Status.BAD_DATA
    if not (math.isfinite(measured_mv) and math.isfinite(cjc_c)):
        return None, Status.BAD_DATA
    t_low, t_high = tc.range
    if not t_low <= cjc_c <= t_high:
        return None, Status.BAD_DATA  # a cold junction outside the table is a sensor fault
    total = measured_mv + float(tc.emf(cjc_c))
    e_low, e_high = tc.invertible_emf_range
    if total < e_low - EMF_ROUNDING_MV:
        return None, Status.UNDER_RANGE
    if total > e_high + EMF_ROUNDING_MV:
        return None, Status.OVER_RANGE
    try:
        # Only float rounding at the very end of the table is absorbed here.
        return float(tc.temperature(min(max(total, e_low), e_high))), Status.OK
    except (its90.RangeError, ValueError, ArithmeticError):
        return None, Status.BAD_DATA
