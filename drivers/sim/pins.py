"""Mock pins for tests and ``--simulate``: gpiozero's ``MockFactory`` plus what it lacks.

* :func:`mock_factory` makes a factory (plain ``MockPin`` by default; drivers that need PWM
  or a charging/trigger pin create theirs with :func:`ensure_pin` before opening);
  :func:`sim_options` gives a driver's ``simulated()`` its options and a factory.
* :func:`drive_high`/:func:`drive_low`/:func:`drive` set an *input* the way a wire would;
  callbacks fire synchronously in the calling thread, as with the real edge thread.
* :func:`pin_state` and :func:`pin_history` read an output; compare the *complete* history
  (``pin_history(f, "GPIO17") == [False, True, False]``), never ``MockPin.assert_states``,
  which zips and so passes a shorter expected list.
* :class:`LightChargingPin` and :class:`EchoTriggerPin` follow a :class:`PhysicalSource`:
  an LDR's charging time from ``light``, an HC-SR04's echo from ``distance``.

Everything here uses only the factory passed in; nothing touches ``Device.pin_factory``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import gpiozero
from gpiozero.mixins import SharedMixin
from gpiozero.pins import SPI
from gpiozero.pins.mock import (
    MockChargingPin,
    MockFactory,
    MockPin,
    MockTriggerPin,
    PinState,
)
from gpiozero.pins.spi import SPISoftware, SPISoftwareBus

from drivers.errors import DriverConfigError
from drivers.sim.physics import PhysicalSource

#: Speed of sound in dry air at 20 degC (m/s), as gpiozero's DistanceSensor assumes.
SPEED_OF_SOUND = 343.26


class _InjectedSPISoftwareBus(SPISoftwareBus):  # type: ignore[misc]
    """gpiozero's bit-banged SPI bus, built on the factory it is given.

    gpiozero 2.0.1's ``SPISoftwareBus.__init__`` calls ``Device.__init__()`` without its
    ``pin_factory``, which resolves and *installs* the global default factory (and raises
    ``BadPinFactory`` off a Pi) even though every pin it opens uses the injected one.  Its
    shared-instance key also omits the factory, so two mock factories would share one bus.
    """

    def __init__(self, clock_pin: Any, mosi_pin: Any, miso_pin: Any, *, pin_factory: Any) -> None:
        self.lock = None
        self.clock = None
        self.mosi = None
        self.miso = None
        gpiozero.Device.__init__(self, pin_factory=pin_factory)
        self.lock = threading.RLock()
        try:
            self.clock = gpiozero.OutputDevice(clock_pin, active_high=True, pin_factory=pin_factory)
            if mosi_pin is not None:
                self.mosi = gpiozero.OutputDevice(mosi_pin, pin_factory=pin_factory)
            if miso_pin is not None:
                self.miso = gpiozero.InputDevice(miso_pin, pin_factory=pin_factory)
        except BaseException:
            self.close()
            raise

    @classmethod
    def _shared_key(
        cls, clock_pin: Any, mosi_pin: Any, miso_pin: Any, *, pin_factory: Any = None
    ) -> tuple[Any, ...]:
        return (id(pin_factory), clock_pin, mosi_pin, miso_pin)


class _InjectedSPISoftware(SPISoftware):  # type: ignore[misc]
    """gpiozero's software SPI interface over :class:`_InjectedSPISoftwareBus`."""

    def __init__(
        self, clock_pin: Any, mosi_pin: Any, miso_pin: Any, select_pin: Any, *, pin_factory: Any
    ) -> None:
        self._bus = None
        self._select = None
        SPI.__init__(self, pin_factory=pin_factory)  # skip SPISoftware's, which builds its bus
        try:
            self._clock_phase = False
            self._lsb_first = False
            self._bits_per_word = 8
            self._bus = _InjectedSPISoftwareBus(
                clock_pin, mosi_pin, miso_pin, pin_factory=pin_factory
            )
            self._select = gpiozero.OutputDevice(
                select_pin, active_high=False, pin_factory=pin_factory
            )
        except BaseException:
            self.close()
            raise


class _InjectedSPISoftwareShared(SharedMixin, _InjectedSPISoftware):  # type: ignore[misc]
    @classmethod
    def _shared_key(
        cls, clock_pin: Any, mosi_pin: Any, miso_pin: Any, select_pin: Any, pin_factory: Any
    ) -> tuple[Any, ...]:
        return (id(pin_factory), clock_pin, select_pin)


