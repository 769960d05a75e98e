"""Values with units, for config keys that name their unit (``trip_c``, ``after_s``, ...).

A plain number is already in the key's unit; a string may carry another unit and is converted
("59 F" is 15 °C, "2 min" is 120 s). Absolute temperatures and temperature *differences* differ
for °F and K: a level converts with the offset, a step or a rate by the factor 5/9 only.
Every failure is a :class:`UnitError` (a ``ValueError``) that names the bad text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

ABSOLUTE_ZERO_C = -273.15


class UnitError(ValueError):
    """A value that is not a number in a known unit.

    ``reason`` is short ("not a temperature"), ``got`` is the bad value as given, ``hint``
    says what would have been accepted. The config layer prints ``path: reason (got ...)``.
    """

    def __init__(self, reason: str, got: object, hint: str = "") -> None:
        self.reason = reason
        self.got = got
        self.hint = hint
        text = f"{reason} (got {got!r})"
        super().__init__(f"{text}; {hint}" if hint else text)


_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_VALUE = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>.*?)\s*$")


def _split(value: object, reason: str, hint: str) -> tuple[float, str]:
    """The number and the (normalised, possibly empty) unit text of ``value``."""
    if isinstance(value, bool):
        raise UnitError(reason, value, hint)
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits (TOML allows it)
            raise UnitError(f"{reason}: number too large", _short(value), hint) from None
        unit = ""
    elif isinstance(value, str):
        match = _VALUE.match(value)
        if match is None:
            raise UnitError(reason, value, hint)
        number = float(match["number"])
        unit = match["unit"].replace("°", "").replace("º", "").replace(" ", "").lower()
        unit = unit.removeprefix("deg") if unit.startswith("deg") and len(unit) > 3 else unit
    else:
        raise UnitError(reason, value, hint)
    if not math.isfinite(number):
        raise UnitError(f"{reason}: not a finite number", value, hint)
    return number, unit


def _short(value: object) -> object:
    """A huge integer as ``1000…000 (401 digits)`` rather than a screenful."""
    text = str(value)
    return f"{text[:4]}…{text[-3:]} ({len(text.lstrip('-'))} digits)" if len(text) > 20 \
        else value


# Temperatures -----------------------------------------------------------------------------

_TEMPERATURE_HINT = "use a number in °C or text like '15 °C', '59 F', '288.15 K'"


def _absolute(unit: str, number: float) -> float | None:
    if unit in ("", "c", "celsius"):
        return number
    if unit in ("f", "fahrenheit"):
        return (number - 32.0) * 5.0 / 9.0
    if unit in ("k", "kelvin"):
        return number + ABSOLUTE_ZERO_C
    return None


def parse_temperature_c(value: object) -> float:
    """An absolute temperature in °C: ``15``, ``"15 °C"``, ``"15C"``, ``"59 F"``, ``"288.15 K"``."""
    number, unit = _split(value, "not a temperature", _TEMPERATURE_HINT)
    celsius = _absolute(unit, number)
    if celsius is None:
        raise UnitError("not a temperature", value, _TEMPERATURE_HINT)
    if celsius < ABSOLUTE_ZERO_C - 1e-9:
        raise UnitError("below absolute zero", value)
    return celsius


_DELTA_HINT = "use a number of °C or text like '3 °C', '5.4 F', '3 K'"


def parse_temperature_delta_c(value: object) -> float:
    """A temperature *difference* in °C: °F converts by 5/9 with no offset, K as °C."""
    number, unit = _split(value, "not a temperature difference", _DELTA_HINT)
    factor = _DELTA_FACTORS.get(unit)
    if factor is None:
        raise UnitError("not a temperature difference", value, _DELTA_HINT)
    return number * factor


_DELTA_FACTORS: Mapping[str, float] = {
    "": 1.0, "c": 1.0, "celsius": 1.0, "k": 1.0, "kelvin": 1.0,
    "f": 5.0 / 9.0, "fahrenheit": 5.0 / 9.0,
}

# Durations ---------------------------------------------------------------------------------

_SECONDS: Mapping[str, float] = {
    "": 1.0, "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
}
_SECONDS_HINT = "use a number of seconds or text like '90 s', '2 min', '1.5 h', '250 ms'"


def parse_seconds(value: object) -> float:
    """A duration in seconds: ``90``, ``"90 s"``, ``"2 min"``, ``"1.5 h"``, ``"250 ms"``."""
    number, unit = _split(value, "not a duration", _SECONDS_HINT)
    factor = _SECONDS.get(unit)
    if factor is None:
        raise UnitError("not a duration", value, _SECONDS_HINT)
    return number * factor


# Rates -------------------------------------------------------------------------------------

_RATE_HINT = "use a number or text like '-6 °C/min', '-0.1 °C/s', '-10 F/min'"


def _rate(value: object) -> tuple[float, float | None]:
    """(number in °C, seconds per unit of time); seconds is ``None`` for a plain number."""
    number, unit = _split(value, "not a rate of temperature change", _RATE_HINT)
    if unit == "":
        return number, None
    temperature, slash, time = unit.partition("/")
    if not slash:
        temperature, per, time = unit.partition("per")
        if not per:
            raise UnitError("not a rate of temperature change", value, _RATE_HINT)
    delta = _DELTA_FACTORS.get(temperature) if temperature else None
    seconds = _SECONDS.get(time) if time else None
    if delta is None or seconds is None:
        raise UnitError("not a rate of temperature change", value, _RATE_HINT)
    return number * delta, seconds


def parse_rate_c_per_min(value: object) -> float:
    """A rate in °C/min: ``-6``, ``"-6 °C/min"``, ``"-0.1 °C/s"``, ``"-10 F/min"`` (5/9 only)."""
    number, seconds = _rate(value)
    return number if seconds is None else number * 60.0 / seconds


def parse_rate_c_per_s(value: object) -> float:
    """A rate in °C/s: ``-0.1``, ``"-0.1 °C/s"``, ``"-6 °C/min"``."""
    number, seconds = _rate(value)
    return number if seconds is None else number / seconds
