"""Two-state inputs: a digital input, a button, a PIR motion sensor and a line sensor.

Each reads one boolean and pushes a reading at every edge (:class:`drivers.base.EdgeSensor`).
Plain inputs (digital input, button) fire in the thread that saw the edge; smoothed inputs
(motion, line) are sampled by gpiozero's queue thread and fire from it when the averaged value
crosses the threshold.

Example::

    >>> from drivers.gpio.digital_inputs import Button
    >>> with Button("GPIO17") as button:
    ...     stop = button.on_reading(print)     # {'pressed': True} at each press/release
    ...     button.read()
    {'pressed': False}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

import gpiozero

from drivers.base import EdgeSensor, Quantity, Reading
from drivers.errors import DriverConfigError, HardwareTimeout
from drivers.gpio.device import GpioParts
from drivers.gpio.pin_factory import PinSpec
from drivers.sim import pins as sim_pins
from drivers.sim.physics import PhysicalSource

#: How long read() waits for a smoothed input's first full queue before calling it a fault.
FIRST_SAMPLE_TIMEOUT_S = 2.0


def wait_first_samples(device: Any, timeout: float) -> bool:
    """Wait until a gpiozero smoothed input has filled its queue once.

    gpiozero's ``value`` blocks *without* a timeout until the queue is full, so a device
    whose samples never arrive would hang the caller forever; this waits on the queue's
    ``full`` event with a bound instead (gpiozero 2.0 has no public equivalent).
    """
    queue = getattr(device, "_queue", None)
    full = getattr(queue, "full", None)
    if full is None:
        return True
    return bool(full.wait(timeout))


def check_queue_len(driver: str, queue_len: int) -> None:
    """Reject a smoothing queue length gpiozero would take and then misbehave with."""
    if isinstance(queue_len, bool) or not isinstance(queue_len, int) or queue_len < 1:
        raise DriverConfigError(f"{driver}: queue_len {queue_len!r} must be an integer >= 1")


def check_threshold(driver: str, threshold: float) -> None:
    """Reject a threshold on gpiozero's 0..1 averaged value that could never be crossed."""
    if not 0 <= threshold <= 1:
        raise DriverConfigError(f"{driver}: threshold {threshold!r} must be in 0..1")


class _BinaryInput(EdgeSensor):
    """Shared body: one pin, one boolean reading named ``KEY``, edges pushed."""

    KEY: ClassVar[str] = ""
    #: The gpiozero class that reads the pin; it decides debouncing or smoothing.
    DEVICE: ClassVar[Callable[..., Any]]
    #: Options ``simulated()`` adds when the caller leaves them out.
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"pin": "GPIO17"}

    _parts: GpioParts

    def _start(
        self,
        pin: PinSpec,
        pin_factory: Any | None,
        *,
        pull_up: bool | None,
        active_state: bool | None,
        **device_options: Any,
    ) -> None:
        """Open ``DEVICE`` on ``pin`` with the options every input takes plus its own."""
        EdgeSensor.__init__(self)
        # The pin level that means "active", as gpiozero derives it from the two options.
        self._active_high = bool(active_state) if active_state is not None else not pull_up
        self._parts = GpioParts(self.NAME, pin_factory, {"pin": pin})
        device = self._parts.open(
            lambda: self.DEVICE(
                self._parts.pins["pin"],
                pull_up=pull_up,
                active_state=active_state,
                pin_factory=self._parts.factory,
                **device_options,
            )
        )
        device.when_activated = self._on_activated
        device.when_deactivated = self._on_deactivated
        self._sync: Any = None

    def _level(self, active: bool) -> bool:
        """The reading for gpiozero's ``is_active`` (inverted by the line sensor)."""
        return active

    def _on_activated(self) -> None:
        self._push({self.KEY: self._level(True)})

    def _on_deactivated(self) -> None:
        self._push({self.KEY: self._level(False)})

    def read(self) -> Reading:
        """The input now: ``{KEY: bool}``."""
        if self._sync is not None:
            self._sync()
        device = self._parts.checked()
        if not wait_first_samples(device, FIRST_SAMPLE_TIMEOUT_S):
            raise HardwareTimeout(
                f"{self.NAME}: no sample within {FIRST_SAMPLE_TIMEOUT_S} s", pin=self._parts.where
            )
        with self._parts.errors():
            return {self.KEY: self._level(bool(device.is_active))}

    def describe(self) -> str:
        """``button on GPIO17``."""
        return f"{self.NAME} on {self._parts.where}"

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self._parts.where} {state}>"

    def close(self) -> None:
        """Release the pin (idempotent)."""
        self._parts.close()
        super().close()

    @property
    def gpiozero_device(self) -> Any:
        """The underlying gpiozero device (for tests and advanced use)."""
        return self._parts.checked()

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """This input on a ``MockFactory`` pin (``pin_factory=`` to share one).

        Drive it with ``drivers.sim.pins.drive_high/drive_low``.  With ``quantity=`` and
        ``physics``, each read first drives the pin from the physical value: active when
        ``physics.get(quantity) >= active_above`` (a float switch, a thermostat contact).
        """
        quantity = options.pop("quantity", None)
        active_above = float(options.pop("active_above", 0.5))
        if quantity is not None and physics is None:
            raise DriverConfigError(f"{cls.NAME}: quantity={quantity!r} needs physics=")
        merged = sim_pins.sim_options(cls.SIM_DEFAULTS, options)
        sensor = cls(**merged)
        if quantity is not None and physics is not None:
            factory = merged["pin_factory"]
            pin_name = sensor._parts.pins["pin"]
            source = physics

            def sync() -> None:
                active = source.get(quantity) >= active_above
                high = active == sensor._active_high
                sim_pins.drive(factory, pin_name, high)

            sensor._sync = sync
        return sensor


