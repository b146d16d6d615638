"""Validation and wire encoding of attribute, argument and field values (protocol §4.3, §3.3).

The rules, in one place:

=========  ==========================================  ===================================
type       accepted from the application               on the wire
=========  ==========================================  ===================================
NUMBER     int or float, finite, within the range      JSON number
INTEGER    int, or a float with no fraction; in range  JSON number (whole)
STRING     str of at most 65 536 UTF-8 bytes           JSON string
BOOLEAN    bool only (1 and 0 are not booleans)        JSON true/false
DATETIME   datetime, or epoch milliseconds (int)       epoch milliseconds
URI        ExternalObject/StorageObject or str          the URI text
=========  ==========================================  ===================================

From the wire (server requests, model defaults) DATETIME may also be an ISO-8601 string, as
Oracle's JS library sends it.  Every error names the attribute, the value and the rule.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Protocol

from iotcs_hw.client.device_model import DataType, Range
from iotcs_hw.client.external import ExternalObject

MAX_STRING_BYTES = 65_536


class Typed(Protocol):
    """Anything with a name, a data type and an optional range (attribute, field, argument)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> DataType: ...


def _range_of(spec: Typed) -> Range | None:
    return getattr(spec, "range", None)


def validate_value(spec: Typed, value: Any, *, from_wire: bool = False) -> Any:
    """Check ``value`` against ``spec`` and return it normalised.

    INTEGER floats become ints, epoch-ms DATETIMEs become aware UTC datetimes, URI text becomes
    an :class:`ExternalObject`.  Raises ``ValueError`` naming ``spec.name``, the value and the rule.
    """
    name, dtype = spec.name, spec.type
    if value is None:
        raise ValueError(f"{name}: value is None; a {dtype.value} is required")
    if dtype is DataType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"{name}: {value!r} is not a BOOLEAN (true or false)")
        return value
    if dtype.is_numeric:
        return _validate_number(name, dtype, _range_of(spec), value)
    if dtype is DataType.STRING:
        if not isinstance(value, str):
            raise ValueError(f"{name}: {value!r} is not a STRING")
        if len(value.encode("utf-8")) > MAX_STRING_BYTES:
            raise ValueError(f"{name}: string is longer than {MAX_STRING_BYTES} UTF-8 bytes")
        return value
    if dtype is DataType.DATETIME:
        return _validate_datetime(name, value, from_wire)
    # URI
    if isinstance(value, ExternalObject):
        return value
    if isinstance(value, str) and value:
        return ExternalObject(value)
    raise ValueError(f"{name}: {value!r} is not a URI (an ExternalObject or non-empty string)")


def _validate_number(name: str, dtype: DataType, rng: Range | None, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: {value!r} is not a {dtype.value}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name}: {value!r} is not a finite {dtype.value}")
    number: int | float = value
    if dtype is DataType.INTEGER and isinstance(number, float):
        if not number.is_integer():
            raise ValueError(f"{name}: {number!r} is not a whole number (INTEGER)")
        number = int(number)
    if rng is not None and number not in rng:
        raise ValueError(f"{name}: {number!r} is outside the range {rng}")
    return number


def _validate_datetime(name: str, value: Any, from_wire: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.astimezone()
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not a DATETIME")
    if isinstance(value, int | float) and math.isfinite(value):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{name}: {value!r} is not whole epoch milliseconds (DATETIME)")
        try:
            return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{name}: {value!r} is outside the DATETIME range") from None
    if from_wire and isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not an ISO-8601 DATETIME") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise ValueError(f"{name}: {value!r} is not a DATETIME (a datetime or epoch milliseconds)")


def encode_value(dtype: DataType, value: Any) -> Any:
    """The JSON form of an already validated value."""
    if dtype is DataType.DATETIME and isinstance(value, dt.datetime):
        return round(value.timestamp() * 1000)
    if dtype is DataType.URI and isinstance(value, ExternalObject):
        return value.getURI()
    return value
