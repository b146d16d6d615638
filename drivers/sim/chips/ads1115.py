"""Register-level model of the TI ADS1115 16-bit ADC (hardware pages io-and-linux A.2-A.10).

Pointer registers: Conversion (0x00, 0 until the first conversion), Config (0x01, reset 0x8583),
Lo_thresh (0x8000), Hi_thresh (0x7FFF).  Single-shot: writing OS=1 in power-down starts a
conversion that takes 1/DR; Config reads OS=0 until it finishes (the bit a driver polls), and
the result lands in the Conversion register at the end.  Continuous mode (MODE=0) converts
every 1/DR.  Codes are round(V / LSB) of V(AINP) - V(AINN), clipped at 0x7FFF / 0x8000.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from drivers.i2c.clock import Clock
from drivers.sim.chips.words import WordRegisterChip
from drivers.sim.physics import PhysicalSource

FULL_SCALE = {0: 6.144, 1: 4.096, 2: 2.048, 3: 1.024, 4: 0.512, 5: 0.256, 6: 0.256, 7: 0.256}
DATA_RATE = {0: 8, 1: 16, 2: 32, 3: 64, 4: 128, 5: 250, 6: 475, 7: 860}
#: MUX code -> (positive input, negative input or None for GND)
MUX = {
    0: (0, 1),
    1: (0, 3),
    2: (1, 3),
    3: (2, 3),
    4: (0, None),
    5: (1, None),
    6: (2, None),
    7: (3, None),
}
CONVERSION, CONFIG, LO_THRESH, HI_THRESH = 0, 1, 2, 3


def code_for(volts: float, full_scale: float) -> int:
    """The two's complement conversion code of ``volts`` at ``full_scale`` (A.7)."""
    code = round(volts / (full_scale / 32768.0))
    return max(-32768, min(32767, code)) & 0xFFFF


class ADS1115Model(WordRegisterChip):
    """A simulated ADS1115.

    Args:
        physics: default source: AIN0 follows ``voltage``; other inputs sit at 0 V.
        inputs: per input pin (0..3), a function returning its voltage (overrides the default).
        clock: conversion timing.
        slowdown: multiplies every conversion time (a broken oscillator, for timeout tests).
    """

    NAME = "ads1115"
    POINTERS = (CONVERSION, CONFIG, LO_THRESH, HI_THRESH)

    def __init__(
        self,
        *,
        physics: PhysicalSource | None = None,
        inputs: Mapping[int, Callable[[], float]] | None = None,
        clock: Clock | None = None,
        slowdown: float = 1.0,
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        source = self.physics
        self.inputs: dict[int, Callable[[], float]] = {
            0: lambda: source.get("voltage"),
            1: lambda: 0.0,
            2: lambda: 0.0,
            3: lambda: 0.0,
        }
        self.inputs.update(inputs or {})
        self.slowdown = slowdown
        self.conversions = 0
        self.power_on()

    def power_on(self) -> None:
        """Registers to their reset values, power-down state."""
        self.registers = {CONVERSION: 0, CONFIG: 0x8583, LO_THRESH: 0x8000, HI_THRESH: 0x7FFF}
        self._busy_until: float | None = None
        self._continuous_since: float | None = None
        self._continuous_done = 0

    def conversion_time(self) -> float:
        """1 / data rate of the current Config, times ``slowdown``."""
        return self.slowdown / DATA_RATE[(self.registers[CONFIG] >> 5) & 7]

    def _convert(self) -> None:
        config = self.registers[CONFIG]
        positive, negative = MUX[(config >> 12) & 7]
        volts = self.inputs[positive]() - (self.inputs[negative]() if negative is not None else 0.0)
        self.registers[CONVERSION] = code_for(volts, FULL_SCALE[(config >> 9) & 7])
        self.conversions += 1

    def _advance(self) -> None:
        now = self.now()
        if self._busy_until is not None and now >= self._busy_until - 1e-12:
            self._busy_until = None
            self._convert()
        if self._continuous_since is not None:
            done = math.floor((now - self._continuous_since) / self.conversion_time() + 1e-9)
            if done > self._continuous_done:
                self._continuous_done = done
                self._convert()

    def register_value(self, pointer: int) -> int:
        """Config shows OS=0 while converting."""
        self._advance()
        if pointer == CONFIG:
            busy = self._busy_until is not None
            return (self.registers[CONFIG] & 0x7FFF) | (0 if busy else 0x8000)
        return self.registers[pointer]

    def register_written(self, pointer: int, value: int) -> None:
        """Config writes start conversions; the Conversion register is read-only."""
        self._advance()
        if pointer == CONVERSION:
            return
        if pointer != CONFIG:
            self.registers[pointer] = value
            return
        self.registers[CONFIG] = value & 0x7FFF | 0x8000
        if value & 0x0100:  # single-shot / power-down
            self._continuous_since = None
            if value & 0x8000 and self._busy_until is None:
                self._busy_until = self.now() + self.conversion_time()
        else:
            self._busy_until = None
            self._continuous_since = self.now()
            self._continuous_done = 0

    def general_call(self, data: bytes) -> bool:
        """General-call reset (0x06): registers to power-on values, power-down (pages A.1)."""
        if data[:1] != b"\x06":
            return False
        self.power_on()
        return True

    def describe(self) -> str:
        """Config and conversion count."""
        return f"{self.NAME} config=0x{self.registers[CONFIG]:04x} n={self.conversions}"
