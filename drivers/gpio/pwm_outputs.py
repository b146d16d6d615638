"""PWM outputs: a dimmable LED, a servo (-1..1) and an angular servo (degrees).

These need a pin factory that can do PWM on the pin: lgpio does software PWM on any GPIO on
a Pi (duty stored as whole percent, so a PWM LED set to 0.333 reads back 0.33); under
``MockFactory`` the pin must be a ``MockPWMPin`` (``simulated()`` makes it so).  The value
returned by :meth:`apply` is the one read back from gpiozero, so such quantisation shows.

Servo positions follow gpiozero: a pulse of ``min_pulse_width`` (1 ms) every ``frame_width``
(20 ms) is -1 / ``min_angle``, ``max_pulse_width`` (2 ms) is +1 / ``max_angle``; under the
mock the pin's duty cycle is then 0.05, 0.075 (middle) and 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gpiozero

from drivers.base import ReadingValue
from drivers.errors import DriverConfigError
from drivers.gpio.device import GpioParts
from drivers.gpio.output_base import GpioActuator
from drivers.gpio.pin_factory import PinSpec
from drivers.gpio.values import number_in

#: Servo positions are read back from a duty cycle; round away float noise (1e-6 of travel).
_READBACK_DIGITS = 6


class PwmLed(GpioActuator):
    """An LED whose brightness is 0 (off) .. 1 (full), at ``frequency`` Hz (default 100)."""

    NAME = "pwm_led"
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"pin": "GPIO18"}
    PWM_PINS = ("pin",)

    def __init__(
        self,
        pin: PinSpec,
        *,
        active_high: bool = True,
        frequency: float = 100.0,
        pin_factory: Any | None = None,
    ) -> None:
        if not 0 < frequency <= 100_000:
            raise DriverConfigError(
                f"{self.NAME}: frequency {frequency!r} Hz must be in (0, 100000]"
            )
        self._parts = GpioParts(self.NAME, pin_factory, {"pin": pin})
        self._parts.open(
            lambda: gpiozero.PWMLED(
                self._parts.pins["pin"],
                active_high=active_high,
                initial_value=0.0,
                frequency=frequency,
                pin_factory=self._parts.factory,
            )
        )

    def _validate(self, value: ReadingValue) -> ReadingValue:
        return number_in(self.where, value, 0.0, 1.0)

    def _write(self, device: Any, value: ReadingValue) -> None:
        device.value = value

    def _read_back(self, device: Any) -> ReadingValue:
        return float(device.value)

    @property
    def safe_state(self) -> ReadingValue:
        """Off (0.0)."""
        return 0.0


class Servo(GpioActuator):
    """A hobby servo positioned from -1 (min pulse) through 0 (middle) to +1 (max pulse).

    ``safe_value`` is where the servo goes at start, at shutdown and when the cloud is lost
    (default the middle); choose the position that is safe for what it moves.
    """

    NAME = "servo"
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"pin": "GPIO12"}
    PWM_PINS = ("pin",)

    def __init__(
        self,
        pin: PinSpec,
        *,
        safe_value: float = 0.0,
        min_pulse_width: float = 0.001,
        max_pulse_width: float = 0.002,
        frame_width: float = 0.02,
        pin_factory: Any | None = None,
    ) -> None:
        _check_pulses(self.NAME, min_pulse_width, max_pulse_width, frame_width)
        self._safe = number_in(f"{self.NAME}: safe_value", safe_value, -1.0, 1.0)
        self._parts = GpioParts(self.NAME, pin_factory, {"pin": pin})
        self._parts.open(
            lambda: gpiozero.Servo(
                self._parts.pins["pin"],
                initial_value=self._safe,
                min_pulse_width=min_pulse_width,
                max_pulse_width=max_pulse_width,
                frame_width=frame_width,
                pin_factory=self._parts.factory,
            )
        )

    def _validate(self, value: ReadingValue) -> ReadingValue:
        return number_in(self.where, value, -1.0, 1.0)

    def _write(self, device: Any, value: ReadingValue) -> None:
        device.value = value

    def _read_back(self, device: Any) -> ReadingValue:
        return round(float(device.value), _READBACK_DIGITS)

    @property
    def safe_state(self) -> ReadingValue:
        """``safe_value`` (the middle unless configured)."""
        return self._safe


class AngularServo(GpioActuator):
    """A servo positioned in degrees from ``min_angle`` (-90) to ``max_angle`` (+90).

    ``min_angle`` may be larger than ``max_angle`` for a servo mounted the other way round.
    ``safe_angle`` defaults to the middle of the range.
    """

    NAME = "angular_servo"
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"pin": "GPIO13"}
    PWM_PINS = ("pin",)

    def __init__(
        self,
        pin: PinSpec,
        *,
        min_angle: float = -90.0,
        max_angle: float = 90.0,
        safe_angle: float | None = None,
        min_pulse_width: float = 0.001,
        max_pulse_width: float = 0.002,
        frame_width: float = 0.02,
        pin_factory: Any | None = None,
    ) -> None:
        _check_pulses(self.NAME, min_pulse_width, max_pulse_width, frame_width)
        if min_angle == max_angle:
            raise DriverConfigError(
                f"{self.NAME}: min_angle and max_angle are both {min_angle!r}; they must differ"
            )
        self._low, self._high = sorted((float(min_angle), float(max_angle)))
        middle = (min_angle + max_angle) / 2
        self._safe = number_in(
            f"{self.NAME}: safe_angle",
            middle if safe_angle is None else safe_angle,
            self._low,
            self._high,
        )
        self._parts = GpioParts(self.NAME, pin_factory, {"pin": pin})
        self._parts.open(
            lambda: gpiozero.AngularServo(
                self._parts.pins["pin"],
                initial_angle=self._safe,
                min_angle=min_angle,
                max_angle=max_angle,
                min_pulse_width=min_pulse_width,
                max_pulse_width=max_pulse_width,
                frame_width=frame_width,
                pin_factory=self._parts.factory,
            )
        )

    def _validate(self, value: ReadingValue) -> ReadingValue:
        return number_in(self.where, value, self._low, self._high)

    def _write(self, device: Any, value: ReadingValue) -> None:
        device.angle = value

    def _read_back(self, device: Any) -> ReadingValue:
        return round(float(device.angle), _READBACK_DIGITS)

    @property
    def safe_state(self) -> ReadingValue:
        """``safe_angle`` (the middle of the range unless configured)."""
        return self._safe


def _check_pulses(driver: str, min_pulse: float, max_pulse: float, frame: float) -> None:
    """Pulse widths must be ordered: 0 < min < max < frame (seconds)."""
    if not 0 < min_pulse < max_pulse < frame:
        raise DriverConfigError(
            f"{driver}: pulse widths min {min_pulse!r} s, max {max_pulse!r} s, frame {frame!r} s "
            "must satisfy 0 < min_pulse_width < max_pulse_width < frame_width"
        )
