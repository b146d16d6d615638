"""The receiver: long polls, REQUEST -> handler -> RESPONSE, bad answers, waiting after errors."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from iotcs_hw.errors import MessageFormatError, TransportException
from iotcs_hw.messaging import Message, MessageType, Request, RequestDispatcher, Response
from iotcs_hw.transport.backoff import Backoff
from iotcs_hw.transport.base import TransportReply
from iotcs_hw.transport.clock import FakeClock
from iotcs_hw.transport.dispatcher import MessageDispatcher
from iotcs_hw.transport.fake import FakeTransport, SentRequest
from iotcs_hw.transport.outbox import Outbox

from .conftest import ENDPOINT, URN, make_data, numbers

WAIT = 10.0
ATTR_URL = f"deviceModels/{URN}/attributes/threshold"


def write_request(value: object, n: int = 1, url: str = ATTR_URL) -> Message:
    body = base64.b64encode(json.dumps({"value": value}).encode()).decode()
    return Message(
        type=MessageType.REQUEST,
        source="server-app",
        destination=ENDPOINT,
        id=f"req-{n}",
        payload={"method": "PUT", "url": url, "headers": {}, "params": {}, "body": body},
    )


def responses(transport: FakeTransport) -> list[Message]:
    return [m for m in transport.delivered if m.type is MessageType.RESPONSE]


class Handler:
    """A request handler that records what it saw and answers 200 (400 for non-numbers)."""

    def __init__(self) -> None:
        self.seen: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        value = json.loads(request.body)["value"]
        if not isinstance(value, int | float):
            return Response.error(400, f"threshold: {value!r} is not a number")
        return Response.ok()


@pytest.fixture
def requests_table() -> RequestDispatcher:
    return RequestDispatcher()


@pytest.fixture
def make_dispatcher(
    outbox_path: Path,
    transport: FakeTransport,
    clock: FakeClock,
    requests_table: RequestDispatcher,
) -> Iterator[Callable[..., MessageDispatcher]]:
    made: list[MessageDispatcher] = []

    def make(**options: object) -> MessageDispatcher:
        options.setdefault("clock", clock)
        options.setdefault("long_poll_s", 30.0)
        dispatcher = MessageDispatcher(
            transport,
            Outbox(outbox_path),
            requests=requests_table,
            **options,  # type: ignore[arg-type]
        )
        made.append(dispatcher)
        return dispatcher.start()

    yield make
    transport.close()  # wakes held polls
    for dispatcher in made:
        dispatcher.close(timeout_s=0)


def test_a_cloud_write_reaches_its_handler_and_gets_a_response(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    requests_table: RequestDispatcher,
) -> None:
    handler = Handler()
    requests_table.register(ENDPOINT, ATTR_URL, handler)
    d = make_dispatcher()
    transport.push(write_request(42), write_request("hot", n=2))
    assert transport.wait_for_delivered(2, WAIT)
    assert [json.loads(r.body) for r in handler.seen] == [{"value": 42}, {"value": "hot"}]
    by_request = {r.payload["requestId"]: r for r in responses(transport)}
    assert by_request["req-1"].payload["statusCode"] == 200
    assert by_request["req-2"].payload["statusCode"] == 400
    assert base64.b64decode(by_request["req-2"].payload["body"]) == (
        b"threshold: 'hot' is not a number"
    )
    assert by_request["req-1"].destination == "server-app"
    assert by_request["req-1"].source == ENDPOINT
    poll = transport.polls[0]
    assert (poll.body, poll.accept_bytes, poll.long_poll_s) == (b"[]", 4190, 30.0)
    assert all(s.accept_bytes == 0 for s in transport.sends)  # requests come on long polls
    snap = d.counters_snapshot()
    assert snap.messages_received == 2
    assert snap.bytes_received == sum(len(write_request(v).encode()) for v in (42, "hot"))


def test_an_unknown_path_is_answered_404(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    make_dispatcher()
    transport.push(write_request(1, url=f"deviceModels/{URN}/attributes/nope"))
    assert transport.wait_for_delivered(1, WAIT)
    assert responses(transport)[0].payload["statusCode"] == 404


def test_responses_jump_ahead_of_queued_data(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    requests_table: RequestDispatcher,
) -> None:
    handled = threading.Event()

    def handler(request: Request) -> Response:
        handled.set()
        return Response.ok()

    requests_table.register(ENDPOINT, ATTR_URL, handler)
    release, entered = threading.Event(), threading.Event()

    def hold(request: SentRequest) -> TransportReply:
        entered.set()
        assert release.wait(WAIT)
        return TransportReply(200)

    transport.script(hold)
    d = make_dispatcher()
    d.offer([make_data(0)])
    assert entered.wait(WAIT)
    d.offer([make_data(n) for n in range(1, 50)])
    transport.push(write_request(5))
    assert handled.wait(WAIT)
    assert d.wait_for_empty(0.0) is False
    release.set()
    assert d.wait_for_empty(WAIT)
    second = transport.sends[1].messages
    assert second[0].type is MessageType.RESPONSE
    assert numbers(second[1:]) == list(range(1, 50))


def test_a_malformed_poll_answer_is_counted_and_the_device_keeps_running(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
    requests_table: RequestDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = Handler()
    requests_table.register(ENDPOINT, ATTR_URL, handler)
    transport.script_polls(MessageFormatError("answer is not a JSON array"))
    d = make_dispatcher(backoff=Backoff(base_s=2.0))
    assert clock.wait_for_sleeper("iotcs-receive") == clock.monotonic() + 2.0
    clock.advance(2.0)
    transport.push(write_request(7))
    assert transport.wait_for_delivered(1, WAIT)
    assert [json.loads(r.body) for r in handler.seen] == [{"value": 7}]
    assert d.counters_snapshot().protocol_errors == 1
    assert "malformed answer to a poll: answer is not a JSON array" in caplog.text


def test_a_message_that_is_not_a_request_is_a_protocol_error(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    d = make_dispatcher()
    stray = make_data(1)
    transport.push(stray, write_request(3, n=3))
    assert transport.wait_for_delivered(1, WAIT)
    assert d.counters_snapshot().protocol_errors == 1
    assert responses(transport)[0].payload["requestId"] == "req-3"


def test_a_malformed_request_is_answered_400(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    make_dispatcher()
    bad = Message(
        type=MessageType.REQUEST,
        source="server-app",
        destination=ENDPOINT,
        id="req-bad",
        payload={"method": "PUT", "url": ATTR_URL, "body": "%%% not base64"},
    )
    transport.push(bad)
    assert transport.wait_for_delivered(1, WAIT)
    [response] = responses(transport)
    assert response.payload["statusCode"] == 400
    assert b"not base64" in base64.b64decode(response.payload["body"])


def test_after_a_network_error_the_next_poll_waits_for_a_successful_send(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script_polls(TransportException("connection refused"))
    d = make_dispatcher(backoff=Backoff(base_s=30.0))
    assert clock.wait_for_sleeper("iotcs-receive") == clock.monotonic() + 30.0
    assert len(transport.polls) == 1
    d.offer([make_data(1)])  # succeeds, so the server is back
    assert transport.wait_for_calls(3, WAIT)  # the send, then a new poll without waiting 30 s
    assert [r.is_poll for r in transport.history] == [True, False, True]


def test_after_a_network_error_the_poll_resumes_after_the_backoff(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script_polls(TransportException("connection refused"))
    make_dispatcher(backoff=Backoff(base_s=3.0))
    assert clock.wait_for_sleeper("iotcs-receive") == clock.monotonic() + 3.0
    clock.advance(3.0)
    assert transport.wait_for_calls(2, WAIT)
    assert [r.is_poll for r in transport.history] == [True, True]


def test_without_long_polling_requests_piggyback_on_sends(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
    requests_table: RequestDispatcher,
) -> None:
    handler = Handler()
    requests_table.register(ENDPOINT, ATTR_URL, handler)
    d = make_dispatcher(long_poll_s=None, polling_interval_s=3.0)
    assert transport.wait_for_calls(1, WAIT)  # the first poll, at start
    assert clock.wait_for_sleeper("iotcs-receive") == clock.monotonic() + 3.0
    transport.push(write_request(11, n=11))
    d.offer([make_data(1)])
    assert transport.wait_for_delivered(2, WAIT)  # the DATA, then the RESPONSE
    assert [json.loads(r.body) for r in handler.seen] == [{"value": 11}]
    first_send = transport.sends[0]
    assert first_send.accept_bytes == 4190
    assert transport.polls[0].long_poll_s is None
    assert responses(transport)[0].payload["requestId"] == "req-11"


def test_polling_interval_paces_polls_without_long_polling(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    d = make_dispatcher(long_poll_s=None, polling_interval_s=3.0)
    assert transport.wait_for_calls(1, WAIT)
    assert clock.wait_for_sleeper("iotcs-receive") == clock.monotonic() + 3.0
    clock.advance(3.0)
    assert transport.wait_for_calls(2, WAIT)
    d.polling_interval_s = 0.5
    last_poll = clock.monotonic()
    assert clock.wait_for_sleeper("iotcs-receive", deadline=last_poll + 0.5) == last_poll + 0.5
    with pytest.raises(ValueError, match="polling interval must be > 0 s, got 0"):
        d.polling_interval_s = 0


def test_a_raising_request_handler_answers_500_and_receiving_goes_on(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    requests_table: RequestDispatcher,
) -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("actuator jammed")

    requests_table.register(ENDPOINT, ATTR_URL, broken)
    make_dispatcher()
    transport.push(write_request(1), write_request(2, n=2))
    assert transport.wait_for_delivered(2, WAIT)
    assert [r.payload["statusCode"] for r in responses(transport)] == [500, 500]
    assert base64.b64decode(responses(transport)[0].payload["body"]) == (
        b"RuntimeError: actuator jammed"
    )


def test_the_receive_thread_is_named(
    make_dispatcher: Callable[..., MessageDispatcher], transport: FakeTransport
) -> None:
    make_dispatcher()
    assert transport.wait_for_calls(1, WAIT)
    assert {"iotcs-send", "iotcs-receive"} <= {t.name for t in threading.enumerate()}


def test_a_poll_cut_by_close_is_not_reported_as_a_failure(
    outbox_path: Path,
    transport: FakeTransport,
    requests_table: RequestDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = MessageDispatcher(
        transport, Outbox(outbox_path), requests=requests_table, long_poll_s=30.0
    ).start()
    assert transport.wait_for_calls(1, WAIT)  # the poll is held
    d.close()
    receiver = [t for t in threading.enumerate() if t.name == "iotcs-receive"]
    transport.close()  # the server goes away while the poll is still held
    for thread in receiver:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert "poll failed" not in caplog.text


def test_a_server_that_does_not_hold_polls_does_not_make_the_receiver_spin(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    transport.script_polls(TransportReply(200), TransportReply(200))
    make_dispatcher(polling_interval_s=3.0)
    assert transport.wait_for_calls(1, WAIT)
    assert clock.wait_for_sleeper("iotcs-receive") == clock.monotonic() + 3.0
    assert len(transport.polls) == 1
    clock.advance(3.0)
    assert transport.wait_for_calls(2, WAIT)
    assert clock.wait_for_sleeper("iotcs-receive", deadline=clock.monotonic() + 3.0)


def test_parts_the_transport_skipped_are_counted_as_protocol_errors(
    make_dispatcher: Callable[..., MessageDispatcher],
    transport: FakeTransport,
    requests_table: RequestDispatcher,
) -> None:
    requests_table.register(ENDPOINT, ATTR_URL, Handler())
    transport.script_polls(TransportReply(200, [write_request(1)], protocol_errors=2))
    transport.script(TransportReply(200, protocol_errors=1))
    d = make_dispatcher()
    assert transport.wait_for_delivered(1, WAIT)  # the RESPONSE, on the scripted send
    assert d.wait_for_empty(WAIT)  # the reply to that send is settled too
    assert d.counters_snapshot().protocol_errors == 3
