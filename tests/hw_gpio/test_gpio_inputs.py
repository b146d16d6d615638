"""Every GPIO input kind through MockFactory: polled reads and pushed edges."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.base import EdgeSensor, Reading
from drivers.errors import DriverConfigError
from drivers.gpio.digital_inputs import Button, DigitalInput, LineSensor, MotionSensor
from drivers.sim.physics import FixedValues
from drivers.sim.pins import drive_high, drive_low

WAIT_S = 2.0


class Collector:
    """Records pushed readings and lets a test wait for the n-th one without sleeping."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.threads: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, reading: Reading) -> None:
        with self._changed:
            self.readings.append(reading)
            self.threads.append(threading.current_thread().name)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT_S) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.readings) >= count, timeout)


def test_digital_input_pull_down_reads_and_pushes(factory: MockFactory) -> None:
    with DigitalInput("GPIO23", pin_factory=factory) as sensor:
        got = Collector()
        sensor.on_reading(got)
        assert sensor.read() == {"active": False}
        drive_high(factory, 23)
        assert sensor.read() == {"active": True}
        drive_low(factory, 23)
        drive_low(factory, 23)  # no edge, no push
        assert got.readings == [{"active": True}, {"active": False}]
        assert got.threads == [threading.current_thread().name] * 2


def test_digital_input_floating_with_active_state(factory: MockFactory) -> None:
    with DigitalInput(24, pull_up=None, active_state=False, pin_factory=factory) as sensor:
        drive_low(factory, 24)
        assert sensor.read() == {"active": True}


def test_button_press_release_pushes_at_once(factory: MockFactory) -> None:
    with Button("GPIO17", pin_factory=factory) as button:
        got = Collector()
        stop = button.on_reading(got)
        assert button.read() == {"pressed": False}  # pulled up, not pressed
        drive_low(factory, 17)
        assert got.readings == [{"pressed": True}]
        assert button.read() == {"pressed": True}
        stop()
        stop()
        drive_high(factory, 17)
        assert got.readings == [{"pressed": True}]


def test_callback_that_raises_does_not_stop_others(
    factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(reading: Reading) -> None:
        raise RuntimeError("user bug")

    with Button("GPIO17", pin_factory=factory) as button:
        got = Collector()
        button.on_reading(broken)
        button.on_reading(got)
        drive_low(factory, 17)
        drive_high(factory, 17)
    assert got.readings == [{"pressed": True}, {"pressed": False}]
    logged = [r for r in caplog.records if r.exc_info and "user bug" in str(r.exc_info[1])]
    assert len(logged) == 2
    assert "button on GPIO17" in logged[0].getMessage()


def test_close_drops_subscribers(factory: MockFactory) -> None:
    button = Button("GPIO17", pin_factory=factory)
    got = Collector()
    button.on_reading(got)
    button.close()
    assert button.closed
    with pytest.raises(RuntimeError, match="button on GPIO17 is closed"):
        button.read()


def test_motion_sensor_pushes_from_sampling_thread(factory: MockFactory) -> None:
    with MotionSensor("GPIO4", sample_rate=200, pin_factory=factory) as pir:
        assert isinstance(pir, EdgeSensor)
        assert pir.read() == {"motion": False}  # waits for the first sample, bounded
        got = Collector()
        pir.on_reading(got)
        drive_high(factory, 4)
        assert got.wait_for(1)
        assert got.readings[0] == {"motion": True}
        assert got.threads[0] != threading.current_thread().name
        assert pir.read() == {"motion": True}
        drive_low(factory, 4)
        assert got.wait_for(2)
        assert got.readings == [{"motion": True}, {"motion": False}]


def test_line_sensor_line_is_low_level(factory: MockFactory) -> None:
    with LineSensor("GPIO5", queue_len=1, sample_rate=200, pin_factory=factory) as line:
        assert line.read() == {"line": True}  # pulled down: low, as over a dark line
        got = Collector()
        line.on_reading(got)
        drive_high(factory, 5)  # white surface reflects: output high
        assert got.wait_for(1)
        assert line.read() == {"line": False}
        drive_low(factory, 5)
        assert got.wait_for(2)
        assert got.readings == [{"line": False}, {"line": True}]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"queue_len": 0}, "queue_len 0 must be an integer >= 1"),
        ({"sample_rate": 0}, r"sample_rate 0 Hz must be in \(0, 1000\]"),
        ({"threshold": 1.5}, r"threshold 1.5 must be in 0..1"),
    ],
)
def test_smoothing_options_checked(
    factory: MockFactory, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(DriverConfigError, match=message):
        MotionSensor("GPIO4", pin_factory=factory, **options)


def test_simulated_input_follows_a_quantity(factory: MockFactory) -> None:
    physics = FixedValues(soil_moisture=10.0)
    float_switch = DigitalInput.simulated(
        physics=physics, pin_factory=factory, pin=26, quantity="soil_moisture", active_above=30.0
    )
    with float_switch:
        got = Collector()
        float_switch.on_reading(got)
        assert float_switch.read() == {"active": False}
        physics.set("soil_moisture", 45.0)
        assert float_switch.read() == {"active": True}
        assert got.readings == [{"active": True}]


def test_simulated_button_defaults() -> None:
    with Button.simulated() as button:
        assert button.describe() == "button on GPIO17"
        assert button.read() == {"pressed": False}


def test_simulated_motion_keeps_its_own_threshold(factory: MockFactory) -> None:
    with MotionSensor.simulated(pin_factory=factory, pin=4, threshold=0.8) as pir:
        assert pir.gpiozero_device.threshold == 0.8
    with pytest.raises(DriverConfigError, match="needs physics"):
        DigitalInput.simulated(pin_factory=factory, quantity="soil_moisture")
