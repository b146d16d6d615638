"""Parse and check the kernel's ``w1_slave`` file of a DS18B20-family sensor.

The w1_therm driver prints two lines per read (io-and-linux.md E.3)::

    72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    72 01 4b 46 7f ff 0e 10 57 t=23125

Line 1 is the scratchpad just read, the CRC the kernel computed over its first 8 bytes and
whether that matched byte 8; line 2 repeats the last scratchpad that passed (kernels since the
2020 rework) and the temperature in millidegrees.  Kernels since about 5.9 return an *empty*
read when the conversion or every CRC retry failed; older ones print ``NO``.

:func:`temperature_from` turns the text into degrees C or raises the fault it shows, per E.6:

========================================  ==============================================
what the file shows                       raised
========================================  ==============================================
nothing (new kernels)                     :class:`BusError` (conversion/CRC failed)
``crc=.. NO`` or a CRC that does not      :class:`ChecksumError`
match the bytes
all ``ff`` (``crc=c9 NO t=-62``)          :class:`BusError`: no device answering
all ``00`` (``crc=00 YES t=0``)           :class:`BusError`: data line stuck low
``50 05 .. 0c ..`` (``t=85000``)          :class:`PowerOnValue`: no conversion ran
anything else unexpected                  :class:`HardwareError`
========================================  ==============================================

A genuine -0.0625 degC (word 0xFFFF, ``t=-62``) with a good CRC is a temperature, not a fault;
only the all-``ff`` pattern is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.errors import BusError, ChecksumError, HardwareError
from drivers.onewire.crc import crc8

_BYTES = r"((?:[0-9a-f]{2} ){9})"
_LINE1 = re.compile(rf"^{_BYTES}: crc=([0-9a-f]{{2}}) (YES|NO)$")
_LINE2 = re.compile(rf"^{_BYTES}t=(-?\d+)$")

#: Families whose temperature word is the DS18B20's (1/16 degC, two's complement).
TWELVE_BIT_FAMILIES = frozenset({0x22, 0x28, 0x3B, 0x42})
#: The DS18B20's specified range (degC).
RANGE_C = (-55.0, 125.0)


class PowerOnValue(HardwareError):
    """The scratchpad still holds the 85 degC power-on value: no conversion ran. Retryable."""


@dataclass(frozen=True)
class W1Slave:
    """The two lines of a ``w1_slave`` read, decoded."""

    scratchpad: bytes
    kernel_crc: int
    kernel_crc_ok: bool
    retained: bytes
    millidegrees: int


def parse(text: str, *, where: str) -> W1Slave:
    """Decode a ``w1_slave`` text; empty or malformed content raises (see module table)."""
    if text == "":
        raise BusError(
            f"{where}: empty read: the kernel's conversion or CRC check failed after its retries"
        )
    lines = text.split("\n")
    if len(lines) != 3 or lines[2] != "":
        raise HardwareError(f"{where}: unexpected w1_slave content {text!r}; {_EXPECTED}")
    first, second = _LINE1.match(lines[0]), _LINE2.match(lines[1])
    if first is None or second is None:
        raise HardwareError(f"{where}: unexpected w1_slave content {text!r}; {_EXPECTED}")
    return W1Slave(
        scratchpad=bytes.fromhex(first.group(1)),
        kernel_crc=int(first.group(2), 16),
        kernel_crc_ok=first.group(3) == "YES",
        retained=bytes.fromhex(second.group(1)),
        millidegrees=int(second.group(2)),
    )


_EXPECTED = "expected '<9 hex bytes> : crc=<cc> YES|NO' then '<9 hex bytes> t=<millidegrees>'"


def kernel_millidegrees(scratchpad: bytes) -> int:
    """What w1_therm prints as ``t=`` for a 12-bit-family scratchpad (C division truncates)."""
    raw = int.from_bytes(scratchpad[0:2], "little", signed=True)
    millidegrees = abs(raw) * 1000 // 16
    return millidegrees if raw >= 0 else -millidegrees


def temperature_from(text: str, *, where: str, family: int = 0x28) -> float:
    """The temperature (degC) in a ``w1_slave`` text, or the fault it shows."""
    slave = parse(text, where=where)
    pad = slave.scratchpad
    if pad == b"\xff" * 9:
        raise BusError(
            f"{where}: every byte is 0xff: no device answering "
            "(open data line or missing 4.7 kOhm pull-up)"
        )
    if pad == b"\x00" * 9:
        raise BusError(
            f"{where}: every byte is 0x00 (which passes the CRC): data line stuck low or shorted"
        )
    if not slave.kernel_crc_ok:
        raise ChecksumError(
            f"{where}: the kernel's CRC check failed (crc={slave.kernel_crc:02x} NO)"
        )
    computed = crc8(pad[:8])
    if computed != pad[8] or computed != slave.kernel_crc:
        raise ChecksumError(
            f"{where}: CRC mismatch: bytes give {computed:02x}, byte 8 is {pad[8]:02x}, "
            f"the kernel said {slave.kernel_crc:02x}"
        )
    if pad[0:2] == b"\x50\x05" and pad[6] == 0x0C:
        raise PowerOnValue(
            f"{where}: 85.000 degC power-on value with byte 6 = 0x0c: no conversion ran "
            "(power dip, or parasite power without a strong pull-up)"
        )
    if family in TWELVE_BIT_FAMILIES and not pad[4] & 0x80:
        expected = kernel_millidegrees(pad)
        if slave.millidegrees != expected:
            raise HardwareError(
                f"{where}: t={slave.millidegrees} does not match the scratchpad ({expected})"
            )
    celsius = slave.millidegrees / 1000.0
    low, high = RANGE_C
    if not low <= celsius <= high:
        raise HardwareError(f"{where}: {celsius} degC is outside the sensor's {low}..{high} degC")
    return celsius
