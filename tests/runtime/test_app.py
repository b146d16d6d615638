"""The Runtime assembled from a model file, with fake drivers and virtual devices over a sink:
safe states at start and stop, one transaction per tick, faults healed, cloud loss handled."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

from drivers.base import Device
from drivers.errors import DeviceNotFound, DriverConfigError
from iotcs_hw.client import DeviceModel, VirtualDevice
from iotcs_hw.errors import ConfigError
from iotcs_hw.messaging import RecordingSink, RequestDispatcher
from iotcs_hw.runtime.app import Runtime, RuntimeOptions
from iotcs_hw.runtime.clock import FakeClock
from iotcs_hw.runtime.config.model import (
    ActuatorConfig,
    AlertCondition,
    AlertConfig,
    AlertField,
    DeviceConfig,
    HealthConfig,
    ModelFile,
    OffsetFilter,
    ReadingBinding,
    RetryPolicy,
    SensorConfig,
    StoreConfig,
)
from iotcs_hw.runtime.sdnotify import SystemdNotifier
from iotcs_hw.runtime.status import SensorState

URN = "urn:test:greenhouse"
MODEL = {
    "urn": URN,
    "name": "Greenhouse",
    "attributes": [
        {"name": "temperature", "type": "NUMBER", "range": "-40,85"},
        {"name": "humidity", "type": "NUMBER", "range": "0,100"},
        {"name": "fan", "type": "BOOLEAN", "writable": True},
    ],
    "formats": [
        {
            "urn": URN + ":too_hot",
            "name": "tooHot",
            "type": "ALERT",
            "value": {"fields": [{"name": "temperature", "type": "NUMBER", "optional": False}]},
        }
    ],
}


class TableDrivers:
    """A DriverFactory handing out prepared fake drivers by name."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self.table = dict(table)
        self.created: list[str] = []

    def create(self, driver: str, options: Mapping[str, Any]) -> Device:
        self.created.append(driver)
        made = self.table[driver]
        if isinstance(made, BaseException):
            raise made
        return made() if callable(made) and not isinstance(made, Device) else made


def model_file(
    *, offline_after: float | None = 60.0, alerts: tuple = (), filters: tuple = ()
) -> ModelFile:
    retry = RetryPolicy(initial_s=1, max_s=30, multiplier=2)
    return ModelFile(
        path="test.yaml",
        store=StoreConfig(path="/tmp/none"),
        health=HealthConfig(enabled=False),
        devices=(
            DeviceConfig(
                id="gh",
                models=(URN,),
                sensors=(
                    SensorConfig(
                        "climate",
                        "t_sensor",
                        "gh",
                        10,
                        (ReadingBinding("temperature", "temperature", filters),),
                        retry=retry,
                    ),
                    SensorConfig(
                        "hygro",
                        "h_sensor",
                        "gh",
                        10,
                        (ReadingBinding("humidity", "humidity"),),
                        retry=retry,
                    ),
                ),
                actuators=(
                    ActuatorConfig("fan", "relay", "gh", "fan", offline_safe_after_s=offline_after),
                ),
                alerts=alerts,
            ),
        ),
    )


@pytest.fixture
def rig(fakes):
    clock = FakeClock()
    sink = RecordingSink()
    requests = RequestDispatcher()
    vd = VirtualDevice("0-GH", DeviceModel.fromJson(MODEL), sink=sink, requests=requests)
    temperature = fakes.ScriptedSensor(24.0)
    humidity = fakes.ScriptedSensor(55.0, key="humidity")
    relay = fakes.FakeRelay(False)
    relay.apply(True)  # whatever the pin was left at by a previous run
    drivers = TableDrivers({"t_sensor": temperature, "h_sensor": humidity, "relay": relay})
    options = RuntimeOptions(clock=clock, notifier=SystemdNotifier(None), schedule=False)
    runtime = Runtime(model_file(), {"gh": vd}, drivers, options=options)
    yield runtime, sink, vd, temperature, humidity, relay, clock
    runtime.stop()


def data(sink: RecordingSink) -> list[dict[str, Any]]:
    return [dict(m.payload["data"]) for m in sink.sent]


def test_start_makes_actuators_safe_and_ticks_send_one_transaction(rig) -> None:
    runtime, sink, _vd, _, _, relay, _ = rig
    runtime.start()
    assert relay.history == [True, False]  # safe state applied at start
    assert data(sink) == [{"fan": False}]  # and the cloud is told
    assert runtime.health.ready
    assert runtime.tick() == {"gh/10s": {"temperature": 24.0, "humidity": 55.0}}
    assert data(sink)[-1] == {"temperature": 24.0, "humidity": 55.0}
    assert repr(runtime) == "<Runtime test.yaml state=running sensors=2 actuators=1>"


