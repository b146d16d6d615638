"""Find what answers on an I2C bus, the way ``i2cdetect`` does (hardware pages io-and-linux F.7).

Each address gets the probe believed safe for the chips that live there: a *receive byte* for
0x30..0x37 and 0x50..0x5F (EEPROMs and their write-protect addresses, which a quick write can
corrupt), a *quick write* (address only, no data byte) elsewhere, so no register of any chip is
written.  The default range is i2c-tools >= 4.2's 0x08..0x77 (what Raspberry Pi OS ships).
Responding addresses are listed with the chips that usually live there.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import BusError, DeviceNotFound
from drivers.i2c.bus import I2CBus

FIRST, LAST = 0x08, 0x77

#: address -> driver names (or chip names in parentheses) commonly found there.
KNOWN_CHIPS: dict[int, tuple[str, ...]] = {
    **dict.fromkeys(range(24, 32), ("mcp9808",)),
    **dict.fromkeys(range(32, 40), ("pcf8574",)),
    **dict.fromkeys(range(56, 64), ("pcf8574 (PCF8574A)",)),
    0x23: ("bh1750", "pcf8574"),
    0x5C: ("bh1750",),
    0x40: ("htu21d", "si7021", "ina219", "pca9685"),
    **dict.fromkeys(range(65, 72), ("ina219", "pca9685")),
    **dict.fromkeys(range(72, 76), ("ads1115", "ina219", "pca9685")),
    **dict.fromkeys(range(76, 80), ("ina219", "pca9685")),
    0x44: ("sht3x", "ina219", "pca9685"),
    0x45: ("sht3x", "ina219", "pca9685"),
    **dict.fromkeys(range(80, 88), ("(EEPROM)",)),
    0x70: ("(PCA9685 All Call)",),
    0x76: ("bme280", "bmp280"),
    0x77: ("bme280", "bmp280"),
}


def probe_kind(address: int) -> str:
    """``"read"`` (receive byte) for the EEPROM ranges, ``"quick"`` (quick write) elsewhere."""
    return "read" if 0x30 <= address <= 0x37 or 0x50 <= address <= 0x5F else "quick"


@dataclass(frozen=True)
class Found:
    """One address that answered (``busy``: a kernel driver owns it, i2cdetect's ``UU``)."""

    address: int
    probe: str
    busy: bool = False

    @property
    def usual_chips(self) -> tuple[str, ...]:
        """Chips that usually live at this address."""
        return KNOWN_CHIPS.get(self.address, ())


def scan(bus: I2CBus, first: int = FIRST, last: int = LAST) -> list[Found]:
    """Probe every address in ``[first, last]``; the ones that answered, in order."""
    found = []
    for address in range(first, last + 1):
        kind = probe_kind(address)
        try:
            if kind == "read":
                bus.read_byte(address)
            else:
                bus.write_quick(address)
        except DeviceNotFound:
            continue
        except BusError as exc:
            if isinstance(exc.cause, OSError) and exc.cause.errno == 16:  # EBUSY: kernel driver
                found.append(Found(address, kind, busy=True))
            continue
        found.append(Found(address, kind))
    return found


def grid(found: list[Found], first: int = FIRST, last: int = LAST) -> str:
    """The i2cdetect table: ``--`` nothing, ``UU`` busy, the hex address when it answered."""
    by_address = {f.address: f for f in found}
    lines = ["     " + " ".join(f" {c:x}" for c in range(16))]
    for row in range(0, 0x80, 0x10):
        cells = []
        for address in range(row, row + 0x10):
            if not first <= address <= last:
                cells.append("  ")
            elif address in by_address:
                cells.append("UU" if by_address[address].busy else f"{address:02x}")
            else:
                cells.append("--")
        lines.append(f"{row:02x}: " + " ".join(cells))
    return "\n".join(lines)
