"""Messages over real HTTPS: ingest, whole-batch refusal, long polls, acceptBytes, faults."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from iotcs_hw.cloud.app_client import AppClient
from iotcs_hw.cloud.runner import LocalCloud

from .conftest import MODELS_DIR, THERMOSTAT, WireDevice


def test_data_is_stored_and_listed(app: AppClient, thermostat: WireDevice) -> None:
    answer = thermostat.post([thermostat.data({"temperature": 21.5, "setpoint": 20})])
    assert answer.status_code == 202
    assert answer.text == "[]"
    items, last = app.messages(thermostat.endpoint_id)
    assert [i["message"]["payload"]["data"] for i in items] == [
        {"temperature": 21.5, "setpoint": 20}
    ]
    assert items[0]["message"]["source"] == thermostat.endpoint_id
    assert last == items[0]["seq"]
    assert app.messages(thermostat.endpoint_id, after=last) == ([], last)


def test_oracle_js_message_vector_with_iso_datetime(
    app: AppClient, make_device: Any, vectors_dir: Path
) -> None:
    vectors = json.loads((vectors_dir / "oracle-js-outputs.json").read_text())
    device: WireDevice = make_device("JS-1")
    device.activate("urn:test:m")
    message = json.loads(vectors["msg"])
    message["source"] = device.endpoint_id
    alert = json.loads(vectors["alert"])  # source null until sent: the poster's endpoint
    answer = device.post([message, alert])
    assert answer.status_code == 202, answer.text
    items, _ = app.messages(device.endpoint_id)
    assert items[0]["message"]["payload"]["data"] == {"t": 21.5, "when": 0}
    assert items[0]["message"]["clientId"] == "e76c847d-03e2-4335-825e-cabb10ca896f"
    assert items[1]["message"]["type"] == "ALERT"


def test_one_bad_message_refuses_the_whole_batch(app: AppClient, thermostat: WireDevice) -> None:
    good = thermostat.data({"temperature": 20})
    cases = [
        ({**good, "type": "GOSSIP"}, 400, "message [1]: message field 'type'"),
        ({**good, "eventTime": "yesterday"}, 400, "eventTime"),
        (thermostat.data({"temperature": "hot"}), 400, "'temperature' (NUMBER)"),
        (thermostat.data({"colour": 1}), 400, "unknown attribute 'colour'"),
        ({**good, "source": "0-SOMEBODY-ELSE"}, 403, "0-SOMEBODY-ELSE"),
        (["not", "an", "object"], 400, "JSON object"),
    ]
    for bad, status, text in cases:
        answer = thermostat.post([good, bad])
        assert answer.status_code == status, (bad, answer.text)
        assert text in answer.json()["detail"]
    assert app.messages(thermostat.endpoint_id) == ([], 0)


def test_bodies_oracle_clients_send(
    cloud: LocalCloud, app: AppClient, thermostat: WireDevice
) -> None:
    # Chunked (JS 1.1): requests streams a generator with Transfer-Encoding: chunked.
    payload = json.dumps([thermostat.data({"temperature": 19})]).encode()
    chunks = (payload[i : i + 7] for i in range(0, len(payload), 7))
    answer = thermostat.session.post(
        thermostat.url("/iot/api/v2/messages?acceptBytes=4190"),
        data=chunks,
        headers=thermostat.headers(),
        timeout=10,
    )
    assert answer.status_code == 202
    chunked = [
        r for r in cloud.recorder.requests() if r.headers.get("Transfer-Encoding") == "chunked"
    ]
    assert chunked
    assert chunked[-1].body == payload
    # "[]" and an empty sized body.
    assert thermostat.post([]).status_code == 200
    assert thermostat.post(data=b"").status_code == 200
    # Java's long poll: POST with neither Content-Length nor Transfer-Encoding.
    ctx = ssl.create_default_context(cafile=str(cloud.ca_path))
    host, port = cloud.address
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    conn.putrequest("POST", "/iot/api/v2/messages?acceptBytes=0")
    for key, value in thermostat.headers().items():
        conn.putheader(key, value)
    conn.endheaders()
    reply = conn.getresponse()
    assert reply.status == 200
    assert reply.read() == b"[]"
    conn.close()
    assert len(app.messages(thermostat.endpoint_id)[0]) == 1


def test_queued_write_is_delivered_compact_and_answered(
    app: AppClient, thermostat: WireDevice
) -> None:
    pending = app.write(thermostat.endpoint_id or "", {"setpoint": 22.5})
    answer = thermostat.post([])
    assert answer.status_code == 200
    assert answer.text.startswith('[{"id":')
    assert ", " not in answer.text
    assert ": " not in answer.text
    (request,) = answer.json()
    assert request["id"] == pending["requestId"]
    assert request["type"] == "REQUEST"
    assert request["destination"] == thermostat.endpoint_id
    payload = request["payload"]
    assert payload["method"] == "PUT"
    assert payload["url"] == f"deviceModels/{THERMOSTAT}/attributes/setpoint"
    assert json.loads(base64.b64decode(payload["body"])) == {"value": 22.5}
    assert app.request_state(pending["requestId"])["state"] == "OFFERED"
    # Handed out once: the next POST does not see it again.
    assert thermostat.post([]).json() == []
    echo = thermostat.data({"setpoint": 22.5})
    assert thermostat.post([echo, thermostat.response_to(request)]).status_code == 202
    view = app.wait_for_response(pending["requestId"], timeout_s=5)
    assert view["state"] == "ANSWERED"
    assert view["statusCode"] == 200
    assert view["bodyText"] == "OK"


def test_long_poll_returns_a_write_promptly(
    cloud: LocalCloud, app: AppClient, thermostat: WireDevice
) -> None:
    result: dict[str, Any] = {}

    def poll() -> None:
        result["answer"] = thermostat.post([], params="acceptBytes=4190&iot.sync&iot.timeout=20")

    poller = threading.Thread(target=poll, name="test-long-poll")
    poller.start()
    assert cloud.wait_for_held_poll(thermostat.endpoint_id or "", 5)
    pending = app.write(thermostat.endpoint_id or "", {"mode": "eco"})
    poller.join(5)
    assert not poller.is_alive()
    answer = result["answer"]
    assert answer.status_code == 200
    assert [m["id"] for m in answer.json()] == [pending["requestId"]]


def test_long_poll_times_out_with_empty_200(cloud: LocalCloud, thermostat: WireDevice) -> None:
    answer = thermostat.post([], params="acceptBytes=4190&iot.sync&iot.timeout=0.2")
    assert answer.status_code == 200
    assert answer.json() == []


def test_held_poll_does_not_block_other_requests(
    cloud: LocalCloud, app: AppClient, thermostat: WireDevice
) -> None:
    result: dict[str, Any] = {}
    poller = threading.Thread(
        target=lambda: result.setdefault(
            "answer", thermostat.post([], params="acceptBytes=4190&iot.sync&iot.timeout=20")
        ),
        name="test-long-poll",
    )
    poller.start()
    assert cloud.wait_for_held_poll(thermostat.endpoint_id or "", 5)
    # JS posts [] beside its held poll; the DATA goes through at once.
    other = WireDevice(cloud, thermostat.activation_id, thermostat.secret, thermostat.key)
    other.endpoint_id, other.token = thermostat.endpoint_id, thermostat.token
    assert other.post([other.data({"temperature": 1})]).status_code == 202
    pending = app.write(thermostat.endpoint_id or "", {"enabled": True})
    poller.join(5)
    assert [m["id"] for m in result["answer"].json()] == [pending["requestId"]]
    other.close()


def test_unanswered_request_is_offered_again(data_dir: Path, device_key: Any) -> None:
    with LocalCloud(data_dir, models_dir=MODELS_DIR, redeliver_after_s=0.2) as cloud:
        app = cloud.app_client()
        app.register_device("RE-1", "sec")
        device = WireDevice(cloud, "RE-1", "sec", device_key)
        device.activate(THERMOSTAT)
        pending = app.write(device.endpoint_id or "", {"fanLevel": 3})
        first = device.post([]).json()
        assert [m["id"] for m in first] == [pending["requestId"]]
        assert device.post([]).json() == []
        again = device.post([], params="acceptBytes=4190&iot.sync&iot.timeout=10").json()
        assert [m["id"] for m in again] == [pending["requestId"]]
        assert app.request_state(pending["requestId"])["offerCount"] == 2
        device.close()
        app.close()


def test_accept_bytes_and_min_accept_bytes(app: AppClient, thermostat: WireDevice) -> None:
    pending = app.write(thermostat.endpoint_id or "", {"mode": "x" * 300})
    zero = thermostat.post([], params="acceptBytes=0")
    assert zero.json() == []
    assert "X-min-acceptBytes" not in zero.headers
    small = thermostat.post([], params="acceptBytes=100")
    assert small.json() == []
    needed = int(small.headers["X-min-acceptBytes"])
    assert needed > 300
    # A long poll does not spin on it: it holds, then answers [] with the header.
    held = thermostat.post([], params="acceptBytes=100&iot.sync&iot.timeout=0.2")
    assert held.json() == []
    assert int(held.headers["X-min-acceptBytes"]) == needed
    exact = thermostat.post([], params=f"acceptBytes={needed}")
    assert [m["id"] for m in exact.json()] == [pending["requestId"]]
    assert len(exact.content) == needed
    # Two requests, room for one: the first only.
    first = app.write(thermostat.endpoint_id or "", {"mode": "a"})
    app.write(thermostat.endpoint_id or "", {"mode": "b"})
    one = thermostat.post([], params="acceptBytes=500")
    assert [m["id"] for m in one.json()] == [first["requestId"]]
    assert len(thermostat.post([], params="acceptBytes=4190").json()) == 1
    for bad in ("acceptBytes=-1", "acceptBytes=lots", "acceptBytes=1&iot.sync&iot.timeout=soon"):
        answer = thermostat.post([], params=bad)
        assert answer.status_code == 400
        assert answer.json()["status"] == 400


def test_fault_switch_fails_message_posts(app: AppClient, thermostat: WireDevice) -> None:
    app.fail_next(2)
    message = thermostat.data({"temperature": 5})
    assert [thermostat.post([message]).status_code for _ in range(2)] == [503, 503]
    assert thermostat.post([message]).status_code == 202
    assert len(app.messages(thermostat.endpoint_id)[0]) == 1
    app.fail_for(60)
    failed = thermostat.post([message])
    assert failed.status_code == 503
    assert failed.json()["status"] == 503
    app.clear_faults()
    assert thermostat.post([message]).status_code == 202
    assert app.status()["faults"]["failed"] == 3


def test_malformed_bodies_get_4xx_json(data_dir: Path, device_key: Any) -> None:
    with LocalCloud(
        data_dir, models_dir=MODELS_DIR, max_body_bytes=4096, max_message_bytes=1024
    ) as cloud:
        app = cloud.app_client()
        app.register_device("MAL-1", "sec")
        device = WireDevice(cloud, "MAL-1", "sec", device_key)
        device.activate(THERMOSTAT)
        cases = [
            (b"{not json", 400, "not JSON"),
            (b'{"type":"DATA"}', 400, "JSON array"),
            (b"[NaN]", 400, "not JSON"),
            (b"\xff\xfe", 400, "not JSON"),
            (b"[" + b" " * 5000 + b"]", 413, "exceeds"),
            (b"[" * 2000 + b"]" * 2000, 400, "nested too deeply"),
        ]
        response = device.response_to({"destination": device.endpoint_id, "source": "x", "id": "r"})
        response["payload"]["body"] = "not base64!"
        cases.append((json.dumps([response]).encode(), 400, "not base64"))
        big = device.data({"mode": "m" * 2000})
        cases.append((json.dumps([big]).encode(), 413, "exceeds the 1024 limit"))
        for body, status, text in cases:
            answer = device.post(data=body)
            assert answer.status_code == status, (body[:30], answer.text)
            assert answer.headers["Content-Type"].startswith("application/json")
            assert text in answer.json()["detail"]
        assert app.messages() == ([], 0)
        # Unknown paths and wrong methods are JSON too.
        for method, path, status in (
            ("GET", "/nope", 404),
            ("DELETE", "/iot/api/v2/messages", 405),
        ):
            answer = requests.request(
                method, cloud.url + path, verify=str(cloud.ca_path), timeout=10
            )
            assert answer.status_code == status
            assert answer.json()["status"] == status
        device.close()
        app.close()


def test_gateway_posts_for_its_indirect_devices(
    cloud: LocalCloud, app: AppClient, device_key: Any
) -> None:
    app.register_device("GW-2", "gw")
    gateway = WireDevice(cloud, "GW-2", "gw", device_key)
    gateway.activate(THERMOSTAT)
    answer = gateway.session.post(
        gateway.url("/iot/api/v2/activation/indirect/device"),
        json={"hardwareId": "ICD-7", "deviceModels": [THERMOSTAT]},
        headers=gateway.headers(),
        timeout=10,
    )
    icd = answer.json()["endpointId"]
    message = gateway.data({"temperature": 3})
    message["source"] = icd
    assert gateway.post([gateway.data({"temperature": 4}), message]).status_code == 202
    assert [i["message"]["source"] for i in app.messages()[0]] == [gateway.endpoint_id, icd]
    # Writes to the indirect device travel on the gateway's polls.
    pending = app.write(icd, {"setpoint": 10})
    (request,) = gateway.post([]).json()
    assert request["id"] == pending["requestId"]
    assert request["destination"] == icd
    gateway.close()


@pytest.mark.parametrize("header", ["X-EndpointId"])
def test_id_header_must_match_the_token(thermostat: WireDevice, header: str) -> None:
    answer = thermostat.session.post(
        thermostat.url("/iot/api/v2/messages"),
        data=b"[]",
        headers=thermostat.headers() | {header: "0-SOMEONE"},
        timeout=10,
    )
    assert answer.status_code == 401


def test_a_device_cannot_answer_another_devices_request(
    app: AppClient, thermostat: WireDevice, make_device: Any
) -> None:
    pending = app.write(thermostat.endpoint_id or "", {"mode": "eco"})
    (request,) = thermostat.post([]).json()
    intruder: WireDevice = make_device("INTRUDER-1")
    intruder.activate(THERMOSTAT)
    forged = intruder.response_to(request)
    forged["source"] = intruder.endpoint_id
    assert intruder.post([forged]).status_code == 202  # stored as what it is...
    assert app.request_state(pending["requestId"])["state"] == "OFFERED"  # ...but answers nothing
    assert thermostat.post([thermostat.response_to(request)]).status_code == 202
    assert app.request_state(pending["requestId"])["state"] == "ANSWERED"


def test_oldest_messages_are_dropped_beyond_the_limit(data_dir: Path, device_key: Any) -> None:
    with LocalCloud(data_dir, models_dir=MODELS_DIR, max_stored_messages=3) as cloud:
        app = cloud.app_client()
        app.register_device("RET-1", "sec")
        device = WireDevice(cloud, "RET-1", "sec", device_key)
        device.activate(THERMOSTAT)
        for value in range(5):
            device.post([device.data({"temperature": value})])
        items, last = app.messages()
        assert [i["message"]["payload"]["data"]["temperature"] for i in items] == [2, 3, 4]
        assert last == 5
        device.close()
        app.close()


def test_a_poll_whose_client_left_does_not_swallow_a_request(
    cloud: LocalCloud, app: AppClient, thermostat: WireDevice
) -> None:
    """§10.1: a long poll of a process that exited must not count as a delivery."""
    ctx = ssl.create_default_context(cafile=str(cloud.ca_path))
    host, port = cloud.address
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    conn.request(
        "POST",
        "/iot/api/v2/messages?acceptBytes=4190&iot.sync&iot.timeout=20",
        body=b"[]",
        headers=thermostat.headers() | {"Content-Type": "application/json"},
    )
    assert cloud.wait_for_held_poll(thermostat.endpoint_id or "", 5)
    conn.sock.shutdown(socket.SHUT_RDWR)  # the process dies with its poll open
    conn.close()
    pending = app.write(thermostat.endpoint_id or "", {"mode": "away"})
    answer = thermostat.post([], params="acceptBytes=4190&iot.sync&iot.timeout=5")
    assert [m["id"] for m in answer.json()] == [pending["requestId"]]
    assert app.request_state(pending["requestId"])["offerCount"] == 1


def test_deep_but_parseable_nesting_is_a_400(thermostat: WireDevice) -> None:
    deep: Any = 1
    for _ in range(950):
        deep = [deep]
    message = thermostat.data({})
    message["payload"]["extra"] = deep
    answer = thermostat.post([message])
    assert answer.status_code in (202, 400)
    assert answer.headers["Content-Type"].startswith("application/json")


def test_two_held_polls_one_request_goes_to_exactly_one(
    cloud: LocalCloud, app: AppClient, thermostat: WireDevice
) -> None:
    answers: list[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def poll() -> None:
        device = WireDevice(cloud, thermostat.activation_id, thermostat.secret, thermostat.key)
        device.endpoint_id, device.token = thermostat.endpoint_id, thermostat.token
        got = device.post([], params="acceptBytes=4190&iot.sync&iot.timeout=1").json()
        with lock:
            answers.append(got)
        device.close()

    pollers = [threading.Thread(target=poll, name=f"test-poll-{i}") for i in range(2)]
    for thread in pollers:
        thread.start()
    endpoint = thermostat.endpoint_id or ""
    assert cloud.wait_for_held_poll(endpoint, 5)
    pending = app.write(endpoint, {"fanLevel": 1})
    for thread in pollers:
        thread.join(5)
    delivered = [m["id"] for got in answers for m in got]
    assert delivered == [pending["requestId"]]
    assert sorted(len(got) for got in answers) == [0, 1]
