"""``HttpMessageTransport``: the HTTPS implementation of :class:`MessageTransport` (§3.1).

One call is one ``POST /iot/api/v2/messages?acceptBytes=N[&iot.sync&iot.timeout=T]``.  With a
long poll the socket read timeout is ``T`` plus an offset, so the client gives up only after
the server had its chance to answer; a read timeout on a long poll then means "no message"
(as Java treats it), not an error.

The answer is a JSON array of messages for this device and its indirect devices.  A body that
is not such an array, or an element that is not a valid envelope, is logged and skipped: the
server accepted the batch (2xx), so raising would make the dispatcher send it again.
"""

from __future__ import annotations

import json
import logging
import math

import requests

from iotcs_hw.errors import DeviceClosed, MessageFormatError, TransportException
from iotcs_hw.messaging.message import Message
from iotcs_hw.transport.base import TransportReply
from iotcs_hw.transport.http import API_ROOT, HttpSession

log = logging.getLogger(__name__)

MESSAGES_PATH = API_ROOT + "/messages"
#: Extra read time beyond ``iot.timeout``.  Oracle uses 100 ms; a Python server on a busy
#: 2-core board needs more slack, and a late give-up costs only one reconnect.
DEFAULT_LONG_POLL_OFFSET_S = 1.0


class HttpMessageTransport:
    """Sends message batches over an :class:`HttpSession`. Thread-safe.

    Args:
        session: the device's HTTPS session (owned by the caller; :meth:`close` leaves it open).
        long_poll_offset_s: read timeout beyond ``iot.timeout`` on long polls.
    """

    def __init__(
        self, session: HttpSession, *, long_poll_offset_s: float = DEFAULT_LONG_POLL_OFFSET_S
    ) -> None:
        if long_poll_offset_s < 0:
            raise ValueError(f"long_poll_offset_s must be >= 0, got {long_poll_offset_s}")
        self.session = session
        self.long_poll_offset_s = long_poll_offset_s
        self._closed = False

    def send_messages(
        self, body: bytes, *, accept_bytes: int, long_poll_s: float | None = None
    ) -> TransportReply:
        """POST ``body`` and return the server's answer (see :class:`MessageTransport`)."""
        if self._closed or self.session.closed:
            raise DeviceClosed(f"{self!r} is closed")
        if accept_bytes < 0:
            raise ValueError(f"accept_bytes must be >= 0, got {accept_bytes}")
        query = f"acceptBytes={accept_bytes}"
        timeout_s = self.session.timeout_s
        if long_poll_s is not None:
            if not long_poll_s > 0:
                raise ValueError(f"long_poll_s must be > 0, got {long_poll_s}")
            hold_s = max(1, math.ceil(long_poll_s))
            query += f"&iot.sync&iot.timeout={hold_s}"
            timeout_s = hold_s + self.long_poll_offset_s
        try:
            response = self.session.request(
                "POST", f"{MESSAGES_PATH}?{query}", body=body, timeout_s=timeout_s
            )
        except TransportException as exc:
            if self._closed or self.session.closed:
                # close() cut the call (a held long poll, usually): not a network failure.
                raise DeviceClosed(f"{self!r} was closed during the call") from exc
            if long_poll_s is not None and exc.statusCode is None and _is_read_timeout(exc):
                log.debug("long poll ended without an answer after %.1f s", timeout_s)
                return TransportReply(status=200)
            raise
        min_accept = _int_header(response.headers.get("X-min-acceptBytes"))
        if min_accept is not None:
            log.warning(
                "a pending request of %d bytes does not fit acceptBytes=%d",
                min_accept,
                accept_bytes,
            )
        return TransportReply(
            status=response.status_code,
            messages=parse_messages(response.content, response.url),
            min_accept_bytes=min_accept,
        )

    def close(self) -> None:
        """Refuse further sends (:class:`DeviceClosed`). Idempotent; the session is the device's.

        A call cut by closing the session also raises :class:`DeviceClosed`, which tells the
        dispatcher's threads to stop rather than to report a network failure.
        """
        self._closed = True

    def __repr__(self) -> str:
        return f"<HttpMessageTransport {self.session.base_url}{' closed' if self._closed else ''}>"


def parse_messages(content: bytes, where: str = "server") -> list[Message]:
    """The messages of a compact (or pretty) JSON array; bad parts are logged and skipped."""
    if not content.strip():
        return []
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("%s answered a body that is not JSON (%s); ignoring it", where, exc)
        return []
    if not isinstance(doc, list):
        log.warning(
            "%s answered %s instead of a JSON array; ignoring it", where, type(doc).__name__
        )
        return []
    messages = []
    for index, item in enumerate(doc):
        try:
            messages.append(Message.from_json(item))
        except MessageFormatError as exc:
            log.warning("%s: message [%d] skipped: %s", where, index, exc)
    return messages


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        log.warning("X-min-acceptBytes %r is not an integer", value)
        return None


def _is_read_timeout(exc: TransportException) -> bool:
    return isinstance(exc.__cause__, requests.exceptions.ReadTimeout)
