"""The production :class:`~iotcs_hw.messaging.MessageSink`: durable outbox, sender, receiver.

``offer()`` writes the messages to the :class:`~iotcs_hw.transport.outbox.Outbox` (durable
before it returns: appended to its offer journal, or committed with ``synchronous="FULL"``) and
wakes the sender, whose ``take()`` folds the journal into SQLite before it selects a batch.
Two named daemon threads do the rest:

* ``iotcs-send`` takes batches (up to ``max_batch_messages`` and ``max_batch_bytes``) in send
  order (RESPONSE, then HIGHEST..LOWEST, then eventTime, then age), POSTs them through the
  :class:`~iotcs_hw.transport.base.MessageTransport`, deletes what the server acknowledged and
  retries the rest per reliability (§6.1): NO_GUARANTEE ``base_retries`` retries, BEST_EFFORT
  twice that, GUARANTEED_DELIVERY until it gets through.  Only answers spend retries (a 5xx
  other than 503, a malformed answer): an outage (no answer, 503/429) spends none, so no
  message is lost however long the server is away, and the outbox's bound and overflow policy
  limit the backlog instead; Oracle's Java client counts outages too and drops telemetry after
  a few minutes offline.  503/429 back off by Fibonacci x base, network errors and other 5xx by
  a constant base; a security error is never retried.  Another
  4xx rejects the batch: it is resent in halves until the message the server refuses is alone,
  and only that one fails.  While backing off, a new ALERT or RESPONSE forces one early send.
* ``iotcs-receive`` (:class:`~iotcs_hw.transport.receiver.RequestReceiver`) long-polls
  (``long_poll_s``; message POSTs then say ``acceptBytes=0``, as Java's do) or, with
  ``long_poll_s=None``, polls every ``polling_interval_s`` and also takes the requests
  piggybacked on sends.  Every REQUEST goes to the :class:`~iotcs_hw.messaging.RequestDispatcher`
  and its RESPONSE is queued ahead of everything else.  A malformed answer is logged and counted
  as a protocol error; after a network error the receiver waits for the next successful send or
  a backoff delay before polling again.  Without a request dispatcher nothing is polled and
  sends ask for no requests.

Callbacks and threads: ``on_error(messages, exc)`` handlers run on ``iotcs-send``; request
handlers (and through them virtual-device callbacks) on ``iotcs-receive``.  A handler that
raises is logged and never stops a thread.  ``on_error`` handlers live in memory only: messages
recovered from the outbox after a restart report final failures to the log alone.

Time goes through an injected :class:`~iotcs_hw.transport.clock.Clock`, so backoff and retries
are tested with a fake clock and no sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

from iotcs_hw.errors import (
    DeviceClosed,
    IotcsHwError,
    ProtocolError,
    QueueFullError,
    SecurityException,
    TransportException,
)
from iotcs_hw.messaging.message import Message, MessageType
from iotcs_hw.messaging.requests import RequestDispatcher
from iotcs_hw.messaging.sink import DeliveryErrorHandler
from iotcs_hw.transport.backoff import Backoff, FailureKind
from iotcs_hw.transport.base import MessageTransport
from iotcs_hw.transport.clock import Clock, SystemClock
from iotcs_hw.transport.counters import CounterSnapshot, DeliveryCounters
from iotcs_hw.transport.message_state import MessageEvent, after_failure
from iotcs_hw.transport.outbox import Outbox, OutboxEntry
from iotcs_hw.transport.receiver import RequestReceiver, count_unreadable

log = logging.getLogger(__name__)

#: Batch size of an early send forced by an ALERT or RESPONSE during a backoff.
FORCED_BATCH_MESSAGES = 10


class ThreadStuck(IotcsHwError, RuntimeError):
    """A dispatcher thread did not stop within its bound (it is stuck in a transport call)."""


class MessageDispatcher:
    """Delivers offered messages durably and answers the server's requests.

    Args:
        transport: how batches travel (HTTPS in production, :class:`FakeTransport` in tests).
        outbox: the durable queue; the dispatcher owns it and closes it in :meth:`close`.
        requests: where REQUESTs go; None disables receiving.
        clock: time source (default the system clock).
        max_batch_messages: most messages per POST (default 1000, Java's default).
        max_batch_bytes: most encoded bytes per POST (default 512 KiB); a single bigger
            message still goes alone.
        base_retries: retries for NO_GUARANTEE (default 3; BEST_EFFORT gets twice that).
        backoff: the delay policy (default Fibonacci x 1 s, at most 300 s).
        long_poll_s: how long the server may hold a poll (default 20 s); None polls every
            ``polling_interval_s`` instead.
        polling_interval_s: poll period without long polling (default 3 s).
        request_buffer_size: the ``acceptBytes`` budget (default 4192, as Oracle's clients).

    Thread-safety: every public method may be called from any thread.

    >>> from iotcs_hw.transport.fake import FakeTransport
    >>> import tempfile, pathlib
    >>> from iotcs_hw.messaging import data_message
    >>> box = Outbox(pathlib.Path(tempfile.mkdtemp()) / "outbox.sqlite3")
    >>> with MessageDispatcher(FakeTransport(), box).start() as d:
    ...     d.offer([data_message("dev-1", "urn:x:attributes", {"t": 1})])
    ...     d.wait_for_empty(5.0)
    True
    """

    def __init__(
        self,
        transport: MessageTransport,
        outbox: Outbox,
        *,
        requests: RequestDispatcher | None = None,
        clock: Clock | None = None,
        max_batch_messages: int = 1000,
        max_batch_bytes: int = 512 * 1024,
        base_retries: int = 3,
        backoff: Backoff | None = None,
        long_poll_s: float | None = 20.0,
        polling_interval_s: float = 3.0,
        request_buffer_size: int = 4192,
    ) -> None:
        if max_batch_messages < 1 or max_batch_bytes < 1:
            raise ValueError("max_batch_messages and max_batch_bytes must be >= 1")
        if base_retries < 0:
            raise ValueError(f"base_retries must be >= 0, got {base_retries}")
        if long_poll_s is not None and long_poll_s <= 0:
            raise ValueError(f"long_poll_s must be > 0 or None, got {long_poll_s}")
        if polling_interval_s <= 0:
            raise ValueError(f"polling_interval_s must be > 0, got {polling_interval_s}")
        self.transport = transport
        self.outbox = outbox
        self.requests = requests
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.counters: DeliveryCounters = outbox.counters
        self.max_batch_messages = max_batch_messages
        self.max_batch_bytes = max_batch_bytes
        self.base_retries = base_retries
        self.long_poll_s = long_poll_s
        self.request_buffer_size = request_buffer_size
        self._polling_interval_s = polling_interval_s
        self._send_backoff = backoff if backoff is not None else Backoff()

        # Sender state, guarded by _cond.
        self._cond = threading.Condition()
        self._handlers: dict[int, DeliveryErrorHandler] = {}
        self._reports: deque[tuple[list[OutboxEntry], Exception]] = deque()
        self._gate = 0.0  # monotonic time before which the sender does not send
        self._force = False  # an ALERT/RESPONSE arrived during a backoff
        self._batch_limit = max_batch_messages  # shrinks while a 4xx batch is split
        self._stopping = False
        self._abort = False
        self._flush_deadline: float | None = None
        self._sending = False

        self._receiver: RequestReceiver | None = None
        if requests is not None:
            self._receiver = RequestReceiver(
                transport,
                requests,
                respond=self._respond,
                clock=self.clock,
                counters=self.counters,
                backoff=Backoff(
                    base_s=self._send_backoff.base_s,
                    max_factor=self._send_backoff.max_factor,
                    max_delay_s=self._send_backoff.max_delay_s,
                ),
                long_poll_s=long_poll_s,
                polling_interval_s=polling_interval_s,
                request_buffer_size=request_buffer_size,
            )

        self._sender: threading.Thread | None = None
        self._started = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> MessageDispatcher:
        """Start the sender (and the receiver when ``requests`` was given); returns self.

        Messages left in the outbox by a previous run are due at once, so they go out first.
        """
        with self._cond:
            if self._closed:
                raise DeviceClosed(f"{self!r} is closed")
            if self._started:
                return self
            self._started = True
        self._sender = threading.Thread(target=self._send_loop, name="iotcs-send", daemon=True)
        self._sender.start()
        if self._receiver is not None:
            self._receiver.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Flush for at most ``timeout_s``, stop both threads, close the outbox. Idempotent.

        Messages not acknowledged by then stay in the outbox for the next start.  The receive
        thread may be inside a long poll; it is a daemon thread that exits when the poll
        returns and touches nothing after close.  Raises :class:`ThreadStuck` if the sender
        is still inside a transport call after the bound (its batch stays in the outbox).
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stopping = True
            self._flush_deadline = self.clock.monotonic() + max(0.0, timeout_s)
            if timeout_s <= 0:
                self._abort = True
            self._cond.notify_all()
        if self._receiver is not None:
            self._receiver.stop()
        stuck = False
        if self._sender is not None:
            self._sender.join(timeout=max(0.0, timeout_s) + 0.5)
            if self._sender.is_alive():
                with self._cond:
                    self._abort = True
                    self._cond.notify_all()
                self._sender.join(timeout=1.0)
                stuck = self._sender.is_alive()
        if self._receiver is not None and not self._receiver.join(0.5):
            log.info("receive thread is still in a long poll; it exits when the poll returns")
        self.outbox.close()
        if stuck:
            raise ThreadStuck(
                "iotcs-send did not stop within "
                f"{timeout_s + 1.5:.1f} s (blocked in the transport); unsent messages stay in "
                f"{self.outbox.path}"
            )

    def __enter__(self) -> MessageDispatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self._started:
            state = f"running, {len(self.outbox)} queued"
        else:
            state = "not started"
        return f"<MessageDispatcher {state}>"

    # -- MessageSink -------------------------------------------------------------------------

    def offer(
        self, messages: Sequence[Message], on_error: DeliveryErrorHandler | None = None
    ) -> None:
        """Queue ``messages`` durably; returns once the outbox holds them (SIGKILL-safe).

        Raises :class:`QueueFullError` when the overflow policy refuses them (none queued),
        :class:`~iotcs_hw.errors.MessageFormatError` for a message above the size bound and
        :class:`DeviceClosed` after :meth:`close`.  ``on_error(messages, exc)`` runs on the
        sender thread if they finally fail or are evicted by the overflow policy.
        """
        if self._closed:
            raise DeviceClosed(f"{self!r} is closed")
        if not messages:
            return
        result = self.outbox.add(messages)
        urgent = any(m.type in (MessageType.ALERT, MessageType.RESPONSE) for m in messages)
        with self._cond:
            if on_error is not None:
                for seq in result.seqs:
                    self._handlers[seq] = on_error
            if result.evicted:
                self._reports.append(
                    (result.evicted, QueueFullError("dropped by the outbox overflow policy"))
                )
            if urgent:
                self._force = True
            self._cond.notify_all()

    def wait_for_empty(self, timeout: float) -> bool:
        """Wait (real time) until every queued message is settled; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or (len(self.outbox) == 0 and not self._sending),
                timeout=timeout,
            )

    # -- capabilities ------------------------------------------------------------------------

    def counters_snapshot(self) -> CounterSnapshot:
        """All delivery counters at once."""
        return self.counters.snapshot()

    def reset_counters(self) -> None:
        """Zero the counters (the ``message_dispatcher/reset`` capability)."""
        self.counters.reset()

    @property
    def polling_interval_s(self) -> float:
        """Seconds between polls when long polling is off."""
        return self._polling_interval_s

    @polling_interval_s.setter
    def polling_interval_s(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"polling interval must be > 0 s, got {value}")
        self._polling_interval_s = value
        if self._receiver is not None:
            self._receiver.polling_interval_s = value

    # -- sender ------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            try:
                work = self._wait_for_work()
                if work is None:
                    return
                self._send_batch(work)
            except DeviceClosed:
                return
            except Exception:
                log.exception("iotcs-send: unexpected error; continuing")
                with self._cond:
                    self._sending = False
                    self._gate = self.clock.monotonic() + self._send_backoff.base_s
            finally:
                self._deliver_reports()

    def _wait_for_work(self) -> int | None:
        """Block until a batch is due; returns its size limit, or None to stop."""
        with self._cond:
            while True:
                if self._reports:
                    return 0
                now = self.clock.monotonic()
                if self._abort:
                    return None
                if self._stopping and (
                    len(self.outbox) == 0
                    or (self._flush_deadline is not None and now >= self._flush_deadline)
                ):
                    return None
                deadline: float | None
                if now < self._gate:
                    # Backing off: look at the table only for an ALERT/RESPONSE that forces an
                    # early send (next_due() scans it; an outage can leave thousands of rows).
                    if self._force:
                        self._force = False
                        if self.outbox.next_due() is not None:
                            self._sending = True
                            return FORCED_BATCH_MESSAGES
                    deadline = self._gate
                elif (due := self.outbox.next_due()) is not None and due <= now:
                    self._force = False
                    self._sending = True
                    return self._batch_limit
                else:
                    self._force = False
                    deadline = due
                    self._cond.notify_all()  # wake wait_for_empty: nothing is due now
                if self._stopping and self._flush_deadline is not None:
                    deadline = (
                        self._flush_deadline
                        if deadline is None
                        else min(deadline, self._flush_deadline)
                    )
                self.clock.wait_until(self._cond, deadline)

    def _send_batch(self, limit: int) -> None:
        if limit == 0:
            return  # only reports to deliver
        now = self.clock.monotonic()
        batch = self.outbox.take(now, limit, self.max_batch_bytes)
        if not batch:
            with self._cond:
                self._sending = False
            return
        body = b"[" + b",".join(entry.body for entry in batch) + b"]"
        # Requests come on long polls (as Java does), or piggybacked when polling is periodic.
        piggyback = self._receiver is not None and self.long_poll_s is None
        accept = self._receiver.accept_bytes() if piggyback and self._receiver else 0
        try:
            reply = self.transport.send_messages(body, accept_bytes=accept)
        except SecurityException as exc:
            log.error("sending %d messages failed on security, not retrying: %s", len(batch), exc)
            self._settle_failed(batch, exc)
        except TransportException as exc:
            self._settle_transport_error(batch, exc)
        except ProtocolError as exc:
            # The server answered something we cannot read; it may or may not have stored the
            # batch.  Sending it again is the safe side (the server sees the clientIds twice).
            self.counters.add(protocol_errors=1)
            log.warning("malformed answer to a send of %d messages: %s", len(batch), exc)
            self._retry(batch, exc, FailureKind.NETWORK)
        except Exception as exc:
            log.exception("transport raised an unexpected error; treating it as a network error")
            self._retry(batch, exc, FailureKind.NETWORK)
        else:
            self.outbox.ack(batch)
            self._send_backoff.reset()
            with self._cond:
                self._gate = 0.0
                self._batch_limit = min(self.max_batch_messages, self._batch_limit * 2)
                for entry in batch:
                    self._handlers.pop(entry.seq, None)
            count_unreadable(self.counters, reply)
            if self._receiver is not None:
                self._receiver.send_succeeded()
                if reply.messages or reply.min_accept_bytes is not None:
                    self._receiver.buffer(reply)
            elif reply.messages:
                log.warning(
                    "%d requests came with no request dispatcher; dropped", len(reply.messages)
                )
        finally:
            with self._cond:
                self._sending = False
                self._cond.notify_all()
        self.outbox.checkpoint()

    def _settle_transport_error(self, batch: list[OutboxEntry], exc: TransportException) -> None:
        status = exc.statusCode
        if status in (503, 429):
            log.warning("server busy (%s); backing off %d messages", status, len(batch))
            self._retry(batch, exc, FailureKind.OVERLOADED, outage=True)
        elif status is None:
            log.warning("server unreachable (%s); will retry %d messages", exc, len(batch))
            self._retry(batch, exc, FailureKind.NETWORK, outage=True)
        elif status >= 500:
            log.warning("send of %d messages failed (%s); will retry", len(batch), exc)
            self._retry(batch, exc, FailureKind.NETWORK)
        elif status in (401, 403):
            log.error("server refused our credentials (%s); not retrying", status)
            self._settle_failed(batch, exc)
        elif len(batch) > 1:
            # One bad message must not sink its neighbours: resend in halves.
            with self._cond:
                self._batch_limit = max(1, len(batch) // 2)
            log.warning("server rejected a batch of %d (%s); resending in halves", len(batch), exc)
            self.outbox.release(batch)
        else:
            log.error("server rejected message %s (%s); giving up", batch[0].client_id, exc)
            self._settle_failed(batch, exc)

    def _retry(
        self, batch: list[OutboxEntry], exc: Exception, kind: FailureKind, *, outage: bool = False
    ) -> None:
        """Schedule ``batch`` again after the backoff; messages out of retries fail.

        ``outage`` (no answer at all, or 503/429) is not the messages' fault: it spends no
        retry, so an outage of any length loses nothing; the outbox's size bound and overflow
        policy are what limit a backlog.  Retries are spent only when the server answered the
        batch with an error.
        """
        delay = self._send_backoff.next_delay(kind)
        now = self.clock.monotonic()
        retry: list[OutboxEntry] = []
        dead: list[OutboxEntry] = []
        for entry in batch:
            if outage:
                retry.append(entry)
                continue
            event = after_failure(entry.reliability, entry.attempts, self.base_retries)
            (retry if event is MessageEvent.RETRY else dead).append(entry)
        if retry:
            self.outbox.retry(retry, now + delay, count_attempt=not outage)
        if dead:
            log.warning("%d messages ran out of retries: %s", len(dead), exc)
            self._settle_failed(dead, exc)
        with self._cond:
            self._gate = now + delay

    def _settle_failed(self, entries: list[OutboxEntry], exc: Exception) -> None:
        self.outbox.fail(entries)
        with self._cond:
            self._reports.append((entries, exc))

    def _deliver_reports(self) -> None:
        """Call ``on_error`` handlers for failed and evicted messages (sender thread, no lock)."""
        while True:
            with self._cond:
                if not self._reports:
                    return
                entries, exc = self._reports.popleft()
                groups: dict[int, tuple[DeliveryErrorHandler, list[OutboxEntry]]] = {}
                orphans: list[OutboxEntry] = []
                for entry in entries:
                    handler = self._handlers.pop(entry.seq, None)
                    if handler is None:
                        orphans.append(entry)
                    else:
                        groups.setdefault(id(handler), (handler, []))[1].append(entry)
            if orphans:
                log.error(
                    "%d messages not delivered (%s: %s), no on_error handler: %s",
                    len(orphans),
                    type(exc).__name__,
                    exc,
                    ", ".join(e.client_id for e in orphans[:10]),
                )
            for handler, group in groups.values():
                try:
                    handler([entry.message() for entry in group], exc)
                except Exception:
                    log.exception("on_error handler %r raised; ignored", handler)

    # -- receiver ----------------------------------------------------------------------------

    def _respond(self, response: Message) -> None:
        """Queue a RESPONSE (the receiver's way back); it sorts ahead of everything."""
        self.offer([response])
