"""TI ADS1115 16-bit ADC, single-shot (hardware pages io-and-linux, section A).

:meth:`ADS1115.read` writes Config with OS=1 (start), the input pair (MUX), the full-scale range
(PGA), single-shot mode and the data rate, waits one conversion period, polls Config until OS
reads 1 (conversion done) within a deadline (HardwareTimeout past it), then reads the Conversion
register and converts code * FSR / 2^15.

A channel can report a named quantity instead of bare volts through a linear map, e.g. a
capacitive soil probe that reads 2.8 V dry and 1.2 V wet::

    ADS1115(channel=0, quantity="soil_moisture", unit="%",
            scale_from=(2.8, 1.2), scale_to=(0, 100))

reads ``{"soil_moisture": 37.5, "voltage": 2.2}`` (clamped to the ``scale_to`` range unless
``clamp=False``).

Options: ``bus``, ``address`` (0x48..0x4B), ``channel`` (0..3 single-ended, or "0-1", "0-3",
"1-3", "2-3" differential), ``full_scale`` in V (6.144, 4.096 default, 2.048, 1.024, 0.512,
0.256), ``data_rate`` in samples/s (8, 16, 32, 64, 128 default, 250, 475, 860), ``quantity``,
``unit``, ``scale_from``, ``scale_to``, ``clamp``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import ChipIdMismatch, DriverConfigError, HardwareTimeout
from drivers.i2c.bus import I2CBus, SMBusLike
from drivers.i2c.clock import Clock
from drivers.i2c.device import I2CDevice, parse_choice, parse_float
from drivers.i2c.registers import (
    Access,
    BoolAdapter,
    Field,
    LookupAdapter,
    Register,
    RegisterDevice,
)

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource

MUX_CODES: dict[int | str, int] = {"0-1": 0, "0-3": 1, "1-3": 2, "2-3": 3, 0: 4, 1: 5, 2: 6, 3: 7}
FULL_SCALE_CODES = {6.144: 0, 4.096: 1, 2.048: 2, 1.024: 3, 0.512: 4, 0.256: 5}
DATA_RATE_CODES = {8: 0, 16: 1, 32: 2, 64: 3, 128: 4, 250: 5, 475: 6, 860: 7}

CONVERSION = Register("Conversion", 0x00, width=2, access=Access.RO)
CONFIG = Register(
    "Config",
    0x01,
    width=2,
    fields=(
        Field("os", (15, 15), BoolAdapter()),
        Field("mux", (14, 12), LookupAdapter(MUX_CODES)),
        Field("pga", (11, 9), LookupAdapter(FULL_SCALE_CODES, read_aliases={6: 0.256, 7: 0.256})),
        Field("single_shot", (8, 8), BoolAdapter()),
        Field("dr", (7, 5), LookupAdapter(DATA_RATE_CODES)),
        Field("comp_mode", (4, 4)),
        Field("comp_pol", (3, 3)),
        Field("comp_lat", (2, 2)),
        Field("comp_que", (1, 0)),
    ),
)
LO_THRESH = Register("Lo_thresh", 0x02, width=2)
HI_THRESH = Register("Hi_thresh", 0x03, width=2)
PROBE_PATTERN = 0x5A3C


def volts_from_code(code: int, full_scale: float) -> float:
    """Signed 16-bit ``code`` (0..0xFFFF) times the LSB FSR/2^15 (A.5, A.7)."""
    signed = code - 0x10000 if code & 0x8000 else code
    return signed * full_scale / 32768.0


def linear_map(value: float, source: Sequence[float], target: Sequence[float]) -> float:
    """Map ``value`` from the ``source`` interval onto the ``target`` interval."""
    (x0, x1), (y0, y1) = source, target
    return y0 + (value - x0) * (y1 - y0) / (x1 - x0)


def _pair(driver: str, option: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise DriverConfigError(f"{driver}: option {option!r} = {value!r} is not a pair [a, b]")
    a, b = (parse_float(driver, option, v) for v in value)
    return a, b


class ADS1115(I2CDevice, Sensor):
    """One ADS1115 channel (several instances can share the chip; each read is one conversion).

    Raises:
        DriverConfigError: bad options (names the option and the valid values).
        ChipIdMismatch: the threshold register does not behave like an ADS1115's (e.g. an
            INA219 at the same address).
        HardwareTimeout: the conversion-ready bit did not come back in time.
    """

    NAME = "ads1115"
    ADDRESSES = (0x48, 0x49, 0x4A, 0x4B)
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "voltage": Quantity(float, "V", "input voltage of the channel"),
    }

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x48,
        channel: int | str = 0,
        full_scale: float | str = 4.096,
        data_rate: int | str = 128,
        quantity: str | None = None,
        unit: str = "",
        scale_from: Sequence[float] | None = None,
        scale_to: Sequence[float] | None = None,
        clamp: bool = True,
        clock: Clock | None = None,
    ) -> None:
        name = self.NAME
        if isinstance(channel, str) and channel.strip().isdigit():
            channel = int(channel)
        mux_choices: dict[int | str, int] = MUX_CODES
        self.channel: int | str = parse_choice(name, "channel", channel, mux_choices)
        self.full_scale: float = parse_choice(name, "full_scale", full_scale, FULL_SCALE_CODES)
        self.data_rate: int = parse_choice(name, "data_rate", data_rate, DATA_RATE_CODES)
        self.quantity = quantity
        self.scale: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.clamp = bool(clamp)
        if quantity is not None:
            if not isinstance(quantity, str) or not quantity.isidentifier():
                raise DriverConfigError(f"{name}: option 'quantity' = {quantity!r} is not a name")
            if scale_from is None or scale_to is None:
                raise DriverConfigError(
                    f"{name}: option 'quantity' = {quantity!r} needs 'scale_from' (volts) and "
                    "'scale_to' (quantity values), e.g. scale_from: [2.8, 1.2], scale_to: [0, 100]"
                )
            source = _pair(name, "scale_from", scale_from)
            if source[0] == source[1]:
                raise DriverConfigError(
                    f"{name}: option 'scale_from' = {scale_from!r} needs two different voltages"
                )
            self.scale = (source, _pair(name, "scale_to", scale_to))
            # The instance reports its own quantity beside the voltage.
            self.__dict__["QUANTITIES"] = MappingProxyType(
                {
                    quantity: Quantity(float, unit, f"{quantity} from channel {channel}"),
                    **self.QUANTITIES,
                }
            )
        elif scale_from is not None or scale_to is not None:
            raise DriverConfigError(
                f"{name}: options 'scale_from'/'scale_to' need option 'quantity'"
            )
        self._attach(bus, address, clock)
        self._regs = RegisterDevice(self._bus, self._address)
        self._probe()

    def _probe(self) -> None:
        """An ADS1115 keeps any value in Lo_thresh; an INA219 there has a read-only register."""
        with self._bus.device_lock(self._address):
            saved = self._regs.read_raw(LO_THRESH)
            self._regs.write_raw(LO_THRESH, PROBE_PATTERN)
            found = self._regs.read_raw(LO_THRESH)
            self._regs.write_raw(LO_THRESH, saved)
        if found != PROBE_PATTERN:
            raise ChipIdMismatch(
                f"{self.NAME}: found register 0x02 reading 0x{found:04x} after writing "
                f"0x{PROBE_PATTERN:04x}, expected an ADS1115 threshold register that keeps it",
                bus=self._bus.bus_id,
                address=self._address,
            )

    def reinitialize(self) -> None:
        """Probe again (configuration is sent with every conversion)."""
        self._probe()

    @property
    def conversion_time_s(self) -> float:
        """One conversion period plus the 10 % oscillator tolerance."""
        return 1.1 / self.data_rate

    def read_volts(self) -> float:
        """One single-shot conversion of the channel, in volts."""
        self._check_open()
        config = CONFIG.encode(
            os=True,
            mux=self.channel,
            pga=self.full_scale,
            single_shot=True,
            dr=self.data_rate,
            comp_que=0b11,
        )
        with self._lock, self._bus.device_lock(self._address):
            self._regs.write_raw(CONFIG, config)
            start = self._clock.monotonic()
            deadline = start + 2 * self.conversion_time_s + 0.005
            self._clock.sleep(self.conversion_time_s)
            while not self._regs.get(CONFIG)["os"]:
                if self._clock.monotonic() >= deadline:
                    raise HardwareTimeout(
                        f"{self.NAME}: conversion not ready {(deadline - start) * 1000:.1f} ms "
                        f"after start (expected {1000 / self.data_rate:.2f} ms at "
                        f"{self.data_rate} SPS)",
                        bus=self._bus.bus_id,
                        address=self._address,
                    )
                self._clock.sleep(0.0005)
            code = self._regs.read_raw(CONVERSION)
        return volts_from_code(code, self.full_scale)

    def read(self) -> Reading:
        """``{"voltage": V}``, plus the scaled quantity when one is configured."""
        volts = self.read_volts()
        reading: Reading = {"voltage": round(volts, 6)}
        if self.quantity is not None and self.scale is not None:
            value = linear_map(volts, *self.scale)
            if self.clamp:
                low, high = sorted(self.scale[1])
                value = min(high, max(low, value))
            reading = {self.quantity: round(value, 4), **reading}
        return reading

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """An :class:`~drivers.sim.chips.ads1115.ADS1115Model` whose channel input follows physics.

        With a scaled quantity, the positive input of the channel produces the voltage that maps
        to ``physics.get(quantity)`` (the linear map inverted).
        """
        from drivers.sim.chips.ads1115 import MUX, ADS1115Model  # noqa: PLC0415

        channel = options.get("channel", 0)
        if isinstance(channel, str) and channel.strip().isdigit():
            channel = int(channel)
        code = MUX_CODES.get(channel, 4)
        positive = MUX[code][0]
        quantity = options.get("quantity")
        inputs = {}
        if quantity is not None and options.get("scale_from") and options.get("scale_to"):
            source = tuple(float(v) for v in options["scale_from"])
            target = tuple(float(v) for v in options["scale_to"])
            inputs[positive] = lambda: linear_map(physics.get(quantity), target, source)
        else:
            inputs[positive] = lambda: physics.get("voltage")
        return ADS1115Model(physics=physics, inputs=inputs)
