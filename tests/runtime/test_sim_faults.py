"""Fault tests on the real drivers over simulated hardware: a BME280 on a SimSMBus failing half
of its transfers, the same chip unplugged for minutes of simulated time, and a button on a
gpiozero mock pin reporting its edges at once.  Virtual devices send into a RecordingSink."""

from __future__ import annotations

from typing import Any

import pytest

from drivers.sim import pins
from drivers.sim.physics import FixedValues
from iotcs_hw.client import DeviceModel, VirtualDevice
from iotcs_hw.messaging import RecordingSink
from iotcs_hw.runtime.app import Runtime, RuntimeOptions
from iotcs_hw.runtime.clock import FakeClock
from iotcs_hw.runtime.config import ModelMapping, parse_text
from iotcs_hw.runtime.drivers_factory import SimulatedDrivers
from iotcs_hw.runtime.launcher import wait_until
from iotcs_hw.runtime.sdnotify import SystemdNotifier
from iotcs_hw.runtime.status import SensorState

URN = "urn:test:shed"
MODEL = DeviceModel.fromJson(
    {
        "urn": URN,
        "name": "Shed",
        "attributes": [
            {"name": "temperature", "type": "NUMBER", "range": "-40,85"},
            {"name": "door", "type": "BOOLEAN"},
        ],
    }
)
FILE = """
store: {path: /tmp/none.conf}
devices:
  - id: shed
    model: urn:test:shed
    sensors:
      - name: climate
        driver: bme280
        address: 0x76
        interval: 10s
        retry: {initial: 1s, max: 30s}
        readings:
          temperature: {attribute: temperature}
      - name: door
        driver: button
        pin: GPIO5
        interval: 1h
        readings:
          pressed: {attribute: door}
health: {enabled: false}
"""


@pytest.fixture
def shed():
    model = parse_text(FILE, "shed.yaml", models=ModelMapping([MODEL]))
    clock = FakeClock()
    sink = RecordingSink()
    vd = VirtualDevice("0-SHED", MODEL, sink=sink)
    drivers = SimulatedDrivers(FixedValues(temperature=18.5))
    errors: list[str] = []
    runtime = Runtime(
        model,
        {"shed": vd},
        drivers,
        options=RuntimeOptions(clock=clock, notifier=SystemdNotifier(None), schedule=False),
        on_error=lambda device, event: errors.append(event.getMessage()),
    )
    runtime.start()
    try:
        yield runtime, sink, drivers, clock, errors
    finally:
        runtime.stop()


def temperatures(sink: RecordingSink) -> list[Any]:
    return [
        m.payload["data"]["temperature"] for m in sink.sent if "temperature" in m.payload["data"]
    ]


def test_bme280_failing_half_its_transfers_then_recovering(shed) -> None:
    runtime, sink, drivers, clock, errors = shed
    # a forced-mode read is about three transfers: 20 % of transfers fail about half the reads
    faults = drivers.bus(1).faults(0x76).fail_rate(0.2, seed=7)
    for _ in range(60):
        runtime.tick()
        clock.advance(10)
    snap = runtime.sensors["climate"].status.snapshot()
    assert snap.reads_failed >= 3
    assert snap.reads_ok >= 3
    assert snap.recoveries >= 1  # it keeps coming back while the bus is flaky
    assert len(temperatures(sink)) == snap.reads_ok
    assert all(t == pytest.approx(18.5, abs=0.01) for t in temperatures(sink))
    assert errors
    assert errors[0].startswith("sensor climate (bme280 on bus 1, address 0x76) failed: ")
    faults.clear()
    for _ in range(4):  # at most the capped backoff (30 s), then every tick reads again
        runtime.tick()
        clock.advance(10)
    sink.clear()
    for _ in range(10):
        runtime.tick()
        clock.advance(10)
    assert len(temperatures(sink)) == 10
    assert runtime.sensors["climate"].state is SensorState.OK


def test_bme280_unplugged_for_minutes_comes_back_by_itself(shed) -> None:
    runtime, sink, drivers, clock, errors = shed
    runtime.tick()
    drivers.bus(1).faults(0x76).disappear()
    sink.clear()
    for _ in range(30):  # five minutes without the chip
        runtime.tick()
        clock.advance(10)
    assert temperatures(sink) == []
    snap = runtime.sensors["climate"].status.snapshot()
    assert snap.state is SensorState.FAILING
    assert "DeviceNotFound" in (snap.last_error or "") or "121" in (snap.last_error or "")
    assert errors  # reported through the ErrorCallback
    drivers.bus(1).faults(0x76).reappear()
    for _ in range(4):
        runtime.tick()
        clock.advance(10)
    assert temperatures(sink)
    assert runtime.sensors["climate"].state is SensorState.OK
    assert runtime.sensors["climate"].status.snapshot().recoveries == 1


def test_button_edges_are_reported_at_once(shed) -> None:
    _runtime, sink, drivers, _, _ = shed
    sink.clear()
    pins.drive_low(drivers.pin_factory, 5)  # pressed (pull-up button)

    def door_values() -> list[Any]:
        return [m.payload["data"]["door"] for m in sink.sent if "door" in m.payload["data"]]

    assert wait_until(lambda: door_values() == [True], 5), door_values()
    pins.drive_high(drivers.pin_factory, 5)
    assert wait_until(lambda: door_values() == [True, False], 5), door_values()
