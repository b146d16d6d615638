"""Report strategies and alert rules with hysteresis: feed values, read decisions."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iotcs_hw.runtime.alerts import TRANSITIONS, AlertRule, AlertState
from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.reporting import Reporter


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --------------------------------------------------------------------------------------------
# Report strategies


def test_every_sample_sends_everything_but_nan() -> None:
    r = Reporter(m.ReportStrategy("every_sample"), FakeClock())
    assert [r.offer(v) for v in (1.0, 1.0, math.nan, 2.0)] == [True, True, False, True]
    assert r.next_deadline() is None


def test_on_change_with_and_without_a_dead_band() -> None:
    r = Reporter(m.ReportStrategy("on_change"), FakeClock())
    assert [r.offer(v) for v in (20.0, 20.0, 20.1, 20.1)] == [True, False, True, False]
    band = Reporter(m.ReportStrategy("on_change", min_change=0.5), FakeClock())
    assert [band.offer(v) for v in (20.0, 20.4, 20.5, 20.1)] == [True, False, True, False]


def test_on_change_for_booleans() -> None:
    r = Reporter(m.ReportStrategy("on_change"), FakeClock())
    assert [r.offer(v) for v in (False, False, True, True, False)] == [
        True,
        False,
        True,
        False,
        True,
    ]


def test_periodic_sends_first_then_latest_every_period() -> None:
    clock = FakeClock()
    r = Reporter(m.ReportStrategy("periodic", period_s=60.0), clock)
    assert r.poll() is None
    assert r.offer(1.0) is True
    assert r.offer(2.0) is False
    assert r.next_deadline() == 60.0
    clock.advance(59.0)
    assert r.poll() is None
    clock.advance(1.0)
    assert r.poll() == 2.0
    assert r.poll() is None
    clock.advance(60.0)
    assert r.poll() == 2.0  # unchanged values are still sent on the period


def test_on_change_or_periodic_is_a_heartbeat() -> None:
    clock = FakeClock()
    r = Reporter(m.ReportStrategy("on_change_or_periodic", period_s=300.0), clock)
    assert r.offer(21.0) is True
    clock.advance(100.0)
    assert r.offer(21.0) is False
    assert r.offer(21.5) is True  # changed: sent, and the heartbeat restarts from now
    assert r.next_deadline() == 400.0
    clock.advance(299.0)
    assert r.poll() is None
    clock.advance(1.0)
    assert r.poll() == 21.5


@given(st.lists(st.floats(min_value=-100, max_value=100), max_size=50))
def test_on_change_never_sends_the_same_value_twice_in_a_row(values: list[float]) -> None:
    r = Reporter(m.ReportStrategy("on_change"), FakeClock())
    sent = [v for v in values if r.offer(v)]
    assert all(a != b for a, b in itertools.pairwise(sent))
    finite = [v for v in values if not math.isnan(v)]
    if finite:
        assert sent[-1] == finite[-1]


# --------------------------------------------------------------------------------------------
# Alerts


def _rule(
    op: str = "above",
    threshold: float | bool = 35.0,
    hysteresis: float = 2.0,
    for_s: float = 0.0,
    repeat_s: float | None = None,
    clock: FakeClock | None = None,
) -> AlertRule:
    config = m.AlertConfig(
        name="too_hot",
        device="gh",
        format="urn:x:too_hot",
        condition=m.AlertCondition("temperature", op, threshold, hysteresis, for_s),  # type: ignore[arg-type]
        severity="CRITICAL",
        fields=(
            m.AlertField("temperature", attribute="temperature"),
            m.AlertField("limit", constant=35),
        ),
        description="hot",
        repeat_s=repeat_s,
    )
    return AlertRule(config, clock or FakeClock())


def test_raises_once_per_crossing_with_hysteresis() -> None:
    rule = _rule()
    fired = [rule.feed(v) is not None for v in (30, 35, 35.5, 34, 36, 33.5, 33, 36)]
    # 35 is not above 35; 35.5 raises; wobbling above 33 does not re-arm; 33 re-arms.
    assert fired == [False, False, True, False, False, False, False, True]


def test_decision_carries_what_the_alert_needs() -> None:
    rule = _rule()
    decision = rule.feed(40.0)
    assert decision is not None
    assert (decision.name, decision.device, decision.format) == ("too_hot", "gh", "urn:x:too_hot")
    assert (decision.severity, decision.description, decision.value) == ("CRITICAL", "hot", 40.0)
    assert rule.fields({"temperature": 40.0, "humidity": 3}) == {"temperature": 40.0, "limit": 35}
    assert rule.fields({}) == {"limit": 35}
    assert repr(rule) == "<AlertRule 'too_hot' state=fired>"


def test_below_rearms_above_threshold_plus_hysteresis() -> None:
    rule = _rule("below", 10.0, 1.0)
    fired = [rule.feed(v) is not None for v in (12, 9, 10.5, 9, 11, 8)]
    assert fired == [False, True, False, False, False, True]


def test_equals_for_booleans() -> None:
    rule = _rule("equals", True, 0.0)
    fired = [rule.feed(v) is not None for v in (False, True, True, False, True)]
    assert fired == [False, True, False, False, True]


def test_for_delays_the_raise_until_the_condition_held() -> None:
    clock = FakeClock()
    rule = _rule(for_s=30.0, clock=clock)
    assert rule.feed(40.0) is None
    assert rule.state is AlertState.PENDING
    assert rule.next_deadline() == 30.0
    clock.advance(29.0)
    assert rule.poll() is None
    clock.advance(1.0)
    assert rule.poll() is not None
    assert rule.state is AlertState.FIRED


def test_for_is_reset_by_a_dip() -> None:
    clock = FakeClock()
    rule = _rule(for_s=30.0, clock=clock)
    rule.feed(40.0)
    clock.advance(20.0)
    assert rule.feed(34.0) is None  # below the threshold: back to armed
    assert rule.state is AlertState.ARMED
    clock.advance(20.0)
    assert rule.feed(40.0) is None
    clock.advance(29.0)
    assert rule.feed(40.0) is None
    clock.advance(1.0)
    assert rule.feed(40.0) is not None


def test_repeat_while_the_condition_stays() -> None:
    clock = FakeClock()
    rule = _rule(repeat_s=600.0, clock=clock)
    first = rule.feed(40.0)
    assert first is not None
    assert not first.repeat
    clock.advance(599.0)
    assert rule.feed(40.0) is None
    clock.advance(1.0)
    again = rule.poll()
    assert again is not None
    assert again.repeat
    clock.advance(600.0)
    assert rule.feed(34.0) is None  # inside the hysteresis band: not a trigger, no repeat


def test_nan_changes_nothing() -> None:
    rule = _rule()
    assert rule.feed(math.nan) is None
    assert rule.poll() is None
    assert rule.state is AlertState.ARMED


def test_transition_table_is_total() -> None:
    for state in AlertState:
        assert set(TRANSITIONS[state]) == set(TRANSITIONS[AlertState.ARMED])


@given(
    st.lists(st.floats(min_value=0, max_value=60, allow_nan=False), max_size=80),
    st.floats(min_value=0, max_value=5),
)
def test_between_two_raises_the_value_went_back_past_the_hysteresis(
    values: list[float], hysteresis: float
) -> None:
    rule = _rule(hysteresis=hysteresis)
    raised_at = [i for i, v in enumerate(values) if rule.feed(v) is not None]
    for a, b in itertools.pairwise(raised_at):
        assert min(values[a:b]) <= 35.0 - hysteresis
    for i in raised_at:
        assert values[i] > 35.0


@pytest.mark.parametrize("op", ["above", "below"])
def test_values_that_never_trigger_never_raise(op: str) -> None:
    rule = _rule(op, 35.0, 1.0)
    safe = [20.0, 30.0, 34.9] if op == "above" else [36.0, 40.0, 35.1]
    assert all(rule.feed(v) is None for v in safe * 10)
