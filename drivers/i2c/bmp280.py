"""Bosch BMP280 (temperature, pressure): the BME280 without humidity (hardware pages, section B).

Accepts chip ids 0x58 (production) and 0x56/0x57 (early samples), as Bosch's older driver does.
Options: ``bus``, ``address`` (0x76/0x77), ``oversampling`` (1, 2, 4, 8, 16), ``iir_filter``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Quantity
from drivers.i2c.bme280 import BME280

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource


class BMP280(BME280):
    """Bosch BMP280 over I2C, forced mode (same options and errors as :class:`BME280`)."""

    NAME = "bmp280"
    CHIP_IDS = (0x58, 0x56, 0x57)
    HAS_HUMIDITY = False
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "temperature": Quantity(float, "degC", "air temperature, 0.01 degC steps"),
        "pressure": Quantity(float, "hPa", "barometric pressure"),
    }

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.bmp280.BMP280Model` reading ``physics``."""
        from drivers.sim.chips.bmp280 import BMP280Model  # noqa: PLC0415

        return BMP280Model(physics=physics)
