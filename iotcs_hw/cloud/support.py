"""Small parts of the local server: its clock, issued tokens, wake-ups, fault switch, recorder.

Everything here runs on the server's event loop thread except where a docstring says otherwise;
the fault switch and the recorder are also used from test threads, so they take a lock.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in epoch seconds (token ``exp``, timestamps) and a monotonic counter."""

    def time(self) -> float:
        """Epoch seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """``time.time()``."""
        return time.time()

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told; thread-safe.

    >>> clock = FakeClock(1_795_548_000.0)
    >>> clock.advance(60)
    >>> clock.time()
    1795548060.0
    """

    def __init__(self, start: float) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._mono = 0.0

    def time(self) -> float:
        """The current fake epoch seconds."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Fake monotonic seconds (advances with :meth:`advance`)."""
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def set(self, epoch_s: float) -> None:
        """Jump the wall clock to ``epoch_s`` (monotonic moves by the same amount if forward)."""
        with self._lock:
            self._mono += max(0.0, epoch_s - self._now)
            self._now = float(epoch_s)


def ms(clock: Clock) -> int:
    """Epoch milliseconds of ``clock``."""
    return int(clock.time() * 1000)


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token the server handed out."""

    value: str
    subject: str  # activation id (activation scope) or endpoint id (endpoint scope)
    scope: str  # "oracle/iot/activation" or ""
    expires_s: float


class TokenBook:
    """Bearer tokens by value, expiring on the injected clock."""

    def __init__(self, clock: Clock, lifetime_s: float) -> None:
        self._clock = clock
        self.lifetime_s = lifetime_s
        self._tokens: dict[str, IssuedToken] = {}

    def issue(self, subject: str, scope: str) -> IssuedToken:
        """A new token for ``subject``; expired tokens are pruned on the way."""
        now = self._clock.time()
        for key in [k for k, t in self._tokens.items() if t.expires_s <= now]:
            del self._tokens[key]
        token = IssuedToken(secrets.token_urlsafe(32), subject, scope, now + self.lifetime_s)
        self._tokens[token.value] = token
        return token

    def lookup(self, value: str) -> IssuedToken | None:
        """The live token with this value, or None (unknown or expired)."""
        token = self._tokens.get(value)
        if token is None or token.expires_s <= self._clock.time():
            return None
        return token

    def revoke_all(self) -> int:
        """Forget every token (a test hook: the next call of each device gets 401)."""
        count = len(self._tokens)
        self._tokens.clear()
        return count


class Broadcast:
    """Wakes every coroutine waiting on it; a level-free "something changed" signal."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        """Wake all current waiters."""
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for :meth:`notify`; True if notified.

        Check the condition you wait for *before* calling this, with no ``await`` in between:
        the loop is single-threaded, so nothing can slip through.
        """
        if timeout_s <= 0:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            done, _ = await asyncio.wait({fut}, timeout=timeout_s)
        finally:
            self._waiters.discard(fut)
        return bool(done)


class FaultSwitch:
    """Makes message POSTs fail on purpose, to test back-off and store-and-forward.

    ``fail_next(n)`` fails the next ``n`` POSTs; ``fail_for(seconds)`` fails every POST until
    the (injected monotonic) clock passes the deadline.  Thread-safe.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._remaining = 0
        self._until: float | None = None
        self.status = 503
        self.failed = 0

    def fail_next(self, count: int, status: int = 503) -> None:
        """Fail the next ``count`` message POSTs with ``status``."""
        if count < 0 or not 400 <= status <= 599:
            raise ValueError(f"fail_next({count}, {status}): need count >= 0 and a 4xx/5xx status")
        with self._lock:
            self._remaining = count
            self.status = status

    def fail_for(self, seconds: float, status: int = 503) -> None:
        """Fail every message POST for ``seconds`` from now."""
        if seconds < 0 or not 400 <= status <= 599:
            raise ValueError(f"fail_for({seconds}, {status}): need seconds >= 0, a 4xx/5xx status")
        with self._lock:
            self._until = self._clock.monotonic() + seconds
            self.status = status

    def clear(self) -> None:
        """Stop failing."""
        with self._lock:
            self._remaining = 0
            self._until = None

    def should_fail(self) -> int | None:
        """The status to fail this POST with, or None; consumes one of ``fail_next``."""
        with self._lock:
            if self._remaining > 0:
                self._remaining -= 1
                self.failed += 1
                return self.status
            if self._until is not None:
                if self._clock.monotonic() < self._until:
                    self.failed += 1
                    return self.status
                self._until = None
            return None

    def to_json(self) -> dict[str, object]:
        """State for the admin API."""
        with self._lock:
            left = None if self._until is None else max(0.0, self._until - self._clock.monotonic())
            return {
                "failNext": self._remaining,
                "failForSeconds": left,
                "status": self.status,
                "failed": self.failed,
            }


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered, for assertions in tests."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int
    at_s: float = field(compare=False, default=0.0)


class Recorder:
    """A bounded history of answered requests (bodies cut at ``max_body`` bytes); thread-safe."""

    def __init__(self, maxlen: int = 10_000, max_body: int = 64 * 1024) -> None:
        self._lock = threading.Lock()
        self._items: deque[RecordedRequest] = deque(maxlen=maxlen)
        self.max_body = max_body
        self.enabled = True

    def add(self, item: RecordedRequest) -> None:
        """Append one request (dropped silently when disabled)."""
        if not self.enabled:
            return
        if len(item.body) > self.max_body:
            item = replace(item, body=item.body[: self.max_body])
        with self._lock:
            self._items.append(item)

    def requests(
        self, predicate: Callable[[RecordedRequest], bool] | None = None
    ) -> list[RecordedRequest]:
        """A copy of the history, optionally filtered."""
        with self._lock:
            items = list(self._items)
        return [r for r in items if predicate is None or predicate(r)]

    def clear(self) -> None:
        """Forget the history."""
        with self._lock:
            self._items.clear()
