"""CRC-8 as the humidity sensors compute it (polynomial 0x31, MSB first, no reflection).

Sensirion SHT3x starts from 0xFF (check value CRC(BE EF) = 0x92); HTU21D/Si7021 start from 0x00
(check values CRC(DC) = 0x79, CRC(68 3A) = 0x7C).  Hardware pages C.8 and D.8.
"""

from __future__ import annotations


def crc8(data: bytes, *, init: int, poly: int = 0x31) -> int:
    """CRC-8 of ``data`` starting from ``init``."""
    crc = init
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc
