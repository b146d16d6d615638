"""Self-healing sensors: retry with exponential backoff, re-initialise, never give up.

A :class:`SupervisedSensor` wraps one driver.  When a read fails it records the fault, tells
the runtime once (``on_fault``: the ErrorCallback, the log and the health endpoint), and waits a
growing delay before trying again.  A single failure is retried as a plain read (a glitch on
the bus); from the second failure in a row each retry first calls ``Sensor.reinitialize()``, so
a chip that lost power or its configuration is set up again.  The delay is capped, so a sensor
unplugged for an hour is back within ``max_s`` of being plugged in again.  When a read succeeds
after failures, ``on_recover`` fires.  Nothing is ever marked failed forever.

Thread-safety: :meth:`SupervisedSensor.sample` is called from one sampling thread at a time per
sensor (the sampling engine guarantees it); status reads are safe from any thread.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import Reading, Sensor
from drivers.errors import HardwareError
from iotcs_hw.runtime.clock import SYSTEM_CLOCK, Clock
from iotcs_hw.runtime.status import SensorState, SensorStatus

log = logging.getLogger(__name__)

FaultHandler = Callable[["SupervisedSensor", BaseException], None]
RecoverHandler = Callable[["SupervisedSensor"], None]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``initial_s * factor**(n-1)`` after the n-th failure, capped.

    ``jitter`` (0..1) spreads retries of many sensors on one bus so they do not all hit it in
    the same tick; 0 makes delays exact (tests).
    """

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 60.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not (self.initial_s > 0 and self.factor >= 1 and self.max_s >= self.initial_s):
            raise ValueError(
                f"backoff needs initial_s > 0, factor >= 1 and max_s >= initial_s, got {self}"
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff jitter must be within 0..1, got {self.jitter}")

    def delay_s(self, failures: int, rng: random.Random | None = None) -> float:
        """The wait after ``failures`` consecutive failures (``failures >= 1``)."""
        exponent = max(0, failures - 1)
        # Cap the exponent first so a sensor failing for days cannot overflow a float.
        limit = math.log(self.max_s / self.initial_s, self.factor) if self.factor > 1 else 0
        delay = self.max_s if exponent > limit else self.initial_s * self.factor**exponent
        delay = min(delay, self.max_s)
        if self.jitter and rng is not None:
            delay *= 1 - self.jitter * rng.random()
        return delay


class SupervisedSensor:
    """One sensor driver under supervision: reads, backs off, re-initialises, recovers.

    Parameters:
        name: the sensor's name in the model file (used in messages and metrics).
        sensor: the driver.
        backoff: retry policy after failures.
        clock: monotonic time source (inject a FakeClock in tests).
        on_fault: called once when the sensor starts failing, and again each time the error
            text changes; runs on the sampling thread and must not raise (it is guarded).
        on_recover: called when a read succeeds after failures.
        reinitialize_after: consecutive failures before retries re-initialise the driver.
    """

    def __init__(
        self,
        name: str,
        sensor: Sensor,
        *,
        backoff: Backoff | None = None,
        clock: Clock = SYSTEM_CLOCK,
        on_fault: FaultHandler | None = None,
        on_recover: RecoverHandler | None = None,
        rng: random.Random | None = None,
        reinitialize_after: int = 2,
    ) -> None:
        self.name = name
        self.reinitialize_after = max(1, reinitialize_after)
        self.sensor = sensor
        self.backoff = backoff or Backoff()
        self._clock = clock
        self._on_fault = on_fault
        self._on_recover = on_recover
        self._rng = rng or random.Random()
        self._needs_reinit = False
        self.status = SensorStatus(name, driver=sensor.NAME, where=_describe(sensor))

    @property
    def state(self) -> SensorState:
        """``STARTING``, ``OK`` or ``FAILING``."""
        return self.status.state

    def due(self) -> bool:
        """False while waiting out a backoff delay."""
        at = self.status.next_attempt_at
        return at is None or self._clock.monotonic() >= at

    def sample(self) -> Reading | None:
        """Read the sensor unless it is backing off.

        Returns the reading, or ``None`` when the read failed or was skipped because of backoff.
        Never raises for a sensor fault (hardware errors and driver bugs alike are recorded and
        retried); only ``BaseException``s such as ``KeyboardInterrupt`` pass through.
        """
        if not self.due():
            self.status.count("reads_skipped")
            return None
        try:
            if self._needs_reinit:
                self.sensor.reinitialize()
            reading = self.sensor.read()
        except Exception as exc:
            self.record_failure(exc)
            return None
        self.record_success(reading)
        return reading

    def record_success(self, reading: Reading) -> None:
        """Note a good reading (also used when the read ran elsewhere, e.g. an edge event)."""
        recovered = self.status.state is SensorState.FAILING
        if self.status.state is not SensorState.OK:
            # A driver built late (DeferredSensor) only knows where it is once it answered.
            self.status.update(where=_describe(self.sensor))
        self._needs_reinit = False
        self.status.update(
            state=SensorState.OK,
            last_value=dict(reading),
            last_read_time=self._clock.time(),
            consecutive_failures=0,
            next_attempt_at=None,
        )
        self.status.count("reads_ok")
        if recovered:
            self.status.count("recoveries")
            log.warning("sensor %s (%s) recovered", self.name, self.status.where)
            if self._on_recover is not None:
                try:
                    self._on_recover(self)
                except Exception:
                    log.exception("recover handler of sensor %s raised", self.name)

    def record_failure(self, exc: BaseException) -> None:
        """Note a failed read: count it, schedule the retry, report the fault."""
        previous_error = self.status.last_error
        failures = self.status.consecutive_failures + 1
        delay = self.backoff.delay_s(failures, self._rng)
        text = _error_text(exc)
        self._needs_reinit = failures >= self.reinitialize_after
        self.status.update(
            state=SensorState.FAILING,
            last_error=text,
            last_error_time=self._clock.time(),
            consecutive_failures=failures,
            next_attempt_at=self._clock.monotonic() + delay,
        )
        self.status.count("reads_failed")
        if not isinstance(exc, HardwareError):
            # A driver bug, not a hardware fault: keep the traceback, keep retrying.
            log.error("sensor %s: driver raised %s", self.name, text, exc_info=exc)
        if failures == 1 or text != previous_error:
            log.warning(
                "sensor %s (%s) failed: %s; retrying in %.1f s (failure %d)",
                self.name,
                self.status.where,
                text,
                delay,
                failures,
            )
            if self._on_fault is not None:
                try:
                    self._on_fault(self, exc)
                except Exception:
                    log.exception("fault handler of sensor %s raised", self.name)

    def __repr__(self) -> str:
        snap = self.status.snapshot()
        return (
            f"<SupervisedSensor {self.name!r} state={snap.state.value} "
            f"ok={snap.reads_ok} failed={snap.reads_failed}>"
        )


def _describe(sensor: Sensor) -> str:
    try:
        return sensor.describe()
    except Exception:
        return type(sensor).__name__


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
