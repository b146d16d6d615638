"""The receive side of the dispatcher: polls for REQUESTs and answers every one of them.

A named daemon thread (``iotcs-receive``) long-polls (``long_poll_s``: the server holds the
empty POST until it has something) or, with ``long_poll_s=None``, polls every
``polling_interval_s`` and also handles the requests the sender received piggybacked on its
sends (:meth:`RequestReceiver.buffer`).  ``acceptBytes`` is the request buffer minus what is
buffered, minus the array's brackets (§3.1).  Each REQUEST goes to the
:class:`~iotcs_hw.messaging.RequestDispatcher`, and its RESPONSE goes to ``respond`` (the
dispatcher's ``offer``, where RESPONSEs jump the queue).

Failures: a malformed answer (or parts the transport skipped) counts as a protocol error and is
logged; after a network, 503 or security error the receiver waits for a backoff delay or the
next successful send, whichever comes first (Java's rule); a server that answers long polls at
once pauses polling for one interval instead of spinning.  Request handlers, and through them
virtual-device callbacks, run on this thread; a raising handler becomes a 500 RESPONSE.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from iotcs_hw.errors import (
    DeviceClosed,
    IotcsHwError,
    ProtocolError,
    SecurityException,
    TransportException,
)
from iotcs_hw.messaging.message import Message, MessageType
from iotcs_hw.messaging.requests import RequestDispatcher
from iotcs_hw.transport.backoff import Backoff, FailureKind
from iotcs_hw.transport.base import MessageTransport, TransportReply
from iotcs_hw.transport.clock import Clock
from iotcs_hw.transport.counters import DeliveryCounters

log = logging.getLogger(__name__)


def count_unreadable(counters: DeliveryCounters, reply: TransportReply) -> None:
    """Count what the transport skipped in an answer as protocol errors (it logged them)."""
    if reply.protocol_errors:
        counters.add(protocol_errors=reply.protocol_errors)


class RequestReceiver:
    """Polls for server requests and answers them; owned by :class:`MessageDispatcher`.

    Thread-safety: :meth:`buffer`, :meth:`send_succeeded`, :meth:`accept_bytes` and the
    ``polling_interval_s`` setter are called from other threads.
    """

    def __init__(
        self,
        transport: MessageTransport,
        requests: RequestDispatcher,
        *,
        respond: Callable[[Message], None],
        clock: Clock,
        counters: DeliveryCounters,
        backoff: Backoff,
        long_poll_s: float | None,
        polling_interval_s: float,
        request_buffer_size: int,
    ) -> None:
        self.transport = transport
        self.requests = requests
        self.respond = respond
        self.clock = clock
        self.counters = counters
        self.long_poll_s = long_poll_s
        self.request_buffer_size = request_buffer_size
        self._polling_interval_s = polling_interval_s
        self._backoff = backoff
        self._cond = threading.Condition()
        self._buffered: deque[Message] = deque()
        self._buffered_bytes = 0
        self._gate: float | None = None  # after an error: poll again at this time...
        self._send_succeeded = False  # ...or as soon as a send succeeds
        self._last_poll: float | None = None  # when polling every polling_interval_s
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ``iotcs-receive``."""
        self._thread = threading.Thread(target=self._loop, name="iotcs-receive", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop; it ends at once unless it is inside a poll."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout_s: float) -> bool:
        """Wait for the thread to end; True if it did (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def polling_interval_s(self) -> float:
        """Seconds between polls without long polling (and the pause after early answers)."""
        return self._polling_interval_s

    @polling_interval_s.setter
    def polling_interval_s(self, value: float) -> None:
        with self._cond:
            self._polling_interval_s = value
            self._cond.notify_all()

    def send_succeeded(self) -> None:
        """The sender got a batch through: the server is reachable, a waiting poll may go."""
        with self._cond:
            self._send_succeeded = True
            self._cond.notify_all()

    def accept_bytes(self) -> int:
        """§3.1: the request buffer minus what is buffered, minus the array brackets."""
        with self._cond:
            return max(0, self.request_buffer_size - self._buffered_bytes - 2)

    def buffer(self, reply: TransportReply) -> None:
        """Queue the requests of a reply (piggybacked on a send) for this thread."""
        if reply.min_accept_bytes is not None:
            log.warning(
                "server holds a request of %d bytes, larger than acceptBytes allows",
                reply.min_accept_bytes,
            )
        with self._cond:
            for message in reply.messages:
                self._buffered.append(message)
                self._buffered_bytes += len(message.encode())
            self._cond.notify_all()

    def _loop(self) -> None:
        while not self._stopping:
            try:
                self._handle_buffered()
                if not self._wait_before_poll():
                    return
                accept = self.accept_bytes()
                polled_at = self.clock.monotonic()
                reply = self.transport.send_messages(
                    b"[]", accept_bytes=accept, long_poll_s=self.long_poll_s
                )
            except (TransportException, SecurityException) as exc:
                if self._stop_requested():
                    log.debug("poll ended by close: %s", exc)  # the server or socket went away
                    return
                if isinstance(exc, SecurityException):
                    log.error("poll refused on security: %s", exc)
                    self._receive_failed(FailureKind.NETWORK)
                    continue
                log.warning("poll failed: %s", exc)
                kind = FailureKind.OVERLOADED if exc.statusCode == 503 else FailureKind.NETWORK
                self._receive_failed(kind)
                continue
            except ProtocolError as exc:
                self.counters.add(protocol_errors=1)
                log.warning("malformed answer to a poll: %s", exc)
                self._receive_failed(FailureKind.NETWORK)
                continue
            except DeviceClosed:
                return
            except Exception:
                log.exception("iotcs-receive: unexpected error; continuing")
                self._receive_failed(FailureKind.NETWORK)
                continue
            self._backoff.reset()
            count_unreadable(self.counters, reply)
            if self._stop_requested():
                if reply.messages:
                    log.warning("closing: %d requests left unanswered", len(reply.messages))
                return
            if (
                self.long_poll_s is not None
                and not reply.messages
                and self.clock.monotonic() - polled_at < self.long_poll_s / 2
            ):
                # A server that does not hold long polls would make this loop spin (§10.2):
                # pause one polling interval, or until a send succeeds.
                log.debug("empty long-poll answer came back early; pausing polls")
                self._pause_polling(self._polling_interval_s)
            self.buffer(reply)

    def _stop_requested(self) -> bool:
        """Whether stop() was called (read again after a blocking call)."""
        return self._stopping

    def _receive_failed(self, kind: FailureKind) -> None:
        self._pause_polling(self._backoff.next_delay(kind))

    def _pause_polling(self, delay_s: float) -> None:
        """Poll again after ``delay_s`` or as soon as a send gets through, whichever is first."""
        with self._cond:
            self._gate = self.clock.monotonic() + delay_s
            self._send_succeeded = False

    def _wait_before_poll(self) -> bool:
        """Wait for the next poll; False when stopping."""
        with self._cond:
            if self._gate is not None:
                # After an error: until the backoff ends or a send gets through.
                while not self._stopping and not self._send_succeeded:
                    if self.clock.monotonic() >= self._gate:
                        break
                    self.clock.wait_until(self._cond, self._gate)
                self._gate = None
            elif self.long_poll_s is None and self._last_poll is not None:
                deadline = self._last_poll + self._polling_interval_s
                while not self._stopping and not self._buffered:
                    if self.clock.monotonic() >= deadline:
                        break
                    self.clock.wait_until(self._cond, deadline)
                    deadline = self._last_poll + self._polling_interval_s
            self._last_poll = self.clock.monotonic()
            return not self._stopping

    def _handle_buffered(self) -> None:
        while True:
            with self._cond:
                if not self._buffered or self._stopping:
                    return
                message = self._buffered.popleft()
                size = len(message.encode())
                self._buffered_bytes -= size
            self.counters.add(messages_received=1, bytes_received=size)
            if message.type is not MessageType.REQUEST:
                self.counters.add(protocol_errors=1)
                log.warning(
                    "ignoring a %s message from the server (only REQUESTs are expected)",
                    message.type.value,
                )
                continue
            response = self.requests.dispatch_message(message)
            try:
                self.respond(response)
            except DeviceClosed:
                return
            except IotcsHwError as exc:
                log.error("cannot queue the RESPONSE to request %s: %s", message.id, exc)
