"""The HTTPS session against the local server: tokens, refresh, clock skew, refusals.

Real HTTPS on loopback; the server's clock is the cloud's FakeClock where a test needs to move
time, and the device's clock is a small fake so token lifetimes pass without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from iotcs_hw.errors import SecurityException, TransportException
from iotcs_hw.protocol.jwt import build_hs256_assertion, token_request_body
from iotcs_hw.transport.activation_client import activate_directly, fetch_device_model
from iotcs_hw.transport.http import HttpSession
from iotcs_hw.transport.trusted_assets import TrustedAssetsManager

PASSWORD = "changeit"
THERMO_URN = "urn:test:transport:thermometer"
Provision = Callable[..., Path]
Recorded = Callable[..., list[Any]]

pytestmark = pytest.mark.timeout(60)


class DeviceClock:
    """Wall time follows the real clock plus ``skew_s``; monotonic moves only when told."""

    def __init__(self, skew_s: float = 0.0) -> None:
        self.skew_s = skew_s
        self.mono = 0.0

    def time(self) -> float:
        return time.time() + self.skew_s

    def monotonic(self) -> float:
        return self.mono


@pytest.fixture
def server_clock() -> Any:
    from iotcs_hw.cloud.support import FakeClock

    return FakeClock(time.time())


@pytest.fixture
def timed_cloud(cloud_dir: Path, models_dir: Path, server_clock: Any) -> Iterator[Any]:
    """The local server with a clock the test moves (no long polls are held here)."""
    from iotcs_hw.cloud.runner import LocalCloud

    with LocalCloud(
        cloud_dir,
        models_dir=models_dir,
        activation_key_size=1024,
        clock=server_clock,
        token_lifetime_s=600.0,
    ) as server:
        yield server


def _provision(server: Any, tmp_path: Path, activation_id: str) -> Path:
    with server.app_client() as app:
        app.register_device(activation_id)
        path = tmp_path / f"{activation_id}.bin"
        path.write_bytes(app.provisioning_file(activation_id, PASSWORD))
    return path


def _session(store: Path, clock: Any = None) -> HttpSession:
    return HttpSession(TrustedAssetsManager(store, PASSWORD), clock=clock, timeout_s=10.0)


def _trail(recorded: Recorded, server: Any, count: int) -> list[tuple[str, int]]:
    return [(r.path.rsplit("/", 1)[-1], r.status) for r in recorded(server, None, count)]


def test_refresh_on_401_retries_once(
    cloud: Any, app: Any, provision: Provision, recorded: Recorded
) -> None:
    session = _session(provision("S-1"))
    activate_directly(session, [THERMO_URN])
    assert fetch_device_model(session, THERMO_URN) is not None
    assert app.revoke_tokens() >= 1
    cloud.recorder.clear()
    assert fetch_device_model(session, THERMO_URN) is not None
    assert _trail(recorded, cloud, 3) == [(THERMO_URN, 401), ("token", 200), (THERMO_URN, 200)]
    session.close()


def test_token_renewed_before_expiry_without_a_401(
    timed_cloud: Any, server_clock: Any, tmp_path: Path, recorded: Recorded
) -> None:
    clock = DeviceClock()
    session = _session(_provision(timed_cloud, tmp_path, "S-2"), clock)
    activate_directly(session, [THERMO_URN])
    fetch_device_model(session, THERMO_URN)
    timed_cloud.recorder.clear()
    # 600 s lifetime (expires_in 600000 ms): renewed from 540 s on, before the server expires it.
    clock.mono += 545.0
    server_clock.advance(545.0)
    assert fetch_device_model(session, THERMO_URN) is not None
    assert _trail(recorded, timed_cloud, 2) == [("token", 200), (THERMO_URN, 200)]
    session.close()


def test_expired_bearer_token_is_refused_then_renewed(
    timed_cloud: Any, server_clock: Any, tmp_path: Path, recorded: Recorded
) -> None:
    session = _session(_provision(timed_cloud, tmp_path, "S-3"), DeviceClock())
    activate_directly(session, [THERMO_URN])
    fetch_device_model(session, THERMO_URN)
    timed_cloud.recorder.clear()
    server_clock.advance(601.0)  # the server expired the token; the device does not know yet
    assert fetch_device_model(session, THERMO_URN) is not None
    assert _trail(recorded, timed_cloud, 3) == [
        (THERMO_URN, 401),
        ("token", 200),
        (THERMO_URN, 200),
    ]
    session.close()


def test_forged_bearer_token_is_refused(cloud: Any) -> None:
    response = requests.get(
        cloud.url + f"/iot/api/v2/deviceModels/{THERMO_URN}",
        headers={"Authorization": "Bearer forged-token", "Accept": "application/json"},
        verify=str(cloud.ca_path),
        timeout=10,
    )
    assert response.status_code == 401


def test_expired_and_forged_assertions_are_refused(cloud: Any, app: Any) -> None:
    app.register_device("S-4", "right")
    url = cloud.url + "/iot/api/v2/oauth2/token"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    expired = build_hs256_assertion("S-4", b"right", exp=int(time.time()) - 10)
    answer = requests.post(
        url,
        data=token_request_body(expired, "oracle/iot/activation"),
        headers=headers,
        verify=str(cloud.ca_path),
        timeout=10,
    )
    assert answer.status_code == 400
    assert abs(answer.json()["currentTime"] - time.time() * 1000) < 60_000
    forged = build_hs256_assertion("S-4", b"wrong", exp=int(time.time()) + 600)
    answer = requests.post(
        url,
        data=token_request_body(forged, "oracle/iot/activation"),
        headers=headers,
        verify=str(cloud.ca_path),
        timeout=10,
    )
    assert answer.status_code == 401


def test_clock_skew_is_learnt_from_current_time(
    timed_cloud: Any, server_clock: Any, tmp_path: Path, recorded: Recorded
) -> None:
    server_clock.advance(7200.0)  # the server is two hours ahead of this device
    session = _session(_provision(timed_cloud, tmp_path, "S-5"), DeviceClock())
    endpoint = activate_directly(session, [THERMO_URN])
    assert endpoint
    assert session.server_offset_s == pytest.approx(7200.0, abs=30.0)
    tokens = recorded(timed_cloud, lambda r: r.path.endswith("/oauth2/token"), 2)
    assert [r.status for r in tokens][:2] == [400, 200]
    session.close()


def test_device_behind_the_server_clock_skew_both_ways(
    timed_cloud: Any, server_clock: Any, tmp_path: Path
) -> None:
    session = _session(_provision(timed_cloud, tmp_path, "S-6"), DeviceClock(skew_s=3600.0))
    activate_directly(session, [THERMO_URN])
    assert session.server_offset_s == pytest.approx(-3600.0, abs=30.0)
    session.close()


def test_server_down_is_a_transport_exception(tmp_path: Path, provision: Provision) -> None:
    store = provision("S-7")
    session = _session(store)
    session.base_url = "https://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(TransportException) as info:
        session.request("GET", "/iot/api/v2/activation/policy")
    assert info.value.statusCode is None
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)
    session.close()


def test_activation_token_cannot_send_messages(cloud: Any, provision: Provision) -> None:
    session = _session(provision("S-8"))
    with pytest.raises(TransportException) as info:
        session.request("POST", "/iot/api/v2/messages?acceptBytes=0", body=b"[]")
    assert info.value.statusCode == 403
    session.close()


def test_refused_credentials_are_security_errors(cloud: Any, app: Any, tmp_path: Path) -> None:
    from iotcs_hw.protocol.unified_store import load_store, new_store, save_store

    app.register_device("S-9", "right")
    genuine = tmp_path / "g.bin"
    genuine.write_bytes(app.provisioning_file("S-9", PASSWORD))
    anchors = load_store(genuine, PASSWORD).trust_anchors
    forged = tmp_path / "f.bin"
    save_store(forged, new_store(cloud.url, "S-9", "wrong", trust_anchors=anchors), PASSWORD)
    session = _session(forged)
    with pytest.raises(SecurityException, match="401"):
        session.request("GET", "/iot/api/v2/activation/policy?OSName=Linux&OSVersion=6")
    session.close()


def test_store_anchors_win_over_requests_ca_bundle(
    cloud: Any, provision: Provision, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$REQUESTS_CA_BUNDLE (or an empty one) must not replace the store's trust anchors."""
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(empty))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(empty))
    session = _session(provision("S-10"))
    assert activate_directly(session, [THERMO_URN])
    session.close()
