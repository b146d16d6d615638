"""The whole stack in one process: model file -> local server over HTTPS -> runtime -> simulated
chip and mock pin -> environment -> cloud-side rule -> back.  Time is a FakeClock advanced by
the test; the network parts are real and waited on with bounded polls, never slept on."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from drivers.sim import pins
from iotcs_hw.cli.main import main
from iotcs_hw.errors import ConfigError
from iotcs_hw.runtime.clock import FakeClock
from iotcs_hw.runtime.launcher import Launch, RunOptions, wait_until
from iotcs_hw.runtime.sdnotify import SystemdNotifier
from iotcs_hw.transport.backoff import Backoff

DATA = Path(__file__).parent / "data"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("mini.yaml", "mini.json", "mini.rules.yaml"):
        shutil.copy(DATA / name, folder / name)
    return folder


def options(model_dir: Path, tmp_path: Path, **overrides: Any) -> RunOptions:
    values: dict[str, Any] = {
        "file": model_dir / "mini.yaml",
        "simulate": True,
        "state_dir": tmp_path / "state",
        "clock": FakeClock(),
        "schedule": False,
        "notifier": SystemdNotifier(None),
        "health_port": 0,
        "live": io.StringIO(),
        "long_poll_s": 1.0,
        "client_options": {"dispatcher_options": {"backoff": Backoff(base_s=0.1, max_delay_s=0.5)}},
    }
    values.update(overrides)
    return RunOptions(**values)


class Rig:
    """Drives one Launch: tick, let the cloud answer, read the pin."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        assert launch.runtime is not None
        assert launch.cloud is not None
        self.runtime = launch.runtime
        self.app = launch.cloud.app
        self.clock: FakeClock = launch.clock  # type: ignore[assignment]
        self.endpoint = launch.endpoints["mini"]
        self.controller = launch.controllers[0]
        self.pin_factory = launch.drivers.pin_factory  # type: ignore[union-attr]

    def fan_pin(self) -> bool:
        return bool(pins.pin_state(self.pin_factory, 17))

    def server_data(self) -> list[dict[str, Any]]:
        items, _ = self.app.messages(self.endpoint)
        return [i["message"]["payload"]["data"] for i in items if i["message"]["type"] == "DATA"]

    def step(self, seconds: float) -> dict[str, Any]:
        """Advance simulated time, sample once, wait until the cloud rule saw it and the fan
        pin shows the rule's decision."""
        self.clock.advance(seconds)
        sent = self.runtime.tick()["mini/10s"]
        seq_before = self.controller.last_seq
        assert wait_until(lambda: self.controller.last_seq > seq_before, 10), "rule saw nothing"
        state = self.controller.states[0]
        assert wait_until(lambda: state.output is None or self.fan_pin() == state.output, 10)
        if state.decisions and state._pending is not None:
            wanted = state._pending[0]
            assert wait_until(lambda: self.fan_pin() == wanted, 10), "write did not arrive"
        return sent


@pytest.fixture
def rig(model_dir: Path, tmp_path: Path):
    launch = Launch(options(model_dir, tmp_path)).start()
    try:
        yield Rig(launch)
    finally:
        launch.stop()


def test_values_arrive_over_https_and_the_loop_closes_and_settles(rig: Rig) -> None:
    first = rig.step(0)
    assert set(first) == {"temperature", "humidity"}
    assert first["temperature"] > 26  # a sunny afternoon in the greenhouse
    assert wait_until(lambda: {"temperature", "humidity"} <= set().union(*rig.server_data()), 10)
    assert wait_until(rig.fan_pin, 10), "too hot -> the cloud writes fan=true -> pin high"
    temps, fans = [], []
    for _ in range(120):
        sent = rig.step(60)
        temps.append(sent["temperature"])
        fans.append(rig.fan_pin())
    first_off = fans.index(False)
    assert min(temps[: first_off + 1]) < 24.2  # the fan cooled it down to the off threshold
    assert True in fans[first_off:]  # and it came back on when it warmed up again
    # settled: after the first cycle the temperature stays inside the band (plus one step)
    assert all(23.0 < t < 27.0 for t in temps[first_off:]), temps[first_off:]
    decisions = rig.controller.states[0].decisions
    assert decisions[:3] == [True, False, True]


