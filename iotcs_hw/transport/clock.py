"""Time as a dependency: the dispatcher waits, backs off and timestamps through a ``Clock``.

``monotonic()`` measures intervals, ``time()`` is wall time for timestamps sent to the cloud,
and ``wait_until(cond, deadline)`` waits on a held :class:`threading.Condition` until it is
notified or the monotonic ``deadline`` passes.  :class:`FakeClock` advances only when told to
and wakes every waiter whose deadline it crossed, so tests of backoff and retries run without
real sleeps.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What code that waits needs to know about time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        ...

    def wait_until(self, cond: threading.Condition, deadline: float | None) -> None:
        """Wait on ``cond`` (held by the caller) until notified or ``deadline`` (monotonic).

        May return early; callers re-check their condition in a loop.  ``None`` waits until
        notified.
        """
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()

    def time(self) -> float:
        """:func:`time.time`."""
        return time.time()

    def wait_until(self, cond: threading.Condition, deadline: float | None) -> None:
        """Wait on ``cond`` with a timeout computed from ``deadline``."""
        if deadline is None:
            cond.wait()
            return
        remaining = deadline - time.monotonic()
        if remaining > 0:
            cond.wait(remaining)


class FakeClock:
    """A clock that moves only when :meth:`advance` is called; thread-safe.

    Tests see who waits and until when (:meth:`wait_for_sleeper`), so they can assert a backoff
    delay exactly and then :meth:`advance` past it, without a real sleep.

    >>> clock = FakeClock(start=100.0)
    >>> clock.advance(2.5); clock.monotonic()
    102.5
    """

    def __init__(self, start: float = 1000.0, wall_start: float = 1_700_000_000.0) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._now = start
        self._wall_offset = wall_start - start
        self._waiters: dict[threading.Condition, int] = {}
        #: thread name -> deadline of each thread blocked in wait_until (None: no deadline)
        self._sleepers: dict[str, float | None] = {}

    def monotonic(self) -> float:
        """The fake now."""
        with self._lock:
            return self._now

    def time(self) -> float:
        """Fake wall time, moving with :meth:`advance`."""
        with self._lock:
            return self._now + self._wall_offset

    def wait_until(self, cond: threading.Condition, deadline: float | None) -> None:
        """Block until notified by the caller's code or by :meth:`advance` passing a deadline."""
        name = threading.current_thread().name
        with self._lock:
            if deadline is not None and self._now >= deadline:
                return
            self._waiters[cond] = self._waiters.get(cond, 0) + 1
            self._sleepers[name] = deadline
            self._changed.notify_all()
        try:
            cond.wait()
        finally:
            with self._lock:
                self._sleepers.pop(name, None)
                left = self._waiters.pop(cond, 1) - 1
                if left > 0:
                    self._waiters[cond] = left

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every waiter so it re-checks its deadline."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} s)")
        with self._lock:
            self._now += seconds
            waiters = list(self._waiters)
        for cond in waiters:
            with cond:
                cond.notify_all()

    def wait_for_sleeper(
        self, thread_name: str, timeout: float = 5.0, *, deadline: float | str | None = "any"
    ) -> float | None:
        """Wait (real time) until ``thread_name`` blocks in :meth:`wait_until`.

        With ``deadline`` given, wait until it blocks with exactly that deadline.  Returns the
        deadline it waits for (None when it waits without one).  Raises ``TimeoutError`` if
        that does not happen within ``timeout`` real seconds.
        """

        def ready() -> bool:
            if thread_name not in self._sleepers:
                return False
            return deadline == "any" or self._sleepers[thread_name] == deadline

        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                current = self._sleepers.get(thread_name, "not waiting")
                raise TimeoutError(
                    f"thread {thread_name!r} did not wait (deadline {deadline}) within "
                    f"{timeout} s; now: {current}"
                )
            return self._sleepers[thread_name]
