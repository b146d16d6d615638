"""Model of the NXP/TI PCF8574(A) 8-bit quasi-bidirectional I/O expander (pages io-and-linux D).

No registers: each written byte replaces the output latch; a read returns the pin levels,
``latch AND external`` (a latch-0 pin is pulled down hard; a latch-1 pin is a weak pull-up that
the outside can pull low).  Power-on latch 0xFF.  The INT output (active low) asserts when an
input level differs from the value captured at the last read or write, and clears on the next
read/write or when the pin returns.  Tests drive the outside with :meth:`PCF8574Model.drive`.
"""

from __future__ import annotations

from drivers.i2c.clock import Clock
from drivers.sim.chips.base import SimChip
from drivers.sim.physics import PhysicalSource


class PCF8574Model(SimChip):
    """A simulated PCF8574; ``external`` is what the outside does to each pin (1 = floats high)."""

    NAME = "pcf8574"

    def __init__(
        self, *, physics: PhysicalSource | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.latch = 0xFF
        self.external = 0xFF
        self._captured = 0xFF

    @property
    def pins(self) -> int:
        """The level of every pin now: latch AND external."""
        return self.latch & self.external

    @property
    def interrupt(self) -> bool:
        """True while INT is asserted (pin levels differ from the last captured value)."""
        return self.pins != self._captured

    def drive(self, line: int, level: bool) -> None:
        """The outside pulls pin ``line`` low (False) or lets it float high (True)."""
        if level:
            self.external |= 1 << line
        else:
            self.external &= ~(1 << line)

    def write(self, data: bytes) -> None:
        """Every byte is latched in turn (the last one stays)."""
        for value in data:
            self.latch = value
        self._captured = self.pins

    def read(self, length: int) -> bytes:
        """Fresh samples of the pins, one per byte."""
        self._captured = self.pins
        return bytes([self.pins]) * length

    def describe(self) -> str:
        """Latch and pin levels."""
        return f"{self.NAME} latch=0x{self.latch:02x} pins=0x{self.pins:02x}"
