"""The seam between "what a virtual device decides" and "how a message travels".

Virtual devices build :class:`Message` objects and hand them to a :class:`MessageSink`.  The
transport's dispatcher is the production sink: ``offer`` returns only once the messages are
durably queued, and later failures come back through the ``on_error`` handler given with them.
:class:`RecordingSink` is a first-class in-memory sink for tests and for code that wants to see
what a device would send.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from iotcs_hw.messaging.message import Message

DeliveryErrorHandler = Callable[[Sequence[Message], Exception], None]


class MessageSink(Protocol):
    """Where virtual devices put the messages they produce."""

    def offer(
        self, messages: Sequence[Message], on_error: DeliveryErrorHandler | None = None
    ) -> None:
        """Queue ``messages`` for delivery, in order.

        Returns once the messages are accepted (durably, for a persistent sink).  Raises
        :class:`iotcs_hw.errors.QueueFullError` when the overflow policy refuses them, in
        which case none of them was queued.  ``on_error(messages, exc)`` runs on the
        dispatcher's thread if delivery finally fails.
        """
        ...


class RecordingSink:
    """Keeps every offered message in ``sent``; can be told to fail the next offers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[Message] = []
        self.handlers: list[DeliveryErrorHandler | None] = []
        self._fail_next: list[Exception] = []

    def offer(
        self, messages: Sequence[Message], on_error: DeliveryErrorHandler | None = None
    ) -> None:
        """Record ``messages``; if a failure was scheduled, report it through ``on_error``."""
        with self._lock:
            self.sent.extend(messages)
            self.handlers.extend([on_error] * len(messages))
            failure = self._fail_next.pop(0) if self._fail_next else None
        if failure is not None and on_error is not None:
            on_error(list(messages), failure)

    def fail_next(self, exc: Exception) -> None:
        """Make the next ``offer`` call report ``exc`` to its error handler."""
        with self._lock:
            self._fail_next.append(exc)

    def clear(self) -> list[Message]:
        """Return and forget what was recorded."""
        with self._lock:
            sent, self.sent = self.sent, []
            self.handlers = []
            return sent
