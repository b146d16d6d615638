"""What every gpiozero-backed driver shares: its factory, its named pins, close and repr."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from drivers.errors import DriverConfigError
from drivers.gpio.pin_factory import gpio_errors, gpio_pin_name, resolve_factory


class GpioParts:
    """A driver's pin factory, its pins by role and the gpiozero device(s) it opened.

    Kept as a part (composition) rather than a base class so that sensors and actuators keep
    their single ``drivers.base`` ancestry.  ``close()`` closes the gpiozero device, which
    releases the pins and sets them back to inputs; it is idempotent.
    """

    def __init__(self, driver: str, pin_factory: Any | None, pins: Mapping[str, object]) -> None:
        self.driver = driver
        self.factory = resolve_factory(pin_factory)
        self.pins: dict[str, str] = {}
        for role, spec in pins.items():
            name = gpio_pin_name(self.factory, spec, driver=driver, role=role)
            for other_role, other in self.pins.items():
                if other == name:
                    raise DriverConfigError(
                        f"{driver}: {role} {spec!r} and {other_role} are the same pin {name}; "
                        "each role needs its own GPIO"
                    )
            self.pins[role] = name
        self.device: Any = None
        self.lock = threading.Lock()

    @property
    def where(self) -> str:
        """``GPIO17`` or ``forward GPIO17, backward GPIO18`` for messages."""
        if len(self.pins) == 1:
            return next(iter(self.pins.values()))
        return ", ".join(f"{role} {name}" for role, name in self.pins.items())

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Translate gpiozero errors raised in the block (see ``gpio_errors``)."""
        with gpio_errors(self.driver, self.where):
            yield

    def open(self, build: Callable[[], Any]) -> Any:
        """Build the gpiozero device under error translation and keep it."""
        with self.errors():
            self.device = build()
        return self.device

    def checked(self) -> Any:
        """The open gpiozero device; ``RuntimeError`` after close (a bug, not a fault)."""
        if self.device is None:
            raise RuntimeError(f"{self.driver} on {self.where} is closed")
        return self.device

    def close(self) -> None:
        """Close the gpiozero device (idempotent)."""
        device, self.device = self.device, None
        if device is not None:
            device.close()
