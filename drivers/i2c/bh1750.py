"""ROHM BH1750FVI ambient light sensor in one-time modes (hardware pages, section E).

The chip has no registers, no status and no id: every command is one opcode in its own write,
and the result is a bare 2-byte read (no command byte: an SMBus "read word data" would send one,
which the chip executes as an opcode).  :meth:`BH1750.read` sends the one-time opcode, waits the
*maximum* measurement time scaled by MTreg (an early read silently returns the previous value),
and converts with lux = count / 1.2 * 69 / MTreg (/2 in H2 mode).

Identity: the only check the chip allows is that, after Power On and Reset, its data register
reads 0; something else answering at the address reads otherwise (ChipIdMismatch).

Options: ``bus``, ``address`` (0x23 default, 0x5C), ``mode`` ("high" 1 lx default, "high2"
0.5 lx, "low" 4 lx), ``mtreg`` (31..254, default 69: sensitivity and range).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import ChipIdMismatch, DriverConfigError
from drivers.i2c.bus import I2CBus, SMBusLike
from drivers.i2c.clock import Clock
from drivers.i2c.device import I2CDevice, parse_choice, parse_int

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource

POWER_DOWN, POWER_ON, RESET = 0x00, 0x01, 0x07
ONE_TIME = {"high": 0x20, "high2": 0x21, "low": 0x23}
MAX_TIME_S = {"high": 0.180, "high2": 0.180, "low": 0.024}
DEFAULT_MTREG = 69


def lux_from_count(count: int, *, mode: str = "high", mtreg: int = DEFAULT_MTREG) -> float:
    """lux = count / 1.2 * (69 / MTreg), halved in H-resolution mode 2 (E.6)."""
    lux = count / 1.2 * (DEFAULT_MTREG / mtreg)
    return lux / 2.0 if mode == "high2" else lux


def mtreg_opcodes(mtreg: int) -> tuple[int, int]:
    """The two change-measurement-time opcodes: 0x40 | MT[7:5], 0x60 | MT[4:0] (E.4)."""
    return 0x40 | (mtreg >> 5), 0x60 | (mtreg & 0x1F)


class BH1750(I2CDevice, Sensor):
    """BH1750 over I2C.

    Args:
        bus: bus number, ``I2CBus`` or smbus-compatible object (default 1).
        address: 0x23 (ADDR low, default) or 0x5C.
        mode: "high" (default), "high2" or "low".
        mtreg: measurement-time register, 31..254 (default 69).
        clock: time source for the measurement wait.
    """

    NAME = "bh1750"
    ADDRESSES = (0x23, 0x5C)
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "light": Quantity(float, "lux", "illuminance"),
    }

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x23,
        mode: str = "high",
        mtreg: int | str = DEFAULT_MTREG,
        clock: Clock | None = None,
    ) -> None:
        self._attach(bus, address, clock)
        self.mode: str = parse_choice(self.NAME, "mode", mode, ONE_TIME)
        value = parse_int(mtreg)
        if value is None or not 31 <= value <= 254:
            raise DriverConfigError(
                f"{self.NAME}: option 'mtreg' = {mtreg!r} is not valid; valid: 31..254"
            )
        self.mtreg = value
        self._setup()

    def _setup(self) -> None:
        self._bus.write(self._address, [POWER_ON])
        self._bus.write(self._address, [RESET])
        count = int.from_bytes(self._bus.read(self._address, 2), "big")
        if count != 0:
            raise ChipIdMismatch(
                f"{self.NAME}: found data 0x{count:04x} right after Reset, expected 0x0000 "
                "(is another chip at this address?)",
                bus=self._bus.bus_id,
                address=self._address,
            )
        self._bus.write(self._address, [POWER_DOWN])
        for opcode in mtreg_opcodes(self.mtreg):
            self._bus.write(self._address, [opcode])

    def reinitialize(self) -> None:
        """Power on, reset, resend MTreg."""
        with self._lock:
            self._setup()

    @property
    def measurement_time_s(self) -> float:
        """Maximum time of one measurement with this mode and MTreg."""
        return MAX_TIME_S[self.mode] * self.mtreg / DEFAULT_MTREG

    def read(self) -> Reading:
        """One one-time measurement: illuminance in lux."""
        self._check_open()
        with self._lock, self._bus.device_lock(self._address):
            self._bus.write(self._address, [ONE_TIME[self.mode]])
            self._clock.sleep(self.measurement_time_s)
            count = int.from_bytes(self._bus.read(self._address, 2), "big")
        return {"light": round(lux_from_count(count, mode=self.mode, mtreg=self.mtreg), 3)}

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.bh1750.BH1750Model` reading ``physics``."""
        from drivers.sim.chips.bh1750 import BH1750Model  # noqa: PLC0415

        return BH1750Model(physics=physics)
