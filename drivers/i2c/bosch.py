"""Bosch BME280/BMP280 calibration and compensation as pure functions (hardware pages A.4, A.6).

Paths implemented, as the datasheet prints them (shifts, not the Bosch API's divisions):

* temperature: 32-bit integer (A.6.1) and double (A.6.2);
* pressure: 64-bit integer, Q24.8 Pa (A.6.3) and double (A.6.5);
* humidity: 32-bit integer, Q22.10 %RH (A.6.6) and double (A.6.7).

The drivers report the integer paths; the doubles are here for the simulator's inversion and for
tests.  Python integers do not overflow, and ``>>`` floors like the datasheet's shifts; the one C
division of the 64-bit pressure path truncates toward zero and is written so.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: Raw values the chip reports for a skipped (or not yet measured) channel.
SKIPPED_20BIT = 0x80000
SKIPPED_16BIT = 0x8000


@dataclass(frozen=True)
class Calibration:
    """The trimming parameters (names as in the datasheet, signedness as in table A.4)."""

    T1: int
    T2: int
    T3: int
    P1: int
    P2: int
    P3: int
    P4: int
    P5: int
    P6: int
    P7: int
    P8: int
    P9: int
    H1: int = 0
    H2: int = 0
    H3: int = 0
    H4: int = 0
    H5: int = 0
    H6: int = 0


def _s8(byte: int) -> int:
    return byte - 256 if byte & 0x80 else byte


def parse_calibration(tp: bytes, humidity: bytes | None = None) -> Calibration:
    """Decode registers 0x88..0x9F (24 bytes) and, for a BME280, 0xA1 followed by 0xE1..0xE7.

    The words are little-endian; dig_H4/dig_H5 are 12-bit values sign-extended from the MSB
    byte (``s8(E4)*16 + (E5 & 0xF)``, ``s8(E6)*16 + (E5 >> 4)``).
    """
    if len(tp) != 24:
        raise ValueError(f"temperature/pressure calibration is 24 bytes, got {len(tp)}")
    t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9 = struct.unpack("<HhhHhhhhhhhh", tp)
    if humidity is None:
        return Calibration(t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9)
    if len(humidity) != 8:
        raise ValueError(f"humidity calibration is 8 bytes (0xA1, 0xE1..0xE7), got {len(humidity)}")
    h1 = humidity[0]
    e1, e2, e3, e4, e5, e6, e7 = humidity[1:]
    h2 = struct.unpack("<h", bytes([e1, e2]))[0]
    h3 = e3
    h4 = (_s8(e4) * 16) + (e5 & 0x0F)
    h5 = (_s8(e6) * 16) + (e5 >> 4)
    h6 = _s8(e7)
    return Calibration(t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6)


def encode_calibration(cal: Calibration) -> tuple[bytes, bytes]:
    """The register images of ``cal``: (0x88..0x9F, 0xA1 + 0xE1..0xE7); inverse of parsing."""
    tp = struct.pack(
        "<HhhHhhhhhhhh",
        cal.T1,
        cal.T2,
        cal.T3,
        cal.P1,
        cal.P2,
        cal.P3,
        cal.P4,
        cal.P5,
        cal.P6,
        cal.P7,
        cal.P8,
        cal.P9,
    )
    h4 = cal.H4 & 0xFFF
    h5 = cal.H5 & 0xFFF
    hum = bytes(
        [
            cal.H1,
            cal.H2 & 0xFF,
            (cal.H2 >> 8) & 0xFF,
            cal.H3,
            h4 >> 4,
            ((h5 & 0xF) << 4) | (h4 & 0xF),
            h5 >> 4,
            cal.H6 & 0xFF,
        ]
    )
    return tp, hum


def temperature_int32(adc_t: int, cal: Calibration) -> tuple[int, int]:
    """(t_fine, T in 0.01 degC) by the datasheet's 32-bit integer formula (A.6.1)."""
    var1 = (((adc_t >> 3) - 2 * cal.T1) * cal.T2) >> 11
    var2 = (((((adc_t >> 4) - cal.T1) ** 2) >> 12) * cal.T3) >> 14
    t_fine = var1 + var2
    return t_fine, (5 * t_fine + 128) >> 8


