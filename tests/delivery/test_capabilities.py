"""The §6.6 capability handlers, answered through a real dispatcher on the fake transport."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from iotcs_hw.messaging import Message, MessageType, Priority, Request, RequestDispatcher
from iotcs_hw.transport.capabilities import (
    COUNTERS_PATH,
    INFO_PATH,
    POLLING_INTERVAL_PATH,
    RESET_PATH,
    TEST_CONNECTIVITY_PATH,
    TEST_MESSAGE_FORMAT,
    Capabilities,
    primary_mac_address,
)
from iotcs_hw.transport.clock import FakeClock
from iotcs_hw.transport.dispatcher import MessageDispatcher
from iotcs_hw.transport.fake import FakeTransport
from iotcs_hw.transport.outbox import Outbox

from .conftest import ENDPOINT, make_data

WAIT = 10.0


@pytest.fixture
def setup(
    outbox_path: Path, transport: FakeTransport, clock: FakeClock
) -> Iterator[tuple[MessageDispatcher, RequestDispatcher, Capabilities]]:
    requests = RequestDispatcher()
    dispatcher = MessageDispatcher(
        transport, Outbox(outbox_path), requests=requests, clock=clock, long_poll_s=30.0
    )
    caps = Capabilities(
        ENDPOINT, dispatcher, state_dir=outbox_path.parent, clock=clock, start_time_ms=1234
    )
    caps.register(requests)
    dispatcher.start()
    yield dispatcher, requests, caps
    caps.close()
    transport.close()
    dispatcher.close(timeout_s=0)


def call(requests: RequestDispatcher, method: str, path: str, body: object = None) -> tuple:
    raw = b"" if body is None else json.dumps(body).encode()
    answer = requests.dispatch(Request("r", ENDPOINT, method, path, raw))
    try:
        decoded = json.loads(answer.body)
    except ValueError:
        decoded = answer.body.decode()
    return answer.status, decoded


def test_counters_over_the_wire_then_reset(
    setup: tuple[MessageDispatcher, RequestDispatcher, Capabilities], transport: FakeTransport
) -> None:
    dispatcher, requests, _ = setup
    dispatcher.offer([make_data(1), make_data(2)])
    assert dispatcher.wait_for_empty(WAIT)
    request = Message(
        type=MessageType.REQUEST,
        source="server-app",
        destination=ENDPOINT,
        id="counters-1",
        payload={"method": "GET", "url": COUNTERS_PATH, "headers": {}, "body": ""},
    )
    transport.push(request)
    assert transport.wait_for_delivered(3, WAIT)
    [response] = [m for m in transport.delivered if m.type is MessageType.RESPONSE]
    assert response.payload["statusCode"] == 200
    counters = json.loads(base64.b64decode(response.payload["body"]))
    sent_bytes = sum(len(m.encode()) for m in transport.delivered[:2])
    assert counters == {
        "totalMessagesSent": 2,
        "totalMessagesReceived": 1,
        "totalMessagesRetried": 0,
        "totalBytesSent": sent_bytes,
        "totalBytesReceived": len(request.encode()),
        "totalProtocolErrors": 0,
        "totalMessagesDropped": 0,
        "totalMessagesFailed": 0,
    }
    assert call(requests, "PUT", RESET_PATH) == (200, "OK")
    status, after = call(requests, "GET", COUNTERS_PATH)
    assert status == 200
    assert after["totalMessagesSent"] == 0
    assert after["totalMessagesReceived"] == 0


def test_wrong_method_is_405(
    setup: tuple[MessageDispatcher, RequestDispatcher, Capabilities],
) -> None:
    _, requests, _ = setup
    assert call(requests, "PUT", COUNTERS_PATH) == (405, "PUT not allowed; use GET")
    assert call(requests, "GET", RESET_PATH) == (405, "GET not allowed; use PUT")


def test_polling_interval_get_and_put(
    setup: tuple[MessageDispatcher, RequestDispatcher, Capabilities],
) -> None:
    dispatcher, requests, _ = setup
    assert call(requests, "GET", POLLING_INTERVAL_PATH) == (200, {"pollingInterval": 3000})
    assert call(requests, "PUT", POLLING_INTERVAL_PATH, {"pollingInterval": 1500}) == (
        200,
        {"pollingInterval": 1500},
    )
    assert dispatcher.polling_interval_s == 1.5
    assert call(requests, "PUT", POLLING_INTERVAL_PATH, {"pollingInterval": 0}) == (
        400,
        "field 'pollingInterval': 0 is not >= 1",
    )
    assert call(requests, "PUT", POLLING_INTERVAL_PATH, {"pollingInterval": "soon"}) == (
        400,
        "field 'pollingInterval': 'soon' is not an integer",
    )
    raw = requests.dispatch(Request("r", ENDPOINT, "PUT", POLLING_INTERVAL_PATH, b"[1"))
    assert raw.status == 400
    assert raw.body.decode().startswith(f"body of PUT {POLLING_INTERVAL_PATH} is not JSON")
    assert dispatcher.polling_interval_s == 1.5


def test_diagnostics_info(
    setup: tuple[MessageDispatcher, RequestDispatcher, Capabilities],
) -> None:
    _, requests, _ = setup
    status, info = call(requests, "GET", INFO_PATH)
    assert status == 200
    assert set(info) == {
        "freeDiskSpace",
        "totalDiskSpace",
        "ipAddress",
        "macAddress",
        "version",
        "startTime",
    }
    assert 0 < info["freeDiskSpace"] <= info["totalDiskSpace"]
    assert info["startTime"] == 1234
    assert info["version"].startswith("iotcs-hw ")
    assert info["ipAddress"].count(".") == 3


def test_mac_address_skips_loopback(tmp_path: Path) -> None:
    for name, mac in [("lo", "00:00:00:00:00:00"), ("eth0", "b8:27:eb:12:34:56")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "address").write_text(mac + "\n")
    assert primary_mac_address(tmp_path) == "b8:27:eb:12:34:56"
    assert primary_mac_address(tmp_path / "missing") == "00:00:00:00:00:00"


def test_connectivity_test_sends_lowest_priority_messages_on_the_clock(
    setup: tuple[MessageDispatcher, RequestDispatcher, Capabilities],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    _, requests, caps = setup
    status, body = call(
        requests,
        "PUT",
        TEST_CONNECTIVITY_PATH,
        {"active": True, "interval": 500, "size": 8, "count": 3},
    )
    assert status == 200
    assert body["active"] is True
    assert call(
        requests,
        "PUT",
        TEST_CONNECTIVITY_PATH,
        {"active": True, "interval": 1, "size": 1, "count": 1},
    ) == (409, "a connectivity test is already running")
    for sent in (1, 2):
        assert transport.wait_for_delivered(sent, WAIT)
        assert clock.wait_for_sleeper("iotcs-test-connectivity") == clock.monotonic() + 0.5
        clock.advance(0.5)
    assert caps.connectivity.wait_for_done(WAIT)
    assert transport.wait_for_delivered(3, WAIT)
    tests = [m for m in transport.delivered if m.payload.get("format") == TEST_MESSAGE_FORMAT]
    assert [m.payload["data"] for m in tests] == [
        {"count": n, "payload": "********"} for n in (1, 2, 3)
    ]
    assert {m.priority for m in tests} == {Priority.LOWEST}
    assert {m.source for m in tests} == {ENDPOINT}
    assert call(requests, "GET", TEST_CONNECTIVITY_PATH) == (
        200,
        {"active": False, "count": 3, "currentCount": 3, "interval": 500, "size": 8},
    )


def test_connectivity_test_can_be_stopped(
    setup: tuple[MessageDispatcher, RequestDispatcher, Capabilities],
    transport: FakeTransport,
) -> None:
    _, requests, _ = setup
    call(
        requests,
        "PUT",
        TEST_CONNECTIVITY_PATH,
        {"active": True, "interval": 60_000, "size": 0, "count": 100},
    )
    assert transport.wait_for_delivered(1, WAIT)
    status, body = call(requests, "PUT", TEST_CONNECTIVITY_PATH, {"active": False})
    assert status == 200
    assert (body["active"], body["currentCount"]) == (False, 1)


def test_connectivity_test_validates_its_body(
    setup: tuple[MessageDispatcher, RequestDispatcher, Capabilities],
) -> None:
    _, requests, _ = setup
    assert call(requests, "PUT", TEST_CONNECTIVITY_PATH, {"active": "yes"}) == (
        400,
        "field 'active': 'yes' is not true or false",
    )
    assert call(
        requests,
        "PUT",
        TEST_CONNECTIVITY_PATH,
        {"active": True, "interval": 10, "size": 10**6, "count": 1},
    ) == (400, "field 'size': 1000000 is not in 0..65536")
    status, text = call(requests, "PUT", TEST_CONNECTIVITY_PATH, [1, 2])
    assert status == 400
    assert "must be a JSON object" in text
