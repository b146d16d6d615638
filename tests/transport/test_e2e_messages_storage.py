"""The message transport (long polling, acceptBytes) and storage objects over real HTTPS."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iotcs_hw.client import DirectlyConnectedDevice, SyncStatus
from iotcs_hw.errors import DeviceClosed, TransportException
from iotcs_hw.messaging import MessageType, data_message
from iotcs_hw.transport.activation_client import activate_directly
from iotcs_hw.transport.http import HttpSession
from iotcs_hw.transport.http_messages import HttpMessageTransport
from iotcs_hw.transport.storage import SwiftStorageBackend
from iotcs_hw.transport.trusted_assets import TrustedAssetsManager

PASSWORD = "changeit"
THERMO_URN = "urn:test:transport:thermometer"
Provision = Callable[..., Path]
Recorded = Callable[..., list[Any]]

MESSAGES = "/iot/api/v2/messages"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def activated(provision: Provision) -> Iterator[HttpSession]:
    """An activated device's session (no dispatcher running: the test drives the transport)."""
    session = HttpSession(TrustedAssetsManager(provision("M-1"), PASSWORD), timeout_s=10.0)
    activate_directly(session, [THERMO_URN])
    yield session
    session.close()


def test_batch_is_stored_and_reply_is_a_message_list(
    activated: HttpSession, app: Any, cloud: Any, recorded: Recorded
) -> None:
    endpoint = activated.assets.endpoint_id()
    transport = HttpMessageTransport(activated)
    batch = [data_message(endpoint, THERMO_URN + ":attributes", {"temp": t}) for t in (1, 2, 3)]
    body = ("[" + ",".join(m.encode() for m in batch) + "]").encode()
    reply = transport.send_messages(body, accept_bytes=4190)
    assert reply.status in (200, 202)
    assert (reply.messages, reply.min_accept_bytes) == ([], None)
    items, _ = app.messages(endpoint, wait_s=5.0)
    assert [i["message"]["payload"]["data"]["temp"] for i in items] == [1, 2, 3]
    posted = recorded(cloud, lambda r: r.path == MESSAGES)
    assert posted[-1].query == {"acceptBytes": "4190"}
    assert posted[-1].headers["X-EndpointId"] == endpoint


def test_long_poll_returns_a_cloud_write(
    activated: HttpSession, app: Any, cloud: Any, recorded: Recorded
) -> None:
    endpoint = activated.assets.endpoint_id()
    transport = HttpMessageTransport(activated)
    app.write(endpoint, {"setpoint": 19.5}, urn=THERMO_URN)
    started = time.monotonic()
    reply = transport.send_messages(b"[]", accept_bytes=4190, long_poll_s=5.0)
    assert time.monotonic() - started < 5.0
    assert [m.type for m in reply.messages] == [MessageType.REQUEST]
    request = reply.messages[0]
    assert request.destination == endpoint
    assert request.payload["url"] == f"deviceModels/{THERMO_URN}/attributes/setpoint"
    assert json.loads(base64.b64decode(request.payload["body"])) == {"value": 19.5}
    polls = recorded(cloud, lambda r: r.path == MESSAGES)
    assert polls[-1].query == {"acceptBytes": "4190", "iot.sync": "", "iot.timeout": "5"}


def test_long_poll_without_pending_request_returns_empty(activated: HttpSession) -> None:
    transport = HttpMessageTransport(activated)
    started = time.monotonic()
    reply = transport.send_messages(b"[]", accept_bytes=4190, long_poll_s=1.0)
    assert reply.messages == []
    assert 0.5 < time.monotonic() - started < 5.0


def test_request_larger_than_accept_bytes_is_announced(activated: HttpSession, app: Any) -> None:
    endpoint = activated.assets.endpoint_id()
    transport = HttpMessageTransport(activated)
    app.write(endpoint, {"setpoint": 20.0}, urn=THERMO_URN)
    reply = transport.send_messages(b"[]", accept_bytes=10)
    assert reply.messages == []
    assert reply.min_accept_bytes is not None
    assert reply.min_accept_bytes > 10
    fits = transport.send_messages(b"[]", accept_bytes=reply.min_accept_bytes)
    assert [m.type for m in fits.messages] == [MessageType.REQUEST]


def test_503_is_a_transport_exception_with_status(activated: HttpSession, app: Any) -> None:
    app.fail_next(1, 503)
    transport = HttpMessageTransport(activated)
    with pytest.raises(TransportException) as info:
        transport.send_messages(b"[]", accept_bytes=0)
    assert info.value.statusCode == 503
    assert transport.send_messages(b"[]", accept_bytes=0).status in (200, 202)


