"""How the runtime gets its drivers: real hardware, or simulators coupled to an environment.

A :class:`DriverFactory` builds one driver from a model-file entry.  :class:`HardwareDrivers`
uses the registry (``driver: bme280`` -> ``drivers.i2c...:BME280(**options)``);
:class:`SimulatedDrivers` calls ``simulated(physics=environment, **options)`` so every simulated
chip and pin answers from the same environment model, which in turn responds to actuators.

A sensor whose hardware is absent at start is not fatal: :class:`DeferredSensor` retries the
construction on every re-initialisation, so a chip plugged in later is picked up by the
self-healing loop.  A driver given impossible options (:class:`DriverConfigError`) is a
configuration error and stops the start before any hardware is touched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from drivers import registry
from drivers.base import Actuator, Device, Reading, Sensor
from drivers.errors import DriverConfigError, HardwareError
from drivers.sim.physics import PhysicalSource

log = logging.getLogger(__name__)


class DriverFactory(Protocol):
    """Builds a driver by registry name with keyword options."""

    def create(self, driver: str, options: Mapping[str, Any]) -> Device:
        """A new driver instance; raises DriverConfigError or HardwareError."""
        ...


class HardwareDrivers:
    """Real drivers from the registry."""

    def create(self, driver: str, options: Mapping[str, Any]) -> Device:
        """``registry.create(driver, **options)``."""
        return registry.create(driver, **dict(options))

    def __repr__(self) -> str:
        return "<HardwareDrivers>"


class SimulatedDrivers:
    """Simulated drivers whose physical values come from ``physics`` (the environment model).

    Like the hardware they stand for, the drivers share one pin factory (a ``MockFactory``,
    so a pin used twice is refused as on a Pi, and the environment can watch actuator pins) and
    one simulated bus per I2C bus number (so chips answer on the bus the model file names).
    """

    def __init__(self, physics: PhysicalSource, *, pin_factory: Any = None) -> None:
        from drivers.sim import pins  # noqa: PLC0415 - simulation only, imports gpiozero

        self.physics = physics
        self.pin_factory = pin_factory if pin_factory is not None else pins.mock_factory()
        self.buses: dict[int, Any] = {}
        self._lock = threading.Lock()

    def bus(self, number: int) -> Any:
        """The shared ``SimSMBus`` for bus ``number`` (created on first use)."""
        from drivers.sim.smbus import SimSMBus  # noqa: PLC0415 - simulation only

        with self._lock:
            if number not in self.buses:
                self.buses[number] = SimSMBus(number)
            return self.buses[number]

    def create(self, driver: str, options: Mapping[str, Any]) -> Device:
        """``driver_class(driver).simulated(physics=..., **options)`` on the shared pins/buses."""
        cls = registry.driver_class(driver)
        merged = dict(options)
        family = cls.__module__.split(".")[:2]
        if family == ["drivers", "gpio"]:
            merged.setdefault("pin_factory", self.pin_factory)
        elif family == ["drivers", "i2c"]:
            number = merged.get("bus", 1)
            if isinstance(number, int) and not isinstance(number, bool):
                merged["bus"] = self.bus(number)
        return cls.simulated(physics=self.physics, **merged)

    def __repr__(self) -> str:
        return f"<SimulatedDrivers physics={self.physics!r} buses={sorted(self.buses)}>"


def build_sensor(factory: DriverFactory, driver: str, options: Mapping[str, Any]) -> Sensor:
    """A sensor driver, or a :class:`DeferredSensor` when its hardware does not answer yet."""
    try:
        device = factory.create(driver, options)
    except HardwareError as exc:
        log.warning("sensor driver %s not available yet (%s); will keep trying", driver, exc)
        return DeferredSensor(lambda: _as_sensor(factory.create(driver, options), driver), driver)
    return _as_sensor(device, driver)


def build_actuator(factory: DriverFactory, driver: str, options: Mapping[str, Any]) -> Actuator:
    """An actuator driver; unlike sensors, an actuator must exist at start (to be made safe)."""
    device = factory.create(driver, options)
    if not isinstance(device, Actuator):
        device.close()
        raise DriverConfigError(f"driver {driver!r} is not an actuator (it is a sensor)")
    return device


def _as_sensor(device: Device, driver: str) -> Sensor:
    if not isinstance(device, Sensor):
        device.close()
        raise DriverConfigError(f"driver {driver!r} is not a sensor (it is an actuator)")
    return device


class DeferredSensor(Sensor):
    """A sensor whose driver could not be built yet; every read/reinit tries again."""

    def __init__(self, build: Callable[[], Sensor], driver: str) -> None:
        self._build = build
        self._driver_name = driver
        self._inner: Sensor | None = None
        self._lock = threading.Lock()
        self.NAME = driver  # type: ignore[misc]

    @property
    def inner(self) -> Sensor | None:
        """The real driver once built."""
        return self._inner

    def _sensor(self) -> Sensor:
        with self._lock:
            if self._inner is None:
                self._inner = self._build()
            return self._inner

    def read(self) -> Reading:
        """Build the driver if needed, then read it."""
        return self._sensor().read()

    def reinitialize(self) -> None:
        """Build the driver if needed, else re-initialise it."""
        with self._lock:
            built = self._inner is not None
        if built:
            self._sensor().reinitialize()
        else:
            self._sensor()

    def describe(self) -> str:
        """The real driver's description once built."""
        inner = self._inner
        return inner.describe() if inner is not None else f"{self._driver_name} (not found yet)"

    def close(self) -> None:
        """Close the real driver if it was built."""
        if self._inner is not None:
            self._inner.close()
        super().close()
