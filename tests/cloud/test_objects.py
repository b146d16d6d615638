"""Storage credentials and the Swift-like object store over real HTTPS."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import requests

from iotcs_hw.cloud.runner import LocalCloud
from iotcs_hw.cloud.support import FakeClock

from .conftest import MODELS_DIR, THERMOSTAT, WireDevice


def _credentials(device: WireDevice) -> dict[str, Any]:
    answer = device.session.get(
        device.url("/iot/api/v2/provisioner/storage"), headers=device.headers(), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_upload_download_head_round_trip(cloud: LocalCloud, thermostat: WireDevice) -> None:
    creds = _credentials(thermostat)
    assert creds["storageContainerUrl"] == f"{cloud.url}/v1/AUTH_iotcs/iotcs"
    url = f"{creds['storageContainerUrl']}/{thermostat.endpoint_id}/snapshot.bin"
    data = bytes(range(256)) * 300
    auth = {"X-Auth-Token": creds["authToken"]}
    chunks = (data[i : i + 4096] for i in range(0, len(data), 4096))  # chunked, as Java sends
    put = thermostat.session.put(
        url, data=chunks, headers=auth | {"Content-Type": "image/x-test"}, timeout=10
    )
    assert put.status_code == 201
    assert put.headers["ETag"] == hashlib.md5(data).hexdigest()
    assert "Last-Modified" in put.headers
    got = thermostat.session.get(url, headers=auth, timeout=10)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["Content-Type"] == "image/x-test"
    head = thermostat.session.head(url, headers=auth, timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Content-Type"] == "image/x-test"
    assert head.headers["Last-Modified"] == put.headers["Last-Modified"]
    assert head.content == b""
    missing = thermostat.session.get(url + ".nope", headers=auth, timeout=10)
    assert missing.status_code == 404
    assert missing.json()["status"] == 404


def test_object_calls_need_a_live_token(data_dir: Path, device_key: Any) -> None:
    clock = FakeClock(1_800_000_000)
    with LocalCloud(
        data_dir, models_dir=MODELS_DIR, clock=clock, storage_token_lifetime_s=60
    ) as cloud:
        app = cloud.app_client()
        app.register_device("STO-1", "sec")
        device = WireDevice(cloud, "STO-1", "sec", device_key)
        device.activate(THERMOSTAT)
        creds = _credentials(device)
        url = f"{creds['storageContainerUrl']}/{device.endpoint_id}/a.txt"
        session = device.session
        assert session.put(url, data=b"x", timeout=10).status_code == 401
        bad = {"X-Auth-Token": "guess"}
        assert session.put(url, data=b"x", headers=bad, timeout=10).status_code == 401
        good = {"X-Auth-Token": creds["authToken"]}
        assert session.put(url, data=b"x", headers=good, timeout=10).status_code == 201
        clock.advance(61)
        stale = session.get(url, headers=good, timeout=10)
        assert stale.status_code == 401
        assert "expired" in stale.json()["detail"]
        fresh = {"X-Auth-Token": _credentials(device)["authToken"]}
        assert session.get(url, headers=fresh, timeout=10).content == b"x"
        # Wrong container, and an activation-scope token cannot get credentials.
        other = url.replace("/iotcs/", "/elsewhere/")
        assert session.get(other, headers=fresh, timeout=10).status_code == 404
        device.close()
        app.close()


def test_storage_credentials_need_an_endpoint_token(cloud: LocalCloud, make_device: Any) -> None:
    device: WireDevice = make_device("STO-2")
    assert device.fetch_token().status_code == 200
    answer = requests.get(
        cloud.url + "/iot/api/v2/provisioner/storage",
        headers={"Authorization": f"Bearer {device.token}"},
        verify=str(cloud.ca_path),
        timeout=10,
    )
    assert answer.status_code == 403
