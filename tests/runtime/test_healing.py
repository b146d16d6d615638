"""Self-healing: backoff, re-initialisation, recovery, and never giving up."""

from __future__ import annotations

import pytest

from drivers.errors import BusError
from iotcs_hw.runtime.clock import FakeClock
from iotcs_hw.runtime.healing import Backoff, SupervisedSensor
from iotcs_hw.runtime.status import SensorState


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(initial_s=1, factor=2, max_s=10)
    assert [backoff.delay_s(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    # days of failures must not overflow
    assert backoff.delay_s(100_000) == 10


@pytest.mark.parametrize(
    "kwargs",
    [{"initial_s": 0}, {"factor": 0.5}, {"initial_s": 5, "max_s": 1}, {"jitter": 2}],
)
def test_backoff_rejects_impossible_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kwargs)


def test_failing_sensor_backs_off_reinitialises_and_recovers(fakes, clock: FakeClock) -> None:
    sensor = fakes.ScriptedSensor(20.5)
    faults: list[str] = []
    recovered: list[str] = []
    supervised = SupervisedSensor(
        "climate",
        sensor,
        backoff=Backoff(initial_s=1, factor=2, max_s=8),
        clock=clock,
        on_fault=lambda s, exc: faults.append(str(exc)),
        on_recover=lambda s: recovered.append(s.name),
    )
    assert supervised.sample() == {"temperature": 20.5}
    sensor.present = False
    assert supervised.sample() is None
    assert supervised.state is SensorState.FAILING
    assert faults == ["bus 1, address 0x76: no answer (errno 121)"]
    # inside the backoff window nothing touches the bus
    reads_before = sensor.reads
    clock.advance(0.5)
    assert supervised.sample() is None
    assert sensor.reads == reads_before
    # each retry re-initialises first; the reinit itself fails while the chip is gone
    delays = []
    for _ in range(6):
        snap = supervised.status.snapshot(clock.monotonic())
        assert snap.next_attempt_in_s is not None
        delays.append(round(snap.next_attempt_in_s, 3))
        clock.advance(snap.next_attempt_in_s)
        assert supervised.sample() is None
    assert delays == [0.5, 2, 4, 8, 8, 8]
    # the first retry is a plain read (a glitch); from the second failure on, re-initialise
    assert sensor.reinits == 5
    # the error text changed (reinit failure) -> reported once more, not on every retry
    assert faults == [
        "bus 1, address 0x76: no answer (errno 121)",
        "bus 1, address 0x76: chip id read failed",
    ]
    sensor.present = True
    clock.advance(8)
    assert supervised.sample() == {"temperature": 20.5}
    assert supervised.state is SensorState.OK
    assert recovered == ["climate"]
    snap = supervised.status.snapshot()
    assert (snap.reads_ok, snap.reads_failed, snap.recoveries, snap.consecutive_failures) == (
        2,
        7,
        1,
        0,
    )


def test_sensor_gone_for_minutes_of_simulated_time_comes_back(fakes, clock: FakeClock) -> None:
    sensor = fakes.ScriptedSensor(3.0)
    supervised = SupervisedSensor(
        "soil", sensor, backoff=Backoff(initial_s=1, max_s=30), clock=clock
    )
    sensor.present = False
    # ten minutes of 5-second ticks
    results = []
    for _ in range(120):
        results.append(supervised.sample())
        clock.advance(5)
    assert all(r is None for r in results)
    assert supervised.state is SensorState.FAILING
    # capped backoff: the bus is tried about every 30 s, not 120 times and not never
    attempts = sensor.reads + sensor.reinits  # a retry that fails in reinitialize() never reads
    assert 18 <= attempts <= 25
    sensor.present = True
    got = None
    for _ in range(7):  # at most max_s of ticks until the next attempt
        got = supervised.sample()
        if got is not None:
            break
        clock.advance(5)
    assert got == {"temperature": 3.0}
    assert supervised.status.snapshot().recoveries == 1


def test_half_the_reads_failing_then_recovering(fakes, clock: FakeClock) -> None:
    sensor = fakes.ScriptedSensor(12.0)
    sensor.fail = lambda n: n % 2 == 0
    supervised = SupervisedSensor("light", sensor, backoff=Backoff(initial_s=1), clock=clock)
    good = 0
    for _ in range(40):
        if supervised.sample() is not None:
            good += 1
        clock.advance(2)  # the interval is longer than the first backoff step
    assert good == 20
    sensor.fail = lambda n: False
    for _ in range(10):
        assert supervised.sample() == {"temperature": 12.0}
        clock.advance(2)
    snap = supervised.status.snapshot()
    assert snap.state is SensorState.OK
    assert snap.recoveries == 20
    assert snap.reads_failed == 20


def test_a_driver_bug_is_retried_like_a_fault(fakes, clock: FakeClock) -> None:
    sensor = fakes.ScriptedSensor(lambda: {}["missing"])  # KeyError inside the driver
    supervised = SupervisedSensor("buggy", sensor, backoff=Backoff(initial_s=1), clock=clock)
    assert supervised.sample() is None
    assert supervised.status.snapshot().last_error == "KeyError: 'missing'"
    sensor.value = 1.0
    clock.advance(1)
    assert supervised.sample() == {"temperature": 1.0}


def test_raising_fault_handler_does_not_break_supervision(fakes, clock: FakeClock) -> None:
    sensor = fakes.ScriptedSensor(1.0)
    sensor.present = False

    def explode(s: SupervisedSensor, exc: BaseException) -> None:
        raise RuntimeError("handler bug")

    supervised = SupervisedSensor("x", sensor, clock=clock, on_fault=explode)
    assert supervised.sample() is None
    assert supervised.state is SensorState.FAILING
    assert isinstance(BusError("x"), OSError)
    assert repr(supervised) == "<SupervisedSensor 'x' state=failing ok=0 failed=1>"
