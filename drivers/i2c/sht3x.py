"""Sensirion SHT3x (SHT30/31/35) temperature and humidity, single shot without clock stretching.

A Pi's I2C controller mishandles clock stretching, so :meth:`SHT3x.read` sends the no-stretch
single-shot command (0x24xx), waits the datasheet's maximum measurement time, then reads the six
bytes ``T_MSB T_LSB CRC RH_MSB RH_LSB CRC``; while the chip is still measuring it NACKs the read
and the driver polls.  Every word's CRC-8 (0x31, init 0xFF) is checked: a mismatch is a
:class:`ChecksumError`, retryable.  Conversion divides by 2^16 - 1 as the datasheet does.

Options: ``bus``, ``address`` (0x44 default, 0x45), ``repeatability`` ("high" default, "medium",
"low": 15.5 / 6.5 / 4.5 ms).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import ChecksumError, ChipIdMismatch, DeviceNotFound, HardwareTimeout
from drivers.i2c.bus import I2CBus, SMBusLike
from drivers.i2c.clock import Clock
from drivers.i2c.crc import crc8
from drivers.i2c.device import I2CDevice, parse_choice
from drivers.i2c.registers import BoolAdapter, Field, Register

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource

#: repeatability -> (no-stretch single-shot command, maximum measurement time in s)
SINGLE_SHOT = {"high": (0x2400, 0.0155), "medium": (0x240B, 0.0065), "low": (0x2416, 0.0045)}
READ_STATUS = 0xF32D
CLEAR_STATUS = 0x3041
BREAK = 0x3093
SOFT_RESET = 0x30A2
RESET_TIME_S = 0.0015
#: After the maximum time, poll the NACKed read this many times, 1 ms apart.
READ_POLLS = 5

#: The status word, decoded with the register engine (it arrives by command, not by pointer).
STATUS = Register(
    "status",
    0xF32D,
    width=2,
    fields=(
        Field("alert_pending", (15, 15), BoolAdapter()),
        Field("heater", (13, 13), BoolAdapter()),
        Field("rh_alert", (11, 11), BoolAdapter()),
        Field("t_alert", (10, 10), BoolAdapter()),
        Field("reset_detected", (4, 4), BoolAdapter()),
        Field("command_failed", (1, 1), BoolAdapter()),
        Field("write_crc_failed", (0, 0), BoolAdapter()),
    ),
)


def sht_crc(data: bytes) -> int:
    """Sensirion CRC-8 (poly 0x31, init 0xFF); CRC(BE EF) = 0x92."""
    return crc8(data, init=0xFF)


def temperature_celsius(raw: int) -> float:
    """T = -45 + 175 * S_T / (2^16 - 1) (C.6)."""
    return -45.0 + 175.0 * raw / 65535.0


def humidity_percent(raw: int) -> float:
    """RH = 100 * S_RH / (2^16 - 1) (C.6)."""
    return 100.0 * raw / 65535.0


def command_bytes(command: int) -> bytes:
    """A 16-bit command as it goes on the wire: MSB first."""
    return bytes([command >> 8, command & 0xFF])


class SHT3x(I2CDevice, Sensor):
    """SHT3x over I2C.

    Args:
        bus: bus number, ``I2CBus`` or smbus-compatible object (default 1).
        address: 0x44 (ADDR low, default) or 0x45.
        repeatability: "high", "medium" or "low".
        clock: time source for the measurement wait.

    Raises:
        ChipIdMismatch: the status probe does not answer with a valid CRC (not an SHT3x).
        ChecksumError: a measured word fails its CRC (retryable).
        HardwareTimeout: the result is not ready well after the maximum measurement time.
    """

    NAME = "sht3x"
    ADDRESSES = (0x44, 0x45)
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "temperature": Quantity(float, "degC", "temperature, -45..130 degC"),
        "humidity": Quantity(float, "%RH", "relative humidity"),
    }

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x44,
        repeatability: str = "high",
        clock: Clock | None = None,
    ) -> None:
        self._attach(bus, address, clock)
        self.repeatability: str = parse_choice(
            self.NAME, "repeatability", repeatability, SINGLE_SHOT
        )
        self._setup()

    def _words(self, data: bytes) -> list[int]:
        """The words of an answer after checking each CRC."""
        words = []
        for i in range(0, len(data), 3):
            word, crc = data[i : i + 2], data[i + 2]
            expected = sht_crc(word)
            if crc != expected:
                raise ChecksumError(
                    f"{self.NAME}: CRC mismatch on word {word.hex()}: got 0x{crc:02x}, "
                    f"expected 0x{expected:02x}",
                    bus=self._bus.bus_id,
                    address=self._address,
                )
            words.append(int.from_bytes(word, "big"))
        return words

    def read_status(self) -> dict[str, Any]:
        """The decoded status register (heater, alerts, reset detected, ...)."""
        with self._lock, self._bus.device_lock(self._address), self._bus.transaction():
            self._bus.write(self._address, command_bytes(READ_STATUS))
            data = self._bus.read(self._address, 3)
        return dict(STATUS.decode(self._words(data)[0]))

    def _setup(self) -> None:
        """Break, soft reset, then probe the status word: an SHT3x answers it with a valid CRC.

        Break first: in periodic mode the chip ignores a soft reset (pages C.3).
        """
        self._bus.write(self._address, command_bytes(BREAK))
        self._clock.sleep(0.001)
        self._bus.write(self._address, command_bytes(SOFT_RESET))
        self._clock.sleep(RESET_TIME_S)
        try:
            self.read_status()
        except ChecksumError as exc:
            raise ChipIdMismatch(
                f"{self.NAME}: found a device whose status answer fails the SHT3x CRC "
                f"({exc}); expected an SHT3x",
                bus=self._bus.bus_id,
                address=self._address,
            ) from exc
        self._bus.write(self._address, command_bytes(CLEAR_STATUS))

    def reinitialize(self) -> None:
        """Soft reset and probe again."""
        with self._lock:
            self._setup()

    def read(self) -> Reading:
        """One single-shot measurement: temperature (degC) and humidity (%RH)."""
        self._check_open()
        command, wait = SINGLE_SHOT[self.repeatability]
        with self._lock, self._bus.device_lock(self._address):
            self._bus.write(self._address, command_bytes(command))
            self._clock.sleep(wait)
            data = None
            for attempt in range(READ_POLLS + 1):
                try:
                    data = self._bus.read(self._address, 6)
                    break
                except DeviceNotFound:
                    if attempt == READ_POLLS:
                        raise HardwareTimeout(
                            f"{self.NAME}: no result {READ_POLLS} ms after the maximum "
                            f"measurement time of {wait * 1000:.1f} ms (read NACKed)",
                            bus=self._bus.bus_id,
                            address=self._address,
                        ) from None
                    self._clock.sleep(0.001)
            assert data is not None
        s_t, s_rh = self._words(data)
        return {
            "temperature": round(temperature_celsius(s_t), 4),
            "humidity": round(humidity_percent(s_rh), 4),
        }

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.sht3x.SHT3xModel` reading ``physics``."""
        from drivers.sim.chips.sht3x import SHT3xModel  # noqa: PLC0415

        return SHT3xModel(physics=physics)
