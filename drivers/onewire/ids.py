"""1-Wire device ids as the kernel names them: ``ff-ssssssssssss`` (family, 48-bit serial)."""

from __future__ import annotations

import re

from drivers.errors import DriverConfigError

#: Family codes w1_therm handles: DS18S20, DS1822, DS18B20, DS1825/MAX31850, DS28EA00.
THERMOMETER_FAMILIES = {
    "10": "DS18S20",
    "22": "DS1822",
    "28": "DS18B20",
    "3b": "DS1825",
    "42": "DS28EA00",
}
ID_PATTERN = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{12})$")


def check_device_id(device_id: object) -> str:
    """``28-0316a2797fff`` (any case) -> its lower-case form; anything else is an error."""
    if not isinstance(device_id, str) or ID_PATTERN.match(device_id.lower()) is None:
        raise DriverConfigError(
            f"ds18b20: device {device_id!r} is not a 1-Wire id; expected family-serial "
            "like '28-0316a2797fff' (2 + 12 hex digits, as listed in /sys/bus/w1/devices)"
        )
    lowered = device_id.lower()
    if lowered[:2] not in THERMOMETER_FAMILIES:
        families = ", ".join(f"{code} ({name})" for code, name in THERMOMETER_FAMILIES.items())
        raise DriverConfigError(
            f"ds18b20: device {device_id!r} has family {lowered[:2]}, not a thermometer; "
            f"expected one of {families}"
        )
    return lowered
