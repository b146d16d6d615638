"""Checks that a value fits an attribute of the device model before it is sent or applied.

The runtime checks twice: a sensor value that the attribute cannot hold (NaN, infinity, outside
``range``, wrong type) is reported and not sent, and a cloud write that an actuator cannot take
is refused before the driver is touched.  The rules are those of protocol §4.3: INTEGER must be
whole, NUMBER/INTEGER within ``range``, BOOLEAN a bool, STRING a str.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

AttributeType = Literal["NUMBER", "INTEGER", "BOOLEAN", "STRING", "DATETIME", "URI"]


@dataclass(frozen=True)
class ValueCheck:
    """What one attribute accepts: its type and optional inclusive range.

    >>> ValueCheck("temperature", "NUMBER", -40, 85).problem(float("nan"))
    'temperature: NaN is not a number the attribute can hold'
    """

    attribute: str
    type: AttributeType = "NUMBER"
    low: float | None = None
    high: float | None = None

    def problem(self, value: object) -> str | None:
        """Why ``value`` does not fit, or ``None`` when it does."""
        name = self.attribute
        if self.type in ("NUMBER", "INTEGER"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{name}: {value!r} is not a number"
            if isinstance(value, float) and math.isnan(value):
                return f"{name}: NaN is not a number the attribute can hold"
            if isinstance(value, float) and math.isinf(value):
                return f"{name}: {value} is not a finite number"
            if self.type == "INTEGER" and not float(value).is_integer():
                return f"{name}: {value!r} is not a whole number (attribute type INTEGER)"
            if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high
            ):
                return f"{name}: {value!r} is outside the range {_fmt(self.low)}..{_fmt(self.high)}"
            return None
        if self.type == "BOOLEAN":
            return None if isinstance(value, bool) else f"{name}: {value!r} is not a boolean"
        if self.type in ("STRING", "URI"):
            return None if isinstance(value, str) else f"{name}: {value!r} is not a string"
        if self.type == "DATETIME":
            ok = isinstance(value, int) and not isinstance(value, bool)
            return None if ok else f"{name}: {value!r} is not epoch milliseconds"
        return None

    def coerce(self, value: object) -> object:
        """The wire form of an accepted value: whole numbers as ``int`` for INTEGER."""
        if self.type == "INTEGER" and isinstance(value, float):
            return int(value)
        return value


def _fmt(bound: float | None) -> str:
    if bound is None:
        return "(none)"
    return f"{bound:g}"
