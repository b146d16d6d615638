"""On/off outputs: a digital output, a relay, an LED and an active buzzer.

``apply(True)`` switches the load on.  ``active_high`` says which pin level that is: a relay
module with an opto-isolator is usually *active-low* (the relay closes when the pin is low),
which is why :class:`Relay` makes you say so.  The safe state is off; the output is off from
the moment the driver opens (gpiozero's ``initial_value=False``), and ``close()`` switches it
off before releasing the pin.

Example::

    >>> from drivers.gpio.digital_outputs import Relay
    >>> with Relay("GPIO27", active_high=False) as pump:
    ...     pump.apply(True)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gpiozero

from drivers.base import ReadingValue
from drivers.errors import DriverConfigError
from drivers.gpio.device import GpioParts
from drivers.gpio.output_base import GpioActuator
from drivers.gpio.pin_factory import PinSpec
from drivers.gpio.values import on_off


class _OnOffOutput(GpioActuator):
    """One pin, on or off, off from the moment it opens."""

    #: The gpiozero class that drives the pin (they differ only in name and ``repr``).
    DEVICE: ClassVar[Callable[..., Any]] = gpiozero.DigitalOutputDevice

    def __init__(
        self, pin: PinSpec, *, active_high: bool = True, pin_factory: Any | None = None
    ) -> None:
        self._parts = GpioParts(self.NAME, pin_factory, {"pin": pin})
        self._parts.open(
            lambda: self.DEVICE(
                self._parts.pins["pin"],
                active_high=active_high,
                initial_value=False,
                pin_factory=self._parts.factory,
            )
        )

    def _validate(self, value: ReadingValue) -> ReadingValue:
        return on_off(self.where, value)

    def _write(self, device: Any, value: ReadingValue) -> None:
        if value:
            device.on()
        else:
            device.off()

    def _read_back(self, device: Any) -> ReadingValue:
        return bool(device.is_active)

    @property
    def safe_state(self) -> ReadingValue:
        """Off."""
        return False


class DigitalOutput(_OnOffOutput):
    """A generic digital output (transistor, MOSFET board, solid-state relay)."""

    NAME = "digital_output"


class Relay(_OnOffOutput):
    """A relay module; ``active_high`` is required because boards differ and guessing wrong
    energises the relay at start-up."""

    NAME = "relay"
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"pin": "GPIO17", "active_high": True}

    def __init__(
        self, pin: PinSpec, *, active_high: bool | None = None, pin_factory: Any | None = None
    ) -> None:
        if active_high is None:
            raise DriverConfigError(
                f"{self.NAME} on pin {pin!r}: say active_high: true or false (most relay "
                "modules with an opto-isolator close when the pin is low: active_high: false)"
            )
        super().__init__(pin, active_high=active_high, pin_factory=pin_factory)


class Led(_OnOffOutput):
    """An LED through a resistor, on or off (see ``pwm_led`` for brightness)."""

    NAME = "led"
    DEVICE = gpiozero.LED


class Buzzer(_OnOffOutput):
    """An *active* buzzer (it has its own oscillator: on = sound)."""

    NAME = "buzzer"
    DEVICE = gpiozero.Buzzer
