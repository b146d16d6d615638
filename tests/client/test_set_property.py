"""Property: ``set()`` accepts exactly the values the device model admits.

The oracle below restates the rules of protocol §4.3 independently of iotcs_hw.client.values.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iotcs_hw.client import DeviceModel, VirtualDevice
from iotcs_hw.messaging import RecordingSink

TYPES = ["NUMBER", "INTEGER", "STRING", "BOOLEAN", "DATETIME"]


@st.composite
def attribute_specs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(TYPES))
    spec: dict[str, Any] = {"name": "a", "type": kind}
    if kind in ("NUMBER", "INTEGER") and draw(st.booleans()):
        low = draw(st.integers(-1000, 1000))
        high = draw(st.integers(low, 1000))
        spec["range"] = f"{low},{high}"
    return spec


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(-1e12, 1e12),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.0, 3.0]),
    st.text(max_size=5),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.lists(st.integers(), max_size=2),
)


def admitted(spec: dict[str, Any], value: Any) -> bool:
    kind = spec["type"]
    if value is None:
        return False
    if kind == "BOOLEAN":
        return type(value) is bool
    if kind == "STRING":
        return type(value) is str
    if kind == "DATETIME":
        if isinstance(value, dt.datetime):
            return True
        return type(value) in (int, float) and math.isfinite(value) and float(value).is_integer()
    if type(value) not in (int, float) or not math.isfinite(value):
        return False
    if kind == "INTEGER" and not float(value).is_integer():
        return False
    if "range" in spec:
        low, high = (float(x) for x in spec["range"].split(","))
        return low <= value <= high
    return True


@settings(max_examples=2000, deadline=None)
@given(spec=attribute_specs(), value=values)
def test_set_accepts_exactly_what_the_model_admits(spec: dict[str, Any], value: Any) -> None:
    model = DeviceModel.fromJson({"urn": "urn:p", "name": "p", "attributes": [spec]})
    sink = RecordingSink()
    vd = VirtualDevice("EP", model, sink=sink)
    expected = admitted(spec, value)
    try:
        vd.set("a", value)
        accepted = True
    except ValueError as exc:
        accepted = False
        assert "a: " in str(exc)  # the message names the attribute
    assert accepted == expected, (spec, value)
    assert len(sink.sent) == (1 if expected else 0)
    if expected and spec["type"] in ("NUMBER", "INTEGER"):
        assert sink.sent[0].payload["data"]["a"] == value
