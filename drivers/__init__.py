"""Hardware drivers for iotcs-hw: GPIO (gpiozero), I2C (smbus2), 1-Wire, and their simulators.

This package imports nothing from ``iotcs_hw``: a driver works from a plain Python shell on a Pi::

    >>> from drivers import create
    >>> sensor = create("bme280", bus=1, address=0x76)
    >>> sensor.read()
    {'temperature': 21.4, 'humidity': 48.2, 'pressure': 1013.2}
"""

from drivers.base import Actuator, Device, EdgeSensor, Reading, Sensor
from drivers.errors import (
    BusError,
    ChecksumError,
    ChipIdMismatch,
    DeviceNotFound,
    DriverConfigError,
    HardwareError,
    HardwareTimeout,
    UnknownDriver,
)
from drivers.registry import create, driver_class, known_drivers, register

__all__ = [
    "Actuator",
    "BusError",
    "ChecksumError",
    "ChipIdMismatch",
    "Device",
    "DeviceNotFound",
    "DriverConfigError",
    "EdgeSensor",
    "HardwareError",
    "HardwareTimeout",
    "Reading",
    "Sensor",
    "UnknownDriver",
    "create",
    "driver_class",
    "known_drivers",
    "register",
]
