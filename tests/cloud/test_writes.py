"""Cloud writes through the application API: model checks before queueing, REQUEST shapes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from iotcs_hw.cloud.app_client import AppClient, CloudApiError, WriteRefused
from iotcs_hw.messaging.message import Message
from iotcs_hw.messaging.requests import Request

from .conftest import THERMOSTAT, WireDevice


def _delivered(device: WireDevice) -> list[dict[str, Any]]:
    answer = device.post([])
    assert answer.status_code == 200
    return list(answer.json())


@pytest.mark.parametrize(
    ("values", "text", "expected"),
    [
        ({"colour": 1}, False, "no attribute 'colour' (attributes: enabled, fanLevel"),
        ({"temperature": 20}, False, "attribute 'temperature' is not writable"),
        ({"setpoint": "warm"}, False, "'setpoint' (NUMBER): 'warm' is not a NUMBER"),
        ({"setpoint": 31}, False, "'setpoint' (NUMBER): 31 is outside the range [5, 30]"),
        ({"fanLevel": 2.5}, False, "2.5 is not a whole number (INTEGER)"),
        ({"enabled": 1}, False, "1 is not a BOOLEAN"),
        ({"mode": 5}, False, "5 is not a STRING"),
        ({"holidayUntil": "next week"}, False, "'next week' is not an ISO-8601 DATETIME"),
        ({"enabled": "maybe"}, True, "'maybe' is not a BOOLEAN"),
        ({"setpoint": "4"}, True, "4.0 is outside the range [5, 30]"),
    ],
)
def test_invalid_writes_are_refused_before_queueing(
    app: AppClient, thermostat: WireDevice, values: dict[str, Any], text: bool, expected: str
) -> None:
    with pytest.raises(WriteRefused) as info:
        app.write(thermostat.endpoint_id or "", values, text=text)
    assert info.value.status == 400
    assert expected in info.value.detail
    assert THERMOSTAT in info.value.detail
    assert _delivered(thermostat) == []


def test_unknown_endpoint_and_wrong_urn(app: AppClient, thermostat: WireDevice) -> None:
    with pytest.raises(CloudApiError) as info:
        app.write("0-NOBODY", {"setpoint": 20})
    assert info.value.status == 404
    with pytest.raises(WriteRefused, match="does not implement 'urn:other'"):
        app.write(thermostat.endpoint_id or "", {"setpoint": 20}, urn="urn:other")


def test_put_patch_action_shapes(app: AppClient, thermostat: WireDevice) -> None:
    endpoint = thermostat.endpoint_id or ""
    put = app.write(endpoint, {"sp": "21.5"}, text=True)  # alias and text value
    patch = app.write(
        endpoint,
        {"mode": "eco", "enabled": True, "holidayUntil": "2026-12-24T00:00:00Z"},
    )
    reset = app.call_action(endpoint, "reset")
    boost = app.call_action(endpoint, "boost", 3)
    with pytest.raises(WriteRefused, match="needs an argument of type INTEGER"):
        app.call_action(endpoint, "boost")
    with pytest.raises(WriteRefused, match="takes no argument"):
        app.call_action(endpoint, "reset", 1)
    with pytest.raises(WriteRefused, match="6 is outside the range"):
        app.call_action(endpoint, "boost", 6)
    with pytest.raises(WriteRefused, match="no action 'explode'"):
        app.call_action(endpoint, "explode")
    delivered = _delivered(thermostat)
    assert [m["id"] for m in delivered] == [
        put["requestId"],
        patch["requestId"],
        reset["requestId"],
        boost["requestId"],
    ]
    # Every REQUEST decodes with the device side's own parser (Request.from_message).
    decoded = [Request.from_message(Message.from_json(m)) for m in delivered]
    base = f"deviceModels/{THERMOSTAT}"
    assert [(r.method, r.url) for r in decoded] == [
        ("PUT", f"{base}/attributes/setpoint"),
        ("PATCH", f"{base}/attributes"),
        ("POST", f"{base}/actions/reset"),
        ("POST", f"{base}/actions/boost"),
    ]
    assert [json.loads(r.body) for r in decoded] == [
        {"value": 21.5},
        {"mode": "eco", "enabled": True, "holidayUntil": 1_798_070_400_000},
        {},
        {"value": 3},
    ]
    assert delivered[1]["payload"]["method"] == "POST"
    assert delivered[1]["payload"]["headers"] == {"x-http-method-override": ["PATCH"]}


def test_raw_request_for_capabilities(app: AppClient, thermostat: WireDevice) -> None:
    url = "deviceModels/urn:oracle:iot:dcd:capability:message_dispatcher/counters"
    pending = app.send_request(thermostat.endpoint_id or "", "GET", url)
    (request,) = _delivered(thermostat)
    assert request["id"] == pending["requestId"]
    assert request["payload"]["method"] == "GET"
    assert request["payload"]["body"] == ""
    answer = base64.b64encode(b'{"totalMessagesSent":0}').decode()
    assert thermostat.post([thermostat.response_to(request, 200, answer)]).status_code == 202
    view = app.wait_for_response(pending["requestId"], 5)
    assert json.loads(view["bodyText"]) == {"totalMessagesSent": 0}
    with pytest.raises(WriteRefused, match="must start with 'deviceModels/'"):
        app.send_request(thermostat.endpoint_id or "", "GET", "/etc/passwd")


def test_wait_for_response_times_out_with_the_state(app: AppClient, thermostat: WireDevice) -> None:
    pending = app.write(thermostat.endpoint_id or "", {"setpoint": 20})
    view = app.wait_for_response(pending["requestId"], 0.1)
    assert view["state"] == "QUEUED"
    assert view["response"] is None
