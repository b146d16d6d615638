"""Command-level model of the TE HTU21D and Silicon Labs Si7021 (hardware pages D.2-D.10).

8-bit commands; results MSB, LSB (status bits 1:0: temperature ``00``, humidity ``10``) and a
CRC-8 (0x31, init 0x00) the master may read or not.

* No-hold measurements (0xF3, 0xF5): the read header is NACKed until the conversion time of the
  current resolution has passed; the result is delivered once.  Hold-master (0xE3, 0xE5) reads
  during the conversion fail with EIO, the Pi controller's clock-stretch timeout.
* Si7021: an RH measurement also measures temperature (time RH + T); 0xE0 returns that
  temperature without CRC; heater register 0x51/0x11; firmware 0x84 0xB8; EID SNB_3 = 0x15.
* User register 0xE6/0xE7: reset 0x02 (HTU21D) / 0x3A (Si7021); reserved bits keep their reset
  values whatever is written; bit 6 (VDD low) is read-only.
* Soft reset 0xFE: defaults restored, no answer (NACK) for 15 ms.
"""

from __future__ import annotations

import errno
import os
from typing import ClassVar

from drivers.i2c.clock import Clock
from drivers.i2c.crc import crc8
from drivers.sim.chips.base import Nack, SimChip
from drivers.sim.physics import PhysicalSource

RESET_TIME_S = 0.015
#: resolution code (bit7, bit0) -> (RH bits, T bits)
RESOLUTION_BITS = {0b00: (12, 14), 0b01: (8, 12), 0b10: (10, 13), 0b11: (11, 11)}


def raw_temperature(celsius: float, bits: int = 14) -> int:
    """The temperature word (status 00) for ``celsius`` at ``bits`` of resolution (D.7)."""
    code = max(0, min(0xFFFF, round((celsius + 46.85) * 65536.0 / 175.72)))
    return code & (0xFFFF << (16 - bits)) & 0xFFFC


def raw_humidity(percent: float, bits: int = 12) -> int:
    """The humidity word (status 10) for ``percent`` at ``bits`` of resolution (D.7)."""
    code = max(0, min(0xFFFF, round((percent + 6.0) * 65536.0 / 125.0)))
    return (code & (0xFFFF << (16 - bits)) & 0xFFFC) | 0b10


