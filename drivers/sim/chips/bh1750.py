"""Opcode-level model of the ROHM BH1750FVI ambient light sensor (hardware pages E.3-E.10).

One opcode per write (extra bytes in the same write are ignored); reads return the 2-byte data
register MSB first and are never NACKed (a read during a conversion returns the previous result,
0 after power-up or Reset).  Power Down / Power On / Reset (ignored in Power Down), continuous and
one-time H, H2 and L modes (one-time modes power down after their conversion), MTreg 31..254 via
the two change-measurement-time opcodes.  Conversions take the datasheet's maximum time (180 ms
H/H2, 24 ms L at MTreg 69, scaled by MTreg/69).
"""

from __future__ import annotations

from drivers.i2c.clock import Clock
from drivers.sim.chips.base import SimChip
from drivers.sim.physics import PhysicalSource

POWER_DOWN, POWER_ON, RESET = 0x00, 0x01, 0x07
#: opcode -> (resolution mode, one-time)
MODES = {
    0x10: ("h", False),
    0x11: ("h2", False),
    0x13: ("l", False),
    0x20: ("h", True),
    0x21: ("h2", True),
    0x23: ("l", True),
}
MAX_TIME_S = {"h": 0.180, "h2": 0.180, "l": 0.024}


def count_for(lux: float, mode: str, mtreg: int) -> int:
    """The data register for ``lux`` (E.7): lux * 1.2 * MTreg / 69, x2 in H2, 4 lx steps in L."""
    if mode == "l":
        lux = round(lux / 4.0) * 4.0
    count = lux * 1.2 * mtreg / 69.0 * (2 if mode == "h2" else 1)
    return max(0, min(0xFFFF, round(count)))


class BH1750Model(SimChip):
    """A simulated BH1750 reading ``light`` (lux) from the physics source."""

    NAME = "bh1750"

    def __init__(
        self, *, physics: PhysicalSource | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.measurements = 0
        self.powered = False
        self.mtreg = 69
        self.data = 0
        self.mode: str | None = None
        self.one_time = False
        self._started = 0.0
        self._done = 0

    def _conversion_time(self) -> float:
        assert self.mode is not None
        return MAX_TIME_S[self.mode] * self.mtreg / 69.0

    def _advance(self) -> None:
        if self.mode is None:
            return
        period = self._conversion_time()
        completed = int((self.now() - self._started) / period + 1e-9)
        if completed > self._done:
            self._done = completed
            self.measurements += 1
            self.data = count_for(self.physics.get("light"), self.mode, self.mtreg)
            if self.one_time:
                self.mode = None
                self.powered = False

    def write(self, data: bytes) -> None:
        """The first byte is the opcode; anything after it in the same write is ignored."""
        self._advance()
        if not data:
            return
        opcode = data[0]
        if opcode == POWER_DOWN:
            self.powered = False
            self.mode = None
        elif opcode == POWER_ON:
            self.powered = True
        elif opcode == RESET:
            if self.powered:
                self.data = 0
        elif opcode in MODES:
            self.powered = True
            self.mode, self.one_time = MODES[opcode]
            self._started = self.now()
            self._done = 0
        elif opcode & 0xF8 == 0x40:
            self.mtreg = (self.mtreg & 0x1F) | ((opcode & 0x07) << 5)
        elif opcode & 0xE0 == 0x60:
            self.mtreg = (self.mtreg & 0xE0) | (opcode & 0x1F)
        # other opcodes: undocumented, ignored

    def read(self, length: int) -> bytes:
        """The data register, MSB first, repeated to ``length`` bytes."""
        self._advance()
        raw = self.data.to_bytes(2, "big")
        return (raw * (length // 2 + 1))[:length]

    def describe(self) -> str:
        """Mode, MTreg and measurement count."""
        return f"{self.NAME} mode={self.mode} mtreg={self.mtreg} n={self.measurements}"