class DigitalInput(_BinaryInput):
    """A generic digital input (reed switch, float switch, open-collector output).

    ``pull_up``: True for an internal pull-up (active when pulled low), False for pull-down,
    None for an external resistor, in which case ``active_state`` must say which level is
    active.  ``bounce_time`` (s) ignores edges closer than that (on real pins).
    """

    NAME = "digital_input"
    KEY = "active"
    DEVICE = gpiozero.DigitalInputDevice
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "active": Quantity(bool, "", "True while the input is at its active level")
    }

    def __init__(
        self,
        pin: PinSpec,
        *,
        pull_up: bool | None = False,
        active_state: bool | None = None,
        bounce_time: float | None = None,
        pin_factory: Any | None = None,
    ) -> None:
        self._start(
            pin, pin_factory, pull_up=pull_up, active_state=active_state, bounce_time=bounce_time
        )


class Button(_BinaryInput):
    """A push button between the pin and ground (internal pull-up by default)."""

    NAME = "button"
    KEY = "pressed"
    DEVICE = gpiozero.Button
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "pressed": Quantity(bool, "", "True while the button is held down")
    }

    def __init__(
        self,
        pin: PinSpec,
        *,
        pull_up: bool | None = True,
        active_state: bool | None = None,
        bounce_time: float | None = None,
        pin_factory: Any | None = None,
    ) -> None:
        self._start(
            pin, pin_factory, pull_up=pull_up, active_state=active_state, bounce_time=bounce_time
        )


class MotionSensor(_BinaryInput):
    """A PIR motion sensor (HC-SR501 class), output high while motion is seen.

    ``sample_rate`` (Hz) and ``queue_len`` set gpiozero's smoothing: the reading is the
    average of the last ``queue_len`` samples compared with ``threshold``.
    """

    NAME = "motion_sensor"
    KEY = "motion"
    DEVICE = gpiozero.MotionSensor
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "motion": Quantity(bool, "", "True while motion is detected")
    }

    def __init__(
        self,
        pin: PinSpec,
        *,
        pull_up: bool | None = False,
        active_state: bool | None = None,
        queue_len: int = 1,
        sample_rate: float = 10.0,
        threshold: float = 0.5,
        pin_factory: Any | None = None,
    ) -> None:
        _check_smoothing(self.NAME, queue_len, sample_rate, threshold)
        self._start(
            pin,
            pin_factory,
            pull_up=pull_up,
            active_state=active_state,
            queue_len=queue_len,
            sample_rate=sample_rate,
            threshold=threshold,
        )


class LineSensor(_BinaryInput):
    """A reflective line sensor (TCRT5000 module): ``line`` is True over a dark line."""

    NAME = "line_sensor"
    KEY = "line"
    DEVICE = gpiozero.LineSensor
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "line": Quantity(bool, "", "True while a dark line is under the sensor")
    }

    def __init__(
        self,
        pin: PinSpec,
        *,
        pull_up: bool | None = False,
        active_state: bool | None = None,
        queue_len: int = 5,
        sample_rate: float = 100.0,
        threshold: float = 0.5,
        pin_factory: Any | None = None,
    ) -> None:
        _check_smoothing(self.NAME, queue_len, sample_rate, threshold)
        self._start(
            pin,
            pin_factory,
            pull_up=pull_up,
            active_state=active_state,
            queue_len=queue_len,
            sample_rate=sample_rate,
            threshold=threshold,
        )

    def _level(self, active: bool) -> bool:
        # The module pulls its output low over a dark line: gpiozero's "inactive".
        return not active


def _check_smoothing(driver: str, queue_len: int, sample_rate: float, threshold: float) -> None:
    """Reject smoothing options gpiozero would only half-accept."""
    check_queue_len(driver, queue_len)
    if not 0 < sample_rate <= 1000:
        raise DriverConfigError(f"{driver}: sample_rate {sample_rate!r} Hz must be in (0, 1000]")
    check_threshold(driver, threshold)