def test_stop_applies_safe_state_and_closes_drivers(rig) -> None:
    runtime, _, _, temperature, _, relay, _ = rig
    runtime.start()
    runtime.actuators["fan"].apply_from_cloud(True)
    runtime.stop("SIGTERM")
    assert relay.state is False
    assert relay.closed
    assert temperature.closed
    assert runtime.state == "stopped"
    assert not runtime.health.ready
    runtime.stop()  # idempotent


def test_sensor_failing_half_the_time_then_recovering(rig) -> None:
    runtime, sink, _, temperature, _, _, clock = rig
    temperature.fail = lambda n: n % 2 == 0
    runtime.start()
    sink.clear()
    for _ in range(20):
        runtime.tick()
        clock.advance(10)
    sent = data(sink)
    assert len(sent) == 20  # humidity keeps every tick going out
    assert sum("temperature" in d for d in sent) == 10
    temperature.fail = lambda n: False
    sink.clear()
    for _ in range(5):
        runtime.tick()
        clock.advance(10)
    assert all(d == {"temperature": 24.0, "humidity": 55.0} for d in data(sink))
    snap = runtime.sensors["climate"].status.snapshot()
    assert snap.state is SensorState.OK
    assert snap.recoveries == 10


def test_sensor_gone_for_minutes_comes_back_by_itself(rig) -> None:
    runtime, sink, _, temperature, _, _, clock = rig
    runtime.start()
    temperature.present = False
    for _ in range(60):  # ten minutes
        runtime.tick()
        clock.advance(10)
    assert runtime.sensors["climate"].state is SensorState.FAILING
    assert temperature.reinits > 5
    temperature.present = True
    sink.clear()
    for _ in range(4):  # backoff is capped at 30 s
        runtime.tick()
        clock.advance(10)
    assert {"temperature": 24.0, "humidity": 55.0} in data(sink)
    assert runtime.sensors["climate"].state is SensorState.OK


def test_cloud_loss_safe_state_then_cloud_control_again(rig) -> None:
    runtime, sink, _, _, _, relay, clock = rig
    runtime.start()
    runtime.actuators["fan"].apply_from_cloud(True)
    runtime.note_cloud_failure()
    clock.advance(59)
    assert runtime.housekeep() == []
    clock.advance(1)
    assert runtime.housekeep() == ["fan"]
    assert relay.state is False
    assert data(sink)[-1] == {"fan": False}
    runtime.note_cloud_contact()
    assert runtime.housekeep() == ["fan"]
    runtime.actuators["fan"].apply_from_cloud(True)
    assert relay.state is True


def test_missing_sensor_hardware_at_start_is_retried(fakes) -> None:
    clock = FakeClock()
    sink = RecordingSink()
    vd = VirtualDevice("0-GH", DeviceModel.fromJson(MODEL), sink=sink)
    humidity = fakes.ScriptedSensor(55.0, key="humidity")
    late = fakes.ScriptedSensor(19.0)
    attempts = []

    def build_temperature():
        attempts.append(1)
        if len(attempts) < 3:
            raise DeviceNotFound("no ACK", bus=1, address=0x76)
        return late

    drivers = TableDrivers(
        {"t_sensor": build_temperature, "h_sensor": humidity, "relay": fakes.FakeRelay(False)}
    )
    options = RuntimeOptions(clock=clock, notifier=SystemdNotifier(None), schedule=False)
    runtime = Runtime(model_file(), {"gh": vd}, drivers, options=options)
    runtime.start()
    try:
        sent = []
        for _ in range(5):
            sent.append(runtime.tick()["gh/10s"])
            clock.advance(10)
        assert sent[0] == {"humidity": 55.0}
        assert {"temperature": 19.0, "humidity": 55.0} in sent
        assert runtime.sensors["climate"].status.snapshot().where == "bus 1, address 0x76"
    finally:
        runtime.stop()


