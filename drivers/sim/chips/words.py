"""Shared model of pointer-register chips with 16-bit registers (MCP9808, ADS1115, INA219).

Wire behaviour (hardware pages io-and-linux A.2, B.2; sensors F.1): the first written byte is the
pointer; ``[ptr, MSB, LSB]`` writes a register; a read returns the register the pointer selects,
MSB first, and the pointer is kept, so a bare read re-reads it.  Reads longer than the register
repeat it (the chips do not auto-increment).
"""

from __future__ import annotations

from drivers.i2c.clock import Clock
from drivers.sim.chips.base import Nack, SimChip
from drivers.sim.physics import PhysicalSource


class WordRegisterChip(SimChip):
    """Base for 16-bit pointer-register models; subclasses implement the two hooks."""

    #: Valid pointer values; others are NACKed.
    POINTERS: tuple[int, ...] = ()
    #: Pointers whose register is 8 bits wide.
    BYTE_REGISTERS: tuple[int, ...] = ()

    def __init__(
        self, *, physics: PhysicalSource | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.pointer = 0

    def register_value(self, pointer: int) -> int:
        """The value register ``pointer`` reads as now."""
        raise NotImplementedError

    def register_written(self, pointer: int, value: int) -> None:
        """A write of ``value`` to register ``pointer`` (apply the chip's write rules)."""
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        """Pointer, then optionally the register's bytes (MSB first)."""
        if not data:
            return
        if data[0] not in self.POINTERS:
            raise Nack
        self.pointer = data[0]
        width = 1 if self.pointer in self.BYTE_REGISTERS else 2
        payload = data[1:]
        if len(payload) >= width:
            self.register_written(self.pointer, int.from_bytes(payload[:width], "big"))

    def read(self, length: int) -> bytes:
        """The selected register, MSB first, repeated to ``length`` bytes."""
        width = 1 if self.pointer in self.BYTE_REGISTERS else 2
        raw = self.register_value(self.pointer).to_bytes(width, "big")
        return (raw * (length // width + 1))[:length]
