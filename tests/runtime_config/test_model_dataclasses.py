"""The parsed-config dataclasses: frozen, with the conveniences the runtime relies on."""

from __future__ import annotations

import dataclasses

import pytest

from iotcs_hw.runtime.config.model import (
    ActuatorConfig,
    DeviceConfig,
    ModelFile,
    ReadingBinding,
    SensorConfig,
    SourcePos,
    StoreConfig,
)


def _file(n_devices: int) -> ModelFile:
    devices = tuple(
        DeviceConfig(
            id=f"d{i}",
            models=("urn:x",),
            sensors=(SensorConfig("s", "bme280", f"d{i}", 30.0, (ReadingBinding("t", "temp"),)),),
            actuators=(ActuatorConfig("fan", "relay", f"d{i}", "fan"),),
        )
        for i in range(n_devices)
    )
    return ModelFile(path="x.yaml", store=StoreConfig("/tmp/x"), devices=devices)


def test_one_device_is_direct_several_make_a_gateway() -> None:
    assert not _file(1).is_gateway
    assert _file(2).is_gateway


def test_flattened_views_and_lookup() -> None:
    mf = _file(2)
    assert [s.device for s in mf.sensors] == ["d0", "d1"]
    assert [a.device for a in mf.actuators] == ["d0", "d1"]
    assert mf.device("d1").id == "d1"
    with pytest.raises(KeyError):
        mf.device("nope")


def test_frozen() -> None:
    mf = _file(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mf.path = "y"  # type: ignore[misc]


def test_source_pos_prints_like_a_compiler() -> None:
    assert str(SourcePos("a.yaml", 3, 7)) == "a.yaml:3:7"
