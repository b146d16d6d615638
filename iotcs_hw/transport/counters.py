"""Delivery counters, shared by the outbox (what left) and the dispatcher (what came in).

The names follow the ``message_dispatcher/counters`` capability of protocol §6.6 so the
capability handler can answer with a snapshot as it is.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CounterSnapshot:
    """Counters at one instant. ``messages_*`` count messages, ``bytes_*`` encoded bytes."""

    messages_sent: int = 0
    messages_retried: int = 0
    messages_dropped: int = 0
    messages_failed: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0
    protocol_errors: int = 0

    def as_capability(self) -> dict[str, int]:
        """The JSON body of ``message_dispatcher/counters`` (§6.6 names, plus ours)."""
        return {
            "totalMessagesSent": self.messages_sent,
            "totalMessagesReceived": self.messages_received,
            "totalMessagesRetried": self.messages_retried,
            "totalBytesSent": self.bytes_sent,
            "totalBytesReceived": self.bytes_received,
            "totalProtocolErrors": self.protocol_errors,
            "totalMessagesDropped": self.messages_dropped,
            "totalMessagesFailed": self.messages_failed,
        }


class DeliveryCounters:
    """Thread-safe running totals; :meth:`snapshot` reads them all at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = asdict(CounterSnapshot())

    def add(self, **increments: int) -> None:
        """Add to named counters, e.g. ``add(messages_sent=3, bytes_sent=120)``."""
        with self._lock:
            for name, value in increments.items():
                if name not in self._values:
                    raise KeyError(f"unknown delivery counter {name!r}")
                self._values[name] += value

    def snapshot(self) -> CounterSnapshot:
        """All counters, consistent with each other."""
        with self._lock:
            return CounterSnapshot(**self._values)

    def reset(self) -> None:
        """Zero every counter (the ``message_dispatcher/reset`` capability)."""
        with self._lock:
            for name in self._values:
                self._values[name] = 0
