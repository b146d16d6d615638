"""TI INA219 current, power and bus-voltage monitor (hardware pages io-and-linux, section B).

At start the driver resets the chip (RST), checks the configuration register comes back as the
power-on 0x399F (its identity check: no id register exists), then writes the calibration and a
configuration for continuous shunt + bus conversion with the smallest shunt range that holds
``max_current``.  Calibration follows the datasheet: Current_LSB = max_current / 2^15,
Cal = trunc(0.04096 / (Current_LSB * R_shunt)); the driver then uses the Current_LSB that the
truncated Cal really gives, so current and power are exact to the register's LSB.

Each :meth:`INA219.read` returns ``voltage`` (bus, V), ``shunt_voltage`` (V), ``current`` (A) and
``power`` (W).  The math-overflow flag and a shunt voltage at full scale raise
:class:`HardwareError` (the current is beyond the range and the reading would be clipped).

Options: ``bus``, ``address`` (0x40..0x4F), ``shunt_ohms`` (default 0.1), ``max_current`` in A
(default 3.2), ``bus_voltage_range`` (32 default, or 16 V).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import ChipIdMismatch, DriverConfigError, HardwareError
from drivers.i2c.bus import I2CBus, SMBusLike
from drivers.i2c.clock import Clock
from drivers.i2c.device import I2CDevice, parse_choice, parse_float
from drivers.i2c.registers import (
    Access,
    BoolAdapter,
    Field,
    LookupAdapter,
    Register,
    RegisterDevice,
)

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource

POWER_ON_CONFIG = 0x399F
#: shunt range in V -> PG code
SHUNT_RANGES = {0.04: 0, 0.08: 1, 0.16: 2, 0.32: 3}

CONFIGURATION = Register(
    "Configuration",
    0x00,
    width=2,
    fields=(
        Field("rst", (15, 15), BoolAdapter()),
        Field("brng", (13, 13), LookupAdapter({16: 0, 32: 1})),
        Field("pg", (12, 11), LookupAdapter(SHUNT_RANGES)),
        Field("badc", (10, 7)),
        Field("sadc", (6, 3)),
        Field("mode", (2, 0)),
    ),
)
SHUNT_VOLTAGE = Register("Shunt voltage", 0x01, width=2, access=Access.RO)
BUS_VOLTAGE = Register(
    "Bus voltage",
    0x02,
    width=2,
    access=Access.RO,
    fields=(
        Field("bd", (15, 3)),
        Field("cnvr", (1, 1), BoolAdapter()),
        Field("ovf", (0, 0), BoolAdapter()),
    ),
)
POWER = Register("Power", 0x03, width=2, access=Access.RO)
CURRENT = Register("Current", 0x04, width=2, access=Access.RO)
CALIBRATION = Register("Calibration", 0x05, width=2)


def _s16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


def calibration_value(current_lsb: float, shunt_ohms: float) -> int:
    """Cal = trunc(0.04096 / (Current_LSB * R_shunt)) (B.6)."""
    return math.trunc(0.04096 / (current_lsb * shunt_ohms) + 1e-9)


def current_register(shunt_register: int, calibration: int) -> int:
    """Current register = Shunt voltage register * Cal / 4096 (signed, B.6)."""
    return math.trunc(_s16(shunt_register) * calibration / 4096)


def power_register(current_reg: int, bus_register: int) -> int:
    """Power register = Current register * (Bus voltage register >> 3) / 5000 (B.6)."""
    return abs(_s16(current_reg)) * (bus_register >> 3) // 5000


def bus_volts(bus_register: int) -> float:
    """Bus voltage: (register >> 3) * 4 mV (B.5)."""
    return (bus_register >> 3) * 0.004


def shunt_volts(shunt_register: int) -> float:
    """Shunt voltage: signed register * 10 uV (B.4)."""
    return _s16(shunt_register) * 10e-6


class INA219(I2CDevice, Sensor):
    """INA219 over I2C.

    Raises:
        DriverConfigError: bad options, or a shunt/current pair beyond the 320 mV range.
        ChipIdMismatch: the configuration register is not 0x399F after reset.
        HardwareError: the chip flags a math overflow (current beyond ``max_current``).
    """

    NAME = "ina219"
    ADDRESSES = tuple(range(0x40, 0x50))
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "voltage": Quantity(float, "V", "bus voltage (load side)"),
        "shunt_voltage": Quantity(float, "V", "voltage across the shunt"),
        "current": Quantity(float, "A", "current through the shunt"),
        "power": Quantity(float, "W", "power delivered to the load"),
    }

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x40,
        shunt_ohms: float | str = 0.1,
        max_current: float | str = 3.2,
        bus_voltage_range: int | str = 32,
        clock: Clock | None = None,
    ) -> None:
        name = self.NAME
        self.shunt_ohms = parse_float(name, "shunt_ohms", shunt_ohms, 1e-4, 100.0)
        self.max_current = parse_float(name, "max_current", max_current, 1e-4, 100.0)
        self.bus_voltage_range: int = parse_choice(
            name, "bus_voltage_range", bus_voltage_range, (32, 16)
        )
        needed = self.max_current * self.shunt_ohms
        ranges = [r for r in SHUNT_RANGES if r >= needed - 1e-9]
        if not ranges:
            raise DriverConfigError(
                f"{name}: max_current {self.max_current:g} A through shunt_ohms "
                f"{self.shunt_ohms:g} "
                f"gives {needed * 1000:g} mV, beyond the 320 mV shunt range; use a smaller shunt"
            )
        self.shunt_range = ranges[0]
        lsb = self.max_current / 32768
        cal = calibration_value(lsb, self.shunt_ohms)
        cal = min(cal, 0xFFFE)
        if cal < 1:
            raise DriverConfigError(
                f"{name}: shunt_ohms {self.shunt_ohms:g} is too large for a calibration"
            )
        self.calibration = cal & 0xFFFE
        self.current_lsb = 0.04096 / (self.calibration * self.shunt_ohms)
        self._attach(bus, address, clock)
        self._regs = RegisterDevice(self._bus, self._address)
        self._setup()

    def _setup(self) -> None:
        with self._bus.device_lock(self._address):
            self._regs.write_raw(CONFIGURATION, CONFIGURATION.encode(rst=True))
            found = self._regs.read_raw(CONFIGURATION)
            if found != POWER_ON_CONFIG:
                raise ChipIdMismatch(
                    f"{self.NAME}: found configuration 0x{found:04x} after reset, "
                    f"expected 0x{POWER_ON_CONFIG:04x}",
                    bus=self._bus.bus_id,
                    address=self._address,
                )
            self._regs.write_raw(CALIBRATION, self.calibration)
            config = CONFIGURATION.encode(
                brng=self.bus_voltage_range,
                pg=self.shunt_range,
                badc=0b0011,
                sadc=0b0011,
                mode=0b111,
            )
            self._regs.write_raw(CONFIGURATION, config)
            self._clock.sleep(2 * 532e-6)

    def reinitialize(self) -> None:
        """Reset and reconfigure (a chip reset clears the calibration)."""
        with self._lock:
            self._setup()

    def read(self) -> Reading:
        """Bus voltage, shunt voltage, current and power."""
        self._check_open()
        with self._lock, self._bus.device_lock(self._address):
            bus = self._regs.read_raw(BUS_VOLTAGE)
            shunt = self._regs.read_raw(SHUNT_VOLTAGE)
            current = self._regs.read_raw(CURRENT)
            power = self._regs.read_raw(POWER)
            calibration = self._regs.read_raw(CALIBRATION)
        if BUS_VOLTAGE.decode(bus)["ovf"]:
            raise HardwareError(
                f"{self.NAME}: math overflow, current beyond max_current {self.max_current:g} A",
                bus=self._bus.bus_id,
                address=self._address,
            )
        full_scale = round(self.shunt_range / 10e-6)
        if abs(_s16(shunt)) >= full_scale:
            raise HardwareError(
                f"{self.NAME}: shunt voltage at the {self.shunt_range * 1000:g} mV full scale; "
                f"the current exceeds max_current {self.max_current:g} A and reads clipped",
                bus=self._bus.bus_id,
                address=self._address,
            )
        if calibration != self.calibration:
            raise HardwareError(
                f"{self.NAME}: calibration reads {calibration}, expected {self.calibration} "
                "(the chip was reset)",
                bus=self._bus.bus_id,
                address=self._address,
            )
        return {
            "voltage": round(bus_volts(bus), 3),
            "shunt_voltage": round(shunt_volts(shunt), 5),
            "current": round(_s16(current) * self.current_lsb, 6),
            "power": round(power * 20 * self.current_lsb, 6),
        }

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """An :class:`~drivers.sim.chips.ina219.INA219Model` with the configured shunt."""
        from drivers.sim.chips.ina219 import INA219Model  # noqa: PLC0415

        return INA219Model(physics=physics, shunt_ohms=float(options.get("shunt_ohms", 0.1)))
