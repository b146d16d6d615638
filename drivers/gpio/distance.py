"""HC-SR04 ultrasonic distance sensor (trigger and echo pins) through gpiozero.

Wiring: the HC-SR04 runs on 5 V and its echo is 5 V too: put a divider (e.g. 1 k / 2 k) on
echo before the Pi's 3.3 V input.  gpiozero pings every 60 ms in a background thread and
reports the median of the last ``queue_len`` echoes, clipped to ``max_distance``.  Timing is
done in Python, so expect centimetres of jitter off pigpio.

gpiozero silently *ignores* pings without an echo, so an unplugged sensor would go on
reporting its last distance, and its first read would block forever; this driver bounds the
first wait and reports :class:`HardwareTimeout` once no echo came back for ``stale_after_s``.
Crossing ``threshold_distance`` pushes a reading (``EdgeSensor``) from the sampling thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import gpiozero

from drivers.base import EdgeSensor, Quantity, Reading
from drivers.errors import DriverConfigError, HardwareTimeout
from drivers.gpio.device import GpioParts
from drivers.gpio.digital_inputs import check_queue_len, wait_first_samples
from drivers.gpio.pin_factory import PinSpec, gpio_pin_name
from drivers.sim import pins as sim_pins
from drivers.sim.physics import FixedValues, PhysicalSource

#: gpiozero's DistanceSensor waits this long between pings.
_PING_PERIOD_S = 0.06


class _StampedDistanceSensor(gpiozero.DistanceSensor):  # type: ignore[misc]
    """gpiozero's sensor, remembering when the last echo came back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.last_echo = 0.0  # set before the sampling thread starts inside __init__
        super().__init__(*args, **kwargs)

    def _read(self) -> float | None:
        value: float | None = super()._read()
        if value is not None:
            self.last_echo = time.monotonic()
        return value


class DistanceSensor(EdgeSensor):
    """Distance (m) to the nearest object in front of an HC-SR04."""

    NAME = "hcsr04"
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "distance": Quantity(float, "m", "distance to the object, clipped to max_distance"),
        "in_range": Quantity(bool, "", "an object is nearer than threshold_distance"),
    }
    SIM_DEFAULTS: ClassVar[Mapping[str, Any]] = {"echo": "GPIO24", "trigger": "GPIO23"}

    def __init__(
        self,
        echo: PinSpec,
        trigger: PinSpec,
        *,
        max_distance: float = 1.0,
        threshold_distance: float = 0.3,
        queue_len: int = 9,
        stale_after_s: float = 2.0,
        pin_factory: Any | None = None,
    ) -> None:
        if not 0 < max_distance <= 4.0:
            raise DriverConfigError(
                f"{self.NAME}: max_distance {max_distance!r} m must be in (0, 4] (HC-SR04 range)"
            )
        if not 0 < threshold_distance <= max_distance:
            raise DriverConfigError(
                f"{self.NAME}: threshold_distance {threshold_distance!r} m must be in "
                f"(0, max_distance={max_distance}]"
            )
        check_queue_len(self.NAME, queue_len)
        EdgeSensor.__init__(self)
        self._stale_after_s = float(stale_after_s)
        self._first_timeout = queue_len * (_PING_PERIOD_S + 0.1) + 2.0
        self._parts = GpioParts(self.NAME, pin_factory, {"echo": echo, "trigger": trigger})
        device = self._parts.open(
            lambda: _StampedDistanceSensor(
                self._parts.pins["echo"],
                self._parts.pins["trigger"],
                max_distance=max_distance,
                threshold_distance=threshold_distance,
                queue_len=queue_len,
                pin_factory=self._parts.factory,
            )
        )
        device.when_activated = lambda: self._push(self._reading(device, False))
        device.when_deactivated = lambda: self._push(self._reading(device, True))

    @staticmethod
    def _reading(device: Any, in_range: bool) -> Reading:
        return {"distance": float(device.distance), "in_range": in_range}

    def read(self) -> Reading:
        """The median distance of the recent echoes; HardwareTimeout without echoes."""
        device = self._parts.checked()
        if not wait_first_samples(device, self._first_timeout):
            raise HardwareTimeout(
                f"{self.NAME}: no echo within {self._first_timeout:.1f} s (check wiring "
                "and the echo divider; nothing within 4 m?)",
                pin=self._parts.where,
            )
        silent = time.monotonic() - device.last_echo
        if silent > self._stale_after_s:
            raise HardwareTimeout(
                f"{self.NAME}: no echo for {silent:.1f} s; last distance is stale",
                pin=self._parts.where,
            )
        with self._parts.errors():
            return self._reading(device, not device.is_active)

    def describe(self) -> str:
        """``hcsr04 on echo GPIO24, trigger GPIO23``."""
        return f"{self.NAME} on {self._parts.where}"

    def close(self) -> None:
        """Stop pinging and release both pins (idempotent)."""
        self._parts.close()
        super().close()

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """Trigger on an :class:`~drivers.sim.pins.EchoTriggerPin` echoing ``distance``."""
        quantity = options.pop("quantity", "distance")
        merged = sim_pins.sim_options(cls.SIM_DEFAULTS, options)
        factory = merged["pin_factory"]
        source = physics if physics is not None else FixedValues()
        echo = factory.pin(gpio_pin_name(factory, merged["echo"], driver=cls.NAME, role="echo"))
        sim_pins.ensure_pin(
            factory,
            merged["trigger"],
            sim_pins.EchoTriggerPin,
            echo_pin=echo,
            physics=source,
            quantity=quantity,
        )
        return cls(**merged)
