"""DeviceModel parsing: what Oracle's parser requires, and clear errors for the rest."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcs_hw.client import DataType, DeviceModel, FormatType
from iotcs_hw.errors import DeviceModelError

from .conftest import MODEL_JSON, URN


def test_seed_accessors_and_parts(model: DeviceModel) -> None:
    assert model.getURN() == URN
    assert model.getName() == "Greenhouse"
    assert model.getDescription() == "A test greenhouse"
    attrs = model.getDeviceModelAttributes()
    assert list(attrs) == [a["name"] for a in MODEL_JSON["attributes"]]
    temperature = attrs["temperature"]
    assert temperature.getType() is DataType.NUMBER
    assert (temperature.getLowerBound(), temperature.getUpperBound()) == (-40, 85)
    assert temperature.getAlias() == "temp"
    assert not temperature.isWritable()
    assert attrs["fan"].isWritable()
    assert attrs["humidity"].getDefaultValue() == 50
    assert model.attribute("temp") is temperature
    assert model.action("flash") is model.getDeviceModelActions()["blink"]
    fmt = model.format(URN + ":too_hot")
    assert fmt is not None
    assert fmt.getType() is FormatType.ALERT
    assert [f.name for f in fmt.getFields()] == ["temperature", "note"]
    assert model.attributes_format == URN + ":attributes"
    assert not model.isDraft()


def test_accessors_return_copies(model: DeviceModel) -> None:
    model.getDeviceModelAttributes().clear()
    assert model.getDeviceModelAttributes()


def _broken(path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(MODEL_JSON)
    target: Any = obj
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return obj


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("urn", _DELETE, "'urn' is required"),
        ("urn", "greenhouse", "'urn' 'greenhouse' must start with 'urn:'"),
        ("name", "", "'name' is required"),
        ("attributes", {}, "'attributes' must be an array"),
        ("attributes.0.type", "FLOAT", "attributes[0] (temperature): type 'FLOAT' is not one of"),
        ("attributes.0.range", "1;2", "range '1;2' is not 'low,high'"),
        ("attributes.0.range", "5,1", "needs finite low <= high"),
        ("attributes.2.range", "0,1", "range is only allowed on NUMBER or INTEGER, not STRING"),
        ("attributes.1.defaultValue", 101, "defaultValue: humidity: 101 is outside the range"),
        ("attributes.1.defaultValue", 1.5, "not a whole number"),
        ("attributes.3.writable", "yes", "'writable' must be true or false"),
        ("attributes.1.name", "temperature", "duplicate attribute name or alias 'temperature'"),
        ("attributes.1.alias", "temp", "duplicate attribute name or alias 'temp'"),
        ("formats.0.type", "EVENT", "type 'EVENT' is not ALERT or DATA"),
        ("formats.0.value", {}, "needs 'value'"),
        ("formats.0.value.fields.0.name", None, "'name' is required"),
        ("actions.1.argType", "BLOB", "argType 'BLOB' is not one of"),
    ],
)
def test_malformed_models_name_the_element_and_rule(path: str, value: Any, message: str) -> None:
    with pytest.raises(DeviceModelError) as info:
        DeviceModel.fromJson(_broken(path, value))
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_from_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"urn": ')
    with pytest.raises(DeviceModelError, match=r"broken\.json: not valid JSON"):
        DeviceModel.fromFile(path)
    path.write_text(json.dumps({"urn": "urn:u"}))
    with pytest.raises(DeviceModelError, match=r"broken\.json: device model urn:u: 'name'"):
        DeviceModel.fromFile(path)
    with pytest.raises(DeviceModelError, match="cannot read"):
        DeviceModel.fromFile(tmp_path / "missing.json")


def test_round_trip_through_text(model: DeviceModel) -> None:
    assert DeviceModel.fromText(json.dumps(MODEL_JSON)) == model


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(path_index=st.integers(min_value=0, max_value=40), replacement=json_values)
def test_any_mutation_is_parsed_or_refused_with_device_model_error(
    path_index: int, replacement: object
) -> None:
    """Whatever is put anywhere in a model, the parser answers a model or DeviceModelError."""
    obj = copy.deepcopy(MODEL_JSON)
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in node:
                slots.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for i in range(len(node)):
                slots.append((node, i))
                walk(node[i])

    walk(obj)
    container, key = slots[path_index % len(slots)]
    container[key] = replacement
    with contextlib.suppress(DeviceModelError):
        DeviceModel.fromJson(obj)
