"""Values with units: what a site writes in a config file must mean what they think it means."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config.units import (
    UnitError,
    parse_rate_c_per_min,
    parse_rate_c_per_s,
    parse_seconds,
    parse_temperature_c,
    parse_temperature_delta_c,
)

celsius = st.floats(min_value=-273.0, max_value=2000.0, allow_nan=False)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@pytest.mark.parametrize(("text", "expected"), [
    (15, 15.0), (15.5, 15.5), ("15", 15.0), ("15 °C", 15.0), ("15C", 15.0), ("15 c", 15.0),
    ("15 degC", 15.0), ("59 F", 15.0), ("59 °F", 15.0), ("50 F", 10.0), ("32F", 0.0),
    ("283.15 K", 10.0), ("-40 F", -40.0), ("  -3.5 °C  ", -3.5), ("1e1 C", 10.0),
])
def test_temperature_examples(text: object, expected: float) -> None:
    assert parse_temperature_c(text) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("bad", ["cold", "", "15 X", "C", "15 °C/min", True, None, [15],
                                 float("nan"), float("inf"), "nan"])
def test_temperature_rejects_with_the_bad_text(bad: object) -> None:
    with pytest.raises(ValueError, match="not a temperature") as info:
        parse_temperature_c(bad)
    assert repr(bad) in str(info.value)
    assert isinstance(info.value, UnitError) and info.value.got is bad


def test_below_absolute_zero_is_an_error() -> None:
    with pytest.raises(UnitError, match="absolute zero"):
        parse_temperature_c("-500 F")


@given(celsius)
def test_temperature_round_trips_through_every_unit(c: float) -> None:
    assert parse_temperature_c(f"{c!r} °C") == pytest.approx(c, abs=1e-9)
    assert parse_temperature_c(f"{c * 9 / 5 + 32!r} F") == pytest.approx(c, abs=1e-9)
    assert parse_temperature_c(f"{c + 273.15!r}K") == pytest.approx(c, abs=1e-9)
    assert parse_temperature_c(c) == c


@given(finite)
def test_differences_and_rates_in_fahrenheit_use_five_ninths_without_offset(x: float) -> None:
    assert parse_temperature_delta_c(f"{x!r} F") == pytest.approx(x * 5 / 9)
    assert parse_rate_c_per_min(f"{x!r} F/min") == pytest.approx(x * 5 / 9)
    assert parse_temperature_delta_c(f"{x!r} K") == pytest.approx(x)


@pytest.mark.parametrize(("text", "expected"), [
    (90, 90.0), ("90", 90.0), ("90 s", 90.0), ("90s", 90.0), ("2 min", 120.0),
    ("1.5 h", 5400.0), ("250 ms", 0.25), ("3 minutes", 180.0), ("1 hour", 3600.0),
])
def test_seconds_examples(text: object, expected: float) -> None:
    assert parse_seconds(text) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["soon", "2 fortnights", "min", False, "2 °C"])
def test_seconds_rejects(bad: object) -> None:
    with pytest.raises(UnitError, match="not a duration") as info:
        parse_seconds(bad)
    assert repr(bad) in str(info.value)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_seconds_round_trip(s: float) -> None:
    assert parse_seconds(f"{s / 60!r} min") == pytest.approx(s)
    assert parse_seconds(f"{s / 3600!r} h") == pytest.approx(s)
    assert parse_seconds(f"{s * 1000!r} ms") == pytest.approx(s)


@pytest.mark.parametrize(("text", "per_min"), [
    (-6, -6.0), ("-6", -6.0), ("-6 °C/min", -6.0), ("-6 C/min", -6.0), ("-0.1 °C/s", -6.0),
    ("-360 °C/h", -6.0), ("-10.8 F/min", -6.0), ("-6 K/min", -6.0), ("-6 °C per minute", -6.0),
])
def test_rate_examples(text: object, per_min: float) -> None:
    assert parse_rate_c_per_min(text) == pytest.approx(per_min)
    if isinstance(text, str) and "/" in text:
        assert parse_rate_c_per_s(text) == pytest.approx(per_min / 60)


def test_plain_rate_numbers_are_in_the_unit_of_the_key() -> None:
    assert parse_rate_c_per_min(-6) == -6.0
    assert parse_rate_c_per_s(10) == 10.0


@pytest.mark.parametrize("bad", ["fast", "-6 °C", "-6 /min", "-6 C/fortnight", "-6 X/min", True])
def test_rate_rejects(bad: object) -> None:
    with pytest.raises(UnitError, match="not a rate") as info:
        parse_rate_c_per_min(bad)
    assert repr(bad) in str(info.value)


@given(finite)
def test_rate_round_trip(r: float) -> None:
    assert parse_rate_c_per_min(f"{r / 60!r} °C/s") == pytest.approx(r)
    assert parse_rate_c_per_s(f"{r * 60!r} °C/min") == pytest.approx(r)


@given(st.text(max_size=20))
def test_parsers_raise_only_value_errors(text: str) -> None:
    for parse in (parse_temperature_c, parse_temperature_delta_c, parse_seconds,
                  parse_rate_c_per_min, parse_rate_c_per_s):
        try:
            value = parse(text)
        except ValueError:
            continue
        assert math.isfinite(value)