def test_bad_driver_options_stop_the_start_and_leave_actuators_safe(fakes) -> None:
    relay = fakes.FakeRelay(False)
    vd = VirtualDevice("0-GH", DeviceModel.fromJson(MODEL), sink=RecordingSink())
    drivers = TableDrivers(
        {
            "t_sensor": DriverConfigError("address 0x99 is not a BME280 address"),
            "h_sensor": fakes.ScriptedSensor(1.0),
            "relay": relay,
        }
    )
    options = RuntimeOptions(notifier=SystemdNotifier(None), schedule=False)
    runtime = Runtime(model_file(), {"gh": vd}, drivers, options=options)
    with pytest.raises(DriverConfigError, match="0x99"):
        runtime.start()
    assert relay.state is False
    assert relay.closed
    assert runtime.state == "stopped"


def test_every_device_needs_a_virtual_device(fakes) -> None:
    with pytest.raises(ConfigError, match="no virtual device for device"):
        Runtime(model_file(), {}, TableDrivers({}))


def test_scheduled_runtime_sends_without_manual_ticks(fakes) -> None:
    sink = RecordingSink()
    vd = VirtualDevice("0-GH", DeviceModel.fromJson(MODEL), sink=sink)
    drivers = TableDrivers(
        {
            "t_sensor": fakes.ScriptedSensor(20.0),
            "h_sensor": fakes.ScriptedSensor(40.0, key="humidity"),
            "relay": fakes.FakeRelay(False),
        }
    )
    got = threading.Event()
    seen: list[Mapping[str, object]] = []

    def on_sent(device: str, values: Mapping[str, object]) -> None:
        seen.append(values)
        if "temperature" in values:
            got.set()

    runtime = Runtime(
        model_file(),
        {"gh": vd},
        drivers,
        options=RuntimeOptions(notifier=SystemdNotifier(None)),
        on_sent=on_sent,
    )
    with runtime:
        assert got.wait(5)
    assert {"temperature": 20.0, "humidity": 40.0} in seen
    assert runtime.state == "stopped"


def test_filters_and_alert_rules_from_the_model_file(fakes) -> None:
    clock = FakeClock()
    sink = RecordingSink()
    vd = VirtualDevice("0-GH", DeviceModel.fromJson(MODEL), sink=sink)
    temperature = fakes.ScriptedSensor(29.0)
    drivers = TableDrivers(
        {
            "t_sensor": temperature,
            "h_sensor": fakes.ScriptedSensor(40.0, key="humidity"),
            "relay": fakes.FakeRelay(False),
        }
    )
    alert = AlertConfig(
        "too_hot",
        "gh",
        URN + ":too_hot",
        AlertCondition("temperature", "above", 30.0, hysteresis=2.0, for_s=20),
        fields=(AlertField("temperature", attribute="temperature"),),
    )
    model = model_file(alerts=(alert,), filters=(OffsetFilter(-1.0),))
    options = RuntimeOptions(clock=clock, notifier=SystemdNotifier(None), schedule=False)
    runtime = Runtime(model, {"gh": vd}, drivers, options=options)
    runtime.start()
    try:
        assert runtime.tick()["gh/10s"]["temperature"] == 28.0  # offset applied
        temperature.value = 33.0
        for _ in range(3):
            runtime.tick()
            clock.advance(10)
            runtime.housekeep()
        alerts = [m for m in sink.sent if m.type.value == "ALERT"]
        assert len(alerts) == 1
        assert alerts[0].payload["data"] == {"temperature": 32.0}
        assert alerts[0].payload["format"] == URN + ":too_hot"
    finally:
        runtime.stop()


def test_systemd_ready_watchdog_and_stopping(fakes, tmp_path) -> None:
    import socket

    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(5)
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    vd = VirtualDevice("0-GH", DeviceModel.fromJson(MODEL), sink=RecordingSink())
    drivers = TableDrivers(
        {
            "t_sensor": fakes.ScriptedSensor(20.0),
            "h_sensor": fakes.ScriptedSensor(40.0, key="humidity"),
            "relay": fakes.FakeRelay(False),
        }
    )
    runtime = Runtime(
        model_file(), {"gh": vd}, drivers, options=RuntimeOptions(notifier=notifier, schedule=False)
    )
    try:
        runtime.start()
        assert listener.recv(256) == b"READY=1\nSTATUS=sampling 2 sensors, 1 actuators"
        runtime.tick()
        assert listener.recv(256) == b"WATCHDOG=1"
        runtime.housekeep()  # within the 1 s ping interval: no second ping
        runtime.stop("SIGTERM")
        assert listener.recv(256) == b"STOPPING=1"
    finally:
        runtime.stop()
        notifier.close()
        listener.close()
