"""Every driver name this half registers: it resolves, simulates with defaults, and keeps the
Sensor/Actuator contract (keys = quantities, safe state applied, close idempotent)."""

from __future__ import annotations

import math

import pytest

from drivers import Actuator, Sensor, driver_class
from drivers.base import EdgeSensor
from drivers.gpio.catalog import DRIVERS as GPIO_DRIVERS
from drivers.onewire.catalog import DRIVERS as ONEWIRE_DRIVERS
from drivers.sim.environment import PRESETS, Environment
from drivers.sim.pins import mock_factory

NAMES = sorted({**GPIO_DRIVERS, **ONEWIRE_DRIVERS})
EDGE = {
    "digital_input",
    "button",
    "motion_sensor",
    "line_sensor",
    "light_sensor",
    "hcsr04",
    "distance_sensor",
}

pytestmark = pytest.mark.filterwarnings("ignore::gpiozero.exc.PWMSoftwareFallback")


def test_catalogs_list_what_the_issue_asks_for() -> None:
    for name in [
        "digital_input",
        "button",
        "motion_sensor",
        "line_sensor",
        "light_sensor",
        "hcsr04",
        "mcp3008",
        "cpu_temperature",
        "digital_output",
        "relay",
        "led",
        "pwm_led",
        "buzzer",
        "servo",
        "angular_servo",
        "motor",
        "ds18b20",
    ]:
        assert name in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_driver_contract_over_simulation(name: str) -> None:
    cls = driver_class(name)
    assert name in (cls.NAME, "distance_sensor")
    # as the runtime does: every drivers.gpio driver gets the shared pin factory
    gpio_family = cls.__module__.startswith("drivers.gpio.")
    options = {"pin_factory": mock_factory()} if gpio_family else {}
    device = cls.simulated(physics=Environment(seed=1), **options)
    try:
        assert device.describe()
        assert isinstance(device, EdgeSensor) == (name in EDGE)
        if isinstance(device, Sensor):
            reading = device.read()
            assert set(reading) == set(device.quantities)
            for key, value in reading.items():
                assert isinstance(value, device.quantities[key].kind)
                assert not (isinstance(value, float) and math.isnan(value))
        else:
            assert isinstance(device, Actuator)
            safe = device.safe_state
            assert device.make_safe() == safe
            assert device.state == safe
    finally:
        device.close()
        device.close()
    assert device.closed


def test_presets_are_named_effect_tables() -> None:
    env = Environment()
    for name, effects in PRESETS.items():
        env.couple(name, *effects)
        env.actuate(name, True)
    env.advance(60)
    assert env.get("current") == pytest.approx(0.1 + 0.3 + 4.0 + 0.8 + 1.5)