def test_storage_backend_round_trip(
    activated: HttpSession, tmp_path: Path, cloud: Any, recorded: Recorded
) -> None:
    backend = SwiftStorageBackend(activated)
    source = tmp_path / "reading.csv"
    payload = b"t,v\n" + b"".join(f"{i},{i * 0.5}\n".encode() for i in range(20_000))
    source.write_bytes(payload)
    info = backend.upload("logs/reading.csv", "text/csv", str(source), {"sensor": "t1"}, None)
    endpoint = activated.assets.endpoint_id()
    assert info.uri == f"{cloud.url}/v1/AUTH_iotcs/iotcs/{endpoint}/logs/reading.csv"
    assert info.length == len(payload)
    assert info.content_type == "text/csv"
    assert backend.is_storage_uri(info.uri)
    assert not backend.is_storage_uri("https://example.com/v1/x/y/z")
    put = recorded(cloud, lambda r: r.method == "PUT")[-1]
    assert put.headers.get("Transfer-Encoding") == "chunked"

    head = backend.describe(info.uri)
    assert (head.length, head.content_type, head.date) == (len(payload), "text/csv", info.date)

    target = tmp_path / "out" / "copy.csv"
    got = backend.download(info.uri, str(target))
    assert target.read_bytes() == payload
    assert (got.length, got.content_type) == (len(payload), "text/csv")
    assert got.date is not None
    assert got.date.endswith("+00:00")
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.csv"]


def test_storage_download_of_a_missing_object_leaves_nothing(
    activated: HttpSession, tmp_path: Path
) -> None:
    backend = SwiftStorageBackend(activated)
    uri = backend.object_uri("never-uploaded.bin")
    target = tmp_path / "dl" / "x.bin"
    with pytest.raises(TransportException) as info:
        backend.download(uri, str(target))
    assert info.value.statusCode == 404
    assert list(target.parent.iterdir()) == []
    with pytest.raises(ValueError, match="not an object of this device's storage container"):
        backend.download("https://example.com/elsewhere", str(target))


def test_storage_objects_through_the_device_class(
    cloud: Any, app: Any, provision: Provision, tmp_path: Path
) -> None:
    store = provision("M-2")
    source = tmp_path / "photo.jpg"
    source.write_bytes(bytes(range(256)) * 100)
    with DirectlyConnectedDevice(
        store, PASSWORD, state_dir=tmp_path / "state", long_poll_s=2.0
    ) as dcd:
        dcd.activate(THERMO_URN)
        upload = dcd.createStorageObject("photo.jpg", "image/jpeg")
        upload.setInputPath(str(source))
        upload.sync()
        assert upload.wait_for_sync(20.0)
        assert upload.getSyncStatus() is SyncStatus.IN_SYNC
        assert upload.getLength() == source.stat().st_size
        assert upload.getURI().startswith(cloud.url + "/v1/")

        download = dcd.createStorageObject("photo.jpg")
        target = tmp_path / "back.jpg"
        download.setOutputPath(str(target))
        download.sync()
        assert download.wait_for_sync(20.0)
        assert target.read_bytes() == source.read_bytes()
        assert download.getContentType() == "image/jpeg"


def test_close_cuts_a_held_long_poll(activated: HttpSession) -> None:
    transport = HttpMessageTransport(activated)
    outcome: list[BaseException | None] = []
    polling = threading.Event()

    def poll() -> None:
        polling.set()
        try:
            transport.send_messages(b"[]", accept_bytes=4190, long_poll_s=30.0)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    before = activated.connection_count
    thread = threading.Thread(target=poll, name="test-long-poll")
    thread.start()
    assert polling.wait(5.0)
    deadline = time.monotonic() + 5.0
    while activated.connection_count == before and time.monotonic() < deadline:
        time.sleep(0.01)  # the poll thread opens its own connection
    assert activated.connection_count > before
    # No event tells "the server now holds it": give the request time to go out, so that
    # what is cut is a held poll (a poll cut before it left fails the same way).
    time.sleep(0.3)
    started = time.monotonic()
    activated.close()
    thread.join(5.0)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2.0
    assert len(outcome) == 1
    assert isinstance(outcome[0], DeviceClosed)
    assert isinstance(outcome[0].__cause__, TransportException)
    with pytest.raises(DeviceClosed):
        transport.send_messages(b"[]", accept_bytes=0)
