"""NXP PCA9685 16-channel 12-bit PWM: one actuator per channel (hardware pages io-and-linux C).

Two drivers share this module: :class:`PCA9685Channel` (``pca9685``; duty cycle 0..1, e.g. a fan
or an LED) and :class:`PCA9685Servo` (``pca9685_servo``; angle in degrees).  Several instances
may drive channels of the same chip; they must agree on the PWM frequency (the prescaler is
chip-wide), and a second instance asking for another frequency is refused with a message naming
both.

At start the driver checks the chip looks like a PCA9685 (reserved bits read 0, the sub-address
registers' bit 0 reads 0, the prescaler is at least 3), sets the prescaler if it differs (only
possible in SLEEP, datasheet sequence C.7), enables auto-increment and wakes the oscillator.
It does not move the output: the runtime applies the safe state.  Each channel write is one
4-byte auto-incremented transfer (ON_L, ON_H, OFF_L, OFF_H), so the outputs never see half an
update.

Options: ``bus``, ``address`` (0x40..0x7F except 0x70, the All Call address), ``channel``
(0..15), ``frequency`` in Hz (24..1526; default 200, servo 50).  Servo: ``min_angle`` (0),
``max_angle`` (180), ``min_pulse_us`` (1000), ``max_pulse_us`` (2000), ``safe_angle`` (middle).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from drivers.base import Actuator, ReadingValue
from drivers.errors import ChipIdMismatch, DriverConfigError
from drivers.i2c import shared
from drivers.i2c.bus import I2CBus, SMBusLike
from drivers.i2c.clock import Clock
from drivers.i2c.device import I2CDevice, parse_float, parse_int
from drivers.i2c.registers import BoolAdapter, Field, Register, RegisterDevice

if TYPE_CHECKING:
    from drivers.sim.chips.base import SimChip
    from drivers.sim.physics import PhysicalSource

OSCILLATOR_HZ = 25_000_000
LED0 = 0x06
MODE1 = Register(
    "MODE1",
    0x00,
    fields=(
        Field("restart", (7, 7), BoolAdapter()),
        Field("extclk", (6, 6), BoolAdapter()),
        Field("ai", (5, 5), BoolAdapter()),
        Field("sleep", (4, 4), BoolAdapter()),
        Field("sub1", (3, 3), BoolAdapter()),
        Field("sub2", (2, 2), BoolAdapter()),
        Field("sub3", (1, 1), BoolAdapter()),
        Field("allcall", (0, 0), BoolAdapter()),
    ),
)
MODE2 = Register(
    "MODE2",
    0x01,
    fields=(
        Field("reserved", (7, 5)),
        Field("invrt", (4, 4), BoolAdapter()),
        Field("och", (3, 3), BoolAdapter()),
        Field("outdrv", (2, 2), BoolAdapter()),
        Field("outne", (1, 0)),
    ),
)
ALLCALLADR = Register("ALLCALLADR", 0x05)
PRE_SCALE = Register("PRE_SCALE", 0xFE)


def prescale_for(frequency: float) -> int:
    """round(25 MHz / (4096 * f)) - 1, clamped to the hardware's 3..255 (C.6)."""
    return max(3, min(255, round(OSCILLATOR_HZ / (4096 * frequency)) - 1))


def frequency_for(prescale: int) -> float:
    """The PWM frequency a prescaler gives: 25 MHz / (4096 * (prescale + 1))."""
    return OSCILLATOR_HZ / (4096 * (prescale + 1))


def duty_registers(duty: float) -> tuple[int, int, bool, bool]:
    """(ON, OFF, full-on, full-off) for a duty cycle: 0 -> full off, 1 -> full on (C.5)."""
    if duty <= 0:
        return 0, 0, False, True
    if duty >= 1:
        return 0, 0, True, False
    return 0, max(1, min(4095, round(duty * 4096))), False, False


def servo_counts(pulse_us: float, frequency: float) -> int:
    """OFF count for a pulse: round(pulse_us * f * 4096 / 10^6) (C.8)."""
    return round(pulse_us * frequency * 4096 / 1e6)


def channel_bytes(on: int, off: int, full_on: bool, full_off: bool) -> bytes:
    """ON_L, ON_H, OFF_L, OFF_H of one channel."""
    return bytes(
        [
            on & 0xFF,
            (on >> 8) | (0x10 if full_on else 0),
            off & 0xFF,
            (off >> 8) | (0x10 if full_off else 0),
        ]
    )


