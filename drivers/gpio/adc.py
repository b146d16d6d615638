"""MCP3xxx SPI ADC channels (MCP3001/3002/3004/3008, MCP3201/3202/3204/3208) via gpiozero.

One driver instance reads one channel and reports ``value`` (fraction of VREF, 0..1) and
``voltage``; name a quantity to also get it scaled by a two-point calibration, the way analog
probes are calibrated in practice (read the voltage dry and wet, write both down)::

    mcp3008(channel=2, quantity="soil_moisture", unit="%", points=[[2.8, 0], [1.2, 100]])
    -> {"value": 0.61, "voltage": 2.01, "soil_moisture": 49.4}

Voltages follow the datasheet: ``V = code * VREF / 2**bits`` (bits = 10 or 12).  The chip sits
on SPI0 (``select`` 0 = CE0/GPIO8, 1 = CE1/GPIO7); gpiozero uses the kernel's spidev when
available and bit-bangs the pins otherwise (always under ``MockFactory``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import gpiozero

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import DriverConfigError
from drivers.gpio.device import GpioParts
from drivers.sim.mcp3xxx import CHIPS, SPI0_CLOCK, SPI0_MISO, SPI0_MOSI, SPI0_SELECT, chip_on
from drivers.sim.physics import FixedValues, PhysicalSource
from drivers.sim.pins import mock_factory

_QUANTITY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Calibration:
    """A straight line through two (voltage, quantity) points, optionally clamped."""

    def __init__(self, where: str, points: Sequence[Sequence[float]], *, clamp: bool) -> None:
        try:
            (v1, q1), (v2, q2) = ((float(v), float(q)) for v, q in points)
        except (TypeError, ValueError) as exc:
            raise DriverConfigError(
                f"{where}: points {points!r} must be two [voltage, value] pairs"
            ) from exc
        if not all(math.isfinite(x) for x in (v1, q1, v2, q2)) or v1 == v2:
            raise DriverConfigError(
                f"{where}: points {points!r} need two different, finite voltages"
            )
        self.v1, self.q1, self.v2, self.q2 = v1, q1, v2, q2
        self.low, self.high = sorted((q1, q2))
        self.clamp = clamp

    def to_quantity(self, volts: float) -> float:
        """The calibrated value at ``volts``."""
        value = self.q1 + (volts - self.v1) * (self.q2 - self.q1) / (self.v2 - self.v1)
        return min(self.high, max(self.low, value)) if self.clamp else value

    def to_volts(self, value: float) -> float:
        """The voltage a probe gives at ``value`` (for simulators)."""
        return self.v1 + (value - self.q1) * (self.v2 - self.v1) / (self.q2 - self.q1)


class _Mcp3xxx(Sensor):
    """One channel of an MCP3xxx ADC."""

    CHIP: ClassVar[str] = ""
    GPIOZERO: ClassVar[str] = ""
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "value": Quantity(float, "", "fraction of VREF, 0..1"),
        "voltage": Quantity(float, "V", "input voltage (IN+ - IN- when differential)"),
    }

    def __init__(
        self,
        channel: int = 0,
        *,
        differential: bool = False,
        vref: float = 3.3,
        select: int = 0,
        quantity: str | None = None,
        unit: str = "",
        points: Sequence[Sequence[float]] | None = None,
        clamp: bool = True,
        pin_factory: Any | None = None,
    ) -> None:
        spec = CHIPS[self.CHIP]
        self.where = f"{self.NAME} channel {channel}"
        if isinstance(channel, bool) or not isinstance(channel, int):
            raise DriverConfigError(f"{self.NAME}: channel {channel!r} must be an integer")
        if not 0 <= channel < spec.channels:
            raise DriverConfigError(
                f"{self.NAME}: channel {channel} does not exist; valid: 0..{spec.channels - 1}"
            )
        if not 0 < vref <= 5.5:
            raise DriverConfigError(f"{self.NAME}: vref {vref!r} V must be in (0, 5.5]")
        if select not in SPI0_SELECT:
            raise DriverConfigError(f"{self.NAME}: select {select!r} must be 0 (CE0) or 1 (CE1)")
        self.channel, self.differential, self.vref, self.bits = (
            channel,
            differential,
            vref,
            spec.bits,
        )
        self.select = select
        self.quantity, self.unit = quantity, unit
        self.calibration: Calibration | None = None
        if quantity is not None:
            if not isinstance(quantity, str) or not _QUANTITY_NAME.match(quantity):
                raise DriverConfigError(
                    f"{self.NAME}: quantity {quantity!r} must be a lower-case name like "
                    "'soil_moisture'"
                )
            if quantity in self.QUANTITIES:
                raise DriverConfigError(f"{self.NAME}: quantity {quantity!r} is already a reading")
            if points is None:
                raise DriverConfigError(
                    f"{self.NAME}: quantity {quantity!r} needs points: [[volts, value], "
                    "[volts, value]] to scale the voltage"
                )
            self.calibration = Calibration(self.where, points, clamp=clamp)
        elif points is not None:
            raise DriverConfigError(f"{self.NAME}: points given without a quantity to name")
        self._parts = GpioParts(
            self.NAME,
            pin_factory,
            {
                "clock": SPI0_CLOCK,
                "mosi": SPI0_MOSI,
                "miso": SPI0_MISO,
                "select": SPI0_SELECT[select],
            },
        )
        cls = getattr(gpiozero, self.GPIOZERO)
        args: dict[str, Any] = {"max_voltage": vref, "port": 0, "device": select}
        if spec.channels > 1:
            args.update(channel=channel, differential=differential)
        self._parts.open(lambda: cls(pin_factory=self._parts.factory, **args))

    @property
    def quantities(self) -> Mapping[str, Quantity]:
        """``value``, ``voltage`` and the calibrated quantity, if one is named."""
        if self.quantity is None:
            return self.QUANTITIES
        described = Quantity(float, self.unit, f"calibrated from {self.NAME} channel voltage")
        return {**self.QUANTITIES, self.quantity: described}

    def read(self) -> Reading:
        """One conversion of this channel."""
        device = self._parts.checked()
        with self._parts.errors():
            code = int(device.raw_value)
        fraction = code / (1 << self.bits)
        volts = fraction * self.vref
        reading: Reading = {"value": fraction, "voltage": volts}
        if self.calibration is not None and self.quantity is not None:
            reading[self.quantity] = self.calibration.to_quantity(volts)
        return reading

    def describe(self) -> str:
        """``mcp3008 channel 2 on CE0``."""
        return f"{self.where} on CE{self.select}"

    def close(self) -> None:
        """Release the SPI pins (idempotent)."""
        self._parts.close()
        super().close()

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """This channel on a simulated chip (``drivers.sim.mcp3xxx``) on mock SPI pins.

        The channel's voltage follows ``physics``: the named ``quantity`` turned back into
        volts through the calibration, or the ``voltage`` quantity when none is named.
        """
        if options.get("pin_factory") is None:
            options["pin_factory"] = mock_factory()
        source = physics if physics is not None else FixedValues()
        chip = chip_on(
            options["pin_factory"],
            cls.CHIP,
            select=options.get("select", 0),
            vref=options.get("vref", 3.3),
        )
        sensor = cls(**options)
        calibration, quantity = sensor.calibration, sensor.quantity
        if calibration is not None and quantity is not None:
            chip.set_source(sensor.channel, lambda: calibration.to_volts(source.get(quantity)))
        else:
            chip.set_source(sensor.channel, lambda: source.get("voltage"))
        return sensor


class Mcp3001(_Mcp3xxx):
    """MCP3001: 1 differential channel, 10 bits."""

    NAME, CHIP, GPIOZERO = "mcp3001", "mcp3001", "MCP3001"


class Mcp3002(_Mcp3xxx):
    """MCP3002: 2 channels, 10 bits."""

    NAME, CHIP, GPIOZERO = "mcp3002", "mcp3002", "MCP3002"


class Mcp3004(_Mcp3xxx):
    """MCP3004: 4 channels, 10 bits."""

    NAME, CHIP, GPIOZERO = "mcp3004", "mcp3004", "MCP3004"


class Mcp3008(_Mcp3xxx):
    """MCP3008: 8 channels, 10 bits."""

    NAME, CHIP, GPIOZERO = "mcp3008", "mcp3008", "MCP3008"


class Mcp3201(_Mcp3xxx):
    """MCP3201: 1 differential channel, 12 bits."""

    NAME, CHIP, GPIOZERO = "mcp3201", "mcp3201", "MCP3201"


class Mcp3202(_Mcp3xxx):
    """MCP3202: 2 channels, 12 bits."""

    NAME, CHIP, GPIOZERO = "mcp3202", "mcp3202", "MCP3202"


class Mcp3204(_Mcp3xxx):
    """MCP3204: 4 channels, 12 bits."""

    NAME, CHIP, GPIOZERO = "mcp3204", "mcp3204", "MCP3204"


class Mcp3208(_Mcp3xxx):
    """MCP3208: 8 channels, 12 bits."""

    NAME, CHIP, GPIOZERO = "mcp3208", "mcp3208", "MCP3208"
