"""TE HTU21D(F) and Silicon Labs Si7021 temperature/humidity (hardware pages, section D).

No-hold-master commands only (0xF3 temperature, 0xF5 humidity): the chip NACKs the read while it
converts and the driver polls after the maximum conversion time, so no clock stretching reaches
the Pi's controller.  Each result's CRC-8 (0x31, init 0x00) is checked; the two status bits are
masked before conversion (the step Adafruit's drivers skip).  The Si7021 measures temperature
with every humidity conversion, which the driver fetches with 0xE0 instead of converting twice.

Identity: neither chip has an id register.  The user register's reset value tells them apart
(HTU21D 0x02, Si7021 0x3A; pages D.2), checked after a soft reset; a Si7021 additionally reports
device id 0x15 in its electronic ID.

Options: ``bus``, ``address`` (0x40), ``humidity_bits`` (12 default, 11, 10, 8; the temperature
resolution follows: 14, 11, 13, 12 bits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import (
    ChecksumError,
    ChipIdMismatch,
    DeviceNotFound,
    HardwareError,
    HardwareTimeout,
)
from drivers.i2c.bus import I2CBus, SMBusLike
from drivers.i2c.clock import Clock
from drivers.i2c.crc import crc8
from drivers.i2c.device import I2CDevice, parse_choice
from drivers.i2c.registers import BoolAdapter, Field, LookupAdapter, Register

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource

MEASURE_T, MEASURE_RH, READ_T_OF_RH = 0xF3, 0xF5, 0xE0
READ_USER, WRITE_USER, SOFT_RESET = 0xE7, 0xE6, 0xFE
RESET_TIME_S = 0.015
READ_POLLS = 10

#: humidity bits -> resolution code (RES1 at bit 7, RES0 at bit 0); temperature bits follow.
RESOLUTION = LookupAdapter({12: 0b00, 8: 0b01, 10: 0b10, 11: 0b11})
TEMPERATURE_BITS = {12: 14, 8: 12, 10: 13, 11: 11}

USER_REGISTER = Register(
    "user",
    0xE7,
    fields=(
        Field("res1", (7, 7)),
        Field("vdd_low", (6, 6), BoolAdapter()),
        Field("heater", (2, 2), BoolAdapter()),
        Field("res0", (0, 0)),
    ),
)


def htu_crc(data: bytes) -> int:
    """HTU21D/Si7021 CRC-8 (poly 0x31, init 0x00); CRC(DC) = 0x79, CRC(68 3A) = 0x7C."""
    return crc8(data, init=0x00)


def temperature_celsius(word: int) -> float:
    """T = -46.85 + 175.72 * S' / 2^16 with the status bits cleared (D.6)."""
    return -46.85 + 175.72 * (word & 0xFFFC) / 65536.0


def humidity_percent(word: int) -> float:
    """RH = -6 + 125 * S' / 2^16 with the status bits cleared, clamped to 0..100 (D.6)."""
    return min(100.0, max(0.0, -6.0 + 125.0 * (word & 0xFFFC) / 65536.0))