class SimPinFactory(MockFactory):  # type: ignore[misc]
    """gpiozero's ``MockFactory``, able to hold PWM and special pins side by side.

    Stock ``MockFactory.pin(name)`` refuses an existing pin whose PWM-ness differs from the
    factory's default class, so one factory cannot hold a servo's ``MockPWMPin`` next to an
    LDR's ``MockChargingPin`` (one of them always mismatches).  A board has one kind of pin
    per number, whatever uses it: here a device asking for a pin gets the one already
    created (by :func:`ensure_pin`), and only an explicit ``pin_class`` is checked.
    Software SPI uses :class:`_InjectedSPISoftware`, which keeps to this factory.
    """

    def _get_spi_class(self, shared: bool, hardware: bool) -> type[Any]:
        return _InjectedSPISoftwareShared if shared else _InjectedSPISoftware

    def pin(self, name: Any, pin_class: type[MockPin] | None = None, **kwargs: Any) -> Any:
        if pin_class is None:
            for _header, info in self.board_info.find_pin(name):
                existing = self.pins.get(info)
                if existing is not None:
                    return existing
        return super().pin(name, pin_class=pin_class, **kwargs)


def mock_factory(*, revision: str = "a02082", pin_class: type[MockPin] = MockPin) -> MockFactory:
    """A fresh :class:`SimPinFactory` (Pi 3B board by default; ``d04170`` is a Pi 5)."""
    return SimPinFactory(revision=revision, pin_class=pin_class)


