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

from iotcs_hw.client.device_model import DataType, Range
from iotcs_hw.client.values import validate_value

AttributeType = Literal["NUMBER", "INTEGER", "BOOLEAN", "STRING", "DATETIME", "URI"]


@dataclass(frozen=True)
class ValueCheck:
    """What one attribute accepts: its type and optional inclusive range.

    >>> ValueCheck("temperature", "NUMBER", -40, 85).problem(float("nan"))
    'temperature: nan is not a finite NUMBER'
    """

    attribute: str
    type: AttributeType = "NUMBER"
    low: float | None = None
    high: float | None = None

    def problem(self, value: object) -> str | None:
        """Why ``value`` does not fit, or ``None`` when it does.

        The rules are the client's own (:func:`iotcs_hw.client.values.validate_value`), so the
        runtime, the virtual device and the local server can never disagree on a value.
        """
        try:
            validate_value(self._spec, value)
        except ValueError as exc:
            return str(exc)
        return None

    def coerce(self, value: object) -> object:
        """The wire form of an accepted value: whole numbers as ``int`` for INTEGER."""
        if self.type == "INTEGER" and isinstance(value, float):
            return int(value)
        return value

    @property
    def _spec(self) -> _Spec:
        rng = None
        if self.low is not None or self.high is not None:
            low = -math.inf if self.low is None else self.low
            high = math.inf if self.high is None else self.high
            rng = Range(low, high)
        return _Spec(self.attribute, DataType(self.type), rng)


@dataclass(frozen=True)
class _Spec:
    name: str
    type: DataType
    range: Range | None
