"""The uniform driver interface: sensors return named readings, actuators apply values.

A :class:`Sensor` returns a ``dict`` of named, typed readings whose units are declared once in
``QUANTITIES``; an :class:`Actuator` accepts a value, returns the state it applied, and knows
its safe state.  Hardware faults are :class:`drivers.errors.HardwareError`; everything else is
a bug.  Drivers are context managers and ``close()`` is idempotent.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from drivers.errors import DriverConfigError

if TYPE_CHECKING:
    from drivers.sim.physics import PhysicalSource

ReadingValue = float | int | bool
Reading = dict[str, ReadingValue]
#: What :meth:`EdgeSensor.on_reading` calls with each pushed reading.
ReadingCallback = Callable[[Reading], None]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quantity:
    """One reading a sensor produces: its Python type and unit ("" for dimensionless)."""

    kind: type[float] | type[int] | type[bool]
    unit: str
    description: str = ""


class Device(abc.ABC):  # noqa: B024 - abstract through Sensor and Actuator
    """What sensors and actuators share: a registry name, a lifecycle and a repr."""

    #: The name a model file uses (``driver: bme280``); set by each concrete driver.
    NAME: ClassVar[str] = ""

    _closed: bool = False

    def close(self) -> None:
        """Release pins and buses. Idempotent."""
        self._closed = True

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """Build this driver over simulated hardware, as ``--simulate`` does.

        I2C drivers attach their chip model to a simulated bus, GPIO drivers use gpiozero's
        ``MockFactory``; ``physics`` supplies the physical values simulated sensors report
        (``drivers.sim.physics``).  Drivers without a simulator raise DriverConfigError.
        """
        raise DriverConfigError(f"driver {cls.NAME!r} has no simulator")

    def describe(self) -> str:
        """Where the device is (``bus 1, address 0x76`` or ``pin GPIO17``), for messages."""
        return type(self).__name__


class Sensor(Device):
    """A source of readings."""

    #: Reading name -> quantity; ``read()`` returns exactly these keys (see :attr:`quantities`).
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {}

    @property
    def quantities(self) -> Mapping[str, Quantity]:
        """The readings *this instance* returns: ``QUANTITIES`` plus any its options name.

        Most drivers return ``QUANTITIES`` unchanged; a driver whose options name a quantity
        (an ADC channel scaled to ``soil_moisture``) adds it here.  Validate model files
        against this, not against the class table.
        """
        return self.QUANTITIES

    @abc.abstractmethod
    def read(self) -> Reading:
        """Take one measurement now.

        Returns every quantity in ``QUANTITIES``.  Raises :class:`HardwareError` (or a subclass)
        when the hardware cannot answer; the driver stays usable for the next call.
        """

    def reinitialize(self) -> None:
        """Bring the device back after a fault (re-probe, re-send configuration).

        The runtime calls this before retrying a sensor that failed.  The default does nothing.
        """


class Actuator(Device):
    """A sink of commands with a declared safe state."""

    @abc.abstractmethod
    def apply(self, value: ReadingValue) -> ReadingValue:
        """Drive the output to ``value`` and return the state actually applied.

        Raises :class:`drivers.errors.DriverConfigError` (a ``ValueError``) for a value the
        actuator cannot take, leaving the output as it was, and :class:`HardwareError` when the
        hardware fails.
        """

    @property
    @abc.abstractmethod
    def state(self) -> ReadingValue:
        """The value last applied (what the output is doing now)."""

    @property
    @abc.abstractmethod
    def safe_state(self) -> ReadingValue:
        """The value :meth:`make_safe` applies: off, closed, zero."""

    def make_safe(self) -> ReadingValue:
        """Apply the safe state; used at start, at shutdown and when the cloud is lost."""
        return self.apply(self.safe_state)


class EdgeSensor(Sensor):
    """A sensor that also *pushes* a reading the moment its input changes.

    Polling still works (:meth:`read`); in addition, subscribers registered with
    :meth:`on_reading` get a reading at each edge (button pressed, motion started, object in
    range), so the runtime can send an event without waiting for the next sampling tick.

    Threads: callbacks run on the thread that saw the edge, not the one that subscribed.
    On a Pi that is gpiozero's event thread (lgpio's callback thread, or the ``GPIOQueue``
    sampling thread for smoothed inputs such as motion, line, light and distance sensors);
    under ``MockFactory`` it is the thread calling ``drive_high()``/``drive_low()``.  Keep
    callbacks short (hand the reading to a queue).  A callback that raises is logged and
    does not stop other subscribers or later edges.  No lock is held while callbacks run.
    """

    def __init__(self) -> None:
        self._subscribers: list[ReadingCallback] = []
        self._subscribers_lock = threading.Lock()

    def on_reading(self, callback: ReadingCallback) -> Callable[[], None]:
        """Call ``callback(reading)`` at every edge; returns a function that unsubscribes.

        ``reading`` has the same keys as :meth:`read`.  Unsubscribing twice is harmless.
        """
        with self._subscribers_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._subscribers_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _push(self, reading: Reading) -> None:
        """For drivers: deliver ``reading`` to every subscriber, logging any that raise."""
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(dict(reading))
            except Exception:
                _log.exception("reading callback %r of %s raised", callback, self.describe())

    def close(self) -> None:
        """Drop every subscriber, then close."""
        with self._subscribers_lock:
            self._subscribers.clear()
        super().close()
