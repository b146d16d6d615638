"""Register-level model of the Microchip MCP9808 (hardware pages F.2-F.7, F.10 "simulator").

Pointer registers; IDs 0x0054/0x0400; resolution register 0x08 (POR 0x03); T_A refreshed every
t_CONV of the selected resolution (reads 0x0000 until the first conversion, 250 ms after power-up
at POR resolution), frozen in shutdown, with the three comparison flags recomputed at each
refresh; lock bits that block limit writes until a power cycle; read-only bits ignore writes.
"""

from __future__ import annotations

import math

from drivers.i2c.clock import Clock
from drivers.sim.chips.words import WordRegisterChip
from drivers.sim.physics import PhysicalSource

CONVERSION_S = {0: 0.030, 1: 0.065, 2: 0.130, 3: 0.250}
CONFIG, T_UPPER, T_LOWER, T_CRIT, T_A, MANUFACTURER, DEVICE, RESOLUTION = range(1, 9)


def _s13(value: int) -> int:
    value &= 0x1FFF
    return value - 8192 if value >= 4096 else value


class MCP9808Model(WordRegisterChip):
    """A simulated MCP9808 reading ``temperature`` (degC) from the physics source."""

    NAME = "mcp9808"
    POINTERS = tuple(range(0, 9))
    BYTE_REGISTERS = (RESOLUTION,)

    def __init__(
        self,
        *,
        physics: PhysicalSource | None = None,
        clock: Clock | None = None,
        device_id: int = 0x0400,
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.device_id = device_id
        self.conversions = 0
        self._powered_at: float | None = None
        self.power_on()

    def attached(self, clock: Clock) -> None:
        """Power-on counts from the attach time."""
        super().attached(clock)
        self._powered_at = self.now()

    def power_on(self) -> None:
        """Power-on reset: everything to POR values, locks cleared."""
        self.config = 0
        self.limits = {T_UPPER: 0, T_LOWER: 0, T_CRIT: 0}
        self.resolution = 3
        self.ambient = 0
        self._last_conversion_index = 0
        self._conversion_start = self._clock.monotonic() if self._clock is not None else None
        self._powered_at = self._conversion_start

    def _refresh(self) -> None:
        if self._conversion_start is None:
            self._conversion_start = self.now()
        if self.config & 0x100:  # shutdown: T_A frozen
            return
        period = CONVERSION_S[self.resolution]
        index = math.floor((self.now() - self._conversion_start) / period + 1e-9)
        if index > self._last_conversion_index or (index >= 1 and self.conversions == 0):
            self._last_conversion_index = index
            self.conversions += 1
            self.ambient = self.encode_ambient(self.physics.get("temperature"))

    def encode_ambient(self, celsius: float) -> int:
        """T_A word for ``celsius`` at the current resolution, flags from the limit registers."""
        code = math.floor(celsius * 16) if self.resolution < 3 else round(celsius * 16)
        code = max(-4096, min(4095, code))
        drop = 3 - self.resolution  # clear the LSBs the resolution does not cover
        code = (code >> drop) << drop
        value = code & 0x1FFF
        t = code / 16.0
        crit = _s13(self.limits[T_CRIT] & 0x1FFC) / 16
        upper = _s13(self.limits[T_UPPER] & 0x1FFC) / 16
        lower = _s13(self.limits[T_LOWER] & 0x1FFC) / 16
        flags = (t >= crit) << 2 | (t > upper) << 1 | (t < lower)
        return value | (flags << 13)

    def register_value(self, pointer: int) -> int:
        """Current value of register ``pointer``."""
        if pointer == T_A:
            self._refresh()
            return self.ambient
        if pointer == CONFIG:
            return self.config & ~0x0020  # Int. Clear reads 0
        if pointer in self.limits:
            return self.limits[pointer]
        if pointer == MANUFACTURER:
            return 0x0054
        if pointer == DEVICE:
            return self.device_id
        if pointer == RESOLUTION:
            return self.resolution
        return 0

    def register_written(self, pointer: int, value: int) -> None:
        """Write rules: RO registers and bits ignore writes, lock bits block limits."""
        if pointer == CONFIG:
            self._refresh()
            locked = self.config & 0x00C0
            new = value & 0x07EF | (self.config & 0x0010)  # bit 4 (Alert Stat.) read-only
            if locked:
                new = (new & ~0x0008) | (self.config & 0x0008)  # Alert Cnt. frozen while locked
                new |= locked  # lock bits clear only at power-on
            was_shutdown = self.config & 0x100
            self.config = new
            if was_shutdown and not new & 0x100:
                self._conversion_start = self.now()
                self._last_conversion_index = 0
        elif pointer in (T_UPPER, T_LOWER):
            if not self.config & 0x0040:
                self.limits[pointer] = value & 0x1FFC
        elif pointer == T_CRIT:
            if not self.config & 0x0080:
                self.limits[pointer] = value & 0x1FFC
        elif pointer == RESOLUTION:
            self._refresh()
            self.resolution = value & 0x03
            self._conversion_start = self.now()
            self._last_conversion_index = 0

    def describe(self) -> str:
        """Resolution, shutdown state and conversion count."""
        return f"{self.NAME} res={self.resolution} config=0x{self.config:04x} n={self.conversions}"