def temperature_double(adc_t: int, cal: Calibration) -> tuple[int, float]:
    """(t_fine, T in degC) by the double-precision formula (A.6.2)."""
    v1 = (adc_t / 16384.0 - cal.T1 / 1024.0) * cal.T2
    v2 = (adc_t / 131072.0 - cal.T1 / 8192.0) ** 2 * cal.T3
    return int(v1 + v2), (v1 + v2) / 5120.0


def _tdiv(n: int, d: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d > 0) else -q


def pressure_int64(adc_p: int, t_fine: int, cal: Calibration) -> int:
    """Pressure in Q24.8 Pa by the 64-bit integer formula (A.6.3); 0 if undefined."""
    a = t_fine - 128000
    b = a * a * cal.P6 + ((a * cal.P5) << 17) + (cal.P4 << 35)
    a = ((a * a * cal.P3) >> 8) + ((a * cal.P2) << 12)
    a = (((1 << 47) + a) * cal.P1) >> 33
    if a == 0:
        return 0
    p = 1048576 - adc_p
    p = _tdiv(((p << 31) - b) * 3125, a)
    c1 = (cal.P9 * (p >> 13) * (p >> 13)) >> 25
    c2 = (cal.P8 * p) >> 19
    return ((p + c1 + c2) >> 8) + (cal.P7 << 4)


def pressure_double(adc_p: int, t_fine: int, cal: Calibration) -> float:
    """Pressure in Pa by the double-precision formula (A.6.5); 0.0 if undefined."""
    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * cal.P6 / 32768.0
    var2 = var2 + var1 * cal.P5 * 2.0
    var2 = var2 / 4.0 + cal.P4 * 65536.0
    var1 = (cal.P3 * var1 * var1 / 524288.0 + cal.P2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * cal.P1
    if var1 == 0:
        return 0.0
    p = 1048576.0 - adc_p
    p = (p - var2 / 4096.0) * 6250.0 / var1
    var1 = cal.P9 * p * p / 2147483648.0
    var2 = p * cal.P8 / 32768.0
    return p + (var1 + var2 + cal.P7) / 16.0


def humidity_int32(adc_h: int, t_fine: int, cal: Calibration) -> int:
    """Humidity in Q22.10 %RH, clamped to 0..100 %, by the 32-bit formula (A.6.6)."""
    v = t_fine - 76800
    x = ((adc_h << 14) - (cal.H4 << 20) - cal.H5 * v + 16384) >> 15
    y = ((((v * cal.H6) >> 10) * (((v * cal.H3) >> 11) + 32768)) >> 10) + 2097152
    y = (y * cal.H2 + 8192) >> 14
    v = x * y
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * cal.H1) >> 4)
    v = min(max(v, 0), 419430400)
    return v >> 12


def humidity_double(adc_h: int, t_fine: int, cal: Calibration) -> float:
    """Humidity in %RH, clamped to 0..100, by the datasheet's double formula (A.6.7)."""
    h = t_fine - 76800.0
    h = (adc_h - (cal.H4 * 64.0 + cal.H5 / 16384.0 * h)) * (
        cal.H2 / 65536.0 * (1.0 + cal.H6 / 67108864.0 * h * (1.0 + cal.H3 / 67108864.0 * h))
    )
    h = h * (1.0 - cal.H1 * h / 524288.0)
    return min(max(h, 0.0), 100.0)


#: Oversampling factor -> osrs code (A.4); codes 6 and 7 also mean x16 on read.
OVERSAMPLING_CODES = {0: 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5}


def oversampling_of(code: int) -> int:
    """The oversampling factor of an osrs code (0 = skipped)."""
    return 0 if code == 0 else 1 << (min(code, 5) - 1)


def measurement_time_max_ms(osrs_t: int, osrs_p: int, osrs_h: int | None) -> float:
    """Maximum forced-mode measurement time in ms (A.5) for oversampling *factors* (0 = skipped)."""
    t = 1.25
    if osrs_t:
        t += 2.3 * osrs_t
    if osrs_p:
        t += 2.3 * osrs_p + 0.575
    if osrs_h:
        t += 2.3 * osrs_h + 0.575
    return t
