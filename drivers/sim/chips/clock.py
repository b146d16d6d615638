"""A virtual clock for simulations: ``sleep`` advances time instantly.

The simulated bus, its chip models and the drivers built by ``simulated()`` share one
:class:`VirtualClock`, so a 100 ms conversion wait takes no wall time, and a test that reads
before the conversion time is up sees what the real chip answers (a NACK, old data).

Two flavours:

* ``VirtualClock()`` (tests): time moves only by ``sleep``/``advance``; fully deterministic.
* ``VirtualClock(follow_real_time=True)`` (``--simulate``, the runtime): time also moves with
  the wall clock, so continuously converting chips (MCP9808, INA219) produce fresh samples
  between scheduler ticks, while driver waits still return at once.
"""

from __future__ import annotations

import threading
import time


class VirtualClock:
    """Monotonic time that moves when someone sleeps (and, optionally, with real time).

    Thread-safe: concurrent sleepers each advance the shared time by their own amount.
    """

    def __init__(self, start: float = 0.0, *, follow_real_time: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = float(start)
        self._follow = follow_real_time
        self._origin = time.monotonic()

    @property
    def follows_real_time(self) -> bool:
        """True when time also moves with the wall clock."""
        return self._follow

    def monotonic(self) -> float:
        """The current virtual time in seconds."""
        with self._lock:
            real = time.monotonic() - self._origin if self._follow else 0.0
            return self._offset + real

    def sleep(self, seconds: float) -> None:
        """Advance the virtual time by ``seconds`` (negative counts as 0) and return at once."""
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._offset += max(0.0, float(seconds))

    def __repr__(self) -> str:
        mode = " +real" if self._follow else ""
        return f"<VirtualClock t={self.monotonic():.6f}s{mode}>"
