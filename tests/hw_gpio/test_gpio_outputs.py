"""Every GPIO output kind through MockFactory, with complete pin histories."""

from __future__ import annotations

import math

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from drivers import create
from drivers.errors import DriverConfigError
from drivers.gpio.digital_outputs import Buzzer, DigitalOutput, Led, Relay
from drivers.gpio.motor import Motor
from drivers.gpio.pwm_outputs import AngularServo, PwmLed, Servo
from drivers.sim.pins import ensure_pin, pin_history, pin_state


@pytest.mark.parametrize("cls", [DigitalOutput, Led, Buzzer])
def test_on_off_output_active_high_history(factory: MockFactory, cls: type[DigitalOutput]) -> None:
    with cls("GPIO17", pin_factory=factory) as out:
        assert out.state is False
        assert out.apply(True) is True
        assert out.apply(1) is True
        assert out.apply(False) is False
        assert out.state is False
    # Input at creation (low), output off (low), on, off; close leaves it off.
    assert pin_history(factory, "GPIO17") == [False, True, False]


def test_relay_active_low_drives_pin_low_for_on(factory: MockFactory) -> None:
    with Relay("BOARD11", active_high=False, pin_factory=factory) as relay:
        assert pin_state(factory, 17) is True  # off = high on an active-low board
        assert relay.apply(True) is True
        assert pin_state(factory, 17) is False
        relay.apply(False)
    assert pin_history(factory, "J8:11") == [False, True, False, True]


def test_relay_requires_active_high(factory: MockFactory) -> None:
    with pytest.raises(DriverConfigError, match="relay on pin 'GPIO17': say active_high: true"):
        Relay("GPIO17", pin_factory=factory)
    with pytest.raises(KeyError):
        pin_state(factory, 17)  # nothing was opened


@pytest.mark.parametrize("bad", [2, -1, 0.5, "on", None, math.nan])
def test_on_off_rejects_bad_values_keeps_state(factory: MockFactory, bad: object) -> None:
    with Led(5, pin_factory=factory) as led:
        led.apply(True)
        with pytest.raises(DriverConfigError, match=r"led on GPIO5: .* expected true/false or 1/0"):
            led.apply(bad)  # type: ignore[arg-type]
        assert led.state is True
    assert pin_history(factory, 5) == [False, True, False]


def test_close_applies_safe_state_and_is_idempotent(factory: MockFactory) -> None:
    out = DigitalOutput("GPIO6", pin_factory=factory)
    out.apply(True)
    out.close()
    out.close()
    assert out.closed
    assert pin_history(factory, 6) == [False, True, False]
    with pytest.raises(RuntimeError, match="closed"):
        out.apply(True)
    assert "closed" in repr(out)


def test_pwm_led_levels_and_range(factory: MockFactory) -> None:
    ensure_pin(factory, "GPIO18", MockPWMPin)
    with PwmLed("GPIO18", pin_factory=factory) as led:
        assert led.apply(0.25) == 0.25
        assert led.apply(1) == 1.0
        with pytest.raises(DriverConfigError, match=r"1\.5 is out of range; expected 0\.\.1"):
            led.apply(1.5)
        with pytest.raises(DriverConfigError, match="not a number"):
            led.apply(True)
        assert led.state == 1.0
        assert led.make_safe() == 0.0
    # The first change (False -> 0.0) is no change: the history starts at the initial level.
    assert pin_history(factory, 18) == [False, 0.25, 1.0, 0.0]


def test_pwm_led_on_plain_pin_says_pwm_needed(factory: MockFactory) -> None:
    with pytest.raises(DriverConfigError, match="cannot do PWM on that pin"):
        PwmLed("GPIO18", pin_factory=factory)


def test_servo_duty_cycles(factory: MockFactory) -> None:
    with Servo.simulated(pin_factory=factory, pin="GPIO12", safe_value=-1) as servo:
        assert servo.state == -1.0
        assert servo.apply(0) == 0.0
        assert servo.apply(1) == 1.0
        with pytest.raises(DriverConfigError, match=r"servo on GPIO12: -1\.01 is out of range"):
            servo.apply(-1.01)
        assert servo.state == 1.0
    history = pin_history(factory, 12)
    # min pulse 1 ms / 20 ms, middle 1.5 ms, max 2 ms; close goes safe (min) then off.
    assert history == pytest.approx([False, 0.05, 0.075, 0.1, 0.05, 0.0])


def test_angular_servo_degrees_and_reversed_range(factory: MockFactory) -> None:
    with AngularServo.simulated(pin_factory=factory, min_angle=180, max_angle=0) as vent:
        assert vent.safe_state == 90.0
        assert vent.apply(180) == 180.0
        assert vent.apply(0) == 0.0
        with pytest.raises(DriverConfigError, match=r"200 is out of range; expected 0\.\.180"):
            vent.apply(200)
    assert pin_history(factory, 13) == pytest.approx([False, 0.075, 0.05, 0.1, 0.075, 0.0])


def test_servo_bad_pulse_widths() -> None:
    with pytest.raises(DriverConfigError, match="min_pulse_width < max_pulse_width"):
        Servo.simulated(min_pulse_width=0.002, max_pulse_width=0.001)


def test_motor_directions_history(factory: MockFactory) -> None:
    with Motor.simulated(pin_factory=factory, forward=20, backward=21, enable=16) as motor:
        assert motor.apply(0.5) == 0.5
        assert motor.apply(-1) == -1.0
        with pytest.raises(DriverConfigError, match=r"motor on forward GPIO20, .*: 1\.2"):
            motor.apply(1.2)
        assert motor.state == -1.0
        assert pin_state(factory, 16) is True
    assert pin_history(factory, 20) == [False, 0.5, 0.0]
    assert pin_history(factory, 21) == [False, 1.0, 0.0]
    assert pin_history(factory, 16) == [False, True, False]


def test_motor_without_pwm_only_full_speeds(factory: MockFactory) -> None:
    with Motor(20, 21, pwm=False, pin_factory=factory) as motor:
        assert motor.apply(1) == 1.0
        with pytest.raises(DriverConfigError, match="valid speeds are -1, 0, 1"):
            motor.apply(0.5)
        assert motor.state == 1.0
    assert pin_history(factory, 20) == [False, True, False]


def test_created_by_registry_name(factory: MockFactory) -> None:
    with create("relay", pin="GPIO22", active_high=True, pin_factory=factory) as relay:
        assert relay.describe() == "relay on GPIO22"
        assert repr(relay) == "<Relay GPIO22 state=False>"
