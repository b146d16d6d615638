"""Reading the legacy JSON trusted-assets store of Oracle's JS library (protocol §1.3).

Read-only: the format is deprecated, so a device holding one is migrated to a unified store
the first time something must be written (the caller picks the new path).

Key K = PBKDF2-HMAC-SHA1(password, empty salt, 1000 rounds, 16 bytes); ``sharedSecret`` is hex
of AES-128-CBC(K, zero IV); ``signature`` is hex HMAC-SHA256(K, S) over the fields concatenated
with JavaScript string coercion; ``keyPair`` is a base64 PKCS#12 protected by the store
password whose certificate's friendly name is the endpoint id.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
from hashlib import sha256
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from iotcs_hw.errors import TrustedAssetsError
from iotcs_hw.protocol.unified_store import TrustedAssets, aes_cbc_decrypt, derive_key

LEGACY_PBKDF2_ROUNDS = 1000
_ZERO_IV = bytes(16)


def _js_string(value: Any) -> str:
    """JavaScript's ``String(value)`` for the JSON values a legacy store holds."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join("" if v is None else _js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def legacy_signature_input(doc: dict[str, Any]) -> str:
    """The text the JS library HMACs: each field as ``{value}``, in a fixed order.

    ``serverScheme`` and ``connectedDevices`` are left out when absent (older files); an empty
    ``keyPair`` reads as ``null``, as the JS verifier does.
    """
    keys = ["clientId", "serverHost", "serverPort"]
    if doc.get("serverScheme"):
        keys.append("serverScheme")
    keys += ["sharedSecret", "trustAnchors", "keyPair"]
    if doc.get("connectedDevices") is not None:
        keys.append("connectedDevices")
    values = {k: doc.get(k) for k in keys}
    values["keyPair"] = values["keyPair"] or None
    return "".join("{" + _js_string(values[k]) + "}" for k in keys)


def decode_legacy_store(
    data: bytes, password: str, *, path: str | os.PathLike[str]
) -> TrustedAssets:
    """Parse and verify a legacy JSON store; every failure names ``path``."""
    where = os.fspath(path)
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustedAssetsError(
            f"legacy JSON store is not valid JSON: {exc}", path=where
        ) from None
    if not isinstance(doc, dict):
        raise TrustedAssetsError("legacy JSON store must be a JSON object", path=where)
    for name in ("clientId", "serverHost", "serverPort", "sharedSecret", "signature"):
        if name not in doc:
            raise TrustedAssetsError(f"legacy JSON store lacks field {name!r}", path=where)
    store_key = derive_key(password, b"", rounds=LEGACY_PBKDF2_ROUNDS)
    expected = hmac.new(store_key, legacy_signature_input(doc).encode("utf-8"), sha256).hexdigest()
    if not hmac.compare_digest(expected, str(doc["signature"]).lower()):
        raise TrustedAssetsError(
            "legacy JSON store signature does not verify: wrong password or modified file",
            path=where,
        )
    try:
        secret = aes_cbc_decrypt(store_key, _ZERO_IV, bytes.fromhex(str(doc["sharedSecret"])))
    except ValueError as exc:
        raise TrustedAssetsError(
            f"field 'sharedSecret' cannot be decrypted: {exc}", path=where
        ) from None
    anchors = []
    for index, pem in enumerate(doc.get("trustAnchors") or []):
        try:
            cert = x509.load_pem_x509_certificate(str(pem).encode("ascii"))
        except ValueError as exc:
            raise TrustedAssetsError(
                f"trustAnchors[{index}] is not a PEM certificate: {exc}", path=where
            ) from None
        anchors.append(cert.public_bytes(serialization.Encoding.DER))
    endpoint_id, private_der, public_der = _decode_key_pair(doc.get("keyPair"), password, where)
    connected = {
        str(icd): str(icd_secret).encode("utf-8")
        for icd, icd_secret in (doc.get("connectedDevices") or {}).items()
    }
    scheme = str(doc.get("serverScheme") or "https")
    try:
        return TrustedAssets(
            server_uri=f"{scheme}://{doc['serverHost']}:{int(doc['serverPort'])}",
            client_id=str(doc["clientId"]),
            shared_secret=secret,
            endpoint_id=endpoint_id,
            trust_anchors=tuple(anchors),
            private_key=private_der,
            public_key=public_der,
            connected_devices=connected,
        )
    except ValueError as exc:
        raise TrustedAssetsError(f"legacy JSON store is invalid: {exc}", path=where) from None


def _decode_key_pair(
    value: object, password: str, where: str
) -> tuple[str | None, bytes | None, bytes | None]:
    if value is None:
        return None, None, None
    try:
        blob = base64.b64decode(str(value), validate=True)
        bundle = pkcs12.load_pkcs12(blob, password.encode("utf-8"))
    except (binascii.Error, ValueError) as exc:
        raise TrustedAssetsError(
            f"field 'keyPair' is not a readable PKCS#12: {exc}", path=where
        ) from None
    if bundle.key is None or bundle.cert is None:
        raise TrustedAssetsError("field 'keyPair' lacks a private key or certificate", path=where)
    friendly = bundle.cert.friendly_name
    endpoint_id = friendly.decode("utf-8") if friendly else None
    private_der = bundle.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_der = bundle.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return endpoint_id, private_der, public_der
