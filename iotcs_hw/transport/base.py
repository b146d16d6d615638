"""The interface the dispatcher sends through: one call per ``POST /iot/api/v2/messages``.

HTTPS (``iotcs_hw.transport.http``) is the first implementation; MQTT can be a second.  The
dispatcher knows nothing of URLs, tokens or TLS: it hands over an encoded batch and gets back
the status and the requests the server had waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from iotcs_hw.messaging.message import Message


@dataclass(frozen=True)
class TransportReply:
    """The server's answer to one messages POST."""

    status: int
    #: Messages addressed to this device or its indirect devices (normally REQUESTs).
    messages: list[Message] = field(default_factory=list)
    #: Set when the next pending request did not fit ``acceptBytes`` (``X-min-acceptBytes``).
    min_accept_bytes: int | None = None
    #: Parts of the answer the transport could not read and skipped (a body that is not a JSON
    #: array, an element that is not an envelope); the dispatcher counts them as protocol errors.
    protocol_errors: int = 0


class MessageTransport(Protocol):
    """Sends batches of messages and receives what the server has for the device."""

    def send_messages(
        self, body: bytes, *, accept_bytes: int, long_poll_s: float | None = None
    ) -> TransportReply:
        """POST ``body`` (a JSON array, possibly ``[]``) and return the server's answer.

        ``long_poll_s`` adds ``iot.sync`` and ``iot.timeout`` so the server holds the request
        until it has a message for the device.  Raises
        :class:`iotcs_hw.errors.TransportException` (with ``statusCode``; 503 means back off)
        for network errors and non-2xx answers, and
        :class:`iotcs_hw.errors.SecurityException` when authentication fails even after a
        token refresh (never retried).
        """
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...
