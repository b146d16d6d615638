"""The sender: batching, order, retries and backoff on a fake clock, failures, close/restart."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from iotcs_hw.errors import (
    DeviceClosed,
    QueueFullError,
    SecurityException,
    TransportException,
)
from iotcs_hw.messaging import Message, Priority, Reliability, alert_message
from iotcs_hw.transport.backoff import Backoff
from iotcs_hw.transport.base import TransportReply
from iotcs_hw.transport.clock import FakeClock
from iotcs_hw.transport.dispatcher import MessageDispatcher, ThreadStuck
from iotcs_hw.transport.fake import FakeTransport, SentRequest
from iotcs_hw.transport.outbox import Outbox

from .conftest import ENDPOINT, make_data, numbers

GD = Reliability.GUARANTEED_DELIVERY
NG = Reliability.NO_GUARANTEE
WAIT = 10.0  # real-time bound for waits that normally end in milliseconds


class ErrorLog:
    """Collects on_error calls (they run on the sender thread)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Message], Exception]] = []
        self.event = threading.Event()

    def __call__(self, messages: Sequence[Message], exc: Exception) -> None:
        self.calls.append((list(messages), exc))
        self.event.set()


class Blocker:
    """A scripted outcome that holds a send until released, so offers pile up meanwhile."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, request: SentRequest) -> TransportReply:
        assert self.release.wait(WAIT)
        return TransportReply(200)


@pytest.fixture
def make_dispatcher(
    outbox_path: Path, transport: FakeTransport, clock: FakeClock
) -> Iterator[Callable[..., MessageDispatcher]]:
    made: list[MessageDispatcher] = []

    def make(**options: object) -> MessageDispatcher:
        box_options = {k: options.pop(k) for k in ("max_messages",) if k in options}
        box = Outbox(outbox_path, **box_options)  # type: ignore[arg-type]
        options.setdefault("clock", clock)
        dispatcher = MessageDispatcher(transport, box, **options)  # type: ignore[arg-type]
        made.append(dispatcher)
        return dispatcher.start()

    yield make
    for dispatcher in made:
        dispatcher.close(timeout_s=0)


def test_offers_made_during_a_send_travel_together_in_order(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    blocker = Blocker()
    transport.script(blocker)
    d = make_dispatcher()
    d.offer([make_data(0)])
    assert transport.wait_for_calls(1, WAIT)
    for start in range(1, 501, 10):
        d.offer([make_data(n) for n in range(start, start + 10)])
    blocker.release.set()
    assert d.wait_for_empty(WAIT)
    assert [numbers(r.messages) for r in transport.history] == [[0], list(range(1, 501))]
    assert d.counters_snapshot().messages_sent == 501


def test_batches_go_highest_priority_first(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    blocker = Blocker()
    transport.script(blocker)
    d = make_dispatcher()
    d.offer([make_data(0)])
    assert transport.wait_for_calls(1, WAIT)
    d.offer([make_data(1, priority=Priority.LOW), make_data(2, priority=Priority.LOWEST)])
    d.offer([make_data(3, priority=Priority.HIGHEST), make_data(4, priority=Priority.MEDIUM)])
    blocker.release.set()
    assert d.wait_for_empty(WAIT)
    assert numbers(transport.history[1].messages) == [3, 4, 1, 2]


def test_batch_size_is_bounded_by_count_and_bytes(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    blocker = Blocker()
    transport.script(blocker)
    size = len(make_data(1).encode())
    d = make_dispatcher(max_batch_messages=10, max_batch_bytes=4 * size)
    d.offer([make_data(0)])
    assert transport.wait_for_calls(1, WAIT)
    d.offer([make_data(n) for n in range(1, 11)])
    blocker.release.set()
    assert d.wait_for_empty(WAIT)
    assert [len(r.messages) for r in transport.history] == [1, 4, 4, 2]


def test_503_backs_off_by_fibonacci_on_the_clock(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script(503, 503, 503, 503, 200)
    d = make_dispatcher(backoff=Backoff(base_s=2.0))
    start = clock.monotonic()
    d.offer([make_data(1)])
    waits = []
    for calls in range(1, 5):
        assert transport.wait_for_calls(calls, WAIT)
        deadline = clock.wait_for_sleeper("iotcs-send")
        assert deadline is not None
        waits.append(deadline - clock.monotonic())
        assert len(transport.history) == calls  # nothing is sent before the deadline
        clock.advance(deadline - clock.monotonic())
    assert d.wait_for_empty(WAIT)
    assert waits == [2.0, 2.0, 4.0, 6.0]
    assert clock.monotonic() - start == 14.0
    snap = d.counters_snapshot()
    assert (snap.messages_sent, snap.messages_retried, snap.messages_failed) == (1, 4, 0)


def test_network_errors_back_off_by_a_constant(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    refused = TransportException("connection refused")
    transport.script(refused, refused, TransportException("gateway", statusCode=502), 200)
    d = make_dispatcher(backoff=Backoff(base_s=1.5))
    d.offer([make_data(1, reliability=GD)])
    waits = []
    for calls in range(1, 4):
        assert transport.wait_for_calls(calls, WAIT)
        deadline = clock.wait_for_sleeper("iotcs-send")
        assert deadline is not None
        waits.append(deadline - clock.monotonic())
        clock.advance(deadline - clock.monotonic())
    assert d.wait_for_empty(WAIT)
    assert waits == [1.5, 1.5, 1.5]
    assert numbers(transport.delivered) == [1]


def test_no_guarantee_gives_up_after_its_retries_and_reports(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script(500, 500, 500)
    errors = ErrorLog()
    d = make_dispatcher(base_retries=1, backoff=Backoff(base_s=1.0))
    d.offer([make_data(1, reliability=NG)], on_error=errors)
    assert transport.wait_for_calls(1, WAIT)
    assert clock.wait_for_sleeper("iotcs-send") == clock.monotonic() + 1.0
    clock.advance(1.0)
    assert errors.event.wait(WAIT)
    [(messages, exc)] = errors.calls
    assert numbers(messages) == [1]
    assert isinstance(exc, TransportException)
    assert exc.statusCode == 500
    assert len(transport.history) == 2
    assert d.wait_for_empty(WAIT)
    snap = d.counters_snapshot()
    assert (snap.messages_failed, snap.messages_retried, snap.messages_sent) == (1, 1, 0)


def test_best_effort_gets_twice_as_many_tries(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script(*[TransportException("server error", statusCode=500)] * 10)
    errors = ErrorLog()
    d = make_dispatcher(base_retries=2, backoff=Backoff(base_s=1.0))
    d.offer([make_data(1)], on_error=errors)
    for calls in range(1, 5):
        assert transport.wait_for_calls(calls, WAIT)
        assert clock.wait_for_sleeper("iotcs-send") == clock.monotonic() + 1.0
        clock.advance(1.0)
    assert errors.event.wait(WAIT)
    assert len(transport.history) == 5  # 1 + 2 x 2 retries


def test_outages_spend_no_retries(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    """No answer at all, or 503: not the message's fault; even NO_GUARANTEE survives it."""
    failures: list[object] = [TransportException("down")] * 4 + [503] * 4
    transport.script(*failures)
    errors = ErrorLog()
    d = make_dispatcher(base_retries=1, backoff=Backoff(base_s=1.0, max_delay_s=1.0))
    d.offer([make_data(1, reliability=NG)], on_error=errors)
    for calls in range(1, len(failures) + 1):
        assert transport.wait_for_calls(calls, WAIT)
        clock.advance(clock.wait_for_sleeper("iotcs-send") - clock.monotonic())
    assert d.wait_for_empty(WAIT)
    assert errors.calls == []
    assert len(transport.history) == len(failures) + 1
    snap = d.counters_snapshot()
    assert (snap.messages_failed, snap.messages_sent) == (0, 1)


