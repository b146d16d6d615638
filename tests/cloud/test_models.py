"""The model registry and value checks (pure code: examples and properties)."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iotcs_hw.client import Range
from iotcs_hw.cloud.models import (
    ModelRegistry,
    WriteRejected,
    check_attribute_write,
    check_reported_data,
    check_value,
    parse_datetime,
    parse_model,
)
from iotcs_hw.errors import ConfigError, DeviceModelError

from .conftest import MODELS_DIR, THERMOSTAT


def test_directory_loads_models_and_skips_other_json() -> None:
    registry = ModelRegistry.from_directory(MODELS_DIR)
    assert registry.urns() == ["urn:test:iotcs-hw:thermostat", "urn:test:m"]
    model = registry.get(THERMOSTAT)
    assert model is not None
    assert model.attribute("sp") is model.attribute("setpoint")
    assert registry.get("urn:oracle:iot:dcd:capability:diagnostics") is not None
    assert registry.get("urn:nope") is None


def test_malformed_model_file_is_named(tmp_path: Path) -> None:
    doc = {"urn": "urn:x", "name": "x", "attributes": [{"name": "a"}]}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(DeviceModelError, match=r"bad\.json: .*attributes\[0\] \(a\): type None"):
        ModelRegistry.from_directory(tmp_path)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DeviceModelError, match=r"bad\.json: not readable JSON"):
        ModelRegistry.from_directory(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        ModelRegistry.from_directory(tmp_path / "missing")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"name": "x"}, "'urn' is required"),
        ({"urn": "urn:x"}, "'name' is required"),
        ({"urn": "urn:x", "name": "x", "attributes": {}}, "'attributes' must be an array"),
        (
            {
                "urn": "urn:x",
                "name": "x",
                "attributes": [{"name": "a", "type": "STRING", "range": "1,2"}],
            },
            "range is only allowed on NUMBER or INTEGER",
        ),
        (
            {
                "urn": "urn:x",
                "name": "x",
                "attributes": [{"name": "a", "type": "NUMBER", "range": "5,1"}],
            },
            "range '5,1' needs finite low <= high",
        ),
        (
            {"urn": "urn:x", "name": "x", "attributes": [{"name": "a", "type": "NUMBER"}] * 2},
            "duplicate attribute name or alias 'a'",
        ),
        (
            {"urn": "urn:x", "name": "x", "actions": [{"name": "go", "argType": "BLOB"}]},
            "argType 'BLOB'",
        ),
    ],
)
def test_model_errors_name_the_field(doc: dict[str, object], message: str) -> None:
    with pytest.raises(DeviceModelError, match=r"m\.json") as info:
        parse_model(doc, "m.json")
    assert message in str(info.value)


def test_datetime_forms() -> None:
    assert parse_datetime("1970-01-01T00:00:00.000Z", "t") == 0
    assert parse_datetime("2026-11-28T12:00:00+01:00", "t") == 1_795_863_600_000
    assert parse_datetime(1_795_863_600_000, "t") == 1_795_863_600_000
    for bad in (True, "soon", None, float("nan")):
        with pytest.raises(WriteRejected, match="is not a DATETIME"):
            parse_datetime(bad, "t")


@given(st.datetimes(timezones=st.just(datetime.UTC)))
def test_iso_datetime_round_trips_to_epoch_ms(when: datetime.datetime) -> None:
    expected = int(when.timestamp() * 1000)
    assert parse_datetime(when.isoformat(), "t") == expected
    assert parse_datetime(when.isoformat().replace("+00:00", "Z"), "t") == expected


@given(
    low=st.integers(-1000, 1000),
    span=st.integers(0, 1000),
    value=st.one_of(st.integers(-3000, 3000), st.floats(-3000, 3000, allow_nan=False)),
)
def test_range_check_accepts_exactly_the_inclusive_range(low: int, span: int, value: float) -> None:
    high = low + span
    inside = low <= value <= high
    if inside:
        assert check_value("NUMBER", value, "a", Range(low, high)) == value
    else:
        with pytest.raises(WriteRejected, match="outside the range"):
            check_value("NUMBER", value, "a", Range(low, high))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_integer_accepts_only_whole_finite_numbers(value: float) -> None:
    if math.isfinite(value) and value == int(value):
        assert check_value("INTEGER", value, "a") == int(value)
    else:
        with pytest.raises(WriteRejected):
            check_value("INTEGER", value, "a")


def test_booleans_are_not_numbers_and_numbers_not_booleans() -> None:
    with pytest.raises(WriteRejected, match="True is not a NUMBER"):
        check_value("NUMBER", True, "a")
    with pytest.raises(WriteRejected, match="0 is not a BOOLEAN"):
        check_value("BOOLEAN", 0, "a")


def test_reported_data_is_lenient_where_clients_differ() -> None:
    model = ModelRegistry.from_directory(MODELS_DIR).get(THERMOSTAT)
    assert model is not None
    # Java sends integral NUMBERs as integers; JS sends DATETIME as ISO text; ranges are ignored.
    got = check_reported_data(
        model, {"setpoint": 22, "fanLevel": 3.0, "holidayUntil": "1970-01-01T00:00:01Z", "sp": 99}
    )
    assert got == {"setpoint": 22, "fanLevel": 3, "holidayUntil": 1000, "sp": 99}
    with pytest.raises(WriteRejected, match="unknown attribute 'x'"):
        check_reported_data(model, {"x": 1})


def test_text_values_follow_the_attribute_type() -> None:
    model = ModelRegistry.from_directory(MODELS_DIR).get(THERMOSTAT)
    assert model is not None
    got = check_attribute_write(
        model,
        {"setpoint": "21", "enabled": "off", "fanLevel": "4", "mode": "42", "holidayUntil": "0"},
        from_text=True,
    )
    assert got == {
        "setpoint": 21.0,
        "enabled": False,
        "fanLevel": 4,
        "mode": "42",
        "holidayUntil": 0,
    }
