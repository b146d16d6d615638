"""End to end over real HTTPS on loopback: outbox -> dispatcher -> HttpMessageTransport -> server.

Nothing is mocked: the local IoTCS-compatible server runs in-process on 127.0.0.1 with its own
CA, the device activates over HTTPS, and the dispatcher's threads talk to it through the
transport helper's :class:`HttpMessageTransport`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iotcs_hw.cloud.runner import LocalCloud
from iotcs_hw.messaging import Reliability, Request, RequestDispatcher, Response, data_message
from iotcs_hw.transport.activation_client import activate_directly
from iotcs_hw.transport.backoff import Backoff
from iotcs_hw.transport.capabilities import COUNTERS_PATH, Capabilities
from iotcs_hw.transport.dispatcher import MessageDispatcher
from iotcs_hw.transport.http import HttpSession
from iotcs_hw.transport.http_messages import HttpMessageTransport
from iotcs_hw.transport.outbox import Outbox
from iotcs_hw.transport.trusted_assets import TrustedAssetsManager

from .conftest import PASSWORD, THERMO_URN

pytestmark = pytest.mark.timeout(90)

WAIT = 30.0
FORMAT = THERMO_URN + ":attributes"
SETPOINT_URL = f"deviceModels/{THERMO_URN}/attributes/setpoint"


def start_cloud(cloud_dir: Path, models_dir: Path, port: int = 0) -> LocalCloud:
    return LocalCloud(
        cloud_dir,
        models_dir=models_dir,
        activation_key_size=1024,
        default_hold_s=2.0,
        port=port,
    ).start()


@pytest.fixture
def cloud(cloud_dir: Path, models_dir: Path) -> Iterator[LocalCloud]:
    server = start_cloud(cloud_dir, models_dir)
    yield server
    server.stop()


@dataclass
class Device:
    """An activated device: its store, session, endpoint id and state directory."""

    store: Path
    session: HttpSession
    endpoint: str
    state_dir: Path

    def dispatcher(
        self, requests: RequestDispatcher | None = None, **options: Any
    ) -> MessageDispatcher:
        options.setdefault("backoff", Backoff(base_s=0.1, max_delay_s=0.5))
        options.setdefault("long_poll_s", 2.0)
        return MessageDispatcher(
            HttpMessageTransport(self.session),
            Outbox.in_state_dir(self.state_dir),
            requests=requests,
            **options,
        )


@pytest.fixture
def device(cloud: LocalCloud, tmp_path: Path) -> Iterator[Device]:
    with cloud.app_client() as app:
        app.register_device("DELIVERY-1")
        store = tmp_path / "device.bin"
        store.write_bytes(app.provisioning_file("DELIVERY-1", PASSWORD))
    store.chmod(0o600)
    session = HttpSession(TrustedAssetsManager(store, PASSWORD), timeout_s=10.0)
    activate_directly(session, [THERMO_URN])
    yield Device(store, session, session.assets.endpoint_id(), tmp_path / "state")
    session.close()


def stored_ids(cloud: LocalCloud, endpoint: str) -> list[str]:
    """Client ids of the DATA messages the server stored for ``endpoint``, in arrival order."""
    ids: list[str] = []
    after = 0
    with cloud.app_client() as app:
        while True:
            items, last = app.messages(endpoint, after=after, limit=1000)
            ids += [i["message"]["clientId"] for i in items if i["message"]["type"] == "DATA"]
            if not items:
                return ids
            after = last


def test_offered_messages_arrive_in_order_in_few_posts(device: Device, cloud: LocalCloud) -> None:
    messages = [data_message(device.endpoint, FORMAT, {"temp": float(n)}) for n in range(600)]
    with device.dispatcher() as d:
        d.start()
        for start in range(0, 600, 20):
            d.offer(messages[start : start + 20])
        assert d.wait_for_empty(WAIT)
        snap = d.counters_snapshot()
    assert stored_ids(cloud, device.endpoint) == [m.client_id for m in messages]
    posts = [
        r
        for r in cloud.recorder.requests()
        if r.path == "/iot/api/v2/messages" and r.body not in (b"", b"[]")
    ]
    assert len(posts) < 100, "messages offered while a POST is in flight share the next one"
    assert snap.messages_sent == 600
    assert snap.bytes_sent == sum(len(m.encode()) for m in messages)


def test_a_server_answering_503_for_a_while_loses_nothing(
    device: Device, cloud: LocalCloud
) -> None:
    cloud.faults.fail_for(1.5, 503)
    messages = [
        data_message(device.endpoint, FORMAT, {"temp": float(n)}, reliability=reliability)
        for n, reliability in enumerate(
            [Reliability.GUARANTEED_DELIVERY, Reliability.BEST_EFFORT] * 50
        )
    ]
    with device.dispatcher(backoff=Backoff(base_s=0.1, max_delay_s=0.3), base_retries=20) as d:
        d.start()
        for message in messages:
            d.offer([message])
        assert d.wait_for_empty(WAIT)
        snap = d.counters_snapshot()
    assert sorted(stored_ids(cloud, device.endpoint)) == sorted(m.client_id for m in messages)
    assert cloud.faults.failed > 0
    assert snap.messages_retried > 0
    assert (snap.messages_failed, snap.messages_dropped) == (0, 0)


def test_a_server_down_for_a_while_loses_nothing(
    device: Device, cloud: LocalCloud, cloud_dir: Path, models_dir: Path
) -> None:
    port = cloud.address[1]
    first = [data_message(device.endpoint, FORMAT, {"temp": 1.0})]
    with device.dispatcher() as d:
        d.start()
        d.offer(first)
        assert d.wait_for_empty(WAIT)
        cloud.stop()
        later = [
            data_message(device.endpoint, FORMAT, {"temp": float(n)}, reliability=r)
            for n, r in enumerate([Reliability.GUARANTEED_DELIVERY] * 30)
        ]
        for message in later:
            d.offer([message])
        assert d.wait_for_empty(0.5) is False  # nobody to deliver to
        revived = start_cloud(cloud_dir, models_dir, port=port)
        try:
            assert d.wait_for_empty(WAIT)
            got = stored_ids(revived, device.endpoint)
        finally:
            revived.stop()
    assert got == [m.client_id for m in first + later]


CHILD = r"""
import os, signal, sys
from iotcs_hw.messaging import Reliability, data_message
from iotcs_hw.transport.backoff import Backoff
from iotcs_hw.transport.dispatcher import MessageDispatcher
from iotcs_hw.transport.http import HttpSession
from iotcs_hw.transport.http_messages import HttpMessageTransport
from iotcs_hw.transport.outbox import Outbox
from iotcs_hw.transport.trusted_assets import TrustedAssetsManager

