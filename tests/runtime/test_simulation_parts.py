"""Small parts of the simulation and run path: cloud-contact tracking, the scaled clock, the
rules file, environment couplings, the store password, signals."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from drivers.sim.environment import Environment
from iotcs_hw.errors import ConfigError, TransportException
from iotcs_hw.runtime.actuation import ActuatorBinding
from iotcs_hw.runtime.clock import FakeClock, ScaledClock
from iotcs_hw.runtime.contact import ContactTrackingTransport, track_contact
from iotcs_hw.runtime.signals import StopOnSignals
from iotcs_hw.runtime.simulation import couple_environment, load_rules
from iotcs_hw.runtime.values import ValueCheck
from iotcs_hw.transport.base import TransportReply


class StubTransport:
    def __init__(self) -> None:
        self.fail = False
        self.closed = False

    def send_messages(self, body: bytes, *, accept_bytes: int, long_poll_s: float | None = None):
        if self.fail:
            raise TransportException("503 busy", 503)
        return TransportReply(200)

    def close(self) -> None:
        self.closed = True


def test_contact_tracking_reports_success_and_failure() -> None:
    events: list[str] = []

    class Dispatcher:
        transport = StubTransport()

    dispatcher = Dispatcher()
    inner = dispatcher.transport
    assert track_contact(dispatcher, lambda: events.append("ok"), lambda: events.append("lost"))
    assert isinstance(dispatcher.transport, ContactTrackingTransport)
    dispatcher.transport.send_messages(b"[]", accept_bytes=0)
    inner.fail = True
    with pytest.raises(TransportException):
        dispatcher.transport.send_messages(b"[]", accept_bytes=0)
    assert events == ["ok", "lost"]
    # wrapping twice does not stack wrappers
    track_contact(dispatcher, lambda: None, lambda: None)
    assert dispatcher.transport.inner is inner
    dispatcher.transport.close()
    assert inner.closed
    assert not track_contact(object(), lambda: None, lambda: None)


def test_scaled_clock_runs_faster() -> None:
    base = FakeClock(start=100.0, wall_start=1000.0)
    clock = ScaledClock(60, base)
    base.advance(2)
    assert clock.monotonic() == 220.0
    assert clock.time() == 1120.0
    with pytest.raises(ValueError, match="time scale"):
        ScaledClock(0)


def test_rules_file(tmp_path: Path) -> None:
    model = tmp_path / "gh.yaml"
    assert load_rules(model) == {}
    rules = tmp_path / "gh.rules.yaml"
    rules.write_text("- {device: gh, when: temperature, on_above: 27, off_below: 25, set: fan}\n")
    [rule] = load_rules(model)["gh"]
    assert (rule.measure, rule.output, rule.on_above, rule.off_below) == (
        "temperature",
        "fan",
        27.0,
        25.0,
    )
    rules.write_text("- {device: gh, when: temperature, on_above: 27, set: fan}\n")
    with pytest.raises(ConfigError, match="rule 1: missing key 'off_below'"):
        load_rules(model)
    rules.write_text("- {device: gh, when: t, on_above: 20, off_below: 25, set: fan, x: 1}\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_rules(model)
    rules.write_text("- {device: gh, when: t, on_above: 20, off_below: 25, set: fan}\n")
    with pytest.raises(ConfigError, match="off_below"):
        load_rules(model)
    rules.write_text("{not: a list}\n")
    with pytest.raises(ConfigError, match="expected a list"):
        load_rules(model)


def test_environment_coupling_follows_the_binding_state(fakes, clock) -> None:
    env = Environment(seed=1, start_hour=13.0)
    vent = ActuatorBinding(
        "vent", fakes.FakeRelay(0, numeric=True), ValueCheck("vent", "NUMBER", 0, 90), clock=clock
    )
    fan = ActuatorBinding("fan", fakes.FakeRelay(False), ValueCheck("fan", "BOOLEAN"), clock=clock)
    door = ActuatorBinding(
        "door_lock", fakes.FakeRelay(False), ValueCheck("door_lock", "BOOLEAN"), clock=clock
    )
    assert couple_environment(env, {"vent": vent, "fan": fan, "door_lock": door}) == ["vent", "fan"]
    assert env.level("vent") == 0.0
    vent.apply_from_cloud(45)
    fan.apply_from_cloud(True)
    assert env.level("vent") == 0.5
    assert env.level("fan") == 1.0


def test_signals_become_a_stop_event() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignals() as signals:
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.stop.wait(5)
        os.kill(os.getpid(), signal.SIGINT)
    assert signals.received == ["SIGTERM", "SIGINT"]
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.fixture
def restore_loggers():
    import logging

    names = ("", "iotcs_hw", "drivers", "iotcs_hw.transport")
    saved = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_model_file_logging_section(restore_loggers) -> None:
    import logging
    from dataclasses import replace

    from iotcs_hw.runtime.config import check_file
    from iotcs_hw.runtime.config.model import LoggingConfig
    from iotcs_hw.runtime.launcher import apply_logging

    model = check_file(Path(__file__).parent / "data" / "mini.yaml")
    model = replace(model, logging=LoggingConfig("INFO", {"iotcs_hw.transport": "DEBUG"}))
    logging.getLogger().setLevel(logging.WARNING)
    apply_logging(model)
    assert logging.getLogger("iotcs_hw").level == logging.INFO
    assert logging.getLogger("iotcs_hw.transport").level == logging.DEBUG
    apply_logging(model, quiet_info=True)  # the live view shows what INFO would
    assert logging.getLogger("drivers").level == logging.WARNING
    logging.getLogger("iotcs_hw").setLevel(logging.NOTSET)
    logging.getLogger().setLevel(logging.DEBUG)  # -vv on the command line wins
    apply_logging(model)
    assert logging.getLogger("iotcs_hw").level == logging.NOTSET
