"""Actuation: validation before the driver, minimum on/off times, interlocks, safe states."""

from __future__ import annotations

import pytest

from iotcs_hw.runtime.actuation import (
    ActuationFailed,
    ActuationRefused,
    ActuatorBinding,
    InterlockGroup,
    apply_writes,
)
from iotcs_hw.runtime.clock import FakeClock
from iotcs_hw.runtime.safety import CloudLossGuard
from iotcs_hw.runtime.values import ValueCheck


def fan_binding(fakes, clock, **kwargs):
    relay = fakes.FakeRelay(False)
    reported: list[tuple[str, object]] = []
    binding = ActuatorBinding(
        "fan",
        relay,
        ValueCheck("fan", "BOOLEAN"),
        clock=clock,
        on_state_reported=lambda a, v: reported.append((a, v)),
        **kwargs,
    )
    return binding, relay, reported


def test_cloud_write_applies_through_the_driver(fakes, clock) -> None:
    binding, relay, _ = fan_binding(fakes, clock)
    assert binding.apply_from_cloud(True) is True
    assert relay.history == [True]
    assert binding.state is True
    assert binding.snapshot().writes_applied == 1
    assert repr(binding) == "<ActuatorBinding 'fan' fan=True safe=False>"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yes", "actuator fan: fan: 'yes' is not a BOOLEAN (true or false)"),
        (1, "actuator fan: fan: 1 is not a BOOLEAN (true or false)"),
        (None, "actuator fan: fan: value is None; a BOOLEAN is required"),
    ],
)
def test_wrong_type_is_refused_and_the_output_is_untouched(fakes, clock, value, message):
    binding, relay, _ = fan_binding(fakes, clock)
    binding.apply_from_cloud(True)
    with pytest.raises(ActuationRefused) as info:
        binding.apply_from_cloud(value)
    assert str(info.value) == message
    assert info.value.status == 400
    assert relay.history == [True]
    assert binding.snapshot().writes_rejected == 1


def test_range_and_limits_are_both_enforced(fakes, clock) -> None:
    dimmer = fakes.FakeRelay(0, numeric=True)
    binding = ActuatorBinding(
        "grow_light",
        dimmer,
        ValueCheck("light_level", "INTEGER", 0, 100),
        limits=(0, 80),
        clock=clock,
    )
    binding.apply_from_cloud(50)
    with pytest.raises(ActuationRefused, match=r"101 is outside the range \[0, 100\]"):
        binding.apply_from_cloud(101)
    with pytest.raises(ActuationRefused, match=r"90 is outside its limits 0\.\.80"):
        binding.apply_from_cloud(90)
    with pytest.raises(ActuationRefused, match="not a whole number"):
        binding.apply_from_cloud(12.5)
    assert dimmer.history == [50]


def test_driver_refusal_is_a_400_and_hardware_failure_a_500(fakes, clock) -> None:
    relay = fakes.FakeRelay(False)
    binding = ActuatorBinding("pump", relay, ValueCheck("pump", "NUMBER", 0, 10), clock=clock)
    with pytest.raises(ActuationRefused, match="relay takes a boolean") as refused:
        binding.apply_from_cloud(3)
    assert refused.value.status == 400
    relay.numeric = True
    relay.broken = True
    with pytest.raises(ActuationFailed, match="expander did not acknowledge") as failed:
        binding.apply_from_cloud(3)
    assert failed.value.status == 500
    assert binding.state is None


def test_minimum_on_and_off_times(fakes) -> None:
    clock = FakeClock()
    binding, relay, _ = fan_binding(fakes, clock, min_on_s=60, min_off_s=30)
    binding.apply_safe("start")
    clock.advance(10)
    with pytest.raises(ActuationRefused) as info:
        binding.apply_from_cloud(True)
    assert str(info.value) == (
        "actuator fan: must stay off at least 30 s (off for 10.0 s; retry in 20.0 s)"
    )
    assert info.value.status == 409
    clock.advance(20)
    binding.apply_from_cloud(True)
    clock.advance(59)
    with pytest.raises(ActuationRefused, match="must stay on at least 60 s"):
        binding.apply_from_cloud(False)
    binding.apply_from_cloud(True)  # staying on is always fine
    clock.advance(1)
    binding.apply_from_cloud(False)
    assert relay.history == [False, True, True, False]


def test_safe_state_overrides_minimum_on_time(fakes, clock) -> None:
    binding, relay, reported = fan_binding(fakes, clock, min_on_s=600)
    binding.apply_from_cloud(True)
    assert binding.apply_safe("shutdown")
    assert relay.state is False
    assert reported == [("fan", False)]


