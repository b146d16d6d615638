"""A DC motor on an H-bridge (L298N, DRV8833, TB6612): speed -1 (full backward) .. +1.

``forward`` and ``backward`` are the bridge's two inputs; ``enable`` (optional) is held high
while the driver is open.  With ``pwm=False`` only -1, 0 and +1 are possible.  The safe state
is stopped (0).
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

_READBACK_DIGITS = 9


class Motor(GpioActuator):
    """Speed and direction of a DC motor: ``apply(0.5)`` half forward, ``apply(-1)`` full back."""

    NAME = "motor"
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"forward": "GPIO20", "backward": "GPIO21"}
    PWM_PINS = ("forward", "backward")

    def __init__(
        self,
        forward: PinSpec,
        backward: PinSpec,
        *,
        enable: PinSpec | None = None,
        pwm: bool = True,
        pin_factory: Any | None = None,
    ) -> None:
        self._pwm = bool(pwm)
        pins: dict[str, object] = {"forward": forward, "backward": backward}
        if enable is not None:
            pins["enable"] = enable
        self._parts = GpioParts(self.NAME, pin_factory, pins)
        self._parts.open(
            lambda: gpiozero.Motor(
                self._parts.pins["forward"],
                self._parts.pins["backward"],
                enable=self._parts.pins.get("enable"),
                pwm=self._pwm,
                pin_factory=self._parts.factory,
            )
        )

    def _validate(self, value: ReadingValue) -> ReadingValue:
        speed = number_in(self.where, value, -1.0, 1.0)
        if not self._pwm and speed not in (-1.0, 0.0, 1.0):
            raise DriverConfigError(
                f"{self.where}: {value!r} needs PWM; with pwm: false the valid speeds are -1, 0, 1"
            )
        return speed

    def _write(self, device: Any, value: ReadingValue) -> None:
        device.value = value

    def _read_back(self, device: Any) -> ReadingValue:
        return round(float(device.value), _READBACK_DIGITS)

    @property
    def safe_state(self) -> ReadingValue:
        """Stopped (0.0)."""
        return 0.0

    def close(self) -> None:
        """Stop, pull ``enable`` low (so the bridge is off even if its inputs float), release."""
        device = self._parts.device
        if device is not None and "enable" in self._parts.pins:
            try:
                self.make_safe()
            finally:
                with self._parts.errors():
                    device.enable_device.off()
        super().close()
