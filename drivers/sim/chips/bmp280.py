"""Register-level model of the Bosch BMP280: the BME280 model without humidity (pages B.4).

Chip id 0x58; humidity registers (0xF2, 0xFD, 0xFE, 0xA1, 0xE1..0xE7) read 0 and ignore writes;
t_sb codes 110/111 mean 2000/4000 ms.
"""

from __future__ import annotations

from typing import ClassVar

from drivers.sim.chips.bme280 import STANDBY_MS, BME280Model


class BMP280Model(BME280Model):
    """A simulated BMP280 (same arguments as :class:`BME280Model`)."""

    NAME = "bmp280"
    CHIP_ID = 0x58
    HAS_HUMIDITY = False
    STANDBY: ClassVar[dict[int, float]] = {**STANDBY_MS, 6: 2000.0, 7: 4000.0}
