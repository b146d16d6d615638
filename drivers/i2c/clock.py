"""Time as a dependency of the I2C drivers: conversion waits and timeouts go through a Clock.

Real drivers use :class:`SystemClock`; simulated ones share a virtual clock with their simulated
bus (``drivers.sim.chips.clock.VirtualClock``), so a 100 ms conversion wait takes no wall time and
a chip read "too early" behaves as the real chip would.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic time in seconds and a way to wait."""

    def monotonic(self) -> float:
        """Seconds since an arbitrary origin; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (non-negative)."""
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic` and :func:`time.sleep`."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``; negative values sleep 0."""
        time.sleep(max(0.0, seconds))
