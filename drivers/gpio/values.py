"""Checks for the values actuators accept; each error names the value and the valid range."""

from __future__ import annotations

import math

from drivers.base import ReadingValue
from drivers.errors import DriverConfigError


def on_off(where: str, value: ReadingValue) -> bool:
    """``True``/``False``, or exactly 1/0; anything else is a :class:`DriverConfigError`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise DriverConfigError(f"{where}: {value!r} is not a valid state; expected true/false or 1/0")


def number_in(where: str, value: ReadingValue, low: float, high: float) -> float:
    """``value`` as a float in ``low..high``; booleans, NaN and out-of-range values are errors."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DriverConfigError(f"{where}: {value!r} is not a number; expected {low:g}..{high:g}")
    number = float(value)
    if math.isnan(number) or not low <= number <= high:
        raise DriverConfigError(f"{where}: {value!r} is out of range; expected {low:g}..{high:g}")
    return number
