"""The hardware exception tree.

Every fault a driver reports is a :class:`HardwareError` carrying where it happened (``bus``,
``address`` or ``pin``) and why (``cause``, usually the ``OSError`` from the kernel).  Callers
catch ``HardwareError`` and retry; configuration mistakes are :class:`DriverConfigError`
(a ``ValueError``) and are not retryable.
"""

from __future__ import annotations


class HardwareError(Exception):
    """A sensor or actuator could not be used right now. Retryable: the hardware may come back."""

    def __init__(
        self,
        message: str,
        *,
        bus: int | str | None = None,
        address: int | None = None,
        pin: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        where = []
        if bus is not None:
            where.append(f"bus {bus}")
        if address is not None:
            where.append(f"address 0x{address:02x}")
        if pin is not None:
            where.append(f"pin {pin}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)
        self.bus = bus
        self.address = address
        self.pin = pin
        self.cause = cause


class BusError(HardwareError, OSError):
    """An I2C/SPI/1-Wire transfer failed (errno in ``cause``). Retryable."""


class DeviceNotFound(BusError):
    """Nothing answered at the address (NACK, errno 121 on a Pi) or the device file is missing."""


class ChecksumError(HardwareError):
    """A CRC in the chip's answer did not match. Retryable: usually noise on the bus."""


class HardwareTimeout(HardwareError, TimeoutError):
    """A conversion or measurement did not finish in the datasheet's time. Retryable."""


class ChipIdMismatch(HardwareError):
    """Something answered, but its identification register says it is another chip.

    Not read silently: the message says "found X, expected Y".
    """


class DriverConfigError(ValueError):
    """A driver was given an impossible option (address, bus, pin, channel...). Not retryable."""


class UnknownDriver(DriverConfigError, LookupError):
    """No driver is registered under that name; the message lists the known ones."""
