"""Tokens and activation over real HTTPS: Oracle's vectors, forged and expired assertions."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iotcs_hw.cloud.app_client import AppClient
from iotcs_hw.cloud.runner import LocalCloud
from iotcs_hw.cloud.support import FakeClock
from iotcs_hw.protocol.jwt import build_hs256_assertion, token_request_body
from iotcs_hw.protocol.unified_store import load_store

from .conftest import ACTIVATION_SCOPE, MODELS_DIR, THERMOSTAT, WireDevice

TOKEN = "/iot/api/v2/oauth2/token"
VECTOR_EXP = 1795549013
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _post_token(cloud: LocalCloud, body: str) -> requests.Response:
    return requests.post(
        cloud.url + TOKEN, data=body, headers=FORM, verify=str(cloud.ca_path), timeout=10
    )


@pytest.fixture
def vectors(vectors_dir: Path) -> dict[str, Any]:
    return dict(json.loads((vectors_dir / "oracle-js-outputs.json").read_text()))


@pytest.fixture
def vector_cloud(data_dir: Path, vectors_dir: Path) -> Any:
    """A server whose clock sits 15 minutes before the vectors' ``exp``, with DEV-1 registered
    and EP-456 activated with the key of ``unified-store-activated.bin``."""
    clock = FakeClock(VECTOR_EXP - 900)
    with LocalCloud(data_dir, models_dir=MODELS_DIR, clock=clock) as server:
        store = load_store(vectors_dir / "unified-store-activated.bin", "changeit")
        ctx = server.context
        from iotcs_hw.cloud.storage import DeviceRecord

        ctx.store.add_device(DeviceRecord("DEV-1", "secret123", "REGISTERED"))
        ctx.store.add_device(DeviceRecord("DEV-456", "other", "REGISTERED"))
        ctx.store.activate(
            DeviceRecord(
                "DEV-456",
                "other",
                "ACTIVATED",
                endpoint_id="EP-456",
                public_key_der=store.public_key,
            )
        )
        yield server, clock


def test_oracle_hs256_vectors_get_activation_tokens(
    vector_cloud: Any, vectors: dict[str, Any]
) -> None:
    server, _clock = vector_cloud
    for key in ("hs256", "hs256_unified"):
        answer = _post_token(server, token_request_body(vectors[key], ACTIVATION_SCOPE))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3_600_000
        assert len(body["access_token"]) > 20


def test_oracle_token_body_is_accepted_verbatim(vector_cloud: Any, vectors: dict[str, Any]) -> None:
    server, _clock = vector_cloud
    answer = _post_token(server, vectors["token_body"])
    assert answer.status_code == 200, answer.text


def test_oracle_rs256_vector_with_inner_padding_gets_endpoint_token(
    vector_cloud: Any, vectors: dict[str, Any]
) -> None:
    server, _clock = vector_cloud
    assert vectors["unified_rs256"].split(".")[1].endswith("=")
    answer = _post_token(server, token_request_body(vectors["unified_rs256"], ""))
    assert answer.status_code == 200, answer.text


def test_vector_after_its_exp_is_400_with_current_time(
    vector_cloud: Any, vectors: dict[str, Any]
) -> None:
    server, clock = vector_cloud
    clock.set(VECTOR_EXP + 5)
    answer = _post_token(server, token_request_body(vectors["hs256"], ACTIVATION_SCOPE))
    assert answer.status_code == 400
    body = answer.json()
    assert body["currentTime"] == (VECTOR_EXP + 5) * 1000
    assert "expired" in body["detail"]


def test_exp_far_in_the_future_is_400_with_current_time(
    cloud: LocalCloud, make_device: Any
) -> None:
    device: WireDevice = make_device("FUTURE-1", "sec")
    exp = int(cloud.config.clock.time()) + 6 * 3600
    body = token_request_body(build_hs256_assertion("FUTURE-1", b"sec", exp=exp), ACTIVATION_SCOPE)
    answer = _post_token(cloud, body)
    assert answer.status_code == 400
    assert abs(answer.json()["currentTime"] - cloud.config.clock.time() * 1000) < 60_000
    assert device.fetch_token().status_code == 200


def _resign(token: str, claims_patch: dict[str, Any], secret: bytes) -> str:
    import hashlib
    import hmac

    header, claims_b64, _sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
    claims.update(claims_patch)
    new_claims = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signing = f"{header}.{new_claims}".encode()
    sig = hmac.new(secret, signing, hashlib.sha256).digest()
    return f"{header}.{new_claims}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def test_forged_and_wrong_audience_assertions_are_refused(
    vector_cloud: Any, vectors: dict[str, Any]
) -> None:
    server, _clock = vector_cloud
    forged = _resign(vectors["hs256"], {}, b"not-the-secret")
    answer = _post_token(server, token_request_body(forged, ACTIVATION_SCOPE))
    assert answer.status_code == 401
    assert "does not verify" in answer.json()["detail"]
    wrong_aud = _resign(vectors["hs256"], {"aud": "somebody/else"}, b"secret123")
    answer = _post_token(server, token_request_body(wrong_aud, ACTIVATION_SCOPE))
    assert answer.status_code == 401
    assert "aud" in answer.json()["detail"]
    # Tampering with the claims invalidates Oracle's own signature.
    header, claims, sig = vectors["hs256"].split(".")
    tampered = f"{header}.{claims[:-2]}fQ.{sig}"
    answer = _post_token(server, token_request_body(tampered, ACTIVATION_SCOPE))
    assert answer.status_code in (400, 401)
    assert answer.headers["Content-Type"].startswith("application/json")


def test_scope_rules(vector_cloud: Any, vectors: dict[str, Any]) -> None:
    server, _clock = vector_cloud
    # An HS256 activation assertion cannot buy an endpoint token, nor RS256 an activation one.
    assert _post_token(server, token_request_body(vectors["hs256"], "")).status_code == 401
    rs = token_request_body(vectors["unified_rs256"], ACTIVATION_SCOPE)
    assert _post_token(server, rs).status_code == 401
    bad_scope = vectors["token_body"].replace("scope=oracle/iot/activation", "scope=admin")
    answer = _post_token(server, bad_scope)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"
    no_scope = vectors["token_body"].split("&scope=")[0]
    assert _post_token(server, no_scope).status_code == 400
    # The activation token opens model reads but not messages.
    token = _post_token(server, vectors["token_body"]).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    model = requests.get(
        server.url + f"/iot/api/v2/deviceModels/{THERMOSTAT}",
        headers=auth,
        verify=str(server.ca_path),
        timeout=10,
    )
    assert model.status_code == 200
    messages = requests.post(
        server.url + "/iot/api/v2/messages",
        data=b"[]",
        headers=auth,
        verify=str(server.ca_path),
        timeout=10,
    )
    assert messages.status_code == 403
    assert messages.json()["error"] == "insufficient_scope"


def test_empty_and_unknown_bearer_get_401_json(cloud: LocalCloud) -> None:
    for header in ("", "Bearer", "Bearer nope"):
        answer = requests.post(
            cloud.url + "/iot/api/v2/messages",
            data=b"[]",
            headers={"Authorization": header},
            verify=str(cloud.ca_path),
            timeout=10,
        )
        assert answer.status_code == 401
        assert answer.json()["status"] == 401


def test_direct_activation_end_to_end(cloud: LocalCloud, make_device: Any, app: AppClient) -> None:
    device: WireDevice = make_device("ACT-1")
    endpoint = device.activate(THERMOSTAT)
    assert endpoint.startswith("0-")
    view = app.device("ACT-1")
    assert view["state"] == "ACTIVATED"
    assert view["endpointId"] == endpoint
    assert THERMOSTAT in view["deviceModels"]
    direct = [r for r in cloud.recorder.requests() if r.path == "/iot/api/v2/activation/direct"]
    assert [r.status for r in direct] == [200]
    # The answer has no certificate (§2.3 step 5) and says ACTIVATED.
    # Policy after activation: 401 (Java reads this as "already activated").
    device.endpoint_id = None
    assert device.fetch_token().status_code == 200
    policy = device.session.get(
        device.url("/iot/api/v2/activation/policy"), headers=device.headers(), timeout=10
    )
    assert policy.status_code == 401


def test_activation_answer_omits_certificate(cloud: LocalCloud, make_device: Any) -> None:
    from iotcs_hw.protocol.activation import DirectActivationRequest

    device: WireDevice = make_device("ACT-2")
    assert device.fetch_token().status_code == 200
    body = DirectActivationRequest.create("ACT-2", b"s3cret-value", device.key, [THERMOSTAT])
    answer = device.session.post(
        device.url("/iot/api/v2/activation/direct"),
        json=body.to_json(),
        headers=device.headers(),
        timeout=10,
    )
    assert answer.status_code == 200
    assert set(answer.json()) == {"endpointId", "endpointState", "activationTime"}
    assert answer.json()["endpointState"] == "ACTIVATED"


def test_activation_with_the_oracle_signature_shape_and_bad_signatures(
    cloud: LocalCloud, make_device: Any, vectors: dict[str, Any]
) -> None:
    from iotcs_hw.protocol.activation import DirectActivationRequest

    device: WireDevice = make_device("ACT-3")
    assert device.fetch_token().status_code == 200
    good = DirectActivationRequest.create("ACT-3", b"s3cret-value", device.key, [THERMOSTAT])
    wrong_secret = DirectActivationRequest.create("ACT-3", b"wrong", device.key, [THERMOSTAT])
    url = device.url("/iot/api/v2/activation/direct?createDraft=false")
    answer = device.session.post(
        url, json=wrong_secret.to_json(), headers=device.headers(), timeout=10
    )
    assert answer.status_code == 401
    # Oracle's vector: a signature made by Oracle's JS library for DEV-1, replayed for ACT-3,
    # carries the wrong subject and is refused with a clear 400.
    oracle = good.to_json()
    oracle["certificationRequestInfo"]["subject"] = "DEV-1"
    oracle["certificationRequestInfo"]["subjectPublicKeyInfo"]["publicKey"] = vectors[
        "act_pubkey_b64"
    ]
    oracle["signature"] = vectors["act_signature"]
    answer = device.session.post(url, json=oracle, headers=device.headers(), timeout=10)
    assert answer.status_code == 400
    assert "DEV-1" in answer.json()["detail"]
    unknown = DirectActivationRequest.create("ACT-3", b"s3cret-value", device.key, ["urn:nope"])
    answer = device.session.post(url, json=unknown.to_json(), headers=device.headers(), timeout=10)
    assert answer.status_code == 400
    assert "urn:nope" in answer.json()["detail"]
    answer = device.session.post(url, json=good.to_json(), headers=device.headers(), timeout=10)
    assert answer.status_code == 200


def test_oracle_activation_vector_verifies(vector_cloud: Any, vectors: dict[str, Any]) -> None:
    """Oracle's JS signature for DEV-1 activates DEV-1 on this server (§2.3)."""
    from iotcs_hw.protocol.activation import DirectActivationRequest

    server, _clock = vector_cloud
    token = _post_token(server, vectors["token_body"]).json()["access_token"]
    body = DirectActivationRequest(
        subject="DEV-1",
        public_key=base64.b64decode(vectors["act_pubkey_b64"]),
        signature=base64.b64decode(vectors["act_signature"]),
        device_models=("urn:test:m",),
    ).to_json()
    answer = requests.post(
        server.url + "/iot/api/v2/activation/direct",
        json=body,
        headers={"Authorization": f"Bearer {token}", "X-ActivationId": "DEV-1"},
        verify=str(server.ca_path),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert server.context.store.device("DEV-1").public_key_der == base64.b64decode(  # type: ignore[union-attr]
        vectors["act_pubkey_b64"]
    )


def test_create_draft_default_adds_a_draft_model(cloud: LocalCloud, make_device: Any) -> None:
    from iotcs_hw.protocol.activation import DirectActivationRequest

    device: WireDevice = make_device("ACT-4")
    assert device.fetch_token().status_code == 200
    body = DirectActivationRequest.create("ACT-4", b"s3cret-value", device.key, ["urn:new:thing"])
    answer = device.session.post(
        device.url("/iot/api/v2/activation/direct"),
        json=body.to_json(),
        headers=device.headers(),
        timeout=10,
    )
    assert answer.status_code == 200
    device.endpoint_id = answer.json()["endpointId"]
    assert device.fetch_token().status_code == 200
    model = device.session.get(
        device.url("/iot/api/v2/deviceModels/urn:new:thing?expand=formats"),
        headers=device.headers(),
        timeout=10,
    )
    assert model.status_code == 200
    assert model.json()["draft"] is True


def test_indirect_activation_by_a_gateway(
    cloud: LocalCloud, app: AppClient, device_key: rsa.RSAPrivateKey
) -> None:
    from iotcs_hw.protocol.activation import indirect_activation_signature

    reg = app.register_device("GW-1", "gwsecret", connected_devices={"ICD-1": "icdsecret"})
    assert reg["connectedDevices"] == {"ICD-1": "icdsecret"}
    gateway = WireDevice(cloud, "GW-1", "gwsecret", device_key)
    gw_endpoint = gateway.activate(THERMOSTAT)
    url = gateway.url("/iot/api/v2/activation/indirect/device?createDraft=false")
    signature = indirect_activation_signature(gw_endpoint, icd_secret=b"icdsecret")
    assert signature is not None
    body = {
        "hardwareId": "ICD-1",
        "deviceModels": [THERMOSTAT],
        "manufacturer": "ACME",
        "signature": base64.b64encode(signature).decode(),
    }
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    assert (
        gateway.session.post(url, json=unsigned, headers=gateway.headers(), timeout=10).status_code
        == 401
    )
    answer = gateway.session.post(url, json=body, headers=gateway.headers(), timeout=10)
    assert answer.status_code == 200, answer.text
    icd_endpoint = answer.json()["endpointId"]
    again = gateway.session.post(url, json=body, headers=gateway.headers(), timeout=10)
    assert again.json()["endpointId"] == icd_endpoint
    # A device nobody registered is accepted unsigned (an open gateway registration).
    open_body = {"hardwareId": "SENSOR-9", "deviceModels": [THERMOSTAT]}
    assert (
        gateway.session.post(url, json=open_body, headers=gateway.headers(), timeout=10).status_code
        == 200
    )
    icd = app.device("ICD-1")
    assert icd["gateway"] == gw_endpoint
    assert icd["metadata"] == {"manufacturer": "ACME"}
    gateway.close()


def test_public_key_is_the_registered_one(cloud: LocalCloud, thermostat: WireDevice) -> None:
    record = cloud.context.store.device_by_endpoint(thermostat.endpoint_id or "")
    assert record is not None
    assert record.public_key_der == thermostat.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_revoked_tokens_get_401_and_a_new_token_works(
    app: AppClient, thermostat: WireDevice
) -> None:
    assert thermostat.post([]).status_code == 200
    assert app.revoke_tokens() >= 1
    answer = thermostat.post([])
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"
    assert thermostat.fetch_token().status_code == 200
    assert thermostat.post([]).status_code == 200


def test_java_style_padded_segments_and_spaced_claims(cloud: LocalCloud, make_device: Any) -> None:
    """Java pads every segment with '=' and writes claims with ", " separators (§10.2)."""
    import hashlib
    import hmac

    make_device("JAVA-1", "jsecret")
    exp = int(cloud.config.clock.time()) + 600
    claims = f'{{"iss":"JAVA-1", "sub":"JAVA-1", "aud":"oracle/iot/oauth2/token", "exp":{exp}}}'

    def seg(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode()  # keeps its '=' padding

    header = b'{"typ":"JWT", "alg":"HS256"}'
    signing = f"{seg(header)}.{seg(claims.encode())}"
    signature = hmac.new(b"jsecret", signing.encode(), hashlib.sha256).digest()
    token = f"{signing}.{seg(signature)}"
    assert token.count("=") >= 1
    answer = _post_token(cloud, token_request_body(token, ACTIVATION_SCOPE))
    assert answer.status_code == 200, answer.text