class HTU21DModel(SimChip):
    """A simulated HTU21D reading ``temperature`` (degC) and ``humidity`` (%RH)."""

    NAME = "htu21d"
    HAS_CRC = True
    USER_RESET: ClassVar[int] = 0x02
    #: Bits of the user register a write can change (resolution, heater, OTP-reload disable).
    USER_WRITABLE: ClassVar[int] = 0x87
    #: Maximum conversion times (s) by bits.
    RH_TIME: ClassVar[dict[int, float]] = {12: 0.016, 11: 0.008, 10: 0.005, 8: 0.003}
    T_TIME: ClassVar[dict[int, float]] = {14: 0.050, 13: 0.025, 12: 0.013, 11: 0.007}
    #: Electronic ID: first read (8 bytes), second read (6 bytes), before CRCs are added.
    SNB_3: ClassVar[int] = 0x00

    def __init__(
        self, *, physics: PhysicalSource | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.measurements = 0
        self._awake_at = 0.0
        self._reset_state()

    def _reset_state(self) -> None:
        self.user = self.USER_RESET
        self.heater_level = 0
        self._answer: bytes | None = None
        self._pending: tuple[str, float, bool] | None = None  # (kind, ready_at, hold)
        self._last_rh_temperature = 0

    def _bits(self) -> tuple[int, int]:
        return RESOLUTION_BITS[((self.user >> 6) & 0b10) | (self.user & 1)]

    def _frame(self, word: int, *, with_crc: bool = True) -> bytes:
        data = word.to_bytes(2, "big")
        if not with_crc:
            return data
        crc = crc8(data, init=0x00)
        if self._crc_fault():
            crc ^= 0xFF
        return data + bytes([crc])

    def _conversion_time(self, kind: str) -> float:
        rh_bits, t_bits = self._bits()
        return self.RH_TIME[rh_bits] if kind == "rh" else self.T_TIME[t_bits]

    def write(self, data: bytes) -> None:
        """A command byte, optionally followed by its argument."""
        if self.now() < self._awake_at:
            raise Nack
        if not data:
            return
        command = data[0]
        self._answer = None
        if command in (0xF3, 0xE3):
            self._pending = ("t", self.now() + self._conversion_time("t"), command == 0xE3)
        elif command in (0xF5, 0xE5):
            self._pending = ("rh", self.now() + self._conversion_time("rh"), command == 0xE5)
        elif command == 0xE7:
            self._answer = bytes([self.user])
        elif command == 0xE6 and len(data) >= 2:
            self.user = (data[1] & self.USER_WRITABLE) | (self.USER_RESET & ~self.USER_WRITABLE)
        elif command == 0xFE:
            self._reset_state()
            self._awake_at = self.now() + RESET_TIME_S
        elif command == 0xFA and data[1:2] == b"\x0f":
            self._answer = self._eid_first()
        elif command == 0xFC and data[1:2] == b"\xc9":
            self._answer = self._eid_second()
        else:
            self._extra_command(data)

    def _extra_command(self, data: bytes) -> None:
        raise Nack  # commands not in the table are undefined

    def _eid_first(self) -> bytes:
        out = b""
        for byte in (0x48, 0x54, 0x55, 0x21):  # SNB_3..SNB_0, one CRC per byte
            out += bytes([byte, crc8(bytes([byte]), init=0)])
        return out

    def _eid_second(self) -> bytes:
        a, b = bytes([0x32, 0x1D]), bytes([0x48, 0x54])  # SNC_1 SNC_0, SNA_1 SNA_0
        return a + bytes([crc8(a, init=0)]) + b + bytes([crc8(b, init=0)])

    def _measure(self, kind: str) -> int:
        self.measurements += 1
        rh_bits, t_bits = self._bits()
        if kind == "t":
            return raw_temperature(self.physics.get("temperature"), t_bits)
        self._last_rh_temperature = raw_temperature(self.physics.get("temperature"), t_bits)
        return raw_humidity(self.physics.get("humidity"), rh_bits)

    def read(self, length: int) -> bytes:
        """The pending answer or measurement; NACK while converting or when nothing is pending."""
        if self.now() < self._awake_at:
            raise Nack
        if self._answer is not None:
            answer, self._answer = self._answer, None
            return (answer + b"\xff" * length)[:length]
        if self._pending is None:
            raise Nack
        kind, ready_at, hold = self._pending
        if self.now() < ready_at:
            if hold:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            raise Nack
        self._pending = None
        frame = self._frame(self._measure(kind))
        return (frame + b"\xff" * length)[:length]

    def describe(self) -> str:
        """User register and measurement count."""
        return f"{self.NAME} user=0x{self.user:02x} n={self.measurements}"


class Si7021Model(HTU21DModel):
    """A simulated Si7021: the HTU21D family plus 0xE0, heater register and firmware revision."""

    NAME = "si7021"
    USER_RESET = 0x3A
    USER_WRITABLE = 0x85
    RH_TIME: ClassVar[dict[int, float]] = {12: 0.012, 11: 0.007, 10: 0.0045, 8: 0.0031}
    T_TIME: ClassVar[dict[int, float]] = {14: 0.0108, 13: 0.0062, 12: 0.0038, 11: 0.0024}
    SNB_3 = 0x15

    def _conversion_time(self, kind: str) -> float:
        # Every RH conversion includes a temperature conversion.
        extra = self.T_TIME[self._bits()[1]] if kind == "rh" else 0.0
        return super()._conversion_time(kind) + extra

    def _eid_second(self) -> bytes:
        a, b = bytes([self.SNB_3, 0xFF]), bytes([0xB5, 0x31])  # SNB_3 SNB_2, SNB_1 SNB_0
        return a + bytes([crc8(a, init=0)]) + b + bytes([crc8(b, init=0)])

    def _extra_command(self, data: bytes) -> None:
        command = data[0]
        if command == 0xE0:
            self._answer = self._frame(self._last_rh_temperature, with_crc=False)
        elif command == 0x51 and len(data) >= 2:
            self.heater_level = data[1] & 0x0F
        elif command == 0x11:
            self._answer = bytes([self.heater_level])
        elif command == 0x84 and data[1:2] == b"\xb8":
            self._answer = b"\x20"  # firmware 2.0
        else:
            raise Nack
