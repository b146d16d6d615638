"""Bosch BME280 (temperature, humidity, pressure) in forced mode.

Each :meth:`BME280.read` writes ``ctrl_hum`` then ``ctrl_meas`` (forced mode; ctrl_hum only takes
effect with the following ctrl_meas write), waits the datasheet's maximum measurement time,
confirms ``status.measuring`` is clear, burst-reads 0xF7..0xFE in one transfer (so all values come
from one measurement) and compensates with the datasheet's integer formulas
(:mod:`drivers.i2c.bosch`): temperature to 0.01 degC, pressure in Q24.8 Pa, humidity in Q22.10 %RH.

Options (model file / CLI): ``bus`` (default 1), ``address`` (0x76 or 0x77), ``oversampling``
(1, 2, 4, 8, 16; default 1, the datasheet's weather-monitoring setting), ``iir_filter``
(1 = off (default), 2, 4, 8, 16).

Example::

    >>> with BME280(bus=1, address=0x76) as sensor:
    ...     sensor.read()
    {'temperature': 21.43, 'humidity': 48.21, 'pressure': 1013.2}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import ChipIdMismatch, HardwareError, HardwareTimeout
from drivers.i2c import bosch
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

OVERSAMPLING = LookupAdapter(bosch.OVERSAMPLING_CODES, read_aliases={6: 16, 7: 16})
MODE = LookupAdapter({"sleep": 0, "forced": 1, "normal": 3}, read_aliases={2: "forced"})

CHIP_ID = Register("id", 0xD0, access=Access.RO)
RESET = Register("reset", 0xE0, access=Access.WO)
CTRL_HUM = Register("ctrl_hum", 0xF2, fields=(Field("osrs_h", (2, 0), OVERSAMPLING),))
STATUS = Register(
    "status",
    0xF3,
    access=Access.RO,
    fields=(Field("measuring", (3, 3), BoolAdapter()), Field("im_update", (0, 0), BoolAdapter())),
)
CTRL_MEAS = Register(
    "ctrl_meas",
    0xF4,
    fields=(
        Field("osrs_t", (7, 5), OVERSAMPLING),
        Field("osrs_p", (4, 2), OVERSAMPLING),
        Field("mode", (1, 0), MODE),
    ),
)
CONFIG = Register(
    "config",
    0xF5,
    fields=(
        Field("t_sb", (7, 5)),
        Field("filter", (4, 2), LookupAdapter({1: 0, 2: 1, 4: 2, 8: 3, 16: 4})),
        Field("spi3w_en", (0, 0), BoolAdapter()),
    ),
)
CALIB_TP = 0x88  # 24 bytes, dig_T1..dig_P9
CALIB_H1 = 0xA1
CALIB_H = 0xE1  # 7 bytes
DATA = 0xF7  # press[3], temp[3], hum[2]

SOFT_RESET_WORD = 0xB6
STARTUP_S = 0.002
#: Extra 1 ms polls of ``status.measuring`` after the maximum time before giving up.
STATUS_POLLS = 10

CHIP_NAMES = {
    0x60: "BME280",
    0x58: "BMP280",
    0x56: "BMP280 sample",
    0x57: "BMP280 sample",
    0x55: "BMP180",
}


def chip_name(chip_id: int) -> str:
    """``0x58 (BMP280)`` for messages."""
    name = CHIP_NAMES.get(chip_id)
    return f"0x{chip_id:02x} ({name})" if name else f"0x{chip_id:02x}"


def unpack_data(data: bytes) -> tuple[int, int, int | None]:
    """(adc_P, adc_T, adc_H or None) from the burst read of 0xF7.. (6 or 8 bytes, MSB first)."""
    adc_p = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4)
    adc_t = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4)
    adc_h = (data[6] << 8) | data[7] if len(data) >= 8 else None
    return adc_p, adc_t, adc_h


class BME280(I2CDevice, Sensor):
    """Bosch BME280 over I2C, forced mode.

    Args:
        bus: bus number, ``I2CBus`` or smbus-compatible object (default 1).
        address: 0x76 (SDO low, default) or 0x77.
        oversampling: 1, 2, 4, 8 or 16 for every channel (default 1).
        iir_filter: IIR coefficient for temperature and pressure, 1 (off, default), 2, 4, 8, 16;
            smooths gusts and door slams at the cost of a slower response (pages A.5).
        clock: time source for the conversion wait.

    Raises:
        DriverConfigError: a bad option (names it and what is valid).
        ChipIdMismatch: register 0xD0 holds another chip's id.
        DeviceNotFound / BusError: nothing answers or the bus fails.

    Thread-safe: a measurement holds the chip's lock; other chips on the bus stay usable.
    """

    NAME = "bme280"
    ADDRESSES = (0x76, 0x77)
    CHIP_IDS: ClassVar[tuple[int, ...]] = (0x60,)
    HAS_HUMIDITY: ClassVar[bool] = True
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "temperature": Quantity(float, "degC", "air temperature, 0.01 degC steps"),
        "humidity": Quantity(float, "%RH", "relative humidity"),
        "pressure": Quantity(float, "hPa", "barometric pressure"),
    }

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x76,
        oversampling: int | str = 1,
        iir_filter: int | str = 1,
        clock: Clock | None = None,
    ) -> None:
        self._attach(bus, address, clock)
        choices = (1, 2, 4, 8, 16)
        self.oversampling: int = parse_choice(self.NAME, "oversampling", oversampling, choices)
        self.iir_filter: int = parse_choice(self.NAME, "iir_filter", iir_filter, choices)
        self._regs = RegisterDevice(self._bus, self._address)
        self.calibration = self._setup()

    def _setup(self) -> bosch.Calibration:
        """Check the chip id, reset, load calibration, set the filter (in sleep mode)."""
        found = self._regs.read_raw(CHIP_ID)
        if found not in self.CHIP_IDS:
            expected = " or ".join(chip_name(c) for c in self.CHIP_IDS)
            raise ChipIdMismatch(
                f"{self.NAME}: found chip id {chip_name(found)}, expected {expected}",
                bus=self._bus.bus_id,
                address=self._address,
            )
        self._regs.write_raw(RESET, SOFT_RESET_WORD)
        self._clock.sleep(STARTUP_S)
        for _ in range(STATUS_POLLS):
            if not self._regs.get(STATUS)["im_update"]:
                break
            self._clock.sleep(0.001)
        else:
            raise HardwareTimeout(
                f"{self.NAME}: calibration copy (status.im_update) did not finish after reset",
                bus=self._bus.bus_id,
                address=self._address,
            )
        tp = self._regs.read_block(CALIB_TP, 24)
        humidity = None
        if self.HAS_HUMIDITY:
            humidity = self._regs.read_block(CALIB_H1, 1) + self._regs.read_block(CALIB_H, 7)
        self._regs.write_raw(CONFIG, CONFIG.encode(filter=self.iir_filter, t_sb=0))
        return bosch.parse_calibration(tp, humidity)

    def reinitialize(self) -> None:
        """Re-check the id, reset and reload the calibration (after a power glitch)."""
        with self._lock:
            self.calibration = self._setup()

    @property
    def measurement_time_s(self) -> float:
        """The datasheet's maximum forced-mode measurement time for the configured oversampling."""
        os = self.oversampling
        return bosch.measurement_time_max_ms(os, os, os if self.HAS_HUMIDITY else None) / 1000.0

    def _measure(self) -> bytes:
        """One forced measurement; the raw data block."""
        with self._lock, self._bus.device_lock(self._address):
            if self.HAS_HUMIDITY:
                self._regs.write_raw(CTRL_HUM, CTRL_HUM.encode(osrs_h=self.oversampling))
            ctrl = CTRL_MEAS.encode(
                osrs_t=self.oversampling, osrs_p=self.oversampling, mode="forced"
            )
            self._regs.write_raw(CTRL_MEAS, ctrl)
            self._clock.sleep(self.measurement_time_s)
            for _ in range(STATUS_POLLS):
                if not self._regs.get(STATUS)["measuring"]:
                    break
                self._clock.sleep(0.001)
            else:
                raise HardwareTimeout(
                    f"{self.NAME}: measurement still running {STATUS_POLLS} ms after its "
                    f"maximum time of {self.measurement_time_s * 1000:.1f} ms",
                    bus=self._bus.bus_id,
                    address=self._address,
                )
            return self._regs.read_block(DATA, 8 if self.HAS_HUMIDITY else 6)

    def _compensate(self, data: bytes) -> Reading:
        adc_p, adc_t, adc_h = unpack_data(data)
        if bosch.SKIPPED_20BIT in (adc_t, adc_p) or adc_h == bosch.SKIPPED_16BIT:
            raise HardwareError(
                f"{self.NAME}: data registers hold the 'skipped' value after a forced measurement; "
                "the chip was probably reset",
                bus=self._bus.bus_id,
                address=self._address,
            )
        cal = self.calibration
        t_fine, t_centi = bosch.temperature_int32(adc_t, cal)
        reading: Reading = {"temperature": t_centi / 100.0}
        if adc_h is not None:
            reading["humidity"] = round(bosch.humidity_int32(adc_h, t_fine, cal) / 1024.0, 4)
        reading["pressure"] = round(bosch.pressure_int64(adc_p, t_fine, cal) / 25600.0, 5)
        return reading

    def read(self) -> Reading:
        """Measure once and return temperature (degC), humidity (%RH) and pressure (hPa)."""
        self._check_open()
        return self._compensate(self._measure())

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.bme280.BME280Model` reading ``physics``."""
        from drivers.sim.chips.bme280 import BME280Model  # noqa: PLC0415

        return BME280Model(physics=physics)
