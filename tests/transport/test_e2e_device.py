"""End to end over real HTTPS on loopback: the device classes against the local server.

Nothing here mocks HTTP: the server is :class:`iotcs_hw.cloud.runner.LocalCloud` on 127.0.0.1
with its own CA, and the device trusts exactly the CA its provisioning file carries.
"""

from __future__ import annotations

import base64
import json
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iotcs_hw.client import DirectlyConnectedDevice, GatewayDevice
from iotcs_hw.errors import SecurityException, StateException, TrustedAssetsError
from iotcs_hw.protocol.activation import verify_indirect_activation_signature
from iotcs_hw.protocol.jwt import parse_assertion, parse_token_request
from iotcs_hw.protocol.unified_store import load_store, new_store, save_store

PASSWORD = "changeit"
THERMO_URN = "urn:test:transport:thermometer"
Provision = Callable[..., Path]

pytestmark = pytest.mark.timeout(60)


def _device(store: Path, tmp_path: Path, cls: type[Any] = DirectlyConnectedDevice) -> Any:
    return cls(store, PASSWORD, state_dir=tmp_path / f"{store.stem}.state", long_poll_s=2.0)


def _data_messages(app: Any, endpoint: str) -> list[dict[str, Any]]:
    items, _ = app.messages(endpoint, wait_s=10.0)
    return [i["message"] for i in items if i["message"]["type"] == "DATA"]


def test_provision_activate_fetch_model_and_send(
    cloud: Any, app: Any, tmp_path: Path, provision: Provision
) -> None:
    store = provision("DEV-1")
    with _device(store, tmp_path) as dcd:
        assert not dcd.isActivated()
        with pytest.raises(StateException, match="not activated yet"):
            dcd.getEndpointId()
        dcd.activate(THERMO_URN)
        endpoint = dcd.getEndpointId()
        assert dcd.isActivated()

        on_disk = load_store(store, PASSWORD)
        assert on_disk.endpoint_id == endpoint
        assert on_disk.private_key is not None
        assert stat.S_IMODE(store.stat().st_mode) == 0o600

        model = dcd.getDeviceModel(THERMO_URN)
        assert model is not None
        assert model.getURN() == THERMO_URN
        assert dcd.getDeviceModel("urn:test:transport:unknown") is None

        vd = dcd.createVirtualDevice(endpoint, model)
        vd.set("temp", 21.5)
        sent = _data_messages(app, endpoint)
        assert [m["payload"]["data"] for m in sent] == [{"temp": 21.5}]
        assert sent[0]["source"] == endpoint

    server_view = app.device("DEV-1")
    assert server_view["endpointId"] == endpoint
    assert THERMO_URN in server_view["deviceModels"]
    assert "urn:oracle:iot:dcd:capability:direct_activation" in server_view["deviceModels"]

    policy = cloud.recorder.requests(lambda r: r.path.endswith("/activation/policy"))
    assert [r.headers.get("X-ActivationId") for r in policy] == ["DEV-1"]
    direct = cloud.recorder.requests(lambda r: r.path.endswith("/activation/direct"))
    assert [(r.query, r.status) for r in direct] == [({"createDraft": "false"}, 200)]
    assert direct[0].headers["Content-Type"] == "application/json"
    model_gets = cloud.recorder.requests(lambda r: "/deviceModels/" in r.path)
    assert all(r.headers.get("X-EndpointId") == endpoint for r in model_gets)


def test_restart_keeps_identity_and_uses_rs256(
    cloud: Any, app: Any, tmp_path: Path, provision: Provision
) -> None:
    store = provision("DEV-2")
    with _device(store, tmp_path) as dcd:
        dcd.activate(THERMO_URN)
        endpoint = dcd.getEndpointId()
    cloud.recorder.clear()
    with _device(store, tmp_path) as again:
        assert again.isActivated()
        assert again.getEndpointId() == endpoint
        assert again.getDeviceModel(THERMO_URN) is not None
        with pytest.raises(StateException, match="already activated"):
            again.activate(THERMO_URN)
    tokens = cloud.recorder.requests(lambda r: r.path.endswith("/oauth2/token"))
    assert tokens
    form = parse_token_request(tokens[0].body.decode())
    assert form.scope == ""
    assertion = parse_assertion(form.assertion)
    assert (assertion.alg, assertion.issuer, assertion.claims["sub"]) == (
        "RS256",
        endpoint,
        endpoint,
    )
    assert "=" not in form.assertion


def test_wrong_shared_secret_is_refused_and_store_untouched(
    cloud: Any, app: Any, tmp_path: Path
) -> None:
    app.register_device("DEV-3", "the-real-secret")
    genuine = tmp_path / "genuine.bin"
    genuine.write_bytes(app.provisioning_file("DEV-3", PASSWORD))
    anchors = load_store(genuine, PASSWORD).trust_anchors
    forged = tmp_path / "forged.bin"
    save_store(forged, new_store(cloud.url, "DEV-3", "a-guess", trust_anchors=anchors), PASSWORD)
    before = forged.read_bytes()
    with _device(forged, tmp_path) as dcd:
        with pytest.raises(SecurityException, match="refused the client assertion of 'DEV-3'"):
            dcd.activate(THERMO_URN)
        assert not dcd.isActivated()
    assert forged.read_bytes() == before
    assert app.device("DEV-3")["state"] == "REGISTERED"


def test_wrong_store_password_names_the_file(
    app: Any, tmp_path: Path, provision: Provision
) -> None:
    store = provision("DEV-4")
    before = store.read_bytes()
    with pytest.raises(TrustedAssetsError, match="wrong password or corrupt file") as info:
        DirectlyConnectedDevice(store, "not-it", state_dir=tmp_path / "s")
    assert str(store) in str(info.value)
    assert store.read_bytes() == before


