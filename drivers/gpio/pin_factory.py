"""Pin factories, pin names and gpiozero's errors, translated once at the boundary.

Every GPIO driver takes ``pin_factory=`` keyword-only.  ``None`` means "the real pins of this
board": :func:`default_pin_factory` builds gpiozero's default factory once (lgpio first, as
gpiozero 2 does, or whatever ``GPIOZERO_PIN_FACTORY`` names) and shares it between our drivers
*without* assigning the global ``gpiozero.Device.pin_factory``.  It never picks the mock
factory unless ``GPIOZERO_PIN_FACTORY=mock`` says so (then it is our
``drivers.sim.pins.SimPinFactory``); simulations pass one explicitly.

Pins are named as gpiozero names them: ``17``, ``"17"``, ``"GPIO17"``, ``"BCM17"``,
``"BOARD11"``, ``"J8:11"`` (case-sensitive, like gpiozero).  :func:`gpio_pin_name` checks a
name against the factory's board and returns the canonical ``GPIOn`` name, or raises
:class:`DriverConfigError` saying which name is wrong and which are valid.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gpiozero import Device as GpiozeroDevice
from gpiozero import exc as gz

from drivers.errors import DriverConfigError, HardwareError
from drivers.sim.pins import mock_factory

#: A pin as a model file gives it: a BCM number or one of gpiozero's names.
PinSpec = int | str

_ENV = "GPIOZERO_PIN_FACTORY"
_default_lock = threading.Lock()
_default_factory: Any = None

_NAME_FORMS = "a BCM number (17) or a name like 'GPIO17', 'BCM17', 'BOARD11' or 'J8:11'"


def default_pin_factory() -> Any:
    """The pin factory for real pins, created once and shared by every driver here.

    Reuses ``gpiozero.Device.pin_factory`` when an application already set it (reading it is
    harmless; we never assign it).  Raises :class:`DriverConfigError` when no factory works
    on this machine (not a Pi, no lgpio): simulate instead (``--simulate``).
    """
    global _default_factory  # noqa: PLW0603 - one lazily built, shared real factory
    existing = GpiozeroDevice.pin_factory
    if existing is not None:
        return existing
    with _default_lock:
        if _default_factory is None and os.environ.get(_ENV, "").lower() == "mock":
            # Asked for explicitly (CI): our MockFactory, which also keeps software SPI on it.
            _default_factory = mock_factory(
                revision=os.environ.get("GPIOZERO_MOCK_REVISION", "a02082")
            )
        if _default_factory is None:
            try:
                # gpiozero's own selection (env var, then lgpio -> rpigpio -> pigpio -> native),
                # without the side effect of Device.ensure_pin_factory() on the global.
                _default_factory = GpiozeroDevice._default_pin_factory()
            except gz.BadPinFactory as exc:
                raise DriverConfigError(
                    "no GPIO pin factory works on this machine (is it a Raspberry Pi with "
                    "lgpio installed?); run with --simulate or set GPIOZERO_PIN_FACTORY"
                ) from exc
        return _default_factory


def forget_default_pin_factory() -> None:
    """Drop the cached default factory (tests; after changing ``GPIOZERO_PIN_FACTORY``)."""
    global _default_factory  # noqa: PLW0603
    with _default_lock:
        _default_factory = None


def resolve_factory(pin_factory: Any | None) -> Any:
    """``pin_factory`` itself, or :func:`default_pin_factory` when it is ``None``."""
    return default_pin_factory() if pin_factory is None else pin_factory


def valid_gpio_names(factory: Any) -> list[str]:
    """The GPIO pins of the factory's board, in number order (``GPIO0`` ... ``GPIO27``)."""
    names = {
        info.name
        for header in factory.board_info.headers.values()
        for info in header.pins.values()
        if "gpio" in info.interfaces
    }
    return sorted(names, key=lambda name: (len(name), name))


def gpio_pin_name(factory: Any, pin: object, *, driver: str, role: str = "pin") -> str:
    """Check ``pin`` names a GPIO on the factory's board; return its canonical ``GPIOn`` name.

    ``role`` says which of the driver's pins this is (``pin``, ``trigger``, ``forward``...),
    so that a message reads ``led: pin 'gpio17' is not a valid pin name; ...``.
    """
    where = f"{driver}: {role} {pin!r}"
    if isinstance(pin, bool) or not isinstance(pin, int | str):
        raise DriverConfigError(f"{where} is not a pin; expected {_NAME_FORMS}")
    found = [info for _header, info in factory.board_info.find_pin(pin)]
    if not found:
        raise DriverConfigError(
            f"{where} is not a valid pin name; expected {_NAME_FORMS} (names are "
            f"case-sensitive); GPIO pins on this board: {_ranges(valid_gpio_names(factory))}"
        )
    info = found[0]
    if "gpio" not in info.interfaces:
        raise DriverConfigError(
            f"{where} is header pin {info.number} ({info.name}), not a GPIO; "
            f"GPIO pins on this board: {_ranges(valid_gpio_names(factory))}"
        )
    return str(info.name)


def _ranges(names: list[str]) -> str:
    """``GPIO0..GPIO27`` for a contiguous run, else the names joined by commas."""
    numbers = [int(name.removeprefix("GPIO")) for name in names if name[4:].isdigit()]
    if numbers and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"GPIO{numbers[0]}..GPIO{numbers[-1]}"
    return ", ".join(names)


@contextmanager
def gpio_errors(driver: str, pins: str) -> Iterator[None]:
    """Translate gpiozero's exceptions raised inside the block into ours, once.

    Configuration mistakes (pin in use, bad pin, no PWM, fixed pull) become
    :class:`DriverConfigError`; anything else gpiozero or the kernel raises becomes a
    retryable :class:`HardwareError` carrying the pin and the original cause.
    """
    try:
        yield
    except gz.GPIOPinInUse as exc:
        raise DriverConfigError(
            f"{driver} on {pins}: {exc}; each GPIO pin can be used by one device only"
        ) from exc
    except gz.PinPWMUnsupported as exc:
        raise DriverConfigError(
            f"{driver} on {pins}: this pin factory cannot do PWM on that pin "
            "(with MockFactory, create the pin as MockPWMPin)"
        ) from exc
    except gz.PinFixedPull as exc:
        raise DriverConfigError(
            f"{driver} on {pins}: {exc} (GPIO2/GPIO3 have fixed pull-ups: use pull_up: true)"
        ) from exc
    except (gz.PinInvalidPin, gz.GPIOPinMissing, gz.PinInvalidState, gz.PinInvalidPull) as exc:
        raise DriverConfigError(f"{driver} on {pins}: {exc}") from exc
    except gz.BadPinFactory as exc:
        raise DriverConfigError(f"{driver} on {pins}: no usable pin factory: {exc}") from exc
    except (gz.GPIOZeroError, OSError) as exc:
        raise HardwareError(f"{driver}: {exc or type(exc).__name__}", pin=pins, cause=exc) from exc
