"""The fake transport is a backend like HTTPS: its scripting, history and hand-out rules."""

from __future__ import annotations

import threading

import pytest

from iotcs_hw.errors import SecurityException, TransportException
from iotcs_hw.messaging import Message, MessageType
from iotcs_hw.transport.base import TransportReply
from iotcs_hw.transport.fake import FakeTransport, SentRequest

from .conftest import ENDPOINT, make_data, numbers


def body(*messages: Message) -> bytes:
    return ("[" + ",".join(m.encode() for m in messages) + "]").encode()


def request_for(device: str, n: int) -> Message:
    return Message(
        type=MessageType.REQUEST,
        source="server",
        destination=device,
        id=f"req-{n}",
        payload={"method": "GET", "url": f"x/{n}", "headers": {}, "body": ""},
    )


def test_unscripted_sends_are_acknowledged_and_recorded(transport: FakeTransport) -> None:
    sent = body(make_data(1), make_data(2))
    reply = transport.send_messages(sent, accept_bytes=0)
    assert reply == TransportReply(200, [], None)
    assert numbers(transport.delivered) == [1, 2]
    assert transport.history == [SentRequest(sent, 0, None)]
    assert transport.sends == transport.history
    assert transport.polls == []


def test_scripted_outcomes_apply_in_order_to_sends_only(transport: FakeTransport) -> None:
    transport.script(503, SecurityException("bad token"), 202, TransportReply(201))
    with pytest.raises(TransportException) as info:
        transport.send_messages(body(make_data(1)), accept_bytes=0)
    assert info.value.statusCode == 503
    assert transport.send_messages(b"[]", accept_bytes=10).status == 200  # polls skip the script
    with pytest.raises(SecurityException, match="bad token"):
        transport.send_messages(body(make_data(2)), accept_bytes=0)
    assert transport.send_messages(body(make_data(3)), accept_bytes=0).status == 202
    assert transport.send_messages(body(make_data(4)), accept_bytes=0).status == 201
    assert numbers(transport.delivered) == [3, 4]
    assert [len(r.messages) for r in transport.history] == [1, 0, 1, 1, 1]


def test_callable_outcome_sees_the_request(transport: FakeTransport) -> None:
    seen: list[SentRequest] = []

    def answer(request: SentRequest) -> TransportReply:
        seen.append(request)
        return TransportReply(200)

    transport.script(answer)
    transport.send_messages(body(make_data(7)), accept_bytes=5)
    assert numbers(seen[0].messages) == [7]
    assert seen[0].accept_bytes == 5


def test_pushed_requests_are_handed_out_once_within_accept_bytes(
    transport: FakeTransport,
) -> None:
    first, second = request_for(ENDPOINT, 1), request_for(ENDPOINT, 2)
    transport.push(first, second)
    one = len(first.encode())
    reply = transport.send_messages(b"[]", accept_bytes=one + 2)
    assert [m.id for m in reply.messages] == ["req-1"]
    too_small = transport.send_messages(b"[]", accept_bytes=10)
    assert too_small.messages == []
    assert too_small.min_accept_bytes == len(second.encode()) + 2
    assert [m.id for m in transport.send_messages(b"[]", accept_bytes=4190).messages] == ["req-2"]
    assert transport.send_messages(b"[]", accept_bytes=4190).messages == []


def test_long_poll_is_held_until_a_request_is_pushed(transport: FakeTransport) -> None:
    replies: list[TransportReply] = []
    poller = threading.Thread(
        target=lambda: replies.append(
            transport.send_messages(b"[]", accept_bytes=4190, long_poll_s=30)
        )
    )
    poller.start()
    assert transport.wait_for_calls(1, timeout=5)
    assert replies == []
    transport.push(request_for(ENDPOINT, 9))
    poller.join(5)
    assert [m.id for m in replies[0].messages] == ["req-9"]


def test_long_poll_expires_empty(transport: FakeTransport) -> None:
    assert transport.send_messages(b"[]", accept_bytes=4190, long_poll_s=0.01).messages == []


def test_close_wakes_a_held_poll_and_refuses_calls(transport: FakeTransport) -> None:
    errors: list[Exception] = []

    def poll() -> None:
        try:
            transport.send_messages(b"[]", accept_bytes=4190, long_poll_s=30)
        except TransportException as exc:
            errors.append(exc)

    poller = threading.Thread(target=poll)
    poller.start()
    assert transport.wait_for_calls(1, timeout=5)
    transport.close()
    poller.join(5)
    assert not poller.is_alive()
    assert "closed during a long poll" in str(errors[0])
    with pytest.raises(TransportException, match="fake transport is closed"):
        transport.send_messages(b"[]", accept_bytes=0)


def test_wait_for_delivered_times_out(transport: FakeTransport) -> None:
    assert transport.wait_for_delivered(1, timeout=0.01) is False