class HTU21D(I2CDevice, Sensor):
    """HTU21D over I2C.

    Args:
        bus: bus number, ``I2CBus`` or smbus-compatible object (default 1).
        address: 0x40 (fixed).
        humidity_bits: 12 (default), 11, 10 or 8.
        clock: time source for the conversion waits.

    Raises:
        ChipIdMismatch: the user register's reset value is another chip's.
        ChecksumError: a result fails its CRC (retryable).
        HardwareTimeout: the result is still not ready well after the maximum conversion time.
    """

    NAME = "htu21d"
    ADDRESSES = (0x40,)
    USER_RESET: ClassVar[int] = 0x02
    CHIP_BY_USER_RESET: ClassVar[dict[int, str]] = {0x02: "htu21d", 0x3A: "si7021"}
    RH_TIME: ClassVar[dict[int, float]] = {12: 0.016, 11: 0.008, 10: 0.005, 8: 0.003}
    T_TIME: ClassVar[dict[int, float]] = {14: 0.050, 13: 0.025, 12: 0.013, 11: 0.007}
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "temperature": Quantity(float, "degC", "temperature"),
        "humidity": Quantity(float, "%RH", "relative humidity, clamped to 0..100"),
    }

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x40,
        humidity_bits: int | str = 12,
        clock: Clock | None = None,
    ) -> None:
        self._attach(bus, address, clock)
        self.humidity_bits: int = parse_choice(
            self.NAME, "humidity_bits", humidity_bits, (12, 11, 10, 8)
        )
        self.temperature_bits = TEMPERATURE_BITS[self.humidity_bits]
        self._setup()

    def _fail(self, kind: type[HardwareError], message: str) -> HardwareError:
        return kind(f"{self.NAME}: {message}", bus=self._bus.bus_id, address=self._address)

    def _setup(self) -> None:
        self._bus.write(self._address, [SOFT_RESET])
        self._clock.sleep(RESET_TIME_S)
        user = self._bus.write_then_read(self._address, [READ_USER], 1)[0]
        if user != self.USER_RESET:
            other = self.CHIP_BY_USER_RESET.get(user)
            hint = f" (a {other}: use driver {other!r})" if other else ""
            raise self._fail(
                ChipIdMismatch,
                f"found user register 0x{user:02x} after reset{hint}, "
                f"expected 0x{self.USER_RESET:02x}",
            )
        self._check_identity()
        code = RESOLUTION.encode(self.humidity_bits)
        new = (user & 0x7E) | ((code & 0b10) << 6) | (code & 1)  # keep reserved bits
        self._bus.write(self._address, [WRITE_USER, new])

    def _check_identity(self) -> None:
        """Further identity checks (the Si7021 has an electronic id)."""

    def reinitialize(self) -> None:
        """Soft reset, identity check, resolution."""
        with self._lock:
            self._setup()

    def _result(self, command: int, wait: float) -> int:
        """Send a no-hold command, wait, poll the read; the CRC-checked 16-bit word."""
        self._bus.write(self._address, [command])
        self._clock.sleep(wait)
        for attempt in range(READ_POLLS + 1):
            try:
                data = self._bus.read(self._address, 3)
                break
            except DeviceNotFound:
                if attempt == READ_POLLS:
                    raise self._fail(
                        HardwareTimeout,
                        f"no result for command 0x{command:02x} {READ_POLLS} ms after its "
                        f"maximum conversion time of {wait * 1000:.1f} ms",
                    ) from None
                self._clock.sleep(0.001)
        expected = htu_crc(data[:2])
        if data[2] != expected:
            raise self._fail(
                ChecksumError,
                f"CRC mismatch on {data[:2].hex()}: got 0x{data[2]:02x}, expected 0x{expected:02x}",
            )
        return int.from_bytes(data[:2], "big")

    def _measure(self) -> tuple[int, int]:
        t = self._result(MEASURE_T, self.T_TIME[self.temperature_bits])
        rh = self._result(MEASURE_RH, self.RH_TIME[self.humidity_bits])
        return t, rh

    def read(self) -> Reading:
        """Temperature (degC) and humidity (%RH)."""
        self._check_open()
        with self._lock, self._bus.device_lock(self._address):
            t, rh = self._measure()
        return {
            "temperature": round(temperature_celsius(t), 4),
            "humidity": round(humidity_percent(rh), 4),
        }

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.htu21d.HTU21DModel` reading ``physics``."""
        from drivers.sim.chips.htu21d import HTU21DModel  # noqa: PLC0415

        return HTU21DModel(physics=physics)


class Si7021(HTU21D):
    """Si7021 over I2C (same options and errors as :class:`HTU21D`)."""

    NAME = "si7021"
    USER_RESET = 0x3A
    RH_TIME: ClassVar[dict[int, float]] = {12: 0.012, 11: 0.007, 10: 0.0045, 8: 0.0031}
    T_TIME: ClassVar[dict[int, float]] = {14: 0.0108, 13: 0.0062, 12: 0.0038, 11: 0.0024}
    DEVICE_IDS: ClassVar[dict[int, str]] = {0x0D: "Si7013", 0x14: "Si7020", 0x15: "Si7021"}

    def _check_identity(self) -> None:
        data = self._bus.write_then_read(self._address, [0xFC, 0xC9], 6)
        if htu_crc(data[:2]) != data[2]:
            raise self._fail(ChecksumError, f"CRC mismatch in electronic id {data.hex(' ')}")
        snb3 = data[0]
        if snb3 not in (0x15, 0x00, 0xFF):  # 0x00/0xFF: engineering samples
            name = self.DEVICE_IDS.get(snb3, "unknown")
            raise self._fail(
                ChipIdMismatch, f"found device id 0x{snb3:02x} ({name}), expected 0x15 (Si7021)"
            )

    def _measure(self) -> tuple[int, int]:
        rh_wait = self.RH_TIME[self.humidity_bits] + self.T_TIME[self.temperature_bits]
        rh = self._result(MEASURE_RH, rh_wait)
        # The temperature measured for the RH compensation: no new conversion, no CRC.
        t = int.from_bytes(self._bus.write_then_read(self._address, [READ_T_OF_RH], 2), "big")
        return t, rh

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.htu21d.Si7021Model` reading ``physics``."""
        from drivers.sim.chips.htu21d import Si7021Model  # noqa: PLC0415

        return Si7021Model(physics=physics)
