"""Time as a dependency: the runtime asks a :class:`Clock`, tests hand it a :class:`FakeClock`.

Monotonic time measures intervals (backoff, minimum on/off times, cloud-loss timers); wall time
only stamps what is sent to the cloud.  ``FakeClock`` advances only when a test says so, so
"minutes of simulated time" take microseconds and no test sleeps.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Where the runtime reads the time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for intervals)."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch (for timestamps only)."""
        ...


class SystemClock:
    """The real clocks: :func:`time.monotonic` and :func:`time.time`."""

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()

    def time(self) -> float:
        """:func:`time.time`."""
        return time.time()

    def __repr__(self) -> str:
        return "<SystemClock>"


class FakeClock:
    """A clock that moves only when :meth:`advance` is called. Thread-safe.

    >>> clock = FakeClock(start=100.0)
    >>> clock.advance(5)
    >>> clock.monotonic()
    105.0
    """

    def __init__(self, start: float = 1000.0, wall_start: float = 1_700_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._wall_offset = float(wall_start) - float(start)

    def monotonic(self) -> float:
        """The simulated monotonic time in seconds."""
        with self._lock:
            return self._now

    def time(self) -> float:
        """Simulated wall time: moves together with :meth:`monotonic`."""
        with self._lock:
            return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds} s)")
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"<FakeClock monotonic={self.monotonic():.3f}>"


SYSTEM_CLOCK = SystemClock()


class ScaledClock:
    """Real time running ``rate`` times faster, for simulations a person can watch.

    ``iotcs-hw run --simulate --time-scale 60`` lives one simulated minute per second: sampling
    intervals, minimum on/off times, backoff and the environment all follow this clock, so a
    greenhouse afternoon passes in a few minutes.  Wall time moves at the same rate.
    """

    def __init__(self, rate: float, base: Clock = SYSTEM_CLOCK) -> None:
        if not rate > 0:
            raise ValueError(f"time scale must be > 0, got {rate}")
        self.rate = float(rate)
        self._base = base
        self._origin = base.monotonic()
        self._wall_origin = base.time()

    def monotonic(self) -> float:
        """Scaled monotonic seconds (starting at the real monotonic time of creation)."""
        now = self._base.monotonic()
        return self._origin + (now - self._origin) * self.rate

    def time(self) -> float:
        """Scaled wall time."""
        return self._wall_origin + (self._base.monotonic() - self._origin) * self.rate

    def __repr__(self) -> str:
        return f"<ScaledClock x{self.rate:g}>"
