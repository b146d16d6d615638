"""Command-level model of the Sensirion SHT3x-DIS (hardware pages C.2-C.10).

16-bit commands MSB first; answers are 16-bit words each followed by CRC-8 (poly 0x31, init 0xFF).

* Single shot without clock stretching (0x2400/0x240B/0x2416): the read header is NACKed while
  the measurement runs (the maximum time for the repeatability, 4.5/6.5/15.5 ms), the data is
  delivered once, and a second read without a new command is NACKed.
* Clock-stretching single shot (0x2Cxx): a read during the conversion fails with EIO, as the
  Pi's controller reports a clock-stretch timeout.
* Periodic mode (0x2032..0x2737, ART 0x2B32) with Fetch 0xE000 (NACK when no new sample) and
  Break 0x3093; other commands in periodic mode set status bit 1 and are ignored.
* Status 0xF32D (power-on 0x8010), clear 0x3041, heater 0x306D/0x3066, soft reset 0x30A2 (NACKs
  for 1.5 ms), serial number 0x3780; unknown commands set status bit 1.
"""

from __future__ import annotations

import errno
import os

from drivers.i2c.clock import Clock
from drivers.i2c.crc import crc8
from drivers.sim.chips.base import Nack, SimChip
from drivers.sim.physics import PhysicalSource

SINGLE_SHOT = {0x2400: 0.0155, 0x240B: 0.0065, 0x2416: 0.0045}
SINGLE_SHOT_STRETCH = {0x2C06: 0.0155, 0x2C0D: 0.0065, 0x2C10: 0.0045}
PERIODIC = {
    0x2032: 0.5, 0x2024: 0.5, 0x202F: 0.5,
    0x2130: 1.0, 0x2126: 1.0, 0x212D: 1.0,
    0x2236: 2.0, 0x2220: 2.0, 0x222B: 2.0,
    0x2334: 4.0, 0x2322: 4.0, 0x2329: 4.0,
    0x2737: 10.0, 0x2721: 10.0, 0x272A: 10.0,
    0x2B32: 4.0,
}  # fmt: skip
FETCH, BREAK, SOFT_RESET = 0xE000, 0x3093, 0x30A2
HEATER_ON, HEATER_OFF = 0x306D, 0x3066
READ_STATUS, CLEAR_STATUS, READ_SERIAL = 0xF32D, 0x3041, 0x3780
STATUS_POWER_ON = 0x8010
RESET_TIME_S = 0.0015


def sht_crc(data: bytes) -> int:
    """Sensirion CRC-8: poly 0x31, init 0xFF."""
    return crc8(data, init=0xFF)


def raw_temperature(celsius: float) -> int:
    """S_T for ``celsius`` (C.7), clamped to 16 bits."""
    return max(0, min(0xFFFF, round((celsius + 45.0) * 65535.0 / 175.0)))


def raw_humidity(percent: float) -> int:
    """S_RH for ``percent`` (C.7), clamped to 16 bits."""
    return max(0, min(0xFFFF, round(percent * 65535.0 / 100.0)))


class SHT3xModel(SimChip):
    """A simulated SHT3x reading ``temperature`` (degC) and ``humidity`` (%RH)."""

    NAME = "sht3x"
    HAS_CRC = True

    def __init__(
        self,
        *,
        physics: PhysicalSource | None = None,
        clock: Clock | None = None,
        serial: int = 0x1A2B3C4D,
    ) -> None:
        super().__init__(physics=physics, clock=clock)
        self.serial = serial
        self.measurements = 0
        self._reset_state()
        self._awake_at = 0.0

    def _reset_state(self) -> None:
        self.status = STATUS_POWER_ON
        self._answer: bytes | None = None
        self._data: bytes | None = None
        self._ready_at = 0.0
        self._stretch = False
        self._pending_measurement = False
        self._period: float | None = None
        self._period_start = 0.0
        self._fetched_index = 0

    def _word(self, value: int) -> bytes:
        word = value.to_bytes(2, "big")
        return word + bytes([sht_crc(word)])

    def _sample(self) -> bytes:
        self.measurements += 1
        frame = self._word(raw_temperature(self.physics.get("temperature")))
        frame += self._word(raw_humidity(self.physics.get("humidity")))
        if self._crc_fault():
            frame = frame[:2] + bytes([frame[2] ^ 0xFF]) + frame[3:]
        return frame

    def _check_awake(self) -> None:
        if self.now() < self._awake_at:
            raise Nack

    def write(self, data: bytes) -> None:
        """One command (2 bytes), or a command plus a CRC-protected word."""
        self._check_awake()
        if len(data) < 2:
            raise Nack
        command = (data[0] << 8) | data[1]
        self._answer = None
        if self._period is not None and command not in (FETCH, BREAK, SOFT_RESET):
            self.status |= 0x0002  # last command not processed
            return
        if command in SINGLE_SHOT or command in SINGLE_SHOT_STRETCH:
            self._stretch = command in SINGLE_SHOT_STRETCH
            self._ready_at = self.now() + {**SINGLE_SHOT, **SINGLE_SHOT_STRETCH}[command]
            self._data = None
            self._pending_measurement = True
        elif command in PERIODIC:
            self._period = 1.0 / PERIODIC[command]
            self._period_start = self.now()
            self._fetched_index = 0
        elif command == FETCH:
            self._fetch()
        elif command == BREAK:
            self._period = None
        elif command == SOFT_RESET:
            self._reset_state()
            self._awake_at = self.now() + RESET_TIME_S
        elif command == HEATER_ON:
            self.status |= 0x2000
        elif command == HEATER_OFF:
            self.status &= ~0x2000
        elif command == READ_STATUS:
            self._answer = self._word(self.status)
        elif command == CLEAR_STATUS:
            self.status &= ~0x8C10
        elif command == READ_SERIAL:
            self._answer = self._word(self.serial >> 16) + self._word(self.serial & 0xFFFF)
        else:
            self.status |= 0x0002
            return
        self.status &= ~0x0002

    def _fetch(self) -> None:
        if self._period is None:
            self.status |= 0x0002
            return
        index = int((self.now() - self._period_start) / self._period)
        if index > self._fetched_index:
            self._fetched_index = index
            self._data = self._sample()
        else:
            self._data = None

    def read(self, length: int) -> bytes:
        """The pending answer, or the measurement when it is ready; NACK otherwise."""
        self._check_awake()
        if self._answer is not None:
            answer, self._answer = self._answer, None
            return (answer + b"\xff" * length)[:length]
        if self._pending_measurement:
            if self.now() < self._ready_at:
                if self._stretch:
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                raise Nack
            self._pending_measurement = False
            self._data = self._sample()
        if self._data is None:
            raise Nack
        data, self._data = self._data, None
        return (data + b"\xff" * length)[:length]

    def general_call(self, data: bytes) -> bool:
        """General-call reset (0x06): as a soft reset (pages C.3)."""
        if data[:1] != b"\x06":
            return False
        self._reset_state()
        self._awake_at = self.now() + RESET_TIME_S
        return True

    def describe(self) -> str:
        """Status word and measurement count."""
        return f"{self.NAME} status=0x{self.status:04x} n={self.measurements}"