class _PCA9685(I2CDevice, Actuator):
    """What the channel and servo drivers share: chip setup, frequency agreement, channel writes."""

    ADDRESSES = tuple(a for a in range(0x40, 0x80) if a != 0x70)
    DEFAULT_FREQUENCY: ClassVar[float] = 200.0

    def _open_channel(
        self,
        bus: int | str | I2CBus | SMBusLike,
        address: Any,
        channel: Any,
        frequency: Any,
        clock: Clock | None,
    ) -> None:
        number = parse_int(channel)
        if number is None or not 0 <= number <= 15:
            raise DriverConfigError(
                f"{self.NAME}: option 'channel' = {channel!r} is not valid; valid: 0..15"
            )
        self.channel = number
        freq = parse_float(self.NAME, "frequency", frequency, 24.0, 1526.0)
        self.prescale = prescale_for(freq)
        self.frequency = frequency_for(self.prescale)
        self._attach(bus, address, clock)
        self._regs = RegisterDevice(self._bus, self._address)
        self._shared = shared.acquire(self._bus, self._address)
        try:
            with self._shared.lock:
                agreed = self._shared.values.get("prescale")
                if agreed is not None and agreed != self.prescale:
                    raise DriverConfigError(
                        f"{self.NAME}: channel {self.channel} asks for {freq:g} Hz but the chip at "
                        f"{self.describe_chip()} already runs at {frequency_for(agreed):.2f} Hz "
                        "for "
                        "another channel; one PWM frequency per chip"
                    )
                self._setup()
                self._shared.values["prescale"] = self.prescale
        except BaseException:
            shared.release(self._bus, self._address)
            raise

    def describe_chip(self) -> str:
        """``bus 1, address 0x40``."""
        return f"bus {self._bus.bus_id}, address 0x{self._address:02x}"

    def describe(self) -> str:
        """``pca9685 channel 3 on bus 1, address 0x40``."""
        return f"{self.NAME} channel {self.channel} on {self.describe_chip()}"

    def _setup(self) -> None:
        with self._bus.device_lock(self._address):
            mode2 = self._regs.get(MODE2)
            allcall = self._regs.read_raw(ALLCALLADR)
            prescale = self._regs.read_raw(PRE_SCALE)
            if mode2["reserved"] or allcall & 1 or prescale < 3:
                raise ChipIdMismatch(
                    f"{self.NAME}: found MODE2 0x{mode2.raw:02x}, ALLCALLADR 0x{allcall:02x}, "
                    f"PRE_SCALE {prescale}; expected reserved bits 0 and a prescaler >= 3 "
                    "as on a PCA9685",
                    bus=self._bus.bus_id,
                    address=self._address,
                )
            mode1 = self._regs.get(MODE1)
            if prescale != self.prescale:
                self._regs.set(MODE1, restart=False, sleep=True)
                self._regs.write_raw(PRE_SCALE, self.prescale)
            self._regs.write_raw(MODE1, MODE1.encode(mode1.raw & 0x6F, ai=True, sleep=False))
            self._clock.sleep(0.0005)  # oscillator start-up
            if self._regs.get(MODE1)["restart"]:
                self._regs.set(MODE1, restart=True)
            self._regs.set(MODE2, outdrv=True)

    def _write_channel(self, on: int, off: int, full_on: bool, full_off: bool) -> None:
        data = channel_bytes(on, off, full_on, full_off)
        self._bus.write(self._address, bytes([LED0 + 4 * self.channel]) + data)

    def _read_channel(self) -> tuple[int, int, bool, bool]:
        data = self._regs.read_block(LED0 + 4 * self.channel, 4)
        on = data[0] | (data[1] & 0x0F) << 8
        off = data[2] | (data[3] & 0x0F) << 8
        return on, off, bool(data[1] & 0x10), bool(data[3] & 0x10)

    def close(self) -> None:
        """Forget this instance's share of the chip (the output keeps its last value)."""
        if not self._closed and hasattr(self, "_shared"):
            shared.release(self._bus, self._address)
        super().close()

    @classmethod
    def sim_model(cls, *, physics: PhysicalSource, **options: Any) -> SimChip:
        """A :class:`drivers.sim.chips.pca9685.PCA9685Model`."""
        from drivers.sim.chips.pca9685 import PCA9685Model  # noqa: PLC0415

        return PCA9685Model(physics=physics)


def _number(driver: str, what: str, value: ReadingValue) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and not math.isnan(value):
        return float(value)
    raise DriverConfigError(f"{driver}: {what} {value!r} is not a number")