def test_interlocked_outputs_are_never_on_together(fakes, clock) -> None:
    group = InterlockGroup("climate")
    heater = ActuatorBinding(
        "heater",
        fakes.FakeRelay(False),
        ValueCheck("heater", "BOOLEAN"),
        interlock=group,
        clock=clock,
    )
    cooler = ActuatorBinding(
        "cooler",
        fakes.FakeRelay(False),
        ValueCheck("cooler", "BOOLEAN"),
        interlock=group,
        clock=clock,
    )
    heater.apply_from_cloud(True)
    with pytest.raises(ActuationRefused) as info:
        cooler.apply_from_cloud(True)
    assert str(info.value) == (
        "actuator cooler: interlock 'climate': heater is on (heater=True); turn it off first"
    )
    assert cooler.state is None
    heater.apply_from_cloud(False)
    cooler.apply_from_cloud(True)
    assert (heater.state, cooler.state) == (False, True)


def test_a_multi_attribute_write_is_all_or_nothing(fakes, clock) -> None:
    fan, fan_relay, _ = fan_binding(fakes, clock)
    vent_servo = fakes.FakeRelay(0, numeric=True)
    vent = ActuatorBinding("vent", vent_servo, ValueCheck("vent", "NUMBER", 0, 90), clock=clock)
    bindings = {"fan": fan, "vent": vent}
    with pytest.raises(ActuationRefused, match="vent: 120 is outside the range"):
        apply_writes(bindings, [("fan", True), ("vent", 120)])
    assert fan_relay.history == []
    assert vent_servo.history == []
    apply_writes(bindings, [("fan", True), ("vent", 45)])
    assert (fan.state, vent.state) == (True, 45)
    with pytest.raises(ActuationRefused, match="drives no actuator") as info:
        apply_writes(bindings, [("nope", 1)])
    assert info.value.status == 404


def test_cloud_loss_puts_outputs_safe_and_contact_returns_control(fakes) -> None:
    clock = FakeClock()
    fan, relay, reported = fan_binding(fakes, clock, offline_safe_after_s=120)
    pump = ActuatorBinding(
        "pump", fakes.FakeRelay(False), ValueCheck("pump", "BOOLEAN"), clock=clock
    )  # no offline time: left alone
    guard = CloudLossGuard([fan, pump], clock=clock)
    assert [b.name for b in guard.watched] == ["fan"]
    fan.apply_from_cloud(True)
    pump.apply_from_cloud(True)
    clock.advance(119)
    assert guard.check() == []
    guard.note_failure()
    assert not guard.connected
    clock.advance(1)
    assert guard.check() == ["fan"]
    assert relay.state is False
    assert fan.in_safe_mode
    assert pump.state is True
    assert reported == [("fan", False)]
    assert guard.check() == []  # applied once, not every check
    clock.advance(600)
    guard.note_contact()
    assert guard.check() == ["fan"]
    assert not fan.in_safe_mode
    assert relay.state is False  # stays safe until the cloud decides again
    fan.apply_from_cloud(True)
    assert relay.history == [True, False, True]


def test_safe_state_failure_is_reported_not_raised(fakes, clock) -> None:
    binding, relay, _ = fan_binding(fakes, clock)
    relay.broken = True
    assert binding.apply_safe("shutdown") is False
    assert "safe state False failed" in (binding.snapshot().last_error or "")


def test_scale_maps_attribute_units_to_driver_units(fakes, clock) -> None:
    from iotcs_hw.runtime.config.model import LinearMap

    pwm = fakes.FakeRelay(0.0, numeric=True)
    reported: list[tuple[str, object]] = []
    binding = ActuatorBinding(
        "grow_light",
        pwm,
        ValueCheck("grow_light", "NUMBER", 0, 100),
        scale=LinearMap((0, 100), (0, 1)),
        limits=(0, 80),
        clock=clock,
        on_state_reported=lambda a, v: reported.append((a, v)),
    )
    assert binding.safe_state == 0  # the driver's 0.0 duty cycle, in percent
    assert binding.apply_from_cloud(50) == 50
    assert pwm.history == [0.5]
    assert binding.state == 50
    with pytest.raises(ActuationRefused, match="outside its limits"):
        binding.apply_from_cloud(90)  # limits are in attribute units
    binding.apply_safe("test")
    assert pwm.history == [0.5, 0.0]
    assert reported == [("grow_light", 0.0)]