def sim_options(defaults: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """A driver's ``simulated()`` options: ``options`` over ``defaults``, and a fresh factory.

    ``pin_factory=`` in ``options`` (not None) is kept, so several simulated drivers can share
    one factory; otherwise each gets its own, so two simulations never fight over a pin.
    """
    merged = {**defaults, **options}
    if merged.get("pin_factory") is None:
        merged["pin_factory"] = mock_factory()
    return merged


def pin(factory: MockFactory, name: int | str) -> MockPin:
    """The mock pin already created for ``name`` (any gpiozero name); ``KeyError`` if none."""
    for _header, info in factory.board_info.find_pin(name):
        try:
            found: MockPin = factory.pins[info]
        except KeyError:
            break
        return found
    raise KeyError(f"no mock pin {name!r} has been created on this factory")


def ensure_pin(
    factory: MockFactory, name: int | str, pin_class: type[MockPin], **kwargs: Any
) -> MockPin:
    """Create pin ``name`` as ``pin_class`` (or return it if it already is one).

    Raises :class:`DriverConfigError` when the pin exists as another class: gpiozero would
    otherwise hand the wrong kind of pin to a driver that needs PWM, charging or echo.
    """
    try:
        created: MockPin = factory.pin(name, pin_class=pin_class, **kwargs)
    except ValueError as exc:  # gpiozero's own PWM-ness check
        raise DriverConfigError(
            f"mock pin {name!r}: {exc}; this device needs {pin_class.__name__}"
        ) from exc
    if not isinstance(created, pin_class):
        raise DriverConfigError(
            f"mock pin {name!r} already exists as {type(created).__name__}; "
            f"this device needs {pin_class.__name__}"
        )
    return created


def drive(factory: MockFactory, name: int | str, high: bool) -> None:
    """Drive input pin ``name`` high or low; edge callbacks run in this thread."""
    target = pin(factory, name)
    if target.function != "input":
        raise AssertionError(f"pin {name!r} is an output; only inputs can be driven")
    if high:
        target.drive_high()
    else:
        target.drive_low()


def drive_high(factory: MockFactory, name: int | str) -> None:
    """Drive input pin ``name`` high (see :func:`drive`)."""
    drive(factory, name, True)


def drive_low(factory: MockFactory, name: int | str) -> None:
    """Drive input pin ``name`` low (see :func:`drive`)."""
    drive(factory, name, False)


def pin_state(factory: MockFactory, name: int | str) -> bool | float:
    """The pin's level now: ``bool`` for a plain pin, the duty cycle for a PWM pin."""
    state: bool | float = pin(factory, name).state
    return state


def pin_history(factory: MockFactory, name: int | str) -> list[bool | float]:
    """Every state the pin went through since creation or :func:`clear_history`, in order."""
    return [entry.state for entry in pin(factory, name).states]


def clear_history(factory: MockFactory, name: int | str) -> None:
    """Restart the pin's history at its current state."""
    pin(factory, name).clear_states()


def pin_level(factory: MockFactory, name: int | str) -> Callable[[], float]:
    """A level source for ``Environment.couple``: the pin's state as 0..1 (duty for PWM).

    Reads the pin each time, so whatever drives it (relay, PWM fan, motor) acts at once.
    """
    target = pin(factory, name)

    def level() -> float:
        return float(target.state)

    return level


def servo_opening(
    factory: MockFactory, name: int | str, *, closed_duty: float = 0.05, open_duty: float = 0.1
) -> Callable[[], float]:
    """A level source: how open a servo-driven vent is, from its pin's duty cycle.

    With gpiozero's defaults a 1 ms pulse (duty 0.05) is closed and 2 ms (0.1) fully open.
    No pulses at all (duty 0: driver closed) counts as closed, the vent's spring-closed
    fail-safe position.
    """
    target = pin(factory, name)
    span = open_duty - closed_duty

    def level() -> float:
        duty = float(target.state)
        if duty == 0.0:
            return 0.0
        return min(1.0, max(0.0, (duty - closed_duty) / span))

    return level


def drive_at(target: MockPin, high: bool, timestamp: float) -> None:
    """Drive input ``target`` to ``high`` as if the edge happened at ``timestamp`` (monotonic).

    gpiozero times pulses from the edge timestamps the pin reports, not from when the
    callback runs; stamping the edge with the instant the physics puts it at keeps simulated
    pulse widths exact however late a loaded machine schedules the thread that drives it.
    """
    if target.function != "input":
        return  # the driver switched the pin back to output meanwhile: nothing to drive
    if target.state == high:
        return
    target._state = high
    target.states.append(PinState(timestamp - target._last_change, high))
    target._last_change = timestamp
    wanted = "rising" if high else "falling"
    if target.edges in ("both", wanted) and target.when_changed is not None:
        target._call_when_changed()


class LightChargingPin(MockChargingPin):  # type: ignore[misc]
    """An LDR + capacitor on one pin: the charging time follows ``light`` (lux).

    The LDR's resistance follows the usual power law ``R = r10 * (lux / 10) ** -gamma``
    (GL5528-class parts: about 10 kOhm at 10 lux, gamma about 0.7), and the pin reads high
    once the capacitor reaches the input threshold: ``t = R * C * ln(1 / (1 - Vth/Vdd))``.
    With the defaults (1 uF, Vth/Vdd = 0.4) 10 lux charges in about 5 ms, 250 lux in about
    0.5 ms, darkness (1 lux) in about 25 ms: the span of gpiozero's 10 ms ``charge_time_limit``.
    """

    def __init__(
        self,
        factory: MockFactory,
        info: Any,
        *,
        physics: PhysicalSource,
        quantity: str = "light",
        r10_ohm: float = 10_000.0,
        gamma: float = 0.7,
        capacitance_f: float = 1e-6,
        threshold_ratio: float = 0.4,
    ) -> None:
        self.physics = physics
        self.quantity = quantity
        self.r10_ohm = r10_ohm
        self.gamma = gamma
        self.capacitance_f = capacitance_f
        self.threshold_ratio = threshold_ratio
        super().__init__(factory, info, charge_time=0.01)

    def charge_time_for(self, lux: float) -> float:
        """Seconds to charge at ``lux`` (capped at 1 s for darkness)."""
        if lux <= 0:
            return 1.0
        resistance = self.r10_ohm * float((lux / 10.0) ** -self.gamma)
        factor = math.log(1.0 / (1.0 - self.threshold_ratio))
        return min(1.0, resistance * self.capacitance_f * factor)

    def _set_function(self, value: str) -> None:
        if value == "input":
            self.charge_time = self.charge_time_for(self.physics.get(self.quantity))
            self._input_since = time.monotonic()
        super()._set_function(value)

    def _charge(self) -> None:
        # The capacitor reaches the threshold charge_time after the pin became an input;
        # stamp the edge with that instant rather than with when this thread got to run.
        if not self._charge_stop.wait(self.charge_time):
            drive_at(self, True, self._input_since + self.charge_time)


class EchoTriggerPin(MockTriggerPin):  # type: ignore[misc]
    """An HC-SR04 trigger pin: each trigger pulse produces an echo as long as ``distance``.

    The echo lasts ``2 * distance / 343.26`` seconds (the round trip), as the module's echo
    pin does; nothing comes back beyond ``max_range_m`` (4 m on the HC-SR04 datasheet), so
    the driver then sees no echo at all.  Unlike gpiozero's ``MockTriggerPin`` the echo
    thread is named and each echo waits for the previous one.
    """

    def __init__(
        self,
        factory: MockFactory,
        info: Any,
        *,
        echo_pin: MockPin,
        physics: PhysicalSource,
        quantity: str = "distance",
        max_range_m: float = 4.0,
    ) -> None:
        self.physics = physics
        self.quantity = quantity
        self.max_range_m = max_range_m
        self._echo_lock = threading.Lock()
        super().__init__(factory, info, echo_pin=echo_pin, echo_time=0.0)

    def _set_state(self, value: bool) -> None:
        MockPin._set_state(self, value)
        if value:
            distance = float(self.physics.get(self.quantity))
            if 0 < distance <= self.max_range_m:
                self.echo_time = 2.0 * distance / SPEED_OF_SOUND
                thread = threading.Thread(target=self._echo, name="sim-hcsr04-echo", daemon=True)
                thread.start()

    def _echo(self) -> None:
        with self._echo_lock:
            # The module raises echo about 0.5 ms after the trigger; the pulse lasts the
            # round trip.  Both edges are stamped with when they physically happen, so the
            # measured width is exact even when this thread is scheduled late.
            rise = time.monotonic() + 0.0005
            time.sleep(0.0005)
            drive_at(self.echo_pin, True, rise)
            time.sleep(self.echo_time)
            drive_at(self.echo_pin, False, rise + self.echo_time)
