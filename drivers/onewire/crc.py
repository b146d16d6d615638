"""The Dallas/Maxim CRC-8 of 1-Wire scratchpads and ROM ids.

Polynomial x^8 + x^5 + x^4 + 1 processed LSB first (reflected constant 0x8C), initial value
0, no final XOR.  Check values (io-and-linux.md E.7): ``72 01 4b 46 7f ff 0e 10`` -> 0x57,
eight 0x00 -> 0x00, eight 0xff -> 0xC9; the CRC over the data *and* its CRC byte is 0.
"""

from __future__ import annotations

from collections.abc import Iterable


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc8(data: Iterable[int]) -> int:
    """The Dallas CRC-8 of ``data`` (bytes or ints 0..255)."""
    crc = 0
    for byte in data:
        crc = _TABLE[crc ^ byte]
    return crc
