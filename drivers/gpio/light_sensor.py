"""A light-dependent resistor timed through a capacitor on one GPIO (no ADC needed).

gpiozero's ``LightSensor`` drains the capacitor, switches the pin to input and times how
long it takes to read high: bright light -> low LDR resistance -> fast charge.  The reading
is ``light_level = 1 - charge_time / charge_time_limit`` (0 dark .. 1 bright), averaged over
``queue_len`` samples (each takes ~0.1 s for the drain), and ``light_detected`` once it
exceeds ``threshold``.  Crossing the threshold pushes a reading (``EdgeSensor``) from the
sampling thread.  Choose ``charge_time_limit`` for your RC: about R_dark x C.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import gpiozero

from drivers.base import EdgeSensor, Quantity, Reading
from drivers.errors import DriverConfigError, HardwareTimeout
from drivers.gpio.device import GpioParts
from drivers.gpio.digital_inputs import (
    check_queue_len,
    check_threshold,
    wait_first_samples,
)
from drivers.gpio.pin_factory import PinSpec
from drivers.sim import pins as sim_pins
from drivers.sim.physics import FixedValues, PhysicalSource

#: gpiozero drains the capacitor for 0.1 s before each timing.
_DRAIN_S = 0.1


class LightSensor(EdgeSensor):
    """An LDR + capacitor on ``pin``; reads ``light_level`` and ``light_detected``."""

    NAME = "light_sensor"
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "light_level": Quantity(float, "", "0 = dark .. 1 = bright (1 - charge time / limit)"),
        "light_detected": Quantity(bool, "", "light_level above the threshold"),
    }
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"pin": "GPIO18"}

    def __init__(
        self,
        pin: PinSpec,
        *,
        queue_len: int = 5,
        charge_time_limit: float = 0.01,
        threshold: float = 0.1,
        pin_factory: Any | None = None,
    ) -> None:
        check_queue_len(self.NAME, queue_len)
        if not 0 < charge_time_limit <= 1:
            raise DriverConfigError(
                f"{self.NAME}: charge_time_limit {charge_time_limit!r} s must be in (0, 1]"
            )
        check_threshold(self.NAME, threshold)
        EdgeSensor.__init__(self)
        self._first_timeout = queue_len * (_DRAIN_S + charge_time_limit) + 2.0
        self._parts = GpioParts(self.NAME, pin_factory, {"pin": pin})
        device = self._parts.open(
            lambda: gpiozero.LightSensor(
                self._parts.pins["pin"],
                queue_len=queue_len,
                charge_time_limit=charge_time_limit,
                threshold=threshold,
                pin_factory=self._parts.factory,
            )
        )
        device.when_activated = lambda: self._push(self._reading(device, True))
        device.when_deactivated = lambda: self._push(self._reading(device, False))

    @staticmethod
    def _reading(device: Any, detected: bool) -> Reading:
        return {"light_level": float(device.value), "light_detected": detected}

    def read(self) -> Reading:
        """The averaged light level; HardwareTimeout if no sample arrives."""
        device = self._parts.checked()
        if not wait_first_samples(device, self._first_timeout):
            raise HardwareTimeout(
                f"{self.NAME}: no charge timing within {self._first_timeout:.1f} s",
                pin=self._parts.where,
            )
        with self._parts.errors():
            return self._reading(device, bool(device.is_active))

    def describe(self) -> str:
        """``light_sensor on GPIO18``."""
        return f"{self.NAME} on {self._parts.where}"

    def close(self) -> None:
        """Stop the sampling thread and release the pin (idempotent)."""
        self._parts.close()
        super().close()

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """On a :class:`~drivers.sim.pins.LightChargingPin` whose charge time follows ``light``.

        LDR model options: ``r10_ohm``, ``gamma``, ``capacitance_f``, ``threshold_ratio``.
        """
        model = {
            key: options.pop(key)
            for key in ("r10_ohm", "gamma", "capacitance_f", "threshold_ratio", "quantity")
            if key in options
        }
        merged = sim_pins.sim_options(cls.SIM_DEFAULTS, options)
        source = physics if physics is not None else FixedValues()
        sim_pins.ensure_pin(
            merged["pin_factory"],
            merged["pin"],
            sim_pins.LightChargingPin,
            physics=source,
            **model,
        )
        return cls(**merged)