class PCA9685Channel(_PCA9685):
    """One PWM channel: ``apply(duty)`` with duty 0..1 (True = 1, False = 0); safe state 0 (off).

    The applied value is the duty the chip really produces (12-bit steps).
    """

    NAME = "pca9685"

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x40,
        channel: int | str = 0,
        frequency: float | str = 200.0,
        clock: Clock | None = None,
    ) -> None:
        self._open_channel(bus, address, channel, frequency, clock)
        on, off, full_on, full_off = self._read_channel()
        self._state = 0.0 if full_off else 1.0 if full_on else ((off - on) % 4096) / 4096

    @property
    def state(self) -> float:
        """The duty cycle last applied (or found on the chip at start)."""
        return self._state

    @property
    def safe_state(self) -> float:
        """0.0: output off."""
        return 0.0

    def apply(self, value: ReadingValue) -> float:
        """Set the duty cycle (0..1); returns the duty applied."""
        self._check_open()
        duty = _number(self.NAME, "duty", value)
        if not 0.0 <= duty <= 1.0:
            raise DriverConfigError(f"{self.describe()}: duty {value!r} not in 0..1")
        on, off, full_on, full_off = duty_registers(duty)
        with self._lock:
            self._write_channel(on, off, full_on, full_off)
            self._state = 0.0 if full_off else 1.0 if full_on else off / 4096
        return self._state


class PCA9685Servo(_PCA9685):
    """A hobby servo on one channel: ``apply(angle)`` in degrees within [min_angle, max_angle].

    The pulse runs linearly from ``min_pulse_us`` at ``min_angle`` to ``max_pulse_us`` at
    ``max_angle``; the applied angle is the one the 12-bit pulse really encodes.
    """

    NAME = "pca9685_servo"
    DEFAULT_FREQUENCY = 50.0

    def __init__(
        self,
        *,
        bus: int | str | I2CBus | SMBusLike = 1,
        address: int | str = 0x40,
        channel: int | str = 0,
        frequency: float | str = 50.0,
        min_angle: float | str = 0.0,
        max_angle: float | str = 180.0,
        min_pulse_us: float | str = 1000.0,
        max_pulse_us: float | str = 2000.0,
        safe_angle: float | str | None = None,
        clock: Clock | None = None,
    ) -> None:
        name = self.NAME
        self.min_angle = parse_float(name, "min_angle", min_angle, -360.0, 360.0)
        self.max_angle = parse_float(name, "max_angle", max_angle, -360.0, 360.0)
        if self.max_angle <= self.min_angle:
            raise DriverConfigError(
                f"{name}: option 'max_angle' = {max_angle!r} must exceed min_angle {min_angle!r}"
            )
        self.min_pulse_us = parse_float(name, "min_pulse_us", min_pulse_us, 100.0, 5000.0)
        self.max_pulse_us = parse_float(name, "max_pulse_us", max_pulse_us, 100.0, 5000.0)
        if self.max_pulse_us <= self.min_pulse_us:
            raise DriverConfigError(
                f"{name}: option 'max_pulse_us' = {max_pulse_us!r} must exceed "
                f"min_pulse_us {min_pulse_us!r}"
            )
        middle = (self.min_angle + self.max_angle) / 2
        self._safe = (
            middle
            if safe_angle is None
            else parse_float(name, "safe_angle", safe_angle, self.min_angle, self.max_angle)
        )
        self._open_channel(bus, address, channel, frequency, clock)
        period_us = 1e6 / self.frequency
        if self.max_pulse_us >= period_us:
            raise DriverConfigError(
                f"{name}: max_pulse_us {self.max_pulse_us:g} does not fit a "
                f"{period_us:.0f} us period "
                f"at {self.frequency:.1f} Hz"
            )
        self._state = self._safe

    @property
    def state(self) -> float:
        """The angle last applied (the safe angle before the first apply)."""
        return self._state

    @property
    def safe_state(self) -> float:
        """The ``safe_angle`` option (default: middle of the range)."""
        return self._safe

    def pulse_us(self, angle: float) -> float:
        """The pulse width for ``angle``."""
        span = (angle - self.min_angle) / (self.max_angle - self.min_angle)
        return self.min_pulse_us + span * (self.max_pulse_us - self.min_pulse_us)

    def apply(self, value: ReadingValue) -> float:
        """Move to ``value`` degrees; returns the angle the pulse encodes."""
        self._check_open()
        angle = _number(self.NAME, "angle", value)
        if not self.min_angle <= angle <= self.max_angle:
            raise DriverConfigError(
                f"{self.describe()}: angle {value!r} not in {self.min_angle:g}..{self.max_angle:g}"
            )
        # Nearest 12-bit count, kept inside the configured pulse range.
        low = math.ceil(self.min_pulse_us * self.frequency * 4096 / 1e6 - 1e-9)
        high = math.floor(self.max_pulse_us * self.frequency * 4096 / 1e6 + 1e-9)
        counts = min(high, max(low, servo_counts(self.pulse_us(angle), self.frequency)))
        with self._lock:
            self._write_channel(0, counts, False, False)
            pulse = counts * 1e6 / (self.frequency * 4096)
            span = (pulse - self.min_pulse_us) / (self.max_pulse_us - self.min_pulse_us)
            applied = self.min_angle + span * (self.max_angle - self.min_angle)
            self._state = round(min(self.max_angle, max(self.min_angle, applied)), 3)
        return self._state
