"""What every I2C chip driver shares: option checking, bus opening, simulation and lifecycle.

A chip driver is ``class BME280(I2CDevice, Sensor)``.  Its constructor takes the options a model
file uses (``bus``, ``address`` and chip-specific ones), checks each with the helpers below so a
mistake says which option, which value and what is valid, then checks the chip's identity.
:meth:`I2CDevice.simulated` builds the same driver over a :class:`drivers.sim.smbus.SimSMBus`
with the chip's register-level model attached.
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from drivers.base import Device
from drivers.errors import DriverConfigError
from drivers.i2c.bus import I2CBus, SMBusLike, open_bus
from drivers.i2c.clock import Clock, SystemClock

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource

T = TypeVar("T")


def _hexes(values: Iterable[int]) -> str:
    return ", ".join(f"0x{v:02x}" for v in values)


def parse_int(value: Any) -> int | None:
    """``value`` as an int when it is one or a decimal/hex/binary string ("0x76"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return None
    return None


def parse_address(driver: str, value: Any, valid: Sequence[int]) -> int:
    """A chip address (int or "0x76") that must be one of ``valid``."""
    address = parse_int(value)
    if address is None or address not in valid:
        raise DriverConfigError(
            f"{driver}: option 'address' = {value!r} is not an address this chip can have; "
            f"valid: {_hexes(valid)}"
        )
    return address


def parse_bus_number(driver: str, value: Any) -> int:
    """A bus number (int or numeric string), non-negative."""
    number = parse_int(value)
    if number is None or number < 0:
        raise DriverConfigError(
            f"{driver}: option 'bus' = {value!r} is not a bus number; valid: 0, 1, 2, ... "
            "(/dev/i2c-N; the Raspberry Pi header bus is 1)"
        )
    return number


def parse_choice(driver: str, option: str, value: Any, valid: Iterable[T]) -> T:
    """``value`` (or its numeric form) if it is one of ``valid``."""
    choices = list(valid)
    for choice in choices:
        if value == choice and type(value) is not bool:
            return choice
        if isinstance(choice, int) and parse_int(value) == choice:
            return choice
        if isinstance(choice, float) and isinstance(value, str):
            try:
                if float(value) == choice:
                    return choice
            except ValueError:
                pass
    shown = ", ".join(repr(c) if isinstance(c, str) else str(c) for c in choices)
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DriverConfigError(
        f"{driver}: option {option!r} = {value!r} is not valid{hint}; valid: {shown}"
    )


def parse_float(
    driver: str, option: str, value: Any, low: float | None = None, high: float | None = None
) -> float:
    """A number within ``[low, high]`` (either bound may be None)."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or math.isnan(number):  # NaN
        raise DriverConfigError(f"{driver}: option {option!r} = {value!r} is not a number")
    if (low is not None and number < low) or (high is not None and number > high):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "+inf" if high is None else f"{high:g}"
        raise DriverConfigError(
            f"{driver}: option {option!r} = {value!r} is out of range; valid: {lo}..{hi}"
        )
    return number


def reject_unknown(driver: str, options: Mapping[str, Any], known: Iterable[str]) -> None:
    """Refuse options the driver does not have, with a did-you-mean hint."""
    names = sorted(set(known))
    for key in options:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DriverConfigError(
                f"{driver}: unknown option {key!r}{hint}; options: {', '.join(names)}"
            )


class I2CDevice(Device):
    """Base of the I2C chip drivers: one chip at one address on one bus.

    Subclasses set ``NAME``, ``ADDRESSES`` (valid addresses, the default first) and implement
    :meth:`sim_model`.  They call :meth:`_attach` first thing in ``__init__``.
    """

    ADDRESSES: ClassVar[tuple[int, ...]] = ()

    _bus: I2CBus
    _address: int
    _clock: Clock
    _owns_bus: bool = False

    @classmethod
    def default_address(cls) -> int:
        """The address of the chip with its address pins low (what breakout boards ship)."""
        return cls.ADDRESSES[0]

    def _attach(
        self, bus: int | str | I2CBus | SMBusLike, address: Any, clock: Clock | None
    ) -> None:
        """Check ``address``, open or wrap ``bus`` and pick the clock."""
        self._address = parse_address(self.NAME, address, self.ADDRESSES)
        self._lock = threading.RLock()
        smbus: Any
        if isinstance(bus, I2CBus):
            self._bus = bus
            smbus = bus.smbus
        elif isinstance(bus, int | str):
            self._bus = open_bus(parse_bus_number(self.NAME, bus))
            self._owns_bus = True
            smbus = self._bus.smbus
        elif hasattr(bus, "i2c_rdwr"):
            number = getattr(bus, "bus_number", None)
            self._bus = I2CBus(bus, bus_id=number if number is not None else "custom")
            smbus = bus
        else:
            raise DriverConfigError(
                f"{self.NAME}: option 'bus' = {bus!r} is not a bus number or an SMBus object"
            )
        sim_clock = getattr(smbus, "clock", None)
        self._clock = clock or sim_clock or SystemClock()

    @property
    def address(self) -> int:
        """The chip's 7-bit address."""
        return self._address

    @property
    def bus(self) -> I2CBus:
        """The bus the chip sits on."""
        return self._bus

    def describe(self) -> str:
        """``bme280 on bus 1, address 0x76``."""
        return f"{self.NAME} on bus {self._bus.bus_id}, address 0x{self._address:02x}"

    def close(self) -> None:
        """Release the bus if this driver opened it. Idempotent."""
        if self._closed:
            return
        super().close()
        bus = getattr(self, "_bus", None)
        if self._owns_bus and bus is not None:
            bus.close()

    def _check_open(self) -> None:
        if self._closed:
            raise DriverConfigError(f"{self.describe()} is closed")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        where = self.describe() if hasattr(self, "_bus") else self.NAME
        return f"<{type(self).__name__} {where} {state}>"

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """The register-level model of this chip for the simulated bus."""
        raise DriverConfigError(f"driver {cls.NAME!r} has no simulator")

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """This driver over a simulated bus with the chip model attached at its address.

        Options are the driver's own (``address``, ...) plus ``bus``: a bus number for a new
        :class:`~drivers.sim.smbus.SimSMBus`, or an existing ``SimSMBus`` (several drivers can
        share one; a chip already at the address is reused, e.g. PCA9685 channels).
        """
        from drivers.sim.physics import FixedValues  # noqa: PLC0415 - simulation only
        from drivers.sim.smbus import SimSMBus  # noqa: PLC0415

        source: PhysicalSource = physics if physics is not None else FixedValues()
        bus_option = options.pop("bus", 1)
        if isinstance(bus_option, SimSMBus):
            sim_bus = bus_option
        else:
            sim_bus = SimSMBus(parse_bus_number(cls.NAME, bus_option))
        address = parse_address(
            cls.NAME, options.get("address", cls.default_address()), cls.ADDRESSES
        )
        if sim_bus.chip_at(address) is None:
            sim_bus.attach(address, cls.sim_model(physics=source, **options))
        factory: Any = cls
        device: Self = factory(bus=sim_bus, **options)
        return device
