"""The mock-pin helpers and SimPinFactory themselves (fakes get their own tests)."""

from __future__ import annotations

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from drivers.errors import DriverConfigError
from drivers.gpio.adc import Mcp3008
from drivers.gpio.light_sensor import LightSensor
from drivers.gpio.pwm_outputs import Servo
from drivers.sim.mcp3xxx import chip_on
from drivers.sim.physics import FixedValues
from drivers.sim.pins import (
    LightChargingPin,
    clear_history,
    drive_high,
    drive_low,
    ensure_pin,
    mock_factory,
    pin,
    pin_history,
    pin_state,
)


def test_stock_mock_factory_cannot_hold_pwm_and_charging_pins() -> None:
    stock = MockFactory(pin_class=MockPWMPin)
    stock.pin("GPIO18", pin_class=LightChargingPin, physics=FixedValues())
    with pytest.raises(ValueError, match="already in use as a LightChargingPin"):
        gpiozero.LightSensor("GPIO18", pin_factory=stock)


def test_sim_factory_holds_both(factory: MockFactory) -> None:
    with (
        Servo.simulated(pin_factory=factory, pin=12) as servo,
        LightSensor.simulated(pin_factory=factory, pin=18, queue_len=1) as ldr,
    ):
        assert isinstance(pin(factory, 12), MockPWMPin)
        assert isinstance(pin(factory, 18), LightChargingPin)
        servo.apply(0.5)
        assert ldr.read()["light_detected"] is True


def test_ensure_pin_refuses_the_wrong_kind(factory: MockFactory) -> None:
    ensure_pin(factory, "GPIO12", MockPin)
    with pytest.raises(DriverConfigError, match=r"already exists as MockPin; .* needs LightCh"):
        ensure_pin(factory, 12, LightChargingPin, physics=FixedValues())
    with pytest.raises(
        DriverConfigError, match=r"already in use as a MockPin; this device needs MockPWMPin"
    ):
        ensure_pin(factory, 12, MockPWMPin)


def test_drive_and_history_helpers(factory: MockFactory) -> None:
    with pytest.raises(KeyError, match="no mock pin 'GPIO4' has been created"):
        pin(factory, "GPIO4")
    ensure_pin(factory, "GPIO4", MockPin)
    drive_high(factory, "BOARD7")
    drive_low(factory, 4)
    drive_high(factory, "J8:7")
    assert pin_history(factory, 4) == [False, True, False, True]
    clear_history(factory, 4)
    assert pin_history(factory, 4) == [True]
    assert pin_state(factory, 4) is True
    with gpiozero.LED(4, pin_factory=factory), pytest.raises(AssertionError, match="output"):
        drive_high(factory, 4)


def test_software_spi_keeps_to_the_injected_factory(factory: MockFactory) -> None:
    """gpiozero 2.0.1's SPISoftwareBus resolves the global default factory; ours does not,
    and two factories do not share one bus."""
    other = mock_factory()
    chip_on(factory, "mcp3008").set_voltage(0, 1.0)
    chip_on(other, "mcp3008").set_voltage(0, 2.0)
    with Mcp3008(pin_factory=factory) as first, Mcp3008(pin_factory=other) as second:
        assert first.read()["voltage"] == pytest.approx(1.0, abs=0.004)
        assert second.read()["voltage"] == pytest.approx(2.0, abs=0.004)
    assert gpiozero.Device.pin_factory is None