store, password, state_dir, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
session = HttpSession(TrustedAssetsManager(store, password), timeout_s=10.0)
endpoint = session.assets.endpoint_id()
d = MessageDispatcher(HttpMessageTransport(session), Outbox.in_state_dir(state_dir),
                      backoff=Backoff(base_s=0.1)).start()
for n in range(count):
    m = data_message(endpoint, sys.argv[5], {"temp": float(n)},
                     reliability=Reliability.GUARANTEED_DELIVERY)
    d.offer([m])
    os.write(1, (m.client_id + "\n").encode())
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_and_restarted_client_loses_nothing(device: Device, cloud: LocalCloud) -> None:
    cloud.faults.fail_for(600, 503)  # the server refuses everything while the child lives
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(device.store),
            PASSWORD,
            str(device.state_dir),
            "200",
            FORMAT,
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    offered = child.stdout.decode().split()
    assert len(offered) == 200
    assert stored_ids(cloud, device.endpoint) == []
    cloud.faults.clear()
    with device.dispatcher() as d:
        d.start()
        assert d.wait_for_empty(WAIT)
    assert stored_ids(cloud, device.endpoint) == offered


def test_a_cloud_write_reaches_its_handler_and_gets_a_response(
    device: Device, cloud: LocalCloud
) -> None:
    seen: list[Any] = []
    called = threading.Event()

    def on_setpoint(request: Request) -> Response:
        value = json.loads(request.body)["value"]
        seen.append(value)
        called.set()
        if value > 30:
            return Response.error(400, f"setpoint {value} is above 30")
        return Response.ok()

    requests = RequestDispatcher()
    requests.register(device.endpoint, SETPOINT_URL, on_setpoint)
    with device.dispatcher(requests) as d, cloud.app_client() as app:
        d.start()
        assert cloud.wait_for_held_poll(device.endpoint, 10.0)
        ok = app.write_and_wait(device.endpoint, {"setpoint": 19.5}, 20.0, urn=THERMO_URN)
        refused = app.write_and_wait(device.endpoint, {"setpoint": 45}, 20.0, urn=THERMO_URN)
    assert seen == [19.5, 45]
    assert (ok["state"], ok["statusCode"]) == ("ANSWERED", 200)
    assert (refused["state"], refused["statusCode"]) == ("ANSWERED", 400)
    assert refused["bodyText"] == "setpoint 45 is above 30"


def test_a_capability_request_over_the_wire(device: Device, cloud: LocalCloud) -> None:
    requests = RequestDispatcher()
    with device.dispatcher(requests) as d, cloud.app_client() as app:
        Capabilities(device.endpoint, d, state_dir=device.state_dir).register(requests)
        d.start()
        d.offer([data_message(device.endpoint, FORMAT, {"temp": 20.0})])
        assert d.wait_for_empty(WAIT)
        queued = app.send_request(device.endpoint, "GET", COUNTERS_PATH)
        view = app.wait_for_response(queued["requestId"], 20.0)
    assert (view["state"], view["statusCode"]) == ("ANSWERED", 200)
    counters = json.loads(view["bodyText"])
    assert counters["totalMessagesSent"] == 1
    assert counters["totalMessagesReceived"] == 1
