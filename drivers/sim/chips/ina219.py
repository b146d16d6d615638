"""Register-level model of the TI INA219 current/power monitor (hardware pages io-and-linux B).

Configuration (reset 0x399F; RST bit resets everything, calibration included), shunt voltage
(10 uV LSB, signed, clipped at the PGA range), bus voltage (4 mV LSB in bits 15:3, CNVR bit 1,
OVF bit 0), power and current computed from the calibration register exactly as the datasheet's
equations (both read 0 while the calibration is 0), calibration bit 0 reads 0.  CNVR is set when
a conversion completes and cleared by reading the power register.  Triggered modes convert once
per configuration write; continuous modes keep converting.

The measured current and bus voltage come from the physics source (``current`` in A,
``voltage`` in V) through a shunt resistor of ``shunt_ohms``.
"""

from __future__ import annotations

from drivers.i2c.clock import Clock
from drivers.sim.chips.words import WordRegisterChip
from drivers.sim.physics import PhysicalSource

CONFIG, SHUNT, BUS, POWER, CURRENT, CALIBRATION = range(6)
PGA_LIMIT = {0: 4000, 1: 8000, 2: 16000, 3: 32000}  # shunt register full scale per PG code
ADC_TIME_S = {
    0: 84e-6, 1: 148e-6, 2: 276e-6, 3: 532e-6, 8: 532e-6, 9: 1.06e-3, 10: 2.13e-3, 11: 4.26e-3,
    12: 8.51e-3, 13: 17.02e-3, 14: 34.05e-3, 15: 68.10e-3,
}  # fmt: skip


def _adc_time(code: int) -> float:
    return ADC_TIME_S[code if code & 0x8 else code & 0x3]


class INA219Model(WordRegisterChip):
    """A simulated INA219 with a ``shunt_ohms`` shunt (default 0.1 ohm)."""

    NAME = "ina219"
    POINTERS = (CONFIG, SHUNT, BUS, POWER, CURRENT, CALIBRATION)

    def __init__(
        self,
        *,
        physics: PhysicalSource | None = None,
        clock: Clock | None = None,
        shunt_ohms: float = 0.1,
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.shunt_ohms = shunt_ohms
        self.conversions = 0
        self.power_on()

    def power_on(self) -> None:
        """Reset values: 0x399F, calibration 0, no conversion yet."""
        self.config = 0x399F
        self.calibration = 0
        self.shunt = 0
        self.bus = 0
        self.cnvr = False
        self._started: float | None = None
        self._done = 0

    def conversion_time(self) -> float:
        """Shunt plus bus conversion time for the ADC settings (B.3)."""
        return _adc_time((self.config >> 3) & 0xF) + _adc_time((self.config >> 7) & 0xF)

    def _sample(self) -> None:
        self.conversions += 1
        limit = PGA_LIMIT[(self.config >> 11) & 3]
        shunt = round(self.physics.get("current") * self.shunt_ohms / 10e-6)
        self.shunt = max(-limit, min(limit, shunt))
        bus_limit = 8000 if self.config & 0x2000 else 4000
        self.bus = max(0, min(bus_limit, round(self.physics.get("voltage") / 0.004)))
        self.cnvr = True

    def _advance(self) -> None:
        mode = self.config & 0x7
        if self._started is None:
            self._started = self.now()
        if mode in (0, 4):  # power-down / ADC off
            return
        done = int((self.now() - self._started) / self.conversion_time() + 1e-9)
        if mode >= 5:
            if done > self._done:
                self._done = done
                self._sample()
        elif done >= 1 and self._done == 0:
            self._done = 1
            self._sample()

    def _current(self) -> int:
        if self.calibration == 0:
            return 0
        return int(self.shunt * self.calibration / 4096)

    def register_value(self, pointer: int) -> int:
        """Measurement registers from the last conversion, per the datasheet's equations."""
        self._advance()
        if pointer == CONFIG:
            return self.config
        if pointer == SHUNT:
            return self.shunt & 0xFFFF
        current = self._current()
        overflow = not -32768 <= current <= 32767
        if pointer == BUS:
            return (self.bus << 3) | (int(self.cnvr) << 1) | int(overflow)
        if pointer == CURRENT:
            return 0 if overflow else current & 0xFFFF
        if pointer == POWER:
            self.cnvr = False
            if self.calibration == 0 or overflow:
                return 0
            return min(0xFFFF, abs(current) * self.bus // 5000)
        return self.calibration

    def register_written(self, pointer: int, value: int) -> None:
        """Configuration (RST, triggered conversions) and calibration; the rest is read-only."""
        self._advance()
        if pointer == CONFIG:
            if value & 0x8000:
                self.power_on()
                return
            self.config = value & 0x3FFF
            self._started = self.now()
            self._done = 0
            if value & 0x7 not in (0, 4):
                self.cnvr = False
        elif pointer == CALIBRATION:
            self.calibration = value & 0xFFFE

    def describe(self) -> str:
        """Config, calibration and conversion count."""
        return f"{self.NAME} config=0x{self.config:04x} cal={self.calibration} n={self.conversions}"
