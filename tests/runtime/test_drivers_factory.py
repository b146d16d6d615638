"""Driver factories: simulated drivers share pins and buses as real hardware does."""

from __future__ import annotations

import pytest

from drivers.errors import DriverConfigError
from drivers.sim import pins
from drivers.sim.physics import FixedValues
from iotcs_hw.runtime.drivers_factory import (
    DeferredSensor,
    SimulatedDrivers,
    build_actuator,
    build_sensor,
)


def test_simulated_drivers_share_one_pin_factory_and_one_bus_per_number() -> None:
    physics = FixedValues(temperature=31.5)
    factory = SimulatedDrivers(physics)
    climate = build_sensor(factory, "bme280", {"address": 0x76})
    probe = build_sensor(factory, "mcp9808", {"address": 0x18})
    assert climate.read()["temperature"] == pytest.approx(31.5, abs=0.01)
    assert probe.read()["temperature"] == pytest.approx(31.5, abs=0.0625)
    assert sorted(factory.bus(1).addresses) == [0x18, 0x76]
    fan = build_actuator(factory, "relay", {"pin": 17})
    fan.apply(True)
    assert pins.pin_state(factory.pin_factory, 17) in (True, 1)
    with pytest.raises(DriverConfigError, match="GPIO17"):
        build_actuator(factory, "led", {"pin": 17})  # pin in use, as on a Pi
    with pytest.raises(DriverConfigError, match="not an actuator"):
        build_actuator(factory, "bme280", {"address": 0x77})


def test_missing_chip_gives_a_deferred_sensor_that_appears_later() -> None:
    factory = SimulatedDrivers(FixedValues())
    bus = factory.bus(1)
    attempts: list[int] = []

    class Flaky:
        def create(self, driver, options):
            attempts.append(1)
            if len(attempts) == 1:
                from drivers.errors import DeviceNotFound

                raise DeviceNotFound("no ACK", bus=1, address=0x76)
            return factory.create(driver, options)

    sensor = build_sensor(Flaky(), "bme280", {"address": 0x76})
    assert isinstance(sensor, DeferredSensor)
    assert sensor.describe() == "bme280 (not found yet)"
    assert "temperature" in sensor.read()
    assert sensor.describe() == "bme280 on bus 1, address 0x76"
    assert bus.chip_at(0x76) is not None
    sensor.close()
    assert sensor.closed
