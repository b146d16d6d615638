"""The sampling engine: one transaction per tick, isolation of slow and failing sensors,
impossible values reported and not sent, edge reports, missed ticks counted."""

from __future__ import annotations

import math
import threading

import pytest

from iotcs_hw.runtime.clock import FakeClock
from iotcs_hw.runtime.device_link import DeviceWriter
from iotcs_hw.runtime.healing import Backoff, SupervisedSensor
from iotcs_hw.runtime.sampling import AttributeFeed, SamplingEngine, SamplingGroup, SensorChannel
from iotcs_hw.runtime.values import ValueCheck


def channel(
    name,
    sensor,
    clock,
    attribute=None,
    *,
    reading="temperature",
    low=-40,
    high=85,
    stage=None,
    timeout_s=2.0,
    kind="NUMBER",
):
    supervised = SupervisedSensor(name, sensor, clock=clock, backoff=Backoff(initial_s=1))
    feed = AttributeFeed(reading, ValueCheck(attribute or name, kind, low, high), stage)
    return SensorChannel(supervised, [feed], timeout_s=timeout_s)


def test_sensors_sharing_an_interval_go_out_as_one_transaction(fakes, clock, device) -> None:
    engine = SamplingEngine(clock=clock)
    engine.add_group(
        SamplingGroup(
            "gh/10s",
            DeviceWriter(device),
            10,
            [
                channel("temperature", fakes.ScriptedSensor(24.5), clock),
                channel("humidity", fakes.ScriptedSensor(61.0), clock, high=100),
                channel("light", fakes.ScriptedSensor(1200), clock, low=0, high=100000),
            ],
        )
    )
    result = engine.tick("gh/10s")
    assert result.sent == {"temperature": 24.5, "humidity": 61.0, "light": 1200}
    assert fakes.data_of(device.sink.sent) == [
        {"temperature": 24.5, "humidity": 61.0, "light": 1200}
    ]
    [message] = device.sink.sent
    assert message.payload["format"] == "urn:test:gh:attributes"
    assert engine.groups[0].counters.transactions == 1


def test_a_failing_sensor_does_not_stop_the_others(fakes, clock, device) -> None:
    broken = fakes.ScriptedSensor(1.0)
    broken.present = False
    engine = SamplingEngine(clock=clock)
    engine.add_group(
        SamplingGroup(
            "g",
            DeviceWriter(device),
            5,
            [channel("broken", broken, clock), channel("ok", fakes.ScriptedSensor(2.0), clock)],
        )
    )
    result = engine.tick("g")
    assert result.failed == ("broken",)
    assert fakes.data_of(device.sink.sent) == [{"ok": 2.0}]
    # while backing off, the broken sensor is skipped without touching the bus
    reads = broken.reads
    assert engine.tick("g").skipped == ("broken",)
    assert broken.reads == reads


def test_a_hung_sensor_costs_one_timeout_then_is_skipped(
    fakes, clock, device, release_blockers
) -> None:
    slow = fakes.BlockingSensor(5.0)
    release_blockers.append(slow)
    engine = SamplingEngine(clock=clock)
    engine.add_group(
        SamplingGroup(
            "g",
            DeviceWriter(device),
            1,
            [
                channel("slow", slow, clock, timeout_s=0.05),
                channel("fast", fakes.ScriptedSensor(7.0), clock),
            ],
        )
    )
    first = engine.tick("g")
    assert first.failed == ("slow",)
    assert first.sent == {"fast": 7.0}
    clock.advance(5)
    second = engine.tick("g")  # still hung: skipped, not waited for
    assert second.skipped == ("slow",)
    assert second.sent == {"fast": 7.0}
    snap = engine.groups[0].channels[0].sensor.status.snapshot()
    assert snap.last_error == "HardwareTimeout: read did not finish within 0.05 s"
    # the hang ends: the sensor reports again by itself
    slow.release.set()
    engine.groups[0].channels[0]._pending.result(timeout=5)
    clock.advance(5)
    third = engine.tick("g")
    assert third.sent == {"slow": 5.0, "fast": 7.0}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (math.nan, "temperature: sensor produced nan"),
        (math.inf, "temperature: sensor produced inf"),
        (130.0, "temperature: 130.0 is outside the range [-40, 85]"),
        (-41.0, "temperature: -41.0 is outside the range [-40, 85]"),
    ],
)
def test_impossible_values_are_reported_and_not_sent(fakes, clock, device, value, problem):
    rejected: list[tuple[str, str]] = []
    engine = SamplingEngine(clock=clock, on_value_rejected=lambda s, p: rejected.append((s, p)))
    engine.add_group(
        SamplingGroup(
            "g",
            DeviceWriter(device),
            5,
            [
                channel("temperature", fakes.ScriptedSensor(value), clock),
                channel("humidity", fakes.ScriptedSensor(50.0), clock, high=100),
            ],
        )
    )
    result = engine.tick("g")
    assert result.rejected == ("temperature",)
    assert rejected == [("temperature", problem)]
    assert fakes.data_of(device.sink.sent) == [{"humidity": 50.0}]
    snap = engine.groups[0].channels[0].sensor.status.snapshot()
    assert snap.values_rejected == 1
    assert snap.last_error == f"value not sent: {problem}"