def test_guaranteed_delivery_is_retried_until_it_gets_through(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script(*[503] * 12, 200)
    d = make_dispatcher(base_retries=0, backoff=Backoff(base_s=1.0, max_delay_s=5.0))
    d.offer([make_data(1, reliability=GD)])
    for calls in range(1, 13):
        assert transport.wait_for_calls(calls, WAIT)
        deadline = clock.wait_for_sleeper("iotcs-send")
        assert deadline is not None
        assert deadline - clock.monotonic() <= 5.0
        clock.advance(deadline - clock.monotonic())
    assert d.wait_for_empty(WAIT)
    assert numbers(transport.delivered) == [1]


def test_security_errors_are_reported_and_never_retried(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport.script(SecurityException("token refused after refresh"))
    errors = ErrorLog()
    d = make_dispatcher()
    with caplog.at_level(logging.ERROR, logger="iotcs_hw.transport.dispatcher"):
        d.offer([make_data(1, reliability=GD), make_data(2)], on_error=errors)
        assert errors.event.wait(WAIT)
        assert d.wait_for_empty(WAIT)
    [(messages, exc)] = errors.calls
    assert numbers(messages) == [1, 2]
    assert isinstance(exc, SecurityException)
    assert len(transport.history) == 1
    assert "failed on security, not retrying" in caplog.text
    assert d.counters_snapshot().messages_failed == 2


def test_a_rejected_batch_is_split_until_only_the_bad_message_fails(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    def reject_five(request: SentRequest) -> TransportReply:
        if 5 in numbers(request.messages):
            raise TransportException("400 bad message", statusCode=400)
        return TransportReply(200)

    blocker = Blocker()
    transport.script(blocker, *[reject_five] * 20)
    errors = ErrorLog()
    d = make_dispatcher()
    d.offer([make_data(0)])
    assert transport.wait_for_calls(1, WAIT)
    d.offer([make_data(n) for n in range(1, 9)], on_error=errors)
    blocker.release.set()
    assert errors.event.wait(WAIT)
    assert d.wait_for_empty(WAIT)
    assert sorted(numbers(transport.delivered)) == [0, 1, 2, 3, 4, 6, 7, 8]
    [(messages, exc)] = errors.calls
    assert numbers(messages) == [5]
    assert isinstance(exc, TransportException)
    assert exc.statusCode == 400


def test_an_alert_forces_an_early_send_during_a_backoff(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script(503)
    d = make_dispatcher(backoff=Backoff(base_s=60.0))
    d.offer([make_data(1)])
    assert transport.wait_for_calls(1, WAIT)
    assert clock.wait_for_sleeper("iotcs-send") == clock.monotonic() + 60.0
    alert = alert_message(ENDPOINT, "urn:test:alert", {"t": 99})
    d.offer([alert])
    assert transport.wait_for_delivered(1, WAIT)
    assert [m.client_id for m in transport.delivered] == [alert.client_id]
    assert clock.wait_for_sleeper("iotcs-send") == clock.monotonic() + 60.0  # DATA still waits
    clock.advance(60.0)
    assert d.wait_for_empty(WAIT)
    assert numbers(transport.delivered[1:]) == [1]


def test_overflow_evictions_reach_on_error(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script(503)
    errors = ErrorLog()
    d = make_dispatcher(max_messages=3)
    d.offer([make_data(1)])
    assert transport.wait_for_calls(1, WAIT)
    assert clock.wait_for_sleeper("iotcs-send") == clock.monotonic() + 1.0  # 1 awaits a retry
    d.offer([make_data(2), make_data(3)], on_error=errors)
    d.offer([make_data(4), make_data(5)])  # evicts the two oldest: 1 (no handler) and 2
    assert errors.event.wait(WAIT)
    [(messages, exc)] = errors.calls
    assert numbers(messages) == [2]
    assert isinstance(exc, QueueFullError)
    assert d.counters_snapshot().messages_dropped == 2
    clock.advance(1.0)
    assert d.wait_for_empty(WAIT)
    assert sorted(numbers(transport.delivered)) == [3, 4, 5]


def test_a_full_outbox_refuses_guaranteed_messages(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    blocker = Blocker()
    transport.script(blocker)
    d = make_dispatcher(max_messages=2)
    d.offer([make_data(1, reliability=GD)])
    assert transport.wait_for_calls(1, WAIT)
    d.offer([make_data(2, reliability=GD)])
    with pytest.raises(QueueFullError):
        d.offer([make_data(3, reliability=GD)])
    blocker.release.set()
    assert d.wait_for_empty(WAIT)
    assert numbers(transport.delivered) == [1, 2]


def test_a_raising_on_error_handler_does_not_stop_the_sender(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    called = threading.Event()

    def explode(messages: Sequence[Message], exc: Exception) -> None:
        called.set()
        raise RuntimeError("handler bug")

    transport.script(SecurityException("no"))
    d = make_dispatcher()
    d.offer([make_data(1)], on_error=explode)
    assert called.wait(WAIT)
    d.offer([make_data(2)])
    assert transport.wait_for_delivered(1, WAIT)
    assert numbers(transport.delivered) == [2]
    assert "on_error handler" in caplog.text


def test_close_keeps_unsent_rows_and_the_next_start_drains_them_first(
    outbox_path: Path, clock: FakeClock
) -> None:
    down = FakeTransport()
    down.script(*[TransportException("down")] * 5)
    first = MessageDispatcher(down, Outbox(outbox_path), clock=clock).start()
    first.offer([make_data(n, reliability=GD) for n in range(5)])
    assert down.wait_for_calls(1, WAIT)
    first.close(timeout_s=0)
    assert "closed" in repr(first)
    up = FakeTransport()
    second = MessageDispatcher(up, Outbox(outbox_path), clock=clock)
    assert repr(second) == "<MessageDispatcher not started>"
    second.start()
    try:
        assert second.wait_for_empty(WAIT)
        assert numbers(up.delivered) == [0, 1, 2, 3, 4]
    finally:
        second.close()
        up.close()


def test_close_flushes_what_it_can_within_its_bound(
    outbox_path: Path, transport: FakeTransport
) -> None:
    blocker = Blocker()
    transport.script(blocker)
    d = MessageDispatcher(transport, Outbox(outbox_path)).start()
    d.offer([make_data(1)])
    assert transport.wait_for_calls(1, WAIT)
    d.offer([make_data(2)])
    blocker.release.set()
    d.close(timeout_s=5.0)
    assert numbers(transport.delivered) == [1, 2]
    with Outbox(outbox_path) as box:
        assert len(box) == 0


def test_threads_are_named_and_stop_on_close(
    make_dispatcher: Callable[..., MessageDispatcher], outbox_path: Path
) -> None:
    d = MessageDispatcher(FakeTransport(), Outbox(outbox_path)).start()
    assert "iotcs-send" in {t.name for t in threading.enumerate()}
    assert repr(d) == "<MessageDispatcher running, 0 queued>"
    d.close()
    d.close()
    assert "iotcs-send" not in {t.name for t in threading.enumerate()}
    with pytest.raises(DeviceClosed, match="is closed"):
        d.offer([make_data(1)])
    with pytest.raises(DeviceClosed):
        d.start()


def test_wait_for_empty_times_out_while_the_server_is_down(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    transport.script(503)
    d = make_dispatcher()
    d.offer([make_data(1)])
    assert d.wait_for_empty(0.05) is False


def test_constructor_validates_its_bounds(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="max_batch_messages and max_batch_bytes must be >= 1"):
        MessageDispatcher(FakeTransport(), outbox, max_batch_messages=0)
    with pytest.raises(ValueError, match="long_poll_s must be > 0 or None, got 0"):
        MessageDispatcher(FakeTransport(), outbox, long_poll_s=0)


def test_close_raises_when_the_sender_is_stuck_in_the_transport(
    outbox_path: Path, transport: FakeTransport
) -> None:
    blocker = Blocker()
    transport.script(blocker)
    d = MessageDispatcher(transport, Outbox(outbox_path)).start()
    d.offer([make_data(1)])
    assert transport.wait_for_calls(1, WAIT)
    try:
        with pytest.raises(ThreadStuck, match="iotcs-send did not stop within"):
            d.close(timeout_s=0.1)
    finally:
        blocker.release.set()
    with Outbox(outbox_path) as box:
        assert numbers(box.pending()) == [1]  # the batch in flight stays for the next start


def test_without_a_request_dispatcher_sends_ask_for_no_requests(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    d = make_dispatcher(long_poll_s=None)
    d.offer([make_data(1)])
    assert d.wait_for_empty(WAIT)
    assert [(r.accept_bytes, r.is_poll) for r in transport.history] == [(0, False)]