def test_cloud_write_moves_the_pin_and_a_bad_one_is_refused(rig: Rig) -> None:
    rig.step(0)
    assert wait_until(rig.fan_pin, 10)
    rig.controller.stop()
    queued = rig.app.write(rig.endpoint, {"fan": False})
    view = rig.app.wait_for_response(queued["requestId"], 10)
    assert (view["state"], view["statusCode"]) == ("ANSWERED", 200)
    assert not rig.fan_pin()
    # a write the server does not check (raw REQUEST) of the wrong type: the device says 400
    urn = "urn:com:iotcshw:test:mini_greenhouse"
    queued = rig.app.send_request(
        rig.endpoint, "PUT", f"deviceModels/{urn}/attributes/fan", {"value": "on"}
    )
    view = rig.app.wait_for_response(queued["requestId"], 10)
    assert (view["state"], view["statusCode"]) == ("ANSWERED", 400)
    assert "fan" in view["bodyText"]
    assert not rig.fan_pin()
    assert pins.pin_history(rig.pin_factory, 17)[-1] in (False, 0)


def test_server_down_nothing_lost_safe_state_then_cloud_control(rig: Rig) -> None:
    rig.step(0)
    assert wait_until(rig.fan_pin, 10)
    rig.controller.stop()  # the cloud application is not what this test is about
    faults = rig.launch.cloud.faults()  # type: ignore[union-attr]
    faults.fail_for(3600)
    sent_during = []
    for _ in range(8):  # 8 minutes of simulated time without the cloud
        rig.clock.advance(60)
        sent_during.append(rig.runtime.tick()["mini/10s"])
        rig.runtime.housekeep()
    assert rig.runtime.actuators["fan"].in_safe_mode
    assert not rig.fan_pin(), "offline_safe_after 5min: the fan is off"
    faults.clear()
    dispatcher = rig.launch.client.dispatcher  # type: ignore[union-attr]
    assert dispatcher.wait_for_empty(15)
    rig.runtime.housekeep()
    assert not rig.runtime.actuators["fan"].in_safe_mode
    # nothing lost: every transaction of the outage reached the server, in order
    temps_on_server = [d["temperature"] for d in rig.server_data() if "temperature" in d]
    temps_sent = [s["temperature"] for s in sent_during]
    assert temps_on_server[-len(temps_sent) :] == temps_sent
    assert {"fan": False} in rig.server_data()
    # back under cloud control: a cloud write drives the fan again
    queued = rig.app.write(rig.endpoint, {"fan": True})
    view = rig.app.wait_for_response(queued["requestId"], 10)
    assert (view["state"], view["statusCode"]) == ("ANSWERED", 200)
    assert rig.fan_pin()


def test_invalid_model_file_starts_nothing(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    shutil.copy(DATA / "mini.json", tmp_path / "mini.json")
    text = (DATA / "mini.yaml").read_text()
    text = text.replace("address: 0x76", "address: 0x99").replace(
        "attribute: fan", "attribute: fna"
    )
    bad.write_text(text)
    state = tmp_path / "state"
    status = main(["run", str(bad), "--simulate", "--state-dir", str(state), "--quiet"])
    assert status == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(str(bad))]
    assert len(lines) >= 2, err
    assert any("0x99" in line for line in lines)
    assert any("fna" in line for line in lines)
    assert not state.exists()  # no server, no store, no hardware


