"""Microchip MCP9808 digital temperature sensor (hardware pages, section F).

The chip converts continuously; :meth:`MCP9808.read` reads the ambient-temperature register
(0x05) once.  Conversion follows the datasheet's text (13-bit two's complement after masking the
three flag bits), not its sample code, whose "256 - x" for negative temperatures has the wrong
sign (pages F.6).

Options: ``bus``, ``address`` (0x18..0x1F), ``resolution`` in degC (0.0625 default, 0.125, 0.25,
0.5; coarser converts faster: 250/130/65/30 ms).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import ChipIdMismatch
from drivers.i2c.bus import I2CBus, SMBusLike
from drivers.i2c.clock import Clock
from drivers.i2c.device import I2CDevice, parse_choice
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

MANUFACTURER_ID = 0x0054
DEVICE_ID = 0x04  # upper byte of register 0x07; the lower byte is the revision

RESOLUTION_CODES = {0.5: 0, 0.25: 1, 0.125: 2, 0.0625: 3}
CONVERSION_TIME_S = {0: 0.030, 1: 0.065, 2: 0.130, 3: 0.250}

CONFIG = Register(
    "CONFIG",
    0x01,
    width=2,
    fields=(
        Field("t_hyst", (10, 9), LookupAdapter({0.0: 0, 1.5: 1, 3.0: 2, 6.0: 3})),
        Field("shdn", (8, 8), BoolAdapter()),
        Field("crit_lock", (7, 7), BoolAdapter()),
        Field("win_lock", (6, 6), BoolAdapter()),
        Field("int_clear", (5, 5), BoolAdapter()),
        Field("alert_stat", (4, 4), BoolAdapter(), access=Access.RO),
        Field("alert_cnt", (3, 3), BoolAdapter()),
        Field("alert_sel", (2, 2), BoolAdapter()),
        Field("alert_pol", (1, 1), BoolAdapter()),
        Field("alert_mod", (0, 0), BoolAdapter()),
    ),
)
T_UPPER = Register("T_UPPER", 0x02, width=2)
T_LOWER = Register("T_LOWER", 0x03, width=2)
T_CRIT = Register("T_CRIT", 0x04, width=2)
T_A = Register(
    "T_A",
    0x05,
    width=2,
    access=Access.RO,
    fields=(
        Field("crit", (15, 15), BoolAdapter()),
        Field("upper", (14, 14), BoolAdapter()),
        Field("lower", (13, 13), BoolAdapter()),
        Field("temperature", (12, 0)),
    ),
)
MANUFACTURER = Register("MANUFACTURER_ID", 0x06, width=2, access=Access.RO)
DEVICE = Register("DEVICE_ID", 0x07, width=2, access=Access.RO)
RESOLUTION = Register(
    "RESOLUTION", 0x08, fields=(Field("resolution", (1, 0), LookupAdapter(RESOLUTION_CODES)),)
)


def ambient_celsius(word: int) -> float:
    """Temperature of a T_A word: mask flags 15:13, sign-extend bit 12, divide by 16 (F.6)."""
    value = word & 0x1FFF
    if value >= 4096:
        value -= 8192
    return value / 16.0


def limit_celsius(word: int) -> float:
    """Temperature of a limit register word (0.25 degC steps)."""
    value = word & 0x1FFC
    if value >= 4096:
        value -= 8192
    return value / 16.0


def limit_word(celsius: float) -> int:
    """Limit register word for ``celsius`` (two's complement, 0.25 degC steps; F.7)."""
    return (round(celsius * 4) % 2048) << 2


class MCP9808(I2CDevice, Sensor):
    """MCP9808 over I2C.

    Args:
        bus: bus number, ``I2CBus`` or smbus-compatible object (default 1).
        address: 0x18..0x1F (A2..A0; default 0x18).
        resolution: 0.0625 (default), 0.125, 0.25 or 0.5 degC.
        clock: time source for the first-conversion wait.

    Raises:
        ChipIdMismatch: the manufacturer/device ids are not 0x0054/0x04xx.
    """

    NAME = "mcp9808"
    ADDRESSES = tuple(range(0x18, 0x20))
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "temperature": Quantity(float, "degC", "temperature, 0.0625 degC steps at most"),
    }

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x18,
        resolution: float | str = 0.0625,
        clock: Clock | None = None,
    ) -> None:
        self._attach(bus, address, clock)
        res = parse_choice(self.NAME, "resolution", resolution, RESOLUTION_CODES)
        self.resolution: float = res
        self._regs = RegisterDevice(self._bus, self._address)
        self._setup()

    def _setup(self) -> None:
        manufacturer = self._regs.read_raw(MANUFACTURER)
        device = self._regs.read_raw(DEVICE)
        if manufacturer != MANUFACTURER_ID or device >> 8 != DEVICE_ID:
            raise ChipIdMismatch(
                f"{self.NAME}: found manufacturer id 0x{manufacturer:04x}, "
                f"device id 0x{device:04x}; "
                f"expected 0x{MANUFACTURER_ID:04x}, 0x{DEVICE_ID:02x}xx",
                bus=self._bus.bus_id,
                address=self._address,
            )
        self._regs.set(CONFIG, shdn=False)
        self._regs.set(RESOLUTION, resolution=self.resolution)
        # T_A holds the old value (0 after power-up) until the first conversion at this
        # resolution has finished; the table gives typical times, so wait 10 % more.
        self._clock.sleep(CONVERSION_TIME_S[RESOLUTION_CODES[self.resolution]] * 1.1)

    def reinitialize(self) -> None:
        """Re-check the ids and re-send resolution and wake-up."""
        with self._lock:
            self._setup()

    def read(self) -> Reading:
        """The ambient temperature in degC."""
        self._check_open()
        word = self._regs.read_raw(T_A)
        return {"temperature": ambient_celsius(word)}

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.mcp9808.MCP9808Model` reading ``physics``."""
        from drivers.sim.chips.mcp9808 import MCP9808Model  # noqa: PLC0415

        return MCP9808Model(physics=physics)
