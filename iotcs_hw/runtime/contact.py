"""Cloud contact, as the runtime's safety needs it: did the last exchange with the server work?

:class:`ContactTrackingTransport` wraps the :class:`~iotcs_hw.transport.base.MessageTransport`
the dispatcher sends and long-polls through, and reports every answered call (any HTTP status
the server chose to give, 2xx) as contact and every failure as a loss.  The cloud-loss guard
then applies safe states after each actuator's declared time without contact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from iotcs_hw.transport.base import MessageTransport, TransportReply

log = logging.getLogger(__name__)


class ContactTrackingTransport:
    """A :class:`MessageTransport` that reports contact and failures, then delegates."""

    def __init__(
        self,
        inner: MessageTransport,
        on_contact: Callable[[], None],
        on_failure: Callable[[], None],
    ) -> None:
        self.inner = inner
        self._on_contact = on_contact
        self._on_failure = on_failure

    def send_messages(
        self, body: bytes, *, accept_bytes: int, long_poll_s: float | None = None
    ) -> TransportReply:
        """Delegate; report the outcome (the hooks never raise into the dispatcher)."""
        try:
            reply = self.inner.send_messages(
                body, accept_bytes=accept_bytes, long_poll_s=long_poll_s
            )
        except BaseException:
            _guarded(self._on_failure)
            raise
        _guarded(self._on_contact)
        return reply

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _guarded(hook: Callable[[], None]) -> None:
    try:
        hook()
    except Exception:
        log.exception("cloud contact hook raised")


def track_contact(
    dispatcher: Any, on_contact: Callable[[], None], on_failure: Callable[[], None]
) -> bool:
    """Wrap ``dispatcher.transport`` so contact is reported; False if it has none.

    The message dispatcher exposes its transport as a public attribute and reads it on every
    call, so swapping it in place takes effect from the next exchange on.
    """
    inner = getattr(dispatcher, "transport", None)
    if inner is None:
        return False
    if isinstance(inner, ContactTrackingTransport):
        inner = inner.inner
    dispatcher.transport = ContactTrackingTransport(inner, on_contact, on_failure)
    return True