def test_restart_keeps_identity_and_delivers_what_the_outbox_kept(model_dir, tmp_path) -> None:
    with Launch(options(model_dir, tmp_path)) as launch:
        endpoint = launch.endpoints["mini"]
        launch.cloud.faults().fail_for(3600)  # type: ignore[union-attr]
        queued = launch.runtime.tick()["mini/10s"]  # type: ignore[union-attr]
        dispatcher = launch.client.dispatcher  # type: ignore[union-attr]
        assert not dispatcher.wait_for_empty(0.5)
    # stopped with the server down: the outbox kept the DATA (and the safe-state report)
    with Launch(options(model_dir, tmp_path)) as again:
        assert again.endpoints["mini"] == endpoint  # provisioned and activated once
        dispatcher = again.client.dispatcher  # type: ignore[union-attr]
        assert dispatcher.wait_for_empty(10)
        items, _ = again.cloud.app.messages(endpoint)  # type: ignore[union-attr]
        data = [i["message"]["payload"]["data"] for i in items if i["message"]["type"] == "DATA"]
        assert queued in data


def test_health_endpoint_of_a_running_launch(rig: Rig) -> None:
    import json
    import urllib.request

    rig.step(0)
    url = rig.runtime.health_url
    assert url is not None
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url + "/readyz", timeout=5) as answer:
        assert answer.status == 200
    with urllib.request.urlopen(url + "/status", timeout=5) as answer:
        status = json.loads(answer.read())
    [climate] = status["sensors"]
    assert climate["driver"] == "bme280"
    assert climate["where"] == "bme280 on bus 1, address 0x76"
    assert set(climate["last_value"]) == {"temperature", "humidity", "pressure"}
    assert status["outbox_depth"] is not None
    assert status["cloud_connected"] is True
    with urllib.request.urlopen(url + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    assert 'iotcs_hw_sensor_reads_total{sensor="climate",result="ok"} 1' in text
    assert "iotcs_hw_outbox_depth " in text


def test_several_devices_make_the_pi_a_gateway(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("gateway.yaml", "mini.json"):
        shutil.copy(DATA / name, folder / name)
    launch = Launch(options(folder, tmp_path, file=folder / "gateway.yaml")).start()
    try:
        north, south = launch.endpoints["north"], launch.endpoints["south"]
        assert north != south
        assert launch.client.getEndpointId() not in (north, south)  # type: ignore[union-attr]
        launch.runtime.tick()  # type: ignore[union-attr]
        app = launch.cloud.app  # type: ignore[union-attr]

        def temperatures(endpoint: str) -> list[float]:
            items, _ = app.messages(endpoint)
            return [
                i["message"]["payload"]["data"]["temperature"]
                for i in items
                if "temperature" in i["message"]["payload"].get("data", {})
            ]

        assert wait_until(lambda: temperatures(north) and temperatures(south), 15)
        queued = app.write(south, {"fan": True})
        view = app.wait_for_response(queued["requestId"], 15)
        assert (view["state"], view["statusCode"]) == ("ANSWERED", 200)
        factory = launch.drivers.pin_factory  # type: ignore[union-attr]
        assert pins.pin_state(factory, 27)  # south's fan
        assert not pins.pin_state(factory, 17)  # north's untouched
    finally:
        launch.stop()


def test_cloud_given_by_url_of_a_running_server(model_dir, tmp_path, monkeypatch) -> None:
    from iotcs_hw.cloud.runner import LocalCloud

    data = tmp_path / "server"
    with LocalCloud(data, models_dir=model_dir) as server:
        monkeypatch.setenv("IOTCS_HW_CLOUD_DATA", str(data))
        launch = Launch(options(model_dir, tmp_path, cloud=server.url)).start()
        try:
            assert launch.cloud is not None
            assert launch.cloud.external
            assert launch.controllers  # the rule runs against that server's API
            launch.runtime.tick()  # type: ignore[union-attr]
            assert launch.client.dispatcher.wait_for_empty(10)  # type: ignore[union-attr]
            items, _ = server.app_client().messages(launch.endpoints["mini"])
            assert any("temperature" in i["message"]["payload"].get("data", {}) for i in items)
        finally:
            launch.stop()
        # a URL whose data directory is not here, and no store yet: a clear error, nothing run
        monkeypatch.setenv("IOTCS_HW_CLOUD_DATA", str(tmp_path / "elsewhere"))
        fresh = options(model_dir, tmp_path, cloud=server.url, state_dir=tmp_path / "s2")
        with pytest.raises(ConfigError, match=r"no store at .*iotcs-hw cloud provision"):
            Launch(fresh).start()
