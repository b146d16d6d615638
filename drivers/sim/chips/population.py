"""A simulated bus with one of each supported chip at its usual address (``scan --simulate``).

HTU21D and Si7021 share the fixed address 0x40, so the bus carries the HTU21D; the PCA9685 and
the INA219 move to 0x41 and 0x45 to make room (their address pins allow it).
"""

from __future__ import annotations

from drivers.i2c.clock import Clock
from drivers.sim.chips.ads1115 import ADS1115Model
from drivers.sim.chips.base import SimChip
from drivers.sim.chips.bh1750 import BH1750Model
from drivers.sim.chips.bme280 import BME280Model
from drivers.sim.chips.bmp280 import BMP280Model
from drivers.sim.chips.htu21d import HTU21DModel
from drivers.sim.chips.ina219 import INA219Model
from drivers.sim.chips.mcp9808 import MCP9808Model
from drivers.sim.chips.pca9685 import PCA9685Model
from drivers.sim.chips.pcf8574 import PCF8574Model
from drivers.sim.chips.sht3x import SHT3xModel
from drivers.sim.physics import FixedValues, PhysicalSource
from drivers.sim.smbus import SimSMBus


def default_chips(physics: PhysicalSource) -> dict[int, SimChip]:
    """address -> a fresh model of every chip, all reading ``physics``."""
    return {
        0x18: MCP9808Model(physics=physics),
        0x20: PCF8574Model(physics=physics),
        0x23: BH1750Model(physics=physics),
        0x40: HTU21DModel(physics=physics),
        0x41: PCA9685Model(physics=physics),
        0x44: SHT3xModel(physics=physics),
        0x45: INA219Model(physics=physics),
        0x48: ADS1115Model(physics=physics),
        0x76: BME280Model(physics=physics),
        0x77: BMP280Model(physics=physics),
    }


def populated_bus(
    bus: int = 1, *, physics: PhysicalSource | None = None, clock: Clock | None = None
) -> SimSMBus:
    """A :class:`SimSMBus` numbered ``bus`` with :func:`default_chips` attached."""
    sim = SimSMBus(bus, clock=clock)
    for address, chip in default_chips(physics if physics is not None else FixedValues()).items():
        sim.attach(address, chip)
    return sim
