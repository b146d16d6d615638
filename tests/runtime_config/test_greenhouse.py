"""The shipped greenhouse files: they pass, and every driver they name accepts what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers import registry
from drivers.base import Actuator, Sensor
from drivers.sim.physics import FixedValues
from iotcs_hw.client.device_model import DataType, DeviceModel, FormatType
from iotcs_hw.runtime.config import ModelFile, check_file
from iotcs_hw.runtime.config import model as m

MODELS_DIR = Path(__file__).resolve().parents[2] / "device_models"


@pytest.fixture(scope="module")
def greenhouse() -> ModelFile:
    return check_file(MODELS_DIR / "greenhouse.yaml")


def test_the_device_model_has_what_the_issue_lists() -> None:
    model = DeviceModel.fromFile(MODELS_DIR / "greenhouse.json")
    attrs = model.getDeviceModelAttributes()
    read_only = {"temperature", "humidity", "pressure", "light", "soil_moisture"}
    assert {n for n, a in attrs.items() if not a.writable} == read_only
    assert all(attrs[n].type is DataType.NUMBER and attrs[n].range for n in read_only)
    assert (attrs["fan"].type, attrs["pump"].type) == (DataType.BOOLEAN, DataType.BOOLEAN)
    assert (attrs["grow_light"].range.low, attrs["grow_light"].range.high) == (0, 100)  # type: ignore[union-attr]
    assert attrs["vent"].type is DataType.NUMBER
    (alert,) = model.getDeviceModelFormats().values()
    assert alert.type is FormatType.ALERT


def test_the_model_file_binds_every_attribute(greenhouse: ModelFile) -> None:
    (device,) = greenhouse.devices
    bound = {r.attribute for s in device.sensors for r in s.readings}
    bound |= {a.attribute for a in device.actuators}
    model = DeviceModel.fromFile(MODELS_DIR / "greenhouse.json")
    assert bound == set(model.getDeviceModelAttributes())
    assert [s.driver for s in device.sensors] == ["bme280", "bh1750", "ads1115"]
    assert [a.driver for a in device.actuators] == ["relay", "relay", "pwm_led", "angular_servo"]
    assert device.alerts[0].condition == m.AlertCondition(
        "temperature", "above", 35.0, 2.0, 30.0, device.alerts[0].condition.pos
    )


def test_every_driver_builds_simulated_with_the_parsed_options(greenhouse: ModelFile) -> None:
    physics = FixedValues(soil_moisture=55.0)
    for sensor in greenhouse.sensors:
        driver = registry.driver_class(sensor.driver).simulated(physics=physics, **sensor.options)
        with driver:
            assert isinstance(driver, Sensor)
            reading = driver.read()
            assert {b.reading for b in sensor.readings} <= set(reading), sensor.name
    soil = next(s for s in greenhouse.sensors if s.name == "soil")
    with registry.driver_class("ads1115").simulated(physics=physics, **soil.options) as adc:
        assert adc.read()["soil_moisture"] == pytest.approx(55.0, abs=0.5)  # type: ignore[attr-defined]


def test_every_actuator_takes_its_safe_state_through_its_scale(greenhouse: ModelFile) -> None:
    for config in greenhouse.actuators:
        driver = registry.driver_class(config.driver).simulated(**config.options)
        with driver:
            assert isinstance(driver, Actuator)
            value = config.safe_state
            assert value is not None
            if config.scale is not None:
                value = config.scale.forward(float(value))
            assert driver.apply(value) == value


def test_grow_light_scale_maps_percent_to_duty(greenhouse: ModelFile) -> None:
    light = next(a for a in greenhouse.actuators if a.name == "grow_light")
    assert light.scale is not None
    assert light.scale.forward(50) == 0.5
    assert light.scale.inverse(0.25) == 25.0


def test_the_gateway_example_is_a_gateway_of_two() -> None:
    gateway = check_file(MODELS_DIR / "greenhouse-gateway.yaml")
    assert gateway.is_gateway
    assert [(d.id, d.hardware_id) for d in gateway.devices] == [
        ("north", "greenhouse-north"),
        ("south", "greenhouse-south"),
    ]
    assert gateway.devices[1].metadata["serialNumber"] == "S-0002"
    assert [s.options["address"] for s in gateway.sensors] == [0x76, 0x77]


def test_filter_tables_agree() -> None:
    from iotcs_hw.runtime.config.filter_schema import FILTER_CLASSES, FILTERS

    assert set(FILTER_CLASSES) == set(FILTERS)
    assert set(FILTER_CLASSES.values()) == set(m.FilterSpec.__args__)  # type: ignore[attr-defined]