def test_integer_attribute_gets_whole_numbers_only(fakes, clock, device) -> None:
    engine = SamplingEngine(clock=clock)
    engine.add_group(
        SamplingGroup(
            "g",
            DeviceWriter(device),
            5,
            [channel("count", fakes.ScriptedSensor(3.0), clock, kind="INTEGER", low=0, high=10)],
        )
    )
    engine.tick("g")
    [payload] = fakes.data_of(device.sink.sent)
    assert payload == {"count": 3}
    assert type(payload["count"]) is int


def test_value_stage_runs_and_may_hold_values_back(fakes, clock, device) -> None:
    seen: list[tuple[float, float]] = []

    def every_second_value_doubled(value, now):
        seen.append((value, now))
        return value * 2 if len(seen) % 2 == 0 else None

    engine = SamplingEngine(clock=clock)
    engine.add_group(
        SamplingGroup(
            "g",
            DeviceWriter(device),
            5,
            [channel("t", fakes.ScriptedSensor(10.0), clock, stage=every_second_value_doubled)],
        )
    )
    assert engine.tick("g").sent == {}
    clock.advance(5)
    assert engine.tick("g").sent == {"t": 20.0}
    assert seen == [(10.0, 1000.0), (10.0, 1005.0)]
    assert fakes.data_of(device.sink.sent) == [{"t": 20.0}]


def test_duplicate_sensor_or_group_is_refused(fakes, clock, device) -> None:
    engine = SamplingEngine(clock=clock)
    engine.add_group(
        SamplingGroup("a", DeviceWriter(device), 5, [channel("s", fakes.ScriptedSensor(), clock)])
    )
    with pytest.raises(ValueError, match="already exists"):
        engine.add_group(SamplingGroup("a", DeviceWriter(device), 5, []))
    with pytest.raises(ValueError, match="two sampling groups"):
        engine.add_group(
            SamplingGroup(
                "b", DeviceWriter(device), 5, [channel("s", fakes.ScriptedSensor(), clock)]
            )
        )


def test_scheduler_counts_missed_ticks_instead_of_piling_them_up(
    fakes, device, release_blockers
) -> None:
    """A tick that outlasts its interval: later ticks are counted as missed, never queued."""
    slow = fakes.BlockingSensor(1.0)
    release_blockers.append(slow)
    clock = FakeClock()
    ticked = threading.Event()
    engine = SamplingEngine(clock=clock, on_tick=ticked.set)
    engine.add_group(
        SamplingGroup("g", DeviceWriter(device), 0.02, [channel("slow", slow, clock, timeout_s=30)])
    )
    engine.start()
    try:
        assert slow.started.wait(5)
        group = engine.groups[0]
        # wait (bounded) until the scheduler has refused at least three overlapping runs
        deadline = threading.Event()
        for _ in range(500):
            if group.counters.missed_ticks >= 3:
                break
            deadline.wait(0.01)
        assert group.counters.missed_ticks >= 3
        assert group.counters.ticks == 0
        slow.release.set()
        assert ticked.wait(5)
    finally:
        engine.stop()
    assert not engine.running
    # one read ran for the whole blocked period: nothing piled up behind it
    assert slow.reads <= group.counters.ticks + 1


def test_pushed_edge_reading_is_sent_at_once(fakes, clock, device) -> None:
    button = fakes.ScriptedSensor(False, key="pressed")
    engine = SamplingEngine(clock=clock)
    engine.add_group(
        SamplingGroup(
            "g",
            DeviceWriter(device),
            60,
            [
                channel(
                    "button", button, clock, reading="pressed", kind="BOOLEAN", low=None, high=None
                )
            ],
        )
    )
    assert engine.push_reading("button", {"pressed": True}).result(timeout=5).sent == {
        "button": True
    }
    assert button.reads == 0  # the pushed value is used as is, the bus is not read again
    assert fakes.data_of(device.sink.sent) == [{"button": True}]
    snap = engine.groups[0].channels[0].sensor.status.snapshot()
    assert snap.last_value == {"pressed": True}


def test_timed_filter_output_is_polled_even_when_the_sensor_is_down(fakes, clock, device) -> None:
    sensor = fakes.ScriptedSensor(20.0)
    sensor.present = False
    polls: list[float] = []

    def heartbeat(now: float):
        polls.append(now)
        return -1.0 if len(polls) == 2 else None

    ch = channel("t", sensor, clock)
    ch.feeds[0].poll = heartbeat
    engine = SamplingEngine(clock=clock)
    engine.add_group(SamplingGroup("g", DeviceWriter(device), 5, [ch]))
    assert engine.tick("g").sent == {}
    clock.advance(5)
    assert engine.tick("g").sent == {"t": -1.0}
    assert polls == [1000.0, 1005.0]
