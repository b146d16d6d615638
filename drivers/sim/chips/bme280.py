"""Register-level model of the Bosch BME280 (hardware pages A.3-A.7, A.10 "simulator fidelity").

* Register file 0x00..0xFF read with auto-increment; writes are (register, value) *pairs*, a
  trailing lone byte only sets the read pointer.
* Identification 0xD0, soft reset 0xB6 -> 0xE0 (reads 0), power-on values and the skipped
  sentinels (0x80000 / 0x8000) in the data registers, ``status.im_update`` for 2 ms after reset.
* ``ctrl_hum`` is latched by the next ``ctrl_meas`` write; ``config`` writes are ignored in
  normal mode; read-only registers ignore writes.
* Forced mode: ``status.measuring`` is 1 for the datasheet's maximum measurement time; the data
  registers keep the previous results until then, then the mode bits return to sleep.  Normal
  mode repeats every measurement time + t_sb.
* Values come from the physical source and are inverted through the datasheet's compensation
  (bisection, A.7): the temperature code by the double formula, t_fine by the integer formula
  the driver uses, then pressure and humidity codes; quantised to the oversampling's resolution.

* IIR filter on T and P (``config.filter``): memory initialised by the first sample, reset by
  writing the filter field, kept while a channel is skipped; a filtered BME280 outputs 20 bits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ClassVar

from drivers.i2c import bosch
from drivers.i2c.clock import Clock
from drivers.sim.chips.base import SimChip
from drivers.sim.physics import PhysicalSource

#: BMP280 datasheet §3.12 example trimming (T/P) and the pages' humidity set (A.9).
DEFAULT_CALIBRATION = bosch.Calibration(
    27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
    H1=75, H2=362, H3=0, H4=313, H5=50, H6=30,
)  # fmt: skip

REG_ID, REG_RESET, REG_CTRL_HUM, REG_STATUS, REG_CTRL_MEAS, REG_CONFIG = (
    0xD0,
    0xE0,
    0xF2,
    0xF3,
    0xF4,
    0xF5,
)
STANDBY_MS = {0: 0.5, 1: 62.5, 2: 125.0, 3: 250.0, 4: 500.0, 5: 1000.0, 6: 10.0, 7: 20.0}


def _bisect(f: Callable[[int], float], target: float, low: int, high: int, increasing: bool) -> int:
    """The code in [low, high] whose f is closest to ``target`` (f monotonic)."""
    lo, hi = low, high
    while lo < hi:
        mid = (lo + hi) // 2
        value = f(mid)
        if (value < target) if increasing else (value > target):
            lo = mid + 1
        else:
            hi = mid
    best = lo
    if lo > low and abs(f(lo - 1) - target) <= abs(f(lo) - target):
        best = lo - 1
    return best


def _quantise(code: int, oversampling: int, bits: int, sentinel: int) -> int:
    """Round ``code`` to the resolution of ``oversampling`` and step off the sentinel."""
    step = 1 if bits == 16 else 16 >> (oversampling.bit_length() - 1)
    top = (1 << bits) - step
    code = min(top, max(0, ((code + step // 2) // step) * step))
    if code == sentinel:
        code += step
    return code


@functools.lru_cache(maxsize=512)
def invert(
    cal: bosch.Calibration,
    with_humidity: bool,
    temperature: float,
    pressure_hpa: float,
    humidity: float,
    t_oversampling: int = 16,
) -> tuple[int, int, int]:
    """Codes for physical values by bisection over the driver's integer formulas (A.7).

    Cached: a simulation that holds its values still costs the bisections once.
    """
    # Invert the integer path the driver uses: t_fine is 5120 per degC (the double path's
    # t_fine differs from it by up to ~12 at low temperatures).
    adc_t = _bisect(
        lambda c: bosch.temperature_int32(c, cal)[0], temperature * 5120.0, 0, (1 << 20) - 1, True
    )
    adc_t = _quantise(adc_t, t_oversampling or 16, 20, bosch.SKIPPED_20BIT)
    t_fine, _ = bosch.temperature_int32(adc_t, cal)
    target_q = pressure_hpa * 25600.0
    adc_p = _bisect(
        lambda c: bosch.pressure_int64(c, t_fine, cal), target_q, 0, (1 << 20) - 1, False
    )
    adc_h = 0
    if with_humidity:
        target_h = min(max(humidity, 0.0), 100.0) * 1024.0
        adc_h = _bisect(lambda c: bosch.humidity_int32(c, t_fine, cal), target_h, 0, 0xFFFF, True)
    return adc_t, adc_p, adc_h


class BME280Model(SimChip):
    """A simulated BME280.

    Args:
        physics: source of ``temperature`` (degC), ``pressure`` (hPa), ``humidity`` (%RH).
        calibration: trimming to store in NVM (default: the datasheet example set).
        chip_id: value of register 0xD0.
        clock: conversion timing (default: the bus's clock).
    """

    NAME = "bme280"
    CHIP_ID: ClassVar[int] = 0x60
    HAS_HUMIDITY: ClassVar[bool] = True
    STANDBY: ClassVar[dict[int, float]] = STANDBY_MS

    def __init__(
        self,
        *,
        physics: PhysicalSource | None = None,
        calibration: bosch.Calibration = DEFAULT_CALIBRATION,
        chip_id: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.calibration = calibration
        self.chip_id = self.CHIP_ID if chip_id is None else chip_id
        self.conversions = 0
        self._reset_at: float | None = None
        self.power_on()

    def power_on(self) -> None:
        """Power-on reset: NVM copied to the image registers, everything else at reset values."""
        self.mem = bytearray(256)
        tp, hum = bosch.encode_calibration(self.calibration)
        self.mem[0x88 : 0x88 + 24] = tp
        if self.HAS_HUMIDITY:
            self.mem[0xA1] = hum[0]
            self.mem[0xE1 : 0xE1 + 7] = hum[1:]
        self.mem[REG_ID] = self.chip_id
        self.mem[0xF7:0xFD] = bytes([0x80, 0, 0, 0x80, 0, 0])
        if self.HAS_HUMIDITY:
            self.mem[0xFD:0xFF] = bytes([0x80, 0])
        self.pointer = 0
        self._osrs_h_latched = 0
        self._busy_until: float | None = None
        self._normal_since: float | None = None
        self._normal_cycles = 0
        self._iir: dict[str, float] = {}
        self._reset_at = self._clock.monotonic() if self._clock is not None else None

    def attached(self, clock: Clock) -> None:
        """Take the bus clock; power-on time counts from now."""
        super().attached(clock)
        self._reset_at = self.now()

    # --- timing ---------------------------------------------------------------------------
    def _factors(self) -> tuple[int, int, int]:
        ctrl = self.mem[REG_CTRL_MEAS]
        t = bosch.oversampling_of(ctrl >> 5)
        p = bosch.oversampling_of((ctrl >> 2) & 7)
        h = bosch.oversampling_of(self._osrs_h_latched) if self.HAS_HUMIDITY else 0
        return t, p, h

    def measurement_time(self) -> float:
        """Seconds one measurement takes with the current settings (datasheet maximum)."""
        t, p, h = self._factors()
        return bosch.measurement_time_max_ms(t, p, h or None) / 1000.0

    def _advance(self) -> None:
        """Bring the data registers up to the current time."""
        now = self.now()
        if self._busy_until is not None and now >= self._busy_until:
            self._busy_until = None
            self._convert()
            self.mem[REG_CTRL_MEAS] &= 0xFC  # forced mode returns to sleep
        if self._normal_since is not None:
            period = self.measurement_time() + self.STANDBY[self.mem[REG_CONFIG] >> 5] / 1000.0
            done = int((now - self._normal_since - self.measurement_time()) // period) + 1
            if done > self._normal_cycles:
                self._normal_cycles = done
                self._convert()

    def _measuring(self) -> bool:
        now = self.now()
        if self._busy_until is not None and now < self._busy_until:
            return True
        if self._normal_since is not None:
            period = self.measurement_time() + self.STANDBY[self.mem[REG_CONFIG] >> 5] / 1000.0
            return (now - self._normal_since) % period < self.measurement_time()
        return False

    # --- the physics -> codes inversion ----------------------------------------------------
    def codes_for(
        self, temperature: float, pressure_hpa: float, humidity: float, t_oversampling: int = 16
    ) -> tuple[int, int, int]:
        """(adc_T, adc_P, adc_H) the chip outputs for these physical values.

        adc_T is quantised to ``t_oversampling``'s resolution first: pressure and humidity are
        compensated with the t_fine of the temperature code the chip really outputs.
        """
        return invert(
            self.calibration, self.HAS_HUMIDITY, temperature, pressure_hpa, humidity, t_oversampling
        )

    def _convert(self) -> None:
        """One completed measurement: sample the physics, write the data registers."""
        self.conversions += 1
        t_os, p_os, h_os = self._factors()
        temperature = self.physics.get("temperature")
        pressure = self.physics.get("pressure")
        humidity = self.physics.get("humidity") if self.HAS_HUMIDITY and h_os else 0.0
        coefficient = self.iir_coefficient()
        # With the filter on, a BME280 outputs 20-bit T and P; a BMP280 keeps the osrs resolution.
        full = coefficient > 1 and self.HAS_HUMIDITY
        adc_t, adc_p, adc_h = self.codes_for(temperature, pressure, humidity, 16 if full else t_os)
        if t_os:
            adc_t = self._filtered("t", adc_t, coefficient, 16 if full else t_os)
        else:
            adc_t = bosch.SKIPPED_20BIT  # the filter memory is kept for when it comes back
        if p_os:
            adc_p = _quantise(adc_p, 16 if full else p_os, 20, bosch.SKIPPED_20BIT)
            adc_p = self._filtered("p", adc_p, coefficient, 16 if full else p_os)
        else:
            adc_p = bosch.SKIPPED_20BIT
        self.mem[0xF7:0xFD] = bytes(
            [
                adc_p >> 12,
                (adc_p >> 4) & 0xFF,
                (adc_p & 0xF) << 4,
                adc_t >> 12,
                (adc_t >> 4) & 0xFF,
                (adc_t & 0xF) << 4,
            ]
        )
        if self.HAS_HUMIDITY:
            adc_h = _quantise(adc_h, h_os, 16, bosch.SKIPPED_16BIT) if h_os else bosch.SKIPPED_16BIT
            self.mem[0xFD:0xFF] = bytes([adc_h >> 8, adc_h & 0xFF])

    def iir_coefficient(self) -> int:
        """The IIR filter coefficient set in ``config.filter`` (1 = off)."""
        code = (self.mem[REG_CONFIG] >> 2) & 7
        return 1 << min(code, 4)

    def _filtered(self, channel: str, code: int, coefficient: int, oversampling: int) -> int:
        """x = (x_prev * (c - 1) + x_adc) / c; the first sample after a reset initialises it."""
        if coefficient == 1:
            return code
        previous = self._iir.get(channel)
        value = code if previous is None else (previous * (coefficient - 1) + code) / coefficient
        self._iir[channel] = value
        return _quantise(round(value), oversampling, 20, bosch.SKIPPED_20BIT)

    # --- the bus side ---------------------------------------------------------------------
    def _peek(self, register: int) -> int:
        if register == REG_RESET:
            return 0
        if register == REG_STATUS:
            im_update = self._reset_at is not None and self.now() < self._reset_at + 0.002
            return (0x08 if self._measuring() else 0) | (0x01 if im_update else 0)
        if not self.HAS_HUMIDITY and (
            register in (REG_CTRL_HUM, 0xA1, 0xFD, 0xFE) or 0xE1 <= register <= 0xE7
        ):
            return 0
        return self.mem[register]

    def _poke(self, register: int, value: int) -> None:
        if register == REG_RESET:
            if value == 0xB6:
                self.power_on()
                self._reset_at = self.now()
            return
        if register == REG_CTRL_HUM and self.HAS_HUMIDITY:
            self.mem[REG_CTRL_HUM] = value & 0x07
        elif register == REG_CONFIG:
            if self.mem[REG_CTRL_MEAS] & 3 != 3:  # ignored in normal mode
                if (value ^ self.mem[REG_CONFIG]) & 0x1C:
                    self._iir = {}  # writing filter resets the IIR memory
                self.mem[REG_CONFIG] = value & 0xFD
        elif register == REG_CTRL_MEAS:
            self._osrs_h_latched = self.mem[REG_CTRL_HUM] & 7
            self.mem[REG_CTRL_MEAS] = value
            mode = value & 3
            self._normal_since = None
            self._busy_until = None
            if mode in (1, 2):
                self._busy_until = self.now() + self.measurement_time()
            elif mode == 3:
                self._normal_since = self.now()
                self._normal_cycles = 0
        # every other register is read-only or reserved: writes are ignored

    def write(self, data: bytes) -> None:
        """Pairs of (register, value); a final lone byte sets the read pointer."""
        self._advance()
        pairs = len(data) // 2
        for i in range(pairs):
            self._poke(data[2 * i], data[2 * i + 1])
        if len(data) % 2:
            self.pointer = data[-1]

    def read(self, length: int) -> bytes:
        """``length`` bytes from the pointer, auto-incrementing (0xFF then stays at 0xFF)."""
        self._advance()
        out = bytearray()
        for _ in range(length):
            out.append(self._peek(self.pointer))
            self.pointer = min(self.pointer + 1, 0xFF)
        return bytes(out)

    def describe(self) -> str:
        """Chip id, mode and conversion count."""
        ctrl = self.mem[REG_CTRL_MEAS]
        return f"{self.NAME} id=0x{self.chip_id:02x} ctrl_meas=0x{ctrl:02x} n={self.conversions}"
