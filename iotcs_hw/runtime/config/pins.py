"""Pin names as gpiozero accepts them, and I2C addresses, resolved for conflict checks.

gpiozero resolves ``17``, ``"17"``, ``"GPIO17"``, ``"BCM17"``, ``"BOARD11"``, ``"J8:11"`` and
``"WPI0"`` to the same pin (names are case-sensitive).  Two bindings that name one pin in two
spellings must still be caught, so every spelling is reduced to its BCM number here, without
importing gpiozero (``check`` runs on a laptop with no pin factory).  The tables are the 40-pin
header of every Pi since the B+.
"""

from __future__ import annotations

import re

#: Physical header pin -> BCM GPIO number (40-pin header).
HEADER_TO_BCM: dict[int, int] = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10,
    21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19,
    36: 16, 37: 26, 38: 20, 40: 21,
}  # fmt: skip

#: Header pins that are not GPIOs, by what they are.
HEADER_POWER: dict[int, str] = {
    1: "3V3", 17: "3V3", 2: "5V", 4: "5V",
    **dict.fromkeys((6, 9, 14, 20, 25, 30, 34, 39), "GND"),
}  # fmt: skip

#: wiringPi number -> BCM GPIO number.
WIRINGPI_TO_BCM: dict[int, int] = {
    0: 17, 1: 18, 2: 27, 3: 22, 4: 23, 5: 24, 6: 25, 7: 4, 8: 2, 9: 3, 10: 8, 11: 7, 12: 10,
    13: 9, 14: 11, 15: 14, 16: 15, 21: 5, 22: 6, 23: 13, 24: 19, 25: 26, 26: 12, 27: 16,
    28: 20, 29: 21, 30: 0, 31: 1,
}  # fmt: skip

#: GPIOs on the header: 0..27.
MAX_BCM = 27

#: Pins the I2C buses use (bus -> (SDA, SCL)).
I2C_BUS_PINS: dict[int, tuple[int, int]] = {1: (2, 3), 0: (0, 1)}

#: Valid 7-bit addresses for ordinary devices (0x00-0x02 and 0x78-0x7F are reserved).
I2C_ADDRESS_MIN = 0x03
I2C_ADDRESS_MAX = 0x77

_PREFIXED = re.compile(r"(GPIO|BCM|BOARD|J8:|WPI)(\d+)")


class PinNameError(ValueError):
    """A pin name gpiozero would refuse; the message says why."""


def bcm_number(pin: object) -> int:
    """The BCM GPIO number ``pin`` names, as gpiozero would resolve it.

    >>> bcm_number("BOARD11"), bcm_number(17), bcm_number("J8:11"), bcm_number("WPI0")
    (17, 17, 17, 17)

    Raises :class:`PinNameError` for a name gpiozero rejects (``"gpio17"``, ``"BOARD1"``,
    ``99``).
    """
    if isinstance(pin, bool):
        raise PinNameError(f"{pin!r} is not a pin name")
    if isinstance(pin, int):
        number = pin
        kind = "GPIO"
    elif isinstance(pin, str):
        if pin.isdigit():
            number, kind = int(pin), "GPIO"
        else:
            match = _PREFIXED.fullmatch(pin)
            if match is None:
                raise PinNameError(
                    f"{pin!r} is not a valid pin name (use 17, GPIO17, BCM17, BOARD11 or J8:11; "
                    "names are case-sensitive)"
                )
            kind, number = match.group(1), int(match.group(2))
    else:
        raise PinNameError(f"{pin!r} is not a pin name")
    if kind in ("GPIO", "BCM"):
        if not 0 <= number <= MAX_BCM:
            raise PinNameError(f"{pin!r}: there is no GPIO{number} on the header (GPIO0..GPIO27)")
        return number
    if kind in ("BOARD", "J8:"):
        if number in HEADER_POWER:
            raise PinNameError(
                f"{pin!r} is header pin {number} ({HEADER_POWER[number]}), not a GPIO"
            )
        if number not in HEADER_TO_BCM:
            raise PinNameError(f"{pin!r}: the header has pins 1..40")
        return HEADER_TO_BCM[number]
    if number not in WIRINGPI_TO_BCM:
        raise PinNameError(f"{pin!r}: no such wiringPi pin on a 40-pin header")
    return WIRINGPI_TO_BCM[number]


def i2c_address(value: object) -> int:
    """An I2C address from an int or a ``"0x76"`` string; ValueError names the valid range."""
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise ValueError(f"{value!r} is not an address (write it like 0x76)") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an address (write it like 0x76)")
    if not I2C_ADDRESS_MIN <= value <= I2C_ADDRESS_MAX:
        raise ValueError(
            f"address 0x{value:02x} is outside the usable 7-bit range "
            f"0x{I2C_ADDRESS_MIN:02x}..0x{I2C_ADDRESS_MAX:02x}"
            if value >= 0
            else f"address {value} is negative"
        )
    return value
