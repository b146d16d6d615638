"""Register-level model of the NXP PCA9685 16-channel 12-bit PWM controller (pages io-and-linux C).

Register file with power-on values (MODE1 0x11: SLEEP and ALLCALL; MODE2 0x04; LEDn_OFF_H full-off
bit set; PRE_SCALE 0x1E), auto-increment when MODE1.AI is set (0x45 wraps to 0x00), otherwise
every data byte goes to the same register; reserved registers 0x46..0xF9 are not acknowledged;
PRE_SCALE is writable only while SLEEP = 1 and clamps to 3; ALL_LED_* load all channels and read
0; reserved bits of LEDn_ON_H/OFF_H read 0; RESTART is cleared by writing 1.

:meth:`PCA9685Model.duty` gives what a channel's pin does (full-off beats full-on), which is
what a simulated fan or servo would respond to.
"""

from __future__ import annotations

from drivers.i2c.clock import Clock
from drivers.sim.chips.base import Nack, SimChip
from drivers.sim.physics import PhysicalSource

MODE1, MODE2, PRE_SCALE, LED0, ALL_LED = 0x00, 0x01, 0xFE, 0x06, 0xFA
OSCILLATOR_HZ = 25_000_000


class PCA9685Model(SimChip):
    """A simulated PCA9685 (no physics: it is an output)."""

    NAME = "pca9685"

    def __init__(
        self, *, physics: PhysicalSource | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.power_on()

    def power_on(self) -> None:
        """Power-on register values."""
        self.mem = bytearray(256)
        self.mem[MODE1] = 0x11
        self.mem[MODE2] = 0x04
        self.mem[0x02:0x06] = bytes([0xE2, 0xE4, 0xE8, 0xE0])
        for n in range(16):
            self.mem[LED0 + 4 * n + 3] = 0x10
        self.mem[PRE_SCALE] = 0x1E
        self.pointer = 0

    @property
    def frequency(self) -> float:
        """PWM frequency from the prescaler: 25 MHz / (4096 * (prescale + 1))."""
        return OSCILLATOR_HZ / (4096 * (self.mem[PRE_SCALE] + 1))

    @property
    def sleeping(self) -> bool:
        """MODE1.SLEEP: oscillator off, no PWM output."""
        return bool(self.mem[MODE1] & 0x10)

    def channel_registers(self, channel: int) -> tuple[int, int, bool, bool]:
        """(ON count, OFF count, full-on bit, full-off bit) of ``channel``."""
        base = LED0 + 4 * channel
        on = self.mem[base] | (self.mem[base + 1] & 0x0F) << 8
        off = self.mem[base + 2] | (self.mem[base + 3] & 0x0F) << 8
        return on, off, bool(self.mem[base + 1] & 0x10), bool(self.mem[base + 3] & 0x10)

    def duty(self, channel: int) -> float:
        """Fraction of each period the output is high (0 while sleeping; full-off wins)."""
        on, off, full_on, full_off = self.channel_registers(channel)
        if self.sleeping or full_off:
            return 0.0
        if full_on:
            return 1.0
        if on == off:
            return 0.0
        return ((off - on) % 4096) / 4096

    def pulse_us(self, channel: int) -> float:
        """High time per period in microseconds."""
        return self.duty(channel) * 1e6 / self.frequency

    def _valid(self, register: int) -> bool:
        return register <= 0x45 or register >= ALL_LED

    def _poke(self, register: int, value: int) -> None:
        if register == MODE1:
            if value & 0x80:  # writing RESTART clears it
                value &= 0x7F
            self.mem[MODE1] = value
        elif register == PRE_SCALE:
            if self.sleeping:
                self.mem[PRE_SCALE] = max(3, value)
        elif 0x02 <= register <= 0x05:
            self.mem[register] = value & 0xFE
        elif ALL_LED <= register <= 0xFD:
            index = register - ALL_LED
            for n in range(16):
                self._poke(LED0 + 4 * n + index, value)
        elif register == 0xFF:
            return
        elif register >= LED0 and (register - LED0) % 2 == 1:
            self.mem[register] = value & 0x1F  # bits 7:5 reserved, read 0
        else:
            self.mem[register] = value

    def _next(self, register: int) -> int:
        if not self.mem[MODE1] & 0x20:
            return register
        if register == 0x45 or register >= 0xFE:
            return 0x00
        return register + 1

    def write(self, data: bytes) -> None:
        """Register address, then data bytes (auto-incremented when MODE1.AI is set)."""
        if not data:
            return
        if not self._valid(data[0]):
            raise Nack
        register = data[0]
        for value in data[1:]:
            self._poke(register, value)
            register = self._next(register)
        self.pointer = data[0] if len(data) == 1 else register

    def read(self, length: int) -> bytes:
        """Bytes from the pointer (ALL_LED_* read 0)."""
        out = bytearray()
        for _ in range(length):
            register = self.pointer
            out.append(0 if ALL_LED <= register <= 0xFD else self.mem[register])
            self.pointer = self._next(register)
        return bytes(out)

    def general_call(self, data: bytes) -> bool:
        """SWRST: a single 0x06 resets to power-up values; extra bytes are NACKed (pages C.1)."""
        if data != b"\x06":
            return False
        self.power_on()
        return True

    def describe(self) -> str:
        """Mode, frequency and the channels that are on."""
        on = [n for n in range(16) if self.duty(n) > 0]
        return f"{self.NAME} mode1=0x{self.mem[MODE1]:02x} {self.frequency:.1f} Hz on={on}"
