"""Direct and indirect activation signatures against Oracle's vector and each other."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from iotcs_hw.protocol import activation as act
from iotcs_hw.protocol.jwt import load_public_key


def test_oracle_direct_activation_vector_verifies(js_outputs: dict[str, Any]) -> None:
    public = base64.b64decode(js_outputs["act_pubkey_b64"])
    assert act.client_secret(b"secret123", "DEV-1").hex() == js_outputs["client_secret_hex"]
    signed = act.direct_activation_signed_bytes("DEV-1", public, b"secret123")
    assert signed.startswith(b"DEV-1\nRSA\nX.509\nHmacSHA256\n")
    load_public_key(public).verify(
        base64.b64decode(js_outputs["act_signature"]), signed, padding.PKCS1v15(), hashes.SHA256()
    )


def test_oracle_vector_as_a_server_would_receive_it(js_outputs: dict[str, Any]) -> None:
    body = {
        "certificationRequestInfo": {
            "subject": "DEV-1",
            "subjectPublicKeyInfo": {
                "algorithm": "RSA",
                "publicKey": js_outputs["act_pubkey_b64"],
                "format": "X.509",
                "secretHashAlgorithm": "HmacSHA256",
            },
            "attributes": {},
        },
        "signatureAlgorithm": "SHA256withRSA",
        "signature": js_outputs["act_signature"],
        "deviceModels": ["urn:test:m", act.DIRECT_ACTIVATION_URN],
    }
    request = act.DirectActivationRequest.from_json(body)
    request.verify(b"secret123")
    assert request.to_json() == body
    with pytest.raises(act.ActivationSignatureInvalid, match="'DEV-1' does not verify"):
        request.verify(b"wrong")


def test_our_request_verifies_and_carries_the_capability() -> None:
    key = act.generate_key_pair(1024)
    request = act.DirectActivationRequest.create("DEV-2", b"s", key, ["urn:a", "urn:a"])
    assert request.device_models == ("urn:a", act.DIRECT_ACTIVATION_URN)
    again = act.DirectActivationRequest.from_json(request.to_json())
    assert again.verify(b"s").public_numbers() == key.public_key().public_numbers()


def test_bad_bodies_name_the_field() -> None:
    key = act.generate_key_pair(1024)
    body = act.DirectActivationRequest.create("D", b"s", key, []).to_json()
    with pytest.raises(act.ActivationRequestInvalid, match="deviceModels must be an array"):
        act.DirectActivationRequest.from_json({**body, "deviceModels": "urn:x"})
    with pytest.raises(act.ActivationRequestInvalid, match="activation body must be a JSON object"):
        act.DirectActivationRequest.from_json([])
    body["certificationRequestInfo"]["subjectPublicKeyInfo"]["publicKey"] = "@@"
    with pytest.raises(act.ActivationRequestInvalid, match=r"publicKey is not valid base64"):
        act.DirectActivationRequest.from_json(body)


def test_policy_parsing() -> None:
    policy = act.ActivationPolicy.from_json(
        {"keyType": "RSA", "hashAlgorithm": "SHA256withRSA", "keySize": 2048}
    )
    assert policy == act.ActivationPolicy()
    assert act.ActivationPolicy.from_json(policy.to_json()) == policy
    with pytest.raises(act.ActivationRequestInvalid, match="keySize 512"):
        act.ActivationPolicy.from_json({**policy.to_json(), "keySize": 512})
    with pytest.raises(act.ActivationRequestInvalid, match="keyType 'EC'"):
        act.ActivationPolicy.from_json({**policy.to_json(), "keyType": "EC"})
    with pytest.raises(act.ActivationRequestInvalid, match="lacks field 'keySize'"):
        act.ActivationPolicy.from_json({"keyType": "RSA", "hashAlgorithm": "SHA256withRSA"})


def test_activation_result() -> None:
    result = act.ActivationResult.from_json(
        {"endpointId": "EP", "endpointState": "ACTIVATED", "activationTime": 5, "certificate": "x"}
    )
    assert result == act.ActivationResult("EP", "ACTIVATED", 5)
    assert "certificate" not in result.to_json()
    with pytest.raises(act.ActivationRequestInvalid, match="endpointState 'PENDING'"):
        act.ActivationResult.from_json({"endpointId": "EP", "endpointState": "PENDING"})


def test_indirect_signature_with_icd_secret() -> None:
    sig = act.indirect_activation_signature("GW-1", icd_secret=b"icdsecret")
    assert sig is not None
    assert (
        act.verify_indirect_activation_signature(sig, "GW-1", icd_secret=b"icdsecret") == "secret"
    )
    with pytest.raises(act.ActivationSignatureInvalid, match="gateway 'GW-2'"):
        act.verify_indirect_activation_signature(sig, "GW-2", icd_secret=b"icdsecret")


def test_indirect_signature_restricted_and_unsigned() -> None:
    key = act.generate_key_pair(1024)
    sig = act.indirect_activation_signature("GW-1", gateway_private_key=key, restricted=True)
    kind = act.verify_indirect_activation_signature(
        sig, "GW-1", gateway_public_key=act.public_key_der(key)
    )
    assert kind == "restricted"
    assert act.indirect_activation_signature("GW-1", gateway_private_key=key) is None
    assert act.verify_indirect_activation_signature(None, "GW-1") == "none"
    with pytest.raises(ValueError, match="needs the gateway's private key"):
        act.indirect_activation_signature("GW-1", restricted=True)


def test_indirect_body_round_trip() -> None:
    request = act.IndirectActivationRequest(
        hardware_id="ICD-1",
        device_models=("urn:x",),
        metadata={act.MANUFACTURER: "ACME", act.SERIAL_NUMBER: "42"},
        signature=b"\x01\x02",
    )
    wire = request.to_json()
    assert wire == {
        "manufacturer": "ACME",
        "serialNumber": "42",
        "hardwareId": "ICD-1",
        "deviceModels": ["urn:x"],
        "signature": "AQI=",
    }
    assert act.IndirectActivationRequest.from_json(wire) == request
    with pytest.raises(act.ActivationRequestInvalid, match="metadata 'x' must be a string"):
        act.IndirectActivationRequest.from_json({**wire, "x": 1})
