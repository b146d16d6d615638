"""End to end: ``device_models/greenhouse.yaml`` with ``--simulate`` against the local server
over HTTPS.  Every bound attribute arrives, every writable attribute written from the cloud
moves its mock pin, and the closed loop (too hot -> the cloud writes fan=true -> the fan pin
goes high -> the environment cools -> the cloud writes fan=false) settles.

Simulated time is a FakeClock the test advances; the HTTPS exchanges are real and waited on
with bounded polls."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from drivers.sim import pins
from iotcs_hw.runtime.clock import FakeClock
from iotcs_hw.runtime.launcher import Launch, RunOptions, wait_until
from iotcs_hw.runtime.sdnotify import SystemdNotifier
from iotcs_hw.transport.backoff import Backoff

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "device_models"
PINS = {"fan": 17, "pump": 27, "grow_light": 18, "vent": 12}


@pytest.fixture
def greenhouse(tmp_path: Path):
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("greenhouse.yaml", "greenhouse.json", "greenhouse.rules.yaml"):
        shutil.copy(MODELS / name, folder / name)
    options = RunOptions(
        file=folder / "greenhouse.yaml",
        simulate=True,
        state_dir=tmp_path / "state",
        clock=FakeClock(),
        schedule=False,
        notifier=SystemdNotifier(None),
        health_port=0,
        live=io.StringIO(),
        long_poll_s=1.0,
        client_options={"dispatcher_options": {"backoff": Backoff(base_s=0.1, max_delay_s=0.5)}},
    )
    launch = Launch(options).start()
    try:
        yield launch
    finally:
        launch.stop()


def pin(launch: Launch, attribute: str) -> float:
    return float(pins.pin_state(launch.drivers.pin_factory, PINS[attribute]))  # type: ignore[union-attr]


def server_attributes(launch: Launch) -> dict[str, Any]:
    endpoint = launch.endpoints["greenhouse"]
    items, _ = launch.cloud.app.messages(endpoint)  # type: ignore[union-attr]
    seen: dict[str, Any] = {}
    for item in items:
        message = item["message"]
        if message["type"] == "DATA":
            seen.update(message["payload"]["data"])
    return seen


def test_every_bound_attribute_arrives(greenhouse: Launch) -> None:
    greenhouse.runtime.tick()  # type: ignore[union-attr]
    bound = {r.attribute for s in greenhouse.model.sensors for r in s.readings}  # type: ignore[union-attr]
    assert bound == {"temperature", "humidity", "pressure", "light", "soil_moisture"}
    assert wait_until(lambda: bound <= set(server_attributes(greenhouse)), 15), server_attributes(
        greenhouse
    )
    values = server_attributes(greenhouse)
    assert 20 < values["temperature"] < 35
    assert 0 <= values["humidity"] <= 100
    assert 950 < values["pressure"] < 1080
    assert values["light"] > 1000  # early afternoon
    assert 0 <= values["soil_moisture"] <= 100


@pytest.mark.parametrize(
    ("attribute", "value", "expected_pin"),
    [
        ("fan", True, 1.0),
        ("pump", True, 1.0),
        ("grow_light", 50, 0.5),  # percent in the cloud, duty cycle on the pin
        ("vent", 45, 0.075),  # 1.5 ms pulse in a 20 ms frame
    ],
)
def test_each_writable_attribute_moves_its_pin(
    greenhouse: Launch, attribute: str, value: object, expected_pin: float
) -> None:
    for runner in greenhouse.controllers:
        runner.stop()
    app = greenhouse.cloud.app  # type: ignore[union-attr]
    endpoint = greenhouse.endpoints["greenhouse"]
    greenhouse.clock.advance(3600)  # type: ignore[attr-defined]  # past every minimum off time
    queued = app.write(endpoint, {attribute: value})
    view = app.wait_for_response(queued["requestId"], 15)
    assert (view["state"], view["statusCode"]) == ("ANSWERED", 200), view
    assert pin(greenhouse, attribute) == pytest.approx(expected_pin, abs=1e-3)
    assert wait_until(lambda: server_attributes(greenhouse).get(attribute) == value, 15)


def test_the_closed_loop_settles(greenhouse: Launch) -> None:
    runtime = greenhouse.runtime
    assert runtime is not None
    runner = greenhouse.controllers[0]
    rule = runner.states[0]
    temps: list[float] = []
    fans: list[bool] = []
    for _ in range(150):
        seq = runner.last_seq
        sent = runtime.tick()
        greenhouse.clock.advance(60)  # type: ignore[attr-defined]
        if "temperature" in sent.get("greenhouse/10s", {}):
            assert wait_until(lambda s=seq: runner.last_seq > s, 15), "the rule saw nothing"
        if rule._pending is not None:
            wanted = rule._pending[0]
            assert wait_until(lambda w=wanted: (pin(greenhouse, "fan") == 1.0) == w, 15)
        temps.append(runtime.sensors["climate"].status.snapshot().last_value["temperature"])
        fans.append(pin(greenhouse, "fan") == 1.0)
    assert temps[0] > 26, "starts too hot"
    assert fans.count(True) > 0
    first_off = fans.index(False, fans.index(True))
    assert min(temps[: first_off + 1]) < 24.5
    assert True in fans[first_off:], "the fan came back on when it warmed up"
    assert all(22.5 < t < 27.5 for t in temps[first_off:]), temps[first_off:]
    # a write refused by the fan's minimum off time (30 s after start) is simply sent again
    switched = [d for i, d in enumerate(rule.decisions) if i == 0 or d != rule.decisions[i - 1]]
    assert switched[:3] == [True, False, True]
