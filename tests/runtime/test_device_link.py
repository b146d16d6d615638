"""Actuator bindings behind a real VirtualDevice: server REQUESTs in, RESPONSEs and DATA out."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from iotcs_hw.client import DeviceModel, VirtualDevice
from iotcs_hw.messaging import Message, MessageType, RecordingSink, RequestDispatcher
from iotcs_hw.runtime.actuation import ActuatorBinding, InterlockGroup
from iotcs_hw.runtime.device_link import (
    ActuatorChangeCallback,
    DeviceWriter,
    LoggingErrorCallback,
    value_check_for,
)

URN = "urn:test:greenhouse"
MODEL = {
    "urn": URN,
    "name": "Greenhouse",
    "attributes": [
        {"name": "temperature", "type": "NUMBER", "range": "-40,85"},
        {"name": "fan", "type": "BOOLEAN", "writable": True},
        {"name": "heater", "type": "BOOLEAN", "writable": True},
        {"name": "vent", "type": "INTEGER", "range": "0,90", "writable": True},
        {"name": "maxTemp", "type": "NUMBER", "writable": True},
    ],
}


@pytest.fixture
def rig(fakes, clock):
    sink = RecordingSink()
    requests = RequestDispatcher()
    model = DeviceModel.fromJson(MODEL)
    vd = VirtualDevice("0-GH", model, sink=sink, requests=requests)
    attrs = model.getDeviceModelAttributes()
    climate = InterlockGroup("climate")
    writer = DeviceWriter(vd, "greenhouse")
    fan_relay = fakes.FakeRelay(False)
    heater_relay = fakes.FakeRelay(False)
    vent_servo = fakes.FakeRelay(0, numeric=True)
    bindings = {
        "fan": ActuatorBinding(
            "fan",
            fan_relay,
            value_check_for(attrs["fan"]),
            interlock=climate,
            clock=clock,
            on_state_reported=lambda a, v: writer.send({a: v}),
        ),
        "heater": ActuatorBinding(
            "heater", heater_relay, value_check_for(attrs["heater"]), interlock=climate, clock=clock
        ),
        "vent": ActuatorBinding("vent", vent_servo, value_check_for(attrs["vent"]), clock=clock),
    }
    vd.setOnChange(ActuatorChangeCallback(bindings))
    errors = LoggingErrorCallback("greenhouse")
    vd.setOnError(errors)

    def write(body: dict, name: str | None = None) -> Message:
        url = f"deviceModels/{URN}/attributes" + (f"/{name}" if name else "")
        method = "PUT" if name else "PATCH"
        request = Message(
            type=MessageType.REQUEST,
            source="server",
            destination="0-GH",
            id="r1",
            payload={
                "method": method,
                "url": url,
                "headers": {},
                "body": base64.b64encode(json.dumps(body).encode()).decode(),
            },
        )
        return requests.dispatch_message(request)

    class Rig:
        pass

    rig = Rig()
    rig.__dict__.update(
        sink=sink,
        vd=vd,
        write=write,
        fan=fan_relay,
        heater=heater_relay,
        vent=vent_servo,
        bindings=bindings,
        errors=errors,
        writer=writer,
    )
    return rig


def status_and_body(response: Message) -> tuple[int, str]:
    return response.payload["statusCode"], base64.b64decode(response.payload["body"]).decode()


def test_cloud_write_moves_the_actuator_and_is_echoed(rig) -> None:
    assert status_and_body(rig.write({"value": True}, "fan")) == (200, "OK")
    assert rig.fan.state is True
    assert [m.payload["data"] for m in rig.sink.sent] == [{"fan": True}]
    assert rig.vd.get("fan") is True


def test_wrong_type_and_range_get_400_and_leave_the_actuator(rig) -> None:
    rig.write({"value": 30}, "vent")
    status, body = status_and_body(rig.write({"value": 120}, "vent"))
    assert status == 400
    assert "120" in body
    status, _ = status_and_body(rig.write({"value": "open"}, "fan"))
    assert status == 400
    assert rig.vent.history == [30]
    assert rig.fan.history == []


def test_interlock_refusal_is_a_409_with_the_reason(rig) -> None:
    rig.write({"value": True}, "heater")
    status, body = status_and_body(rig.write({"value": True}, "fan"))
    assert status == 409
    assert (
        body == "actuator fan: interlock 'climate': heater is on (heater=True); turn it off first"
    )
    assert rig.fan.history == []
    assert rig.vd.get("fan") is None


def test_several_attributes_all_or_nothing(rig) -> None:
    status, _ = status_and_body(rig.write({"heater": True, "fan": True}))
    assert status == 409  # the interlock refuses the pair: a safety rule, not a bad value
    assert rig.heater.history == []
    assert rig.fan.history == []
    status, _ = status_and_body(rig.write({"vent": 45, "fan": True, "maxTemp": 30}))
    assert status == 200
    assert (rig.vent.state, rig.fan.state, rig.vd.get("maxTemp")) == (45, True, 30)


def test_hardware_failure_is_a_500(rig) -> None:
    rig.fan.broken = True
    status, body = status_and_body(rig.write({"value": True}, "fan"))
    assert status == 500
    assert "expander did not acknowledge" in body
    assert rig.vd.get("fan") is None


def test_safe_state_is_reported_as_data(rig) -> None:
    rig.write({"value": True}, "fan")
    rig.sink.clear()
    rig.bindings["fan"].enter_safe_mode("test")
    assert [m.payload["data"] for m in rig.sink.sent] == [{"fan": False}]
    assert rig.vd.get("fan") is False


def test_writer_serialises_transactions_across_threads(rig) -> None:
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait(5)
        for i in range(50):
            rig.writer.send({"temperature": float(n), "vent": i})

    threads = [threading.Thread(target=worker, args=(n,), name=f"w{n}") for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    payloads = [m.payload["data"] for m in rig.sink.sent]
    assert len(payloads) == 200
    assert all(set(p) == {"temperature", "vent"} for p in payloads)


def test_delivery_failure_reaches_the_error_callback(rig) -> None:
    rig.sink.fail_next(ConnectionError("server gone"))
    rig.writer.send({"temperature": 20.0})
    assert rig.errors.errors == 1
    assert rig.errors.last_message == "server gone"


def test_model_refusal_leaves_out_one_value_not_the_transaction(rig) -> None:
    assert rig.writer.send({"temperature": 99.0, "vent": 10})
    assert [m.payload["data"] for m in rig.sink.sent] == [{"vent": 10}]
    assert rig.writer.refused == 1


def test_switching_over_an_interlock_in_one_write(rig) -> None:
    rig.write({"value": True}, "heater")
    status, _ = status_and_body(rig.write({"fan": True, "heater": False}))
    assert status == 200
    assert (rig.heater.state, rig.fan.state) == (False, True)
    status, body = status_and_body(rig.write({"fan": True, "heater": True}))
    assert status == 409
    assert body == ("actuator heater: interlock 'climate': fan is on (fan=True); turn it off first")


def test_writes_after_close_are_refused(rig) -> None:
    rig.vd._on_change[None].close()
    status, body = status_and_body(rig.write({"value": True}, "fan"))
    assert status == 409
    assert "shutting down" in body
    assert rig.fan.history == []
