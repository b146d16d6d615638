"""``iotcs-hw cloud ...`` against a real server: serve, provision, write, messages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iotcs_hw.cli.main import main
from iotcs_hw.cloud.app_client import AppClient
from iotcs_hw.cloud.runner import LocalCloud
from iotcs_hw.protocol.unified_store import load_store

from .conftest import MODELS_DIR, THERMOSTAT, WireDevice


def test_provision_writes_a_store_that_activates(
    cloud: LocalCloud,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    device_key: Any,
) -> None:
    out = tmp_path / "dev.store"
    monkeypatch.setenv("STORE_PW", "changeit")
    argv = ["cloud", "provision", "PI-1", "--out", str(out), "--data", str(data_dir)]
    assert main([*argv, "--password-env", "STORE_PW"]) == 0
    assert "PI-1" in capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600
    store = load_store(out, "changeit")
    assert store.client_id == "PI-1"
    assert store.server_uri == cloud.url
    assert store.endpoint_id is None
    ca = x509.load_pem_x509_certificate(cloud.ca_path.read_bytes())
    assert store.trust_anchors == (ca.public_bytes(serialization.Encoding.DER),)
    device = WireDevice(cloud, store.client_id, store.shared_secret.decode(), device_key)
    assert device.activate(THERMOSTAT).startswith("0-")
    device.close()
    # Not overwritten without --force; no password -> a clear error, exit 2.
    before = out.read_bytes()
    assert main([*argv, "--password-env", "STORE_PW"]) == 2
    assert "exists" in capsys.readouterr().err
    monkeypatch.delenv("STORE_PW")
    out.unlink()
    assert main([*argv, "--password-env", "STORE_PW"]) == 2
    assert "STORE_PW is unset" in capsys.readouterr().err
    assert not out.exists()
    assert before


def test_provision_of_an_activated_device_is_refused(
    cloud: LocalCloud,
    data_dir: Path,
    thermostat: WireDevice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STORE_PW", "pw")
    out = tmp_path / "t.store"
    argv = ["cloud", "provision", thermostat.activation_id, "--out", str(out)]
    assert main([*argv, "--data", str(data_dir), "--password-env", "STORE_PW"]) == 2
    assert "already activated" in capsys.readouterr().err
    assert not out.exists()


def _answer_one_request(device: WireDevice, status: int, body: str) -> threading.Thread:
    """A device that holds a long poll, takes one REQUEST and answers it."""

    def run() -> None:
        while True:
            got = device.post([], params="acceptBytes=4190&iot.sync&iot.timeout=10").json()
            if got:
                device.post([device.response_to(got[0], status, body)])
                return

    thread = threading.Thread(target=run, name="test-device-answer", daemon=True)
    thread.start()
    return thread


def test_write_prints_the_device_answer(
    cloud: LocalCloud,
    data_dir: Path,
    thermostat: WireDevice,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = thermostat.endpoint_id or ""
    device = _answer_one_request(thermostat, 200, "T0s=")
    argv = ["cloud", "write", endpoint, "setpoint=21.5", "enabled=true", "--data", str(data_dir)]
    assert main(argv) == 0
    device.join(5)
    assert capsys.readouterr().out.strip() == f"{endpoint} answered 200: OK"
    # A refused write never reaches the device.
    assert main(["cloud", "write", endpoint, "setpoint=99", "--data", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "99.0 is outside the range [5, 30]" in err
    assert "Traceback" not in err
    assert main(["cloud", "write", endpoint, "setpoint", "--data", str(data_dir)]) == 2
    assert "expected ATTRIBUTE=VALUE" in capsys.readouterr().err


def test_write_reports_a_device_error_and_a_timeout(
    cloud: LocalCloud,
    data_dir: Path,
    thermostat: WireDevice,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = thermostat.endpoint_id or ""
    device = _answer_one_request(thermostat, 500, "")
    assert main(["cloud", "write", endpoint, "mode=eco", "--data", str(data_dir)]) == 1
    device.join(5)
    assert capsys.readouterr().out.strip() == f"{endpoint} answered 500"
    argv = ["cloud", "write", endpoint, "mode=off", "--timeout", "0.2", "--data", str(data_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"no RESPONSE from {endpoint} within 0.2 s" in err
    assert "QUEUED" in err


def test_messages_lists_and_prints_json(
    app: AppClient,
    data_dir: Path,
    thermostat: WireDevice,
    capsys: pytest.CaptureFixture[str],
) -> None:
    thermostat.post([thermostat.data({"temperature": 20.5}), thermostat.data({"temperature": 21})])
    assert main(["cloud", "messages", "--data", str(data_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert f"{thermostat.endpoint_id} DATA {THERMOSTAT}:attributes temperature=20.5" in lines[0]
    argv = ["cloud", "messages", thermostat.endpoint_id or "", "--json", "--after", "1"]
    assert main([*argv, "--data", str(data_dir)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    item = json.loads(line)
    assert item["seq"] == 2
    assert item["message"]["payload"]["data"] == {"temperature": 21}
    assert main(["cloud", "messages", "0-NOBODY", "--data", str(data_dir)]) == 0
    assert capsys.readouterr().out == ""


def test_commands_without_a_server_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cloud", "messages", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no server is running" in err
    assert "iotcs-hw cloud serve" in err


def test_follow_yields_new_messages(app: AppClient, thermostat: WireDevice) -> None:
    stop = threading.Event()
    seen: list[dict[str, Any]] = []
    got_two = threading.Event()

    def follow() -> None:
        for item in app.follow(thermostat.endpoint_id, stop=stop, poll_s=0.5):
            seen.append(item)
            if len(seen) == 2:
                got_two.set()
                stop.set()

    thread = threading.Thread(target=follow, name="test-follow")
    thread.start()
    thermostat.post([thermostat.data({"temperature": 1})])
    thermostat.post([thermostat.data({"temperature": 2})])
    assert got_two.wait(5)
    thread.join(5)
    assert [i["message"]["payload"]["data"]["temperature"] for i in seen] == [1, 2]


def test_serve_runs_until_sigterm_and_reuses_its_ca(data_dir: Path) -> None:
    argv = [sys.executable, "-m", "iotcs_hw.cli.main", "cloud", "serve", "--data", str(data_dir)]
    argv += ["--port", "0", "--models", str(MODELS_DIR)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ca_before = (data_dir / "ca.pem").read_bytes()
    for _ in range(2):
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("iotcs-hw cloud: serving https://127.0.0.1:"), line
            with AppClient.from_data_dir(data_dir) as client:
                status = client.status()
            assert THERMOSTAT in status["deviceModels"]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        assert not (data_dir / "server.json").exists()
        assert (data_dir / "ca.pem").read_bytes() == ca_before


def test_state_survives_a_server_restart(data_dir: Path, device_key: Any) -> None:
    with LocalCloud(data_dir, models_dir=MODELS_DIR) as cloud:
        app = cloud.app_client()
        app.register_device("KEEP-1", "sec")
        device = WireDevice(cloud, "KEEP-1", "sec", device_key)
        endpoint = device.activate(THERMOSTAT)
        device.post([device.data({"temperature": 7})])
        pending = app.write(endpoint, {"setpoint": 12})
        app.close()
        device.close()
    with LocalCloud(data_dir, models_dir=MODELS_DIR) as cloud:
        app = cloud.app_client()
        device = WireDevice(cloud, "KEEP-1", "sec", device_key)
        device.endpoint_id = endpoint
        assert device.fetch_token().status_code == 200  # RS256 with the stored public key
        assert [m["id"] for m in device.post([]).json()] == [pending["requestId"]]
        assert len(app.messages(endpoint)[0]) == 1
        app.close()
        device.close()


def test_serve_refuses_bad_input_clearly(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-models"
    assert main(["cloud", "serve", "--data", str(data_dir), "--models", str(missing)]) == 2
    assert f"{missing}: device-model directory does not exist" in capsys.readouterr().err
    (data_dir / "cloud.sqlite").write_bytes(b"this is not a database, it is a text file" * 50)
    assert main(["cloud", "serve", "--data", str(data_dir), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "cloud.sqlite: not a usable server database" in err
    assert "Traceback" not in err


def test_call_and_devices(
    cloud: LocalCloud,
    data_dir: Path,
    thermostat: WireDevice,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = thermostat.endpoint_id or ""
    device = _answer_one_request(thermostat, 200, "T0s=")
    assert main(["cloud", "call", endpoint, "boost", "3", "--data", str(data_dir)]) == 0
    device.join(5)
    assert capsys.readouterr().out.strip() == f"{endpoint} answered 200: OK"
    assert main(["cloud", "call", endpoint, "boost", "--data", str(data_dir)]) == 2
    assert "needs an argument of type INTEGER" in capsys.readouterr().err
    argv = ["cloud", "call", endpoint, "reset", "--timeout", "0.1", "--data", str(data_dir)]
    assert main(argv) == 2
    assert "no RESPONSE" in capsys.readouterr().err
    assert main(["cloud", "devices", "--data", str(data_dir)]) == 0
    capability = "urn:oracle:iot:dcd:capability:direct_activation"
    assert capsys.readouterr().out.strip() == (
        f"THERMO-1 ACTIVATED {endpoint} {THERMOSTAT} {capability}"
    )
    assert main(["cloud", "devices", "--json", "--data", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["endpointId"] == endpoint


def test_provision_a_gateway_with_connected_devices(
    cloud: LocalCloud, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORE_PW", "pw")
    out = tmp_path / "gw.store"
    argv = ["cloud", "provision", "GW-9", "--out", str(out), "--password-env", "STORE_PW"]
    argv += ["--connected", "ICD-A", "--connected", "ICD-B", "--data", str(data_dir)]
    assert main(argv) == 0
    store = load_store(out, "pw")
    assert sorted(store.connected_devices) == ["ICD-A", "ICD-B"]
    registered = cloud.context.store.device("ICD-A")
    assert registered is not None
    assert registered.shared_secret is not None
    assert store.connected_devices["ICD-A"] == registered.shared_secret.encode()
