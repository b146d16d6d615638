"""A closed loop on simulated I2C hardware: an actuator chip changes what a sensor chip reads.

The fan sits on a PCA9685 channel and the heater on a PCF8574 line; the environment model
(``drivers.sim.environment``) watches their ``state``; a BME280 and an INA219 on the same
simulated bus read the room through their register-level models.
"""

from __future__ import annotations

import pytest

from drivers.i2c.bme280 import BME280
from drivers.i2c.ina219 import INA219
from drivers.i2c.pca9685 import PCA9685Channel
from drivers.i2c.pcf8574 import PCF8574Output
from drivers.sim.chips.clock import VirtualClock
from drivers.sim.environment import FAN, HEATER, Environment, state_level
from drivers.sim.smbus import SimSMBus


def test_heater_warms_and_fan_cools_what_the_bme280_reads() -> None:
    env = Environment(seed=3, start_hour=0.0)
    bus = SimSMBus(1, clock=VirtualClock())
    sensor = BME280.simulated(physics=env, bus=bus)
    meter = INA219.simulated(physics=env, bus=bus, address=0x41, shunt_ohms=0.05, max_current=6)
    fan = PCA9685Channel.simulated(physics=env, bus=bus, channel=0, frequency=1000)
    heater = PCF8574Output.simulated(physics=env, bus=bus, line=0, active_high=False)
    heater.make_safe()
    env.couple("fan", *FAN, level=state_level(fan))
    env.couple("heater", *HEATER, level=lambda: heater.state)

    start = sensor.read()["temperature"]
    heater.apply(True)
    env.advance(3600)
    bus.clock.sleep(0.01)  # let the INA219 convert again
    warm = sensor.read()["temperature"]
    assert warm > start + 2.0
    assert meter.read()["current"] == pytest.approx(env.get("current"), abs=0.001)

    heater.apply(False)
    fan.apply(1.0)
    env.advance(3600)
    cooled = sensor.read()["temperature"]
    assert cooled < warm - 1.0
    assert sensor.read()["temperature"] == pytest.approx(env.get("temperature"), abs=0.01)