def test_untrusted_server_certificate_is_a_security_error(
    cloud: Any, app: Any, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    from iotcs_hw.cloud.tls import ensure_tls

    other_ca_dir = tmp_path / "other-ca"
    other = ensure_tls(other_ca_dir)
    from cryptography import x509

    other_der = x509.load_pem_x509_certificate(other.ca_cert.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    app.register_device("DEV-5", "s5")
    store = tmp_path / "dev5.bin"
    save_store(store, new_store(cloud.url, "DEV-5", "s5", trust_anchors=[other_der]), PASSWORD)
    with _device(store, tmp_path) as dcd, pytest.raises(SecurityException, match="TLS with"):
        dcd.activate(THERMO_URN)


def test_gateway_registers_indirect_devices(
    cloud: Any, app: Any, tmp_path: Path, provision: Provision, recorded: Callable[..., list[Any]]
) -> None:
    store = provision("GW-1", connected_devices={"ICD-1": "icd-secret"})
    assert dict(load_store(store, PASSWORD).connected_devices) == {"ICD-1": b"icd-secret"}
    with _device(store, tmp_path, GatewayDevice) as gw:
        with pytest.raises(StateException, match="activate the gateway"):
            gw.registerDevice("ICD-1", {}, THERMO_URN)
        gw.activate()
        gateway_id = gw.getEndpointId()
        assert (
            "urn:oracle:iot:dcd:capability:indirect_activation"
            in app.device("GW-1")["deviceModels"]
        )

        icd = gw.registerDevice(
            "ICD-1",
            {GatewayDevice.MANUFACTURER: "ACME", GatewayDevice.SERIAL_NUMBER: "7"},
            THERMO_URN,
        )
        restricted = gw.registerDevice(True, "ICD-2", {}, THERMO_URN)
        unsigned = gw.registerDevice("ICD-3", None, THERMO_URN)
        assert len({icd, restricted, unsigned, gateway_id}) == 4

        view = app.device("ICD-1")
        assert (view["endpointId"], view["gateway"]) == (icd, gateway_id)
        assert view["metadata"] == {"manufacturer": "ACME", "serialNumber": "7"}

        bodies = [
            json.loads(r.body)
            for r in recorded(cloud, lambda r: r.path.endswith("/indirect/device"), 3)
        ]
        assert [b["hardwareId"] for b in bodies] == ["ICD-1", "ICD-2", "ICD-3"]
        gateway_key = load_store(store, PASSWORD).public_key
        kinds = [
            verify_indirect_activation_signature(
                base64.b64decode(b["signature"]) if "signature" in b else None,
                gateway_id,
                icd_secret=b"icd-secret" if b["hardwareId"] == "ICD-1" else None,
                gateway_public_key=gateway_key,
            )
            for b in bodies
        ]
        assert kinds == ["secret", "restricted", "none"]

        model = gw.getDeviceModel(THERMO_URN)
        assert model is not None
        vd = gw.createVirtualDevice(icd, model)
        vd.set("temp", 30.0)
        sent = _data_messages(app, icd)
        assert [(m["source"], m["payload"]["data"]) for m in sent] == [(icd, {"temp": 30.0})]

        with pytest.raises(ValueError, match="at least one device model URN"):
            gw.registerDevice("ICD-4", {})
        with pytest.raises(ValueError, match="metaData must map strings to strings"):
            gw.registerDevice("ICD-4", {"a": 1}, THERMO_URN)


def test_cloud_write_reaches_on_change_and_is_answered(
    cloud: Any, app: Any, provision: Provision, tmp_path: Path
) -> None:
    store = provision("DEV-6")
    changed = threading.Event()
    seen: list[Any] = []

    def on_change(event: Any) -> None:
        seen.append(event.getNamedValue().getValue())
        changed.set()

    with _device(store, tmp_path) as dcd:
        dcd.activate(THERMO_URN)
        endpoint = dcd.getEndpointId()
        model = dcd.getDeviceModel(THERMO_URN)
        assert model is not None
        vd = dcd.createVirtualDevice(endpoint, model)
        vd.setOnChange(on_change, "setpoint")
        queued = app.write(endpoint, {"setpoint": 18.5}, urn=THERMO_URN)
        view = app.wait_for_response(queued["requestId"], 15.0)
        assert view["state"] == "ANSWERED"
        assert 200 <= view["response"]["statusCode"] < 300
        assert changed.wait(5.0)
        assert seen == [18.5]
        assert vd.get("setpoint") == 18.5


def test_messages_queued_during_an_outage_survive_a_restart(
    cloud: Any, app: Any, provision: Provision, tmp_path: Path
) -> None:
    store = provision("DEV-7")
    options = {"state_dir": tmp_path / "state", "long_poll_s": 2.0, "flush_timeout_s": 0.2}
    with DirectlyConnectedDevice(store, PASSWORD, **options) as dcd:
        dcd.activate(THERMO_URN)
        endpoint = dcd.getEndpointId()
        model = dcd.getDeviceModel(THERMO_URN)
        assert model is not None
        app.fail_for(120.0, 503)
        vd = dcd.createVirtualDevice(endpoint, model)
        for value in (1.0, 2.0, 3.0):
            vd.set("temp", value)
    assert (tmp_path / "state" / "outbox.sqlite3").exists()
    app.clear_faults()
    with DirectlyConnectedDevice(store, PASSWORD, **options) as again:
        assert again.getEndpointId() == endpoint
        values: list[float] = []
        last = 0
        while len(values) < 3:
            items, last = app.messages(endpoint, after=last, wait_s=10.0)
            assert items, f"only {values} arrived"
            values += [i["message"]["payload"]["data"]["temp"] for i in items]
        assert values == [1.0, 2.0, 3.0]
