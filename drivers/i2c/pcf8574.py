"""NXP/TI PCF8574(A) 8-line quasi-bidirectional expander: one output or input per line.

The chip has no registers: a written byte becomes the output latch and a read returns the pin
levels (``latch AND outside``; pages io-and-linux D).  Because a read does not return the latch,
every instance on one chip shares a shadow of it (power-on value 0xFF) and writes the whole byte
under the chip's lock; reading the port and writing it back would turn inputs that happen to
read 0 into driven-low outputs.

* :class:`PCF8574Output` (``pcf8574``): ``apply(True/False)``; ``active_high=False`` for the
  usual active-low relay boards (on = pin pulled low).  Safe state: off.
* :class:`PCF8574Input` (``pcf8574_input``): keeps its latch bit at 1 (weak pull-up) and reads
  the line: ``{"value": bool}``.

The chip has no identification; the driver can only check that it acknowledges its address.

Options: ``bus``, ``address`` (0x20..0x27 PCF8574, 0x38..0x3F PCF8574A), ``line`` (0..7),
``active_high`` (default true).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Actuator, Quantity, Reading, ReadingValue, Sensor
from drivers.errors import DriverConfigError
from drivers.i2c import shared
from drivers.i2c.bus import I2CBus, SMBusLike
from drivers.i2c.clock import Clock
from drivers.i2c.device import I2CDevice, parse_int

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource

POWER_ON_LATCH = 0xFF


def parse_bool(driver: str, option: str, value: Any) -> bool:
    """true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise DriverConfigError(
        f"{driver}: option {option!r} = {value!r} is not valid; valid: true, false"
    )


class _PCF8574Line(I2CDevice):
    ADDRESSES = (*range(0x20, 0x28), *range(0x38, 0x40))

    def _open_line(
        self,
        bus: int | str | I2CBus | SMBusLike,
        address: Any,
        line: Any,
        active_high: Any,
        clock: Clock | None,
    ) -> None:
        number = parse_int(line)
        if number is None or not 0 <= number <= 7:
            raise DriverConfigError(
                f"{self.NAME}: option 'line' = {line!r} is not valid; valid: 0..7"
            )
        self.line = number
        self.active_high = parse_bool(self.NAME, "active_high", active_high)
        self._attach(bus, address, clock)
        self._shared = shared.acquire(self._bus, self._address)

    def describe(self) -> str:
        """``pcf8574 line 3 on bus 1, address 0x20``."""
        return (
            f"{self.NAME} line {self.line} on bus {self._bus.bus_id}, address 0x{self._address:02x}"
        )

    def _set_latch_bit(self, level: bool) -> None:
        """Write the shared latch with this line's bit set to ``level`` (one byte, one transfer)."""
        with self._shared.lock:
            latch = self._shared.values.get("latch", POWER_ON_LATCH)
            new = latch | (1 << self.line) if level else latch & ~(1 << self.line)
            self._bus.write(self._address, [new])
            self._shared.values["latch"] = new

    def close(self) -> None:
        """Forget this instance's share of the chip (the pin keeps its level)."""
        if not self._closed and hasattr(self, "_shared"):
            shared.release(self._bus, self._address)
        super().close()

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.pcf8574.PCF8574Model`."""
        from drivers.sim.chips.pcf8574 import PCF8574Model  # noqa: PLC0415

        return PCF8574Model(physics=physics)


class PCF8574Output(_PCF8574Line, Actuator):
    """One line as a digital output; starts without changing the pin (the runtime applies safe)."""

    NAME = "pcf8574"

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x20,
        line: int | str = 0,
        active_high: bool | str = True,
        clock: Clock | None = None,
    ) -> None:
        self._open_line(bus, address, line, active_high, clock)
        latch = self._shared.values.get("latch", POWER_ON_LATCH)
        self._state = bool(latch >> self.line & 1) == self.active_high

    @property
    def state(self) -> bool:
        """True when the output is on."""
        return self._state

    @property
    def safe_state(self) -> bool:
        """False: off."""
        return False

    def apply(self, value: ReadingValue) -> bool:
        """Switch on (True / 1) or off (False / 0); returns the state applied."""
        self._check_open()
        if isinstance(value, bool) or value in (0, 1):
            on = bool(value)
        else:
            raise DriverConfigError(f"{self.describe()}: value {value!r} not in true, false")
        with self._lock:
            self._set_latch_bit(on == self.active_high)
            self._state = on
        return on


class PCF8574Input(_PCF8574Line, Sensor):
    """One line as a digital input (latch bit kept at 1 so the outside can pull it low)."""

    NAME = "pcf8574_input"
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "value": Quantity(bool, "", "line active (high, or low with active_high false)"),
    }

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x20,
        line: int | str = 0,
        active_high: bool | str = True,
        clock: Clock | None = None,
    ) -> None:
        self._open_line(bus, address, line, active_high, clock)
        try:
            self._set_latch_bit(True)
        except BaseException:
            self.close()
            raise

    def read(self) -> Reading:
        """``{"value": bool}``: the line's level (inverted when ``active_high`` is false)."""
        self._check_open()
        pins = self._bus.read(self._address, 1)[0]
        return {"value": bool(pins >> self.line & 1) == self.active_high}
