"""TLS material, the admin API's guard, model endpoints and the store's transactions."""

from __future__ import annotations

import ipaddress
import json
import sqlite3
import ssl
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import NameOID

from iotcs_hw.cloud.app_client import AppClient, CloudApiError
from iotcs_hw.cloud.runner import LocalCloud
from iotcs_hw.cloud.storage import IncomingMessage, SqliteCloudStore
from iotcs_hw.cloud.tls import ensure_tls

from .conftest import THERMOSTAT, WireDevice


def test_host_certificate_names_the_host_in_cn_and_san(tls_template: Path) -> None:
    cert = x509.load_pem_x509_certificate((tls_template / "server.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((tls_template / "ca.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "127.0.0.1"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    cert.verify_directly_issued_by(ca)
    assert (tls_template / "server.key").stat().st_mode & 0o777 == 0o600
    assert (tls_template / "ca.key").stat().st_mode & 0o777 == 0o600


def test_tls_is_reused_and_reissued_only_for_new_hosts(tmp_path: Path, tls_template: Path) -> None:
    for name in ("ca.pem", "ca.key", "server.pem", "server.key"):
        (tmp_path / name).write_bytes((tls_template / name).read_bytes())
    ensure_tls(tmp_path, ("127.0.0.1",))
    assert (tmp_path / "server.pem").read_bytes() == (tls_template / "server.pem").read_bytes()
    ensure_tls(tmp_path, ("pi.local",))
    assert (tmp_path / "ca.pem").read_bytes() == (tls_template / "ca.pem").read_bytes()
    cert = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "pi.local"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"pi.local", "localhost"}


def test_localhost_name_verifies_too(cloud: LocalCloud) -> None:
    ctx = ssl.create_default_context(cafile=str(cloud.ca_path))
    answer = requests.get(
        f"https://localhost:{cloud.address[1]}/iot/api/v2/deviceModels/x",
        verify=str(cloud.ca_path),
        timeout=10,
    )
    assert answer.status_code == 401
    assert ctx.check_hostname


def test_admin_api_needs_the_admin_token(cloud: LocalCloud) -> None:
    for header in ({}, {"Authorization": "Bearer wrong"}):
        answer = requests.get(
            cloud.url + "/local/v1/devices", headers=header, verify=str(cloud.ca_path), timeout=10
        )
        assert answer.status_code == 401
        assert "admin.token" in answer.json()["detail"]
    token = (cloud.config.data_dir / "admin.token").read_text().strip()
    assert (cloud.config.data_dir / "admin.token").stat().st_mode & 0o777 == 0o600
    answer = requests.get(
        cloud.url + "/local/v1/devices",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(cloud.ca_path),
        timeout=10,
    )
    assert answer.status_code == 200


def test_registration_conflicts_and_bad_fields(app: AppClient) -> None:
    app.register_device("DUP-1")
    with pytest.raises(CloudApiError) as info:
        app.register_device("DUP-1")
    assert info.value.status == 409
    with pytest.raises(CloudApiError, match="connectedDevices"):
        app.register_device("X-2", connected_devices={"": "s"})
    assert [d["activationId"] for d in app.devices()] == ["DUP-1"]


def test_enterprise_style_writes_with_lowercase_method_override(
    cloud: LocalCloud, thermostat: WireDevice
) -> None:
    token = (cloud.config.data_dir / "admin.token").read_text().strip()
    base = f"{cloud.url}/local/v1/endpoints/{thermostat.endpoint_id}/deviceModels/{THERMOSTAT}"
    session = requests.Session()
    session.trust_env = False
    session.verify = str(cloud.ca_path)
    session.headers["Authorization"] = f"Bearer {token}"
    put = session.put(f"{base}/attributes/setpoint", json={"value": 18}, timeout=10)
    assert put.status_code == 201, put.text
    patch = session.post(
        f"{base}/attributes",
        json={"mode": "eco", "fanLevel": 2},
        headers={"x-http-method-override": "patch"},
        timeout=10,
    )
    assert patch.status_code == 201, patch.text
    plain_post = session.post(f"{base}/attributes", json={"mode": "eco"}, timeout=10)
    assert plain_post.status_code == 405
    action = session.post(f"{base}/actions/boost", json={"value": 2}, timeout=10)
    assert action.status_code == 201
    refused = session.put(f"{base}/attributes/temperature", json={"value": 1}, timeout=10)
    assert refused.status_code == 400
    assert "not writable" in refused.json()["detail"]
    delivered = thermostat.post([]).json()
    assert [m["payload"]["method"] for m in delivered] == ["PUT", "POST", "POST"]
    session.close()


def test_model_endpoints(cloud: LocalCloud, thermostat: WireDevice) -> None:
    get = thermostat.session.get(
        thermostat.url(f"/iot/api/v2/deviceModels/{THERMOSTAT}?expand=formats"),
        headers=thermostat.headers(),
        timeout=10,
    )
    assert get.status_code == 200
    assert get.json()["urn"] == THERMOSTAT
    assert get.json()["formats"][0]["type"] == "ALERT"
    encoded = THERMOSTAT.replace(":", "%3A")
    policies = thermostat.session.get(
        thermostat.url(f"/iot/privateapi/v2/deviceModels/{encoded}/devicePolicies?q=x&fields=y"),
        headers=thermostat.headers(),
        timeout=10,
    )
    assert policies.json() == {"items": []}
    missing = thermostat.session.get(
        thermostat.url("/iot/api/v2/deviceModels/urn:none"),
        headers=thermostat.headers(),
        timeout=10,
    )
    assert missing.status_code == 404
    token = (cloud.config.data_dir / "admin.token").read_text().strip()
    new_model = {
        "urn": "urn:test:added",
        "name": "Added",
        "attributes": [{"name": "a", "type": "INTEGER"}],
    }
    url = cloud.url + "/iot/api/v2/deviceModels"
    admin = {"Authorization": f"Bearer {token}"}
    verify = str(cloud.ca_path)
    assert requests.post(url, json=new_model, verify=verify, timeout=10).status_code == 401
    assert (
        requests.post(url, json=new_model, headers=admin, verify=verify, timeout=10).status_code
        == 201
    )
    assert (
        requests.post(url, json=new_model, headers=admin, verify=verify, timeout=10).status_code
        == 409
    )
    bad = requests.post(url, json={"urn": "nope"}, headers=admin, verify=verify, timeout=10)
    assert bad.status_code == 400
    assert "urn" in bad.json()["detail"]
    assert "urn:test:added" in cloud.context.store.model_documents()[0]["urn"]


def test_a_failing_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    store = SqliteCloudStore(tmp_path / "s.sqlite")
    good = IncomingMessage("EP", "DATA", '{"source":"EP"}')
    store.ingest(1, "EP", [good], [])
    bad = IncomingMessage(None, "DATA", "{}")  # type: ignore[arg-type]  # NOT NULL violated
    with pytest.raises(sqlite3.IntegrityError):
        store.ingest(2, "EP", [good, good, bad], [])
    assert [m.seq for m in store.messages()] == [1]
    store.close()
    db = sqlite3.connect(tmp_path / "s.sqlite")
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone() == (1,)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_repr_shows_state(data_dir: Path) -> None:
    cloud = LocalCloud(data_dir)
    assert repr(cloud).startswith("<LocalCloud new")
    with cloud:
        assert f"running {cloud.url}" in repr(cloud)
        info = json.loads((data_dir / "server.json").read_text())
        assert info["url"] == cloud.url
    assert repr(cloud).startswith("<LocalCloud closed")
    assert not (data_dir / "server.json").exists()


def test_provisioner_device_returns_a_unified_store(cloud: LocalCloud, app: AppClient) -> None:
    from iotcs_hw.protocol.unified_store import decrypt_store

    app.register_device("GW-P", "gws", connected_devices={"ICD-P": "icds"})
    token = (cloud.config.data_dir / "admin.token").read_text().strip()
    url = cloud.url + "/iot/api/v2/provisioner/device"
    body = {"id": "GW-P", "passphrase": "pw", "transport": "https"}
    answer = requests.post(
        url,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        verify=str(cloud.ca_path),
        timeout=10,
    )
    assert answer.status_code == 200
    store = decrypt_store(answer.content, "pw", path="answer")
    assert store.client_id == "GW-P"
    assert store.shared_secret == b"gws"
    assert dict(store.connected_devices) == {"ICD-P": b"icds"}
    refused = requests.post(url, json=body, verify=str(cloud.ca_path), timeout=10)
    assert refused.status_code == 401
    missing = requests.post(
        url,
        json={**body, "id": "NOPE"},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(cloud.ca_path),
        timeout=10,
    )
    assert missing.status_code == 404


def test_runner_provisions_for_run_simulate(cloud: LocalCloud, tmp_path: Path) -> None:
    from iotcs_hw.protocol.unified_store import load_store

    out = tmp_path / "sim.store"
    view = cloud.provision("SIM-1", out, "pw")
    assert view["activationId"] == "SIM-1"
    assert load_store(out, "pw").server_uri == cloud.url
    again = cloud.provision("SIM-1", out, "pw", force=True)
    assert again["state"] == "REGISTERED"


def test_dashboard_page_is_served_without_data(cloud: LocalCloud) -> None:
    answer = requests.get(cloud.url + "/local/dashboard", verify=str(cloud.ca_path), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "/local/v1" in answer.text
    assert cloud.context.admin_token not in answer.text


def test_a_busy_port_is_a_clear_error(cloud: LocalCloud, tmp_path: Path) -> None:
    from iotcs_hw.errors import ConfigError

    with pytest.raises(ConfigError, match="address already in use"):
        LocalCloud(tmp_path / "other", port=cloud.address[1]).start()


def test_synchronous_mode_is_checked(tmp_path: Path) -> None:
    from iotcs_hw.errors import ConfigError

    with pytest.raises(ConfigError, match="expected NORMAL or FULL"):
        SqliteCloudStore(tmp_path / "x.sqlite", synchronous="OFF")
    store = SqliteCloudStore(tmp_path / "y.sqlite", synchronous="FULL")
    store.ingest(1, "EP", [IncomingMessage("EP", "DATA", "{}")], [])
    assert len(store.messages()) == 1
    store.close()
