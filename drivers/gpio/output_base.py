"""What GPIO actuators share: parts, apply-under-lock, close to the safe state, simulation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from gpiozero.pins.mock import MockPWMPin

from drivers.base import Actuator, ReadingValue
from drivers.gpio.device import GpioParts
from drivers.sim import pins as sim_pins
from drivers.sim.physics import PhysicalSource


class GpioActuator(Actuator):
    """An output driven through gpiozero.

    Subclasses implement :meth:`_validate` (turn a requested value into the value to apply,
    raising ``DriverConfigError`` without touching the pin) and :meth:`_write`/``_read_back``.
    :meth:`apply` validates first, then writes under the driver's lock, then reports the state
    read back from gpiozero, so a rejected value leaves the output exactly as it was.
    """

    #: Options ``simulated()`` adds when the caller leaves them out.
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"pin": "GPIO17"}
    #: Option names of pins that need a PWM-capable mock pin in ``simulated()``.
    PWM_PINS: ClassVar[tuple[str, ...]] = ()

    _parts: GpioParts

    def _validate(self, value: ReadingValue) -> ReadingValue:
        raise NotImplementedError

    def _write(self, device: Any, value: ReadingValue) -> None:
        raise NotImplementedError

    def _read_back(self, device: Any) -> ReadingValue:
        raise NotImplementedError

    @property
    def where(self) -> str:
        """``relay on GPIO17`` for messages."""
        return f"{self.NAME} on {self._parts.where}"

    def apply(self, value: ReadingValue) -> ReadingValue:
        """Drive the output to ``value``; returns the state gpiozero reports afterwards."""
        checked = self._validate(value)
        with self._parts.lock:
            device = self._parts.checked()
            with self._parts.errors():
                self._write(device, checked)
                return self._read_back(device)

    @property
    def state(self) -> ReadingValue:
        """The state the output is in now (read back from gpiozero)."""
        device = self._parts.checked()
        with self._parts.errors():
            return self._read_back(device)

    def describe(self) -> str:
        """``relay on GPIO17``."""
        return self.where

    def __repr__(self) -> str:
        if self.closed:
            return f"<{type(self).__name__} {self._parts.where} closed>"
        return f"<{type(self).__name__} {self._parts.where} state={self.state!r}>"

    def close(self) -> None:
        """Apply the safe state, then release the pins (idempotent)."""
        if self._parts.device is not None:
            try:
                self.make_safe()
            finally:
                self._parts.close()
        super().close()

    @property
    def gpiozero_device(self) -> Any:
        """The underlying gpiozero device (for tests and advanced use)."""
        return self._parts.checked()

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """This output on ``MockFactory`` pins (``pin_factory=`` to share one factory).

        PWM outputs get ``MockPWMPin`` pins.  ``physics`` is unused: outputs change the
        environment through its couplings (``drivers.sim.environment``), not the reverse.
        """
        merged = sim_pins.sim_options(cls.SIM_DEFAULTS, options)
        if merged.get("pwm", True):
            for option in cls.PWM_PINS:
                if merged.get(option) is not None:
                    sim_pins.ensure_pin(merged["pin_factory"], merged[option], MockPWMPin)
        return cls(**merged)
