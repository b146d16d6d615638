"""Where simulated sensors get the physical value they report.

A simulated chip asks a :class:`PhysicalSource` for a quantity by name each time it converts.
Tests use :class:`FixedValues` and set numbers directly; simulations use the environment model
(``drivers.sim.environment``), which implements the same protocol and evolves over time.

Quantity names and units (shared by every simulator):

=================  =========  ==========================================
name               unit       used by
=================  =========  ==========================================
temperature        degC       BME280, BMP280, SHT3x, HTU21D, MCP9808, DS18B20
humidity           %RH        BME280, SHT3x, HTU21D
pressure           hPa        BME280, BMP280
light              lux        BH1750, LDR
soil_moisture      %          ADC channels wired to a soil probe
voltage            V          ADS1115 inputs, INA219 bus voltage
current            A          INA219
distance           m          HC-SR04
cpu_temperature    degC       CPU temperature
=================  =========  ==========================================
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol


class PhysicalSource(Protocol):
    """Something that knows the current value of physical quantities."""

    def get(self, quantity: str) -> float:
        """The value of ``quantity`` now, in the unit the table above gives."""
        ...


DEFAULTS: Mapping[str, float] = {
    "temperature": 21.0,
    "humidity": 45.0,
    "pressure": 1013.25,
    "light": 250.0,
    "soil_moisture": 40.0,
    "voltage": 1.5,
    "current": 0.1,
    "distance": 0.5,
    "cpu_temperature": 45.0,
}


class FixedValues:
    """A :class:`PhysicalSource` holding plain numbers that tests set."""

    def __init__(self, **values: float) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = {**DEFAULTS, **values}

    def get(self, quantity: str) -> float:
        """The stored value; ``KeyError`` names the quantity when it was never set."""
        with self._lock:
            try:
                return self._values[quantity]
            except KeyError:
                raise KeyError(f"no value for quantity {quantity!r}") from None

    def set(self, quantity: str, value: float) -> None:
        """Set ``quantity`` to ``value``."""
        with self._lock:
            self._values[quantity] = float(value)
