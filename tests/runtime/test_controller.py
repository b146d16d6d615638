"""The cloud-side thermostat rule, and the live view's lines."""

from __future__ import annotations

import io
from typing import Any

import pytest

from iotcs_hw.runtime.clock import FakeClock
from iotcs_hw.runtime.controller import RuleRunner, RuleState, ThresholdRule
from iotcs_hw.runtime.live_view import LiveView, format_value

RULE = ThresholdRule("temperature", "fan", on_above=28.0, off_below=25.0, retry_after_s=30)


def test_rule_has_hysteresis_and_tracks_the_echo() -> None:
    clock = FakeClock()
    state = RuleState(RULE, clock.monotonic)
    assert state.observe({"temperature": 26.0, "fan": False}) is None
    assert state.observe({"temperature": 28.5}) is True
    assert state.observe({"temperature": 29.0}) is None  # pending, not repeated
    assert state.observe({"fan": True}) is None  # echo arrives
    assert state.observe({"temperature": 26.0}) is None  # inside the band: keep
    assert state.observe({"temperature": 24.9}) is False
    assert state.observe({"fan": False, "temperature": 24.0}) is None
    assert state.decisions == [True, False]


def test_rule_resends_after_the_device_went_safe_and_retries_unanswered() -> None:
    clock = FakeClock()
    state = RuleState(RULE, clock.monotonic)
    assert state.observe({"temperature": 30.0, "fan": False}) is True
    assert state.observe({"fan": True}) is None
    assert state.observe({"fan": False}) is True  # device went safe while still hot
    assert state.observe({"temperature": 30.0}) is None
    clock.advance(30)
    assert state.observe({"temperature": 30.0}) is True  # no echo for 30 s: once more


def test_rule_needs_a_band() -> None:
    with pytest.raises(ValueError, match="off_below"):
        ThresholdRule("t", "fan", on_above=20, off_below=20)


class FakeApp:
    def __init__(self) -> None:
        self.writes: list[tuple[str, dict[str, object]]] = []

    def messages(self, endpoint_id=None, *, after=0, limit=1000, wait_s=0.0):
        return [], after

    def write(self, endpoint_id, values, *, urn=None, text=False) -> dict[str, Any]:
        self.writes.append((endpoint_id, dict(values)))
        return {"id": "r1"}


def test_runner_writes_through_the_app_api_for_its_endpoint_only() -> None:
    app = FakeApp()
    decided: list[tuple[str, bool]] = []
    runner = RuleRunner(app, "0-GH", [RULE], on_decision=lambda o, v: decided.append((o, v)))
    data = {"type": "DATA", "source": "0-GH", "payload": {"data": {"temperature": 31.0}}}
    assert runner.handle(data) == [("fan", True)]
    assert runner.handle({**data, "source": "0-OTHER"}) == []
    assert runner.handle({"type": "ALERT", "source": "0-GH", "payload": {}}) == []
    assert app.writes == [("0-GH", {"fan": True})]
    assert decided == [("fan", True)]
    runner.start()
    runner.stop(5)


def test_live_view_lines() -> None:
    out = io.StringIO()
    view = LiveView(out)
    view.data("greenhouse", {"temperature": 27.4567, "fan": True, "count": 3})
    view.decision("greenhouse", "fan", False)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("greenhouse   DATA   temperature=27.457 fan=true count=3")
    assert lines[1].endswith("greenhouse   CLOUD  fan=false  (controller)")
    assert view.lines == 2
    assert format_value(float("nan")) == "nan"
    assert format_value(2.0) == "2"
