"""VirtualDevice: every documented behaviour and every Raises clause of the seed."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest

from iotcs_hw.client import (
    ChangeCallback,
    ChangeEvent,
    DeviceModel,
    ErrorCallback,
    ErrorEvent,
    ExternalObject,
    NamedValue,
    StateException,
    TransportException,
    VirtualDevice,
)
from iotcs_hw.messaging import MessageType

from .conftest import URN, MemoryClient

ATTRS = URN + ":attributes"


def sent_data(client: MemoryClient) -> list[dict[str, Any]]:
    return [m.payload["data"] for m in client.sink.sent if m.type is MessageType.DATA]


# --- identity ---------------------------------------------------------------------------------
def test_identity(vd: VirtualDevice, model: DeviceModel) -> None:
    assert vd.getEndpointId() == "EP-1"
    assert vd.getDeviceModel() is model
    assert "EP-1" in repr(vd)


# --- get / getLastKnown -----------------------------------------------------------------------
def test_get_returns_defaults_and_set_values(vd: VirtualDevice) -> None:
    assert vd.get("humidity") == 50
    assert vd.get("temperature") is None
    vd.set("temperature", 21.5)
    assert vd.get("temperature") == 21.5
    assert vd.getLastKnown("temperature") == 21.5


@pytest.mark.parametrize("method", ["get", "getLastKnown"])
def test_get_raises_for_none_and_unknown_attributes(vd: VirtualDevice, method: str) -> None:
    with pytest.raises(ValueError, match="attributeName is None"):
        getattr(vd, method)(None)
    with pytest.raises(ValueError, match=r"'nope' is not an attribute of urn:test:greenhouse"):
        getattr(vd, method)("nope")


# --- set --------------------------------------------------------------------------------------
def test_set_sends_one_data_message_and_returns_self(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    assert vd.set("temperature", 21.5) is vd
    (message,) = client.sink.sent
    assert message.type is MessageType.DATA
    assert message.source == "EP-1"
    assert message.payload == {"format": ATTRS, "data": {"temperature": 21.5}}


def test_device_may_set_attributes_that_are_not_writable(vd: VirtualDevice) -> None:
    assert not vd.getDeviceModel().getDeviceModelAttributes()["temperature"].isWritable()
    vd.set("temperature", 30.0)
    assert vd.get("temperature") == 30.0


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        (None, 1, "attributeName is None"),
        ("nope", 1, "'nope' is not an attribute"),
        ("temperature", "hot", "temperature: 'hot' is not a NUMBER"),
        ("temperature", True, "temperature: True is not a NUMBER"),
        ("temperature", 86, "temperature: 86 is outside the range [-40, 85]"),
        ("temperature", math.nan, "temperature: nan is not a finite NUMBER"),
        ("temperature", math.inf, "is not a finite NUMBER"),
        ("humidity", 50.5, "humidity: 50.5 is not a whole number (INTEGER)"),
        ("humidity", -1, "humidity: -1 is outside the range [0, 100]"),
        ("label", 5, "label: 5 is not a STRING"),
        ("label", "x" * 70_000, "longer than 65536 UTF-8 bytes"),
        ("fan", 1, "fan: 1 is not a BOOLEAN"),
        ("since", "yesterday", "since: 'yesterday' is not a DATETIME"),
        ("since", 1.5, "not whole epoch milliseconds"),
        ("image", 42, "image: 42 is not a URI"),
        ("temperature", None, "temperature: value is None"),
    ],
)
def test_set_refuses_invalid_values_naming_attribute_value_and_rule(
    vd: VirtualDevice, client: MemoryClient, attribute: Any, value: Any, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        vd.set(attribute, value)
    assert message in str(info.value)
    assert client.sink.sent == []


def test_integer_accepts_whole_floats_as_int(vd: VirtualDevice, client: MemoryClient) -> None:
    vd.set("humidity", 42.0)
    assert vd.get("humidity") == 42
    assert isinstance(vd.get("humidity"), int)
    assert sent_data(client) == [{"humidity": 42}]


def test_datetime_takes_datetime_or_epoch_ms_and_sends_epoch_ms(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    when = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    vd.set("since", when)
    vd.set("since", 1_500_000_000_123)
    assert vd.get("since") == dt.datetime.fromtimestamp(1_500_000_000.123, dt.UTC)
    assert sent_data(client) == [
        {"since": int(when.timestamp() * 1000)},
        {"since": 1_500_000_000_123},
    ]


def test_uri_takes_external_object_or_string(vd: VirtualDevice, client: MemoryClient) -> None:
    vd.set("image", ExternalObject("https://example.org/a.png"))
    vd.set("image", "https://example.org/b.png")
    assert vd.get("image") == ExternalObject("https://example.org/b.png")
    assert sent_data(client) == [
        {"image": "https://example.org/a.png"},
        {"image": "https://example.org/b.png"},
    ]


def test_failed_offer_leaves_value_unchanged(vd: VirtualDevice, client: MemoryClient) -> None:
    def refuse(messages: Any, on_error: Any = None) -> None:
        raise OverflowError("outbox full")

    client.sink.offer = refuse  # type: ignore[method-assign]
    with pytest.raises(OverflowError):
        vd.set("temperature", 20.0)
    assert vd.get("temperature") is None


# --- update / finish --------------------------------------------------------------------------
def test_update_finish_sends_one_message(vd: VirtualDevice, client: MemoryClient) -> None:
    vd.update().set("temperature", 20.0).set("humidity", 40).set("fan", True).finish()
    assert sent_data(client) == [{"temperature": 20.0, "humidity": 40, "fan": True}]
    assert not vd.in_transaction()


def test_values_are_committed_only_at_finish(vd: VirtualDevice, client: MemoryClient) -> None:
    vd.update().set("temperature", 20.0)
    assert client.sink.sent == []
    assert vd.get("temperature") is None
    vd.finish()
    assert vd.get("temperature") == 20.0


def test_failed_set_inside_update_leaves_the_transaction_as_it_was(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    vd.update().set("temperature", 20.0)
    with pytest.raises(ValueError, match="outside the range"):
        vd.set("humidity", 500)
    with pytest.raises(ValueError, match="not a NUMBER"):
        vd.set("temperature", "warm")
    vd.finish()
    assert sent_data(client) == [{"temperature": 20.0}]


def test_finish_without_update_raises_state_exception(vd: VirtualDevice) -> None:
    with pytest.raises(StateException, match=r"finish\(\) called without update\(\)"):
        vd.finish()
    with pytest.raises(ValueError):  # StateException is also a ValueError
        vd.finish()


def test_empty_transaction_sends_nothing(vd: VirtualDevice, client: MemoryClient) -> None:
    vd.update().finish()
    assert client.sink.sent == []


def test_update_twice_keeps_the_open_transaction(vd: VirtualDevice, client: MemoryClient) -> None:
    vd.update().set("temperature", 1.0)
    vd.update().set("humidity", 2)
    vd.finish()
    assert sent_data(client) == [{"temperature": 1.0, "humidity": 2}]


# --- callbacks: registration ------------------------------------------------------------------
@pytest.mark.parametrize("method", ["setOnChange", "setOnError"])
def test_callback_registration_refuses_unknown_attributes(vd: VirtualDevice, method: str) -> None:
    with pytest.raises(ValueError, match="'nope' is not an attribute"):
        getattr(vd, method)(lambda event: None, "nope")
    with pytest.raises(ValueError, match="must have an"):
        getattr(vd, method)(42, "fan")


# --- cloud writes reach onChange --------------------------------------------------------------
class Recorder(ChangeCallback):
    def __init__(self) -> None:
        self.events: list[ChangeEvent] = []

    def onChange(self, event: ChangeEvent) -> None:
        self.events.append(event)


def test_put_one_attribute_calls_callbacks_sets_value_and_echoes(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    own, everything = Recorder(), Recorder()
    vd.setOnChange(own, "fan")
    vd.setOnChange(everything)
    status, body = client.request("PUT", f"deviceModels/{URN}/attributes/fan", {"value": True})
    assert (status, body) == (200, b"OK")
    assert [e.getNamedValue().as_dict() for e in own.events] == [{"fan": True}]
    assert [e.getNamedValue().as_dict() for e in everything.events] == [{"fan": True}]
    assert own.events[0].getVirtualDevice() is vd
    assert vd.get("fan") is True
    assert sent_data(client) == [{"fan": True}]


def test_patch_several_is_one_event_chain(vd: VirtualDevice, client: MemoryClient) -> None:
    everything = Recorder()
    vd.setOnChange(everything)
    status, _ = client.request(
        "POST",
        f"deviceModels/{URN}/attributes",
        {"fan": False, "dimming": 30},
        headers={"x-http-method-override": ["PATCH"]},
    )
    assert status == 200
    chain = everything.events[0].getNamedValue()
    assert (chain.getName(), chain.getValue()) == ("fan", False)
    second = chain.next()
    assert second is not None
    assert (second.getName(), second.getValue(), second.next()) == ("dimming", 30, None)
    assert sent_data(client) == [{"fan": False, "dimming": 30}]


def test_plain_callables_work_as_callbacks(vd: VirtualDevice, client: MemoryClient) -> None:
    seen: list[dict[str, Any]] = []
    vd.setOnChange(lambda e: seen.append(e.getNamedValue().as_dict()), "dimming")
    client.request("PUT", f"deviceModels/{URN}/attributes/dimming", {"value": 70})
    assert seen == [{"dimming": 70}]


@pytest.mark.parametrize(
    ("url", "body", "status", "text"),
    [
        ("attributes/fan", {"value": "on"}, 400, "fan: 'on' is not a BOOLEAN"),
        ("attributes/dimming", {"value": 101}, 400, "outside the range"),
        ("attributes/dimming", {"val": 1}, 400, '{"value": ...}'),
        ("attributes/temperature", {"value": 20}, 400, "is not writable"),
        ("attributes/nothing", {"value": 1}, 404, "no attribute 'nothing'"),
        ("attributes", {"fan": True, "dimming": 500}, 400, "outside the range"),
        ("attributes", {"fan": True, "bogus": 1}, 400, "no attribute 'bogus'"),
        ("attributes", [], 400, "non-empty JSON object"),
        ("elsewhere", {}, 404, "Not Found"),
    ],
)
def test_invalid_writes_are_refused_and_callback_not_called(
    vd: VirtualDevice, client: MemoryClient, url: str, body: Any, status: int, text: str
) -> None:
    recorder = Recorder()
    vd.setOnChange(recorder)
    answer, reply = client.request("PUT", f"deviceModels/{URN}/{url}", body)
    assert answer == status
    assert text in reply.decode()
    assert recorder.events == []
    assert vd.get("fan") is None
    assert client.sink.sent == []


def test_wrong_method_is_405(vd: VirtualDevice, client: MemoryClient) -> None:
    status, _ = client.request("GET", f"deviceModels/{URN}/attributes/fan")
    assert status == 405


def test_alias_addresses_the_attribute(client: MemoryClient, model: DeviceModel) -> None:
    raw = json.loads(json.dumps(client.models[URN]))
    raw["attributes"][0]["writable"] = True
    writable = DeviceModel.fromJson(raw)
    vd = client.createVirtualDevice("EP-1", writable)
    status, _ = client.request("PUT", f"deviceModels/{URN}/attributes/temp", {"value": 25})
    assert status == 200
    assert vd.get("temperature") == 25


def test_callback_value_error_rejects_the_write_with_400(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    def refuse(event: ChangeEvent) -> None:
        raise ValueError("relay interlocked with pump")

    vd.setOnChange(refuse, "fan")
    status, body = client.request("PUT", f"deviceModels/{URN}/attributes/fan", {"value": True})
    assert (status, body) == (400, b"relay interlocked with pump")
    assert vd.get("fan") is None
    assert client.sink.sent == []


def test_callback_exception_with_a_status_chooses_the_answer(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    class Interlocked(ValueError):
        status = 409

    class Odd(RuntimeError):
        status = 200  # not an error status: ignored

    def refuse(event: ChangeEvent) -> None:
        raise Interlocked("pump is on; turn it off first")

    vd.setOnChange(refuse, "fan")
    status, body = client.request("PUT", f"deviceModels/{URN}/attributes/fan", {"value": True})
    assert (status, body) == (409, b"pump is on; turn it off first")

    def odd(event: ChangeEvent) -> None:
        raise Odd("confused")

    vd.setOnChange(odd, "fan")
    assert client.request("PUT", f"deviceModels/{URN}/attributes/fan", {"value": True})[0] == 500
    assert vd.get("fan") is None


def test_callback_crash_is_500_and_value_not_set(vd: VirtualDevice, client: MemoryClient) -> None:
    def crash(event: ChangeEvent) -> None:
        raise RuntimeError("I2C bus gone")

    vd.setOnChange(crash)
    status, body = client.request("PUT", f"deviceModels/{URN}/attributes/fan", {"value": True})
    assert status == 500
    assert b"I2C bus gone" in body
    assert vd.get("fan") is None


def test_removing_a_change_callback(vd: VirtualDevice, client: MemoryClient) -> None:
    recorder = Recorder()
    vd.setOnChange(recorder, "fan")
    vd.setOnChange(None, "fan")
    client.request("PUT", f"deviceModels/{URN}/attributes/fan", {"value": True})
    assert recorder.events == []
    assert vd.get("fan") is True


def test_datetime_write_accepts_iso_and_epoch(vd: VirtualDevice, client: MemoryClient) -> None:
    url = f"deviceModels/{URN}/attributes/since"
    assert client.request("PUT", url, {"value": "1970-01-01T00:00:01.000Z"})[0] == 200
    assert vd.get("since") == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    assert client.request("PUT", url, {"value": 2000})[0] == 200
    assert sent_data(client)[-1] == {"since": 2000}


# --- errors reach onError ---------------------------------------------------------------------
class ErrorRecorder(ErrorCallback):
    def __init__(self) -> None:
        self.events: list[ErrorEvent] = []

    def onError(self, event: ErrorEvent) -> None:
        self.events.append(event)


def test_delivery_failure_reaches_attribute_and_device_error_callbacks(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    own, everything, other = ErrorRecorder(), ErrorRecorder(), ErrorRecorder()
    vd.setOnError(own, "temperature")
    vd.setOnError(other, "fan")
    vd.setOnError(everything)
    client.sink.fail_next(TransportException("server said 400", statusCode=400))
    vd.update().set("temperature", 20.0).set("humidity", 40).finish()
    assert len(own.events) == 1
    assert other.events == []
    event = everything.events[0]
    assert event.getMessage() == "server said 400"
    assert event.getNamedValue().as_dict() == {"temperature": 20.0, "humidity": 40}
    assert event.getVirtualDevice() is vd


def test_error_callback_removal_and_raising_callback_is_contained(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    recorder = ErrorRecorder()
    vd.setOnError(recorder)
    vd.setOnError(None)

    def explode(event: ErrorEvent) -> None:
        raise RuntimeError("user bug")

    vd.setOnError(explode, "temperature")
    client.sink.fail_next(TransportException("down"))
    vd.set("temperature", 1.0)  # the raising callback is logged, not propagated
    assert recorder.events == []


def test_named_value_chain() -> None:
    chain = NamedValue.chain({"a": 1, "b": 2})
    assert [(n.getName(), n.getValue()) for n in chain] == [("a", 1), ("b", 2)]
    with pytest.raises(ValueError):
        NamedValue.chain({})


# --- actions ----------------------------------------------------------------------------------
def test_actions_reach_callables_with_validated_arguments(
    vd: VirtualDevice, client: MemoryClient
) -> None:
    calls: list[tuple[Any, Any]] = []

    class Blink:
        def call(self, virtualDevice: VirtualDevice, data: Any) -> None:
            calls.append((virtualDevice, data))

    vd.setCallable("blink", Blink())
    vd.setCallable("reset", lambda device, data: calls.append((device, "reset")))
    assert client.request("POST", f"deviceModels/{URN}/actions/flash", {"value": 3})[0] == 200
    assert client.request("POST", f"deviceModels/{URN}/actions/reset")[0] == 200
    assert calls == [(vd, 3), (vd, "reset")]
    assert client.request("POST", f"deviceModels/{URN}/actions/blink", {"value": 11})[0] == 400
    assert client.request("POST", f"deviceModels/{URN}/actions/blink", {})[0] == 400
    assert client.request("POST", f"deviceModels/{URN}/actions/nothing")[0] == 404
    vd.setCallable("blink", None)
    assert client.request("POST", f"deviceModels/{URN}/actions/blink", {"value": 1})[0] == 404
    with pytest.raises(ValueError, match="'dance' is not an action"):
        vd.setCallable("dance", lambda d, x: None)


# --- alerts and data --------------------------------------------------------------------------
def test_alert_raise_sends_alert_message(vd: VirtualDevice, client: MemoryClient) -> None:
    vd.createAlert(URN + ":too_hot").set("temperature", 41.5).raise_()
    (message,) = client.sink.sent
    assert message.type is MessageType.ALERT
    assert message.payload == {
        "format": URN + ":too_hot",
        "severity": "SIGNIFICANT",
        "description": "Too hot",
        "data": {"temperature": 41.5},
    }
    assert message.priority.value == "HIGHEST"
    assert message.reliability.value == "GUARANTEED_DELIVERY"


def test_alert_refusals(vd: VirtualDevice) -> None:
    with pytest.raises(ValueError, match="is not an ALERT format"):
        vd.createAlert(URN + ":reading")
    with pytest.raises(ValueError, match="is not an ALERT format"):
        vd.createAlert("urn:nope")
    alert = vd.createAlert(URN + ":too_hot")
    with pytest.raises(ValueError, match="'humidity' is not a field"):
        alert.set("humidity", 1)
    with pytest.raises(ValueError, match="temperature: 'x' is not a NUMBER"):
        alert.set("temperature", "x")
    with pytest.raises(ValueError, match="required field"):
        alert.set("note", "n").raise_()
    with pytest.raises(ValueError, match="severity 'BAD'"):
        alert.setSeverity("BAD")


def test_alert_error_goes_to_alert_callback(vd: VirtualDevice, client: MemoryClient) -> None:
    mine, device = ErrorRecorder(), ErrorRecorder()
    vd.setOnError(device)
    alert = vd.createAlert(URN + ":too_hot").setSeverity("CRITICAL")
    alert.setOnError(mine)
    client.sink.fail_next(TransportException("refused"))
    alert.set("temperature", 50.0).raise_()
    assert client.sink.sent[0].payload["severity"] == "CRITICAL"
    assert [e.getMessage() for e in mine.events] == ["refused"]
    assert [e.getMessage() for e in device.events] == ["refused"]


def test_data_submit(vd: VirtualDevice, client: MemoryClient) -> None:
    vd.createData(URN + ":reading").set("count", 3).submit()
    assert client.sink.sent[0].payload == {"format": URN + ":reading", "data": {"count": 3}}
    with pytest.raises(ValueError, match="required field"):
        vd.createData(URN + ":reading").submit()
    with pytest.raises(ValueError, match="is not a DATA format"):
        vd.createData(URN + ":too_hot")
