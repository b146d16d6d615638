"""How long the dispatcher waits after a failed send (protocol §6.1), as a pure object.

A 503 (or 429) means "the server is overloaded": wait Fibonacci multiples of ``base_s``
(1, 1, 2, 3, 5, 8, ... capped at ``max_factor``), growing while the server keeps refusing.  A
network error (refused connection, timeout, TLS reset) means "the server is not there": wait a
constant ``base_s`` so the device notices quickly when it is back.  A success resets both.
Bounded on both sides: ``base_s`` is at least ``min_base_s`` and no wait exceeds
``max_delay_s``.
"""

from __future__ import annotations

import enum


class FailureKind(enum.Enum):
    """Why a send failed, as far as waiting is concerned."""

    OVERLOADED = "overloaded"  # 503 / 429: Fibonacci backoff
    NETWORK = "network"  # no answer, or a 5xx other than 503: constant backoff


def fibonacci(n: int) -> int:
    """The n-th Fibonacci number with fib(1) = fib(2) = 1."""
    if n < 1:
        raise ValueError(f"fibonacci index must be >= 1, got {n}")
    a, b = 1, 1
    for _ in range(n - 1):
        a, b = b, a + b
    return a


class Backoff:
    """Delay policy for consecutive failures; not thread-safe (the sender thread owns it).

    >>> b = Backoff(base_s=1.0)
    >>> [b.next_delay(FailureKind.OVERLOADED) for _ in range(5)]
    [1.0, 1.0, 2.0, 3.0, 5.0]
    >>> b.reset(); b.next_delay(FailureKind.NETWORK)
    1.0
    """

    def __init__(
        self,
        *,
        base_s: float = 1.0,
        min_base_s: float = 0.1,
        max_factor: int = 144,
        max_delay_s: float = 300.0,
    ) -> None:
        if base_s < min_base_s:
            raise ValueError(f"backoff base_s={base_s} is below the minimum {min_base_s} s")
        if max_factor < 1 or max_delay_s <= 0:
            raise ValueError("backoff max_factor must be >= 1 and max_delay_s > 0")
        self.base_s = base_s
        self.max_factor = max_factor
        self.max_delay_s = max_delay_s
        self._step = 0

    @property
    def failures(self) -> int:
        """Consecutive overloaded answers counted so far."""
        return self._step

    def next_delay(self, kind: FailureKind) -> float:
        """The wait in seconds before the next attempt after a failure of ``kind``."""
        if kind is FailureKind.NETWORK:
            return min(self.base_s, self.max_delay_s)
        self._step += 1
        factor = min(fibonacci(self._step), self.max_factor)
        return min(factor * self.base_s, self.max_delay_s)

    def reset(self) -> None:
        """Forget past failures (call after a successful send)."""
        self._step = 0
