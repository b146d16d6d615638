"""A virtual clock for simulations: ``sleep`` advances time instantly.

The simulated bus, its chip models and the drivers built by ``simulated()`` share one
:class:`VirtualClock`, so a driver that waits a conversion time sees the chip finish, and a test
that reads before the conversion time is up sees what the real chip answers (a NACK, old data).
"""

from __future__ import annotations

import threading


class VirtualClock:
    """Monotonic time that only moves when someone sleeps or calls :meth:`advance`.

    Thread-safe: concurrent sleepers each advance the shared time by their own amount.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)

    def monotonic(self) -> float:
        """The current virtual time in seconds."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the virtual time by ``seconds`` (negative counts as 0) and return at once."""
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += max(0.0, float(seconds))

    def __repr__(self) -> str:
        return f"<VirtualClock t={self.monotonic():.6f}s>"
