"""The message envelope codec against Oracle's own output (shared/vectors)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from iotcs_hw.errors import MessageFormatError
from iotcs_hw.messaging import (
    Message,
    MessageType,
    Priority,
    Reliability,
    Request,
    RequestDispatcher,
    Response,
    alert_message,
    data_message,
)


@pytest.mark.parametrize("key", ["msg", "alert", "resp"])
def test_oracle_envelopes_parse_and_round_trip(key: str, vectors_dir: Path) -> None:
    raw = json.loads((vectors_dir / "oracle-js-outputs.json").read_text())[key]
    obj = json.loads(raw) if isinstance(raw, str) else raw
    msg = Message.from_json(obj, require_address=key != "alert")
    again = Message.from_json(msg.to_json(), require_address=key != "alert")
    assert again == msg
    assert msg.type.value == obj["type"]
    assert msg.payload == obj["payload"]


def test_data_message_wire_form() -> None:
    msg = data_message("EP-1", "urn:x:attributes", {"t": 21.5}, event_time=1500000000000)
    wire = msg.to_json()
    assert wire["type"] == "DATA"
    assert wire["eventTime"] == 1500000000000
    assert wire["payload"] == {"format": "urn:x:attributes", "data": {"t": 21.5}}
    assert "properties" not in wire
    assert Message.decode(msg.encode()) == msg


def test_alert_defaults_follow_java() -> None:
    msg = alert_message("EP-1", "urn:x:hot", {"t": 40})
    assert msg.priority is Priority.HIGHEST
    assert msg.reliability is Reliability.GUARANTEED_DELIVERY
    assert msg.payload["severity"] == "SIGNIFICANT"


@pytest.mark.parametrize(
    ("obj", "needle"),
    [
        ([], "JSON object"),
        ({"type": "NOPE", "source": "a"}, "'type'"),
        ({"type": "DATA"}, "'source' or 'destination'"),
        ({"type": "DATA", "source": "a", "priority": "URGENT"}, "'priority'"),
        ({"type": "DATA", "source": "a", "eventTime": "soon"}, "'eventTime'"),
        ({"type": "DATA", "source": "a", "payload": []}, "'payload'"),
        ({"type": "DATA", "source": "a", "properties": {"k": "v"}}, "property 'k'"),
    ],
)
def test_malformed_envelopes_name_the_field(obj: object, needle: str) -> None:
    with pytest.raises(MessageFormatError, match=needle.replace("(", r"\(")):
        Message.from_json(obj)


def _request(method: str, url: str, body: bytes, headers: dict[str, list[str]] | None = None):
    return Message.from_json(
        {
            "id": "REQ-1",
            "type": "REQUEST",
            "source": "server",
            "destination": "EP-1",
            "payload": {
                "method": method,
                "url": url,
                "headers": headers or {},
                "body": base64.b64encode(body).decode(),
            },
        }
    )


def test_method_override_and_longest_prefix_routing() -> None:
    seen: list[Request] = []
    dispatcher = RequestDispatcher()
    dispatcher.register("EP-1", "deviceModels/urn:x", lambda r: Response(202))

    def attrs(request: Request) -> Response:
        seen.append(request)
        return Response.ok()

    dispatcher.register("EP-1", "deviceModels/urn:x/attributes", attrs)
    msg = _request(
        "POST", "deviceModels/urn:x/attributes", b'{"a":1}', {"X-HTTP-Method-Override": ["PATCH"]}
    )
    response = dispatcher.dispatch_message(msg)
    assert response.type is MessageType.RESPONSE
    assert response.destination == "server"
    assert response.source == "EP-1"
    assert response.payload["statusCode"] == 200
    assert response.payload["requestId"] == "REQ-1"
    assert base64.b64decode(response.payload["body"]) == b"OK"
    assert seen[0].method == "PATCH"
    assert seen[0].body == b'{"a":1}'
    other = dispatcher.dispatch_message(_request("POST", "deviceModels/urn:x/actions/go", b""))
    assert other.payload["statusCode"] == 202
    missing = dispatcher.dispatch_message(_request("GET", "deviceModels/urn:y", b""))
    assert missing.payload["statusCode"] == 404


def test_handler_exception_becomes_500_and_bad_body_400() -> None:
    dispatcher = RequestDispatcher()

    def boom(request: Request) -> Response:
        raise RuntimeError("relay stuck")

    dispatcher.register("*", "deviceModels", boom)
    answer = dispatcher.dispatch_message(_request("PUT", "deviceModels/urn:x/attributes/a", b""))
    assert answer.payload["statusCode"] == 500
    assert b"relay stuck" in base64.b64decode(answer.payload["body"])
    bad = _request("PUT", "deviceModels/urn:x/attributes/a", b"")
    bad.payload["body"] = "%%%not base64"
    assert dispatcher.dispatch_message(bad).payload["statusCode"] == 400
