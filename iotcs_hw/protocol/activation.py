"""Direct (protocol §2.3) and indirect (§2.4) activation: policy, signed bytes, bodies, checks.

Direct activation proves two things at once: the device knows its shared secret (an HMAC over
its activation id is part of the signed bytes) and it holds the private key of the public key
it registers (the bytes are signed with that key).  Signed bytes =
``subject\\nalgorithm\\nformat\\nsecretHashAlgorithm\\n`` (+ ``key='value'\\n`` per attribute)
+ HMAC-SHA256(shared secret, activation id) + DER public key.

Indirect activation (a gateway registering a device behind it) signs the gateway's endpoint id
with the ICD's shared secret when the gateway holds it, else with the gateway's private key
when the registration is *restricted*, else sends no signature.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from iotcs_hw.errors import ProtocolError, SecurityException
from iotcs_hw.protocol.jwt import load_public_key

CAPABILITY_PREFIX = "urn:oracle:iot:dcd:capability:"
DIRECT_ACTIVATION_URN = CAPABILITY_PREFIX + "direct_activation"
INDIRECT_ACTIVATION_URN = CAPABILITY_PREFIX + "indirect_activation"
DIAGNOSTICS_URN = CAPABILITY_PREFIX + "diagnostics"
MESSAGE_DISPATCHER_URN = CAPABILITY_PREFIX + "message_dispatcher"

KEY_ALGORITHM = "RSA"
KEY_FORMAT = "X.509"
SECRET_HASH_ALGORITHM = "HmacSHA256"
SIGNATURE_ALGORITHM = "SHA256withRSA"
#: Key sizes a device accepts from a policy: below 1024 is insecure, above 8192 takes minutes.
MIN_KEY_SIZE = 1024
MAX_KEY_SIZE = 8192

#: Metadata keys of indirect activation (GatewayDevice constants).
MANUFACTURER = "manufacturer"
MODEL_NUMBER = "modelNumber"
SERIAL_NUMBER = "serialNumber"
DEVICE_CLASS = "deviceClass"
PROTOCOL = "protocol"
PROTOCOL_DEVICE_CLASS = "protocolDeviceClass"
PROTOCOL_DEVICE_ID = "protocolDeviceId"


class ActivationRequestInvalid(ProtocolError, ValueError):
    """An activation body or policy is malformed. Not retryable: fix the sender."""


class ActivationSignatureInvalid(SecurityException):
    """An activation signature does not verify. Not retryable."""


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class ActivationPolicy:
    """The answer of ``GET /activation/policy``."""

    key_type: str = KEY_ALGORITHM
    hash_algorithm: str = SIGNATURE_ALGORITHM
    key_size: int = 2048

    def to_json(self) -> dict[str, Any]:
        """Wire form."""
        return {
            "keyType": self.key_type,
            "hashAlgorithm": self.hash_algorithm,
            "keySize": self.key_size,
        }

    @classmethod
    def from_json(cls, obj: object) -> ActivationPolicy:
        """Parse and check a policy: only RSA with SHA256withRSA is supported (as in practice)."""
        if not isinstance(obj, dict):
            raise ActivationRequestInvalid(f"activation policy must be a JSON object, got {obj!r}")
        for name in ("keyType", "hashAlgorithm", "keySize"):
            if name not in obj:
                raise ActivationRequestInvalid(f"activation policy lacks field {name!r}")
        key_type, hash_alg, size = obj["keyType"], obj["hashAlgorithm"], obj["keySize"]
        if key_type != KEY_ALGORITHM:
            raise ActivationRequestInvalid(
                f"activation policy keyType {key_type!r}: only {KEY_ALGORITHM!r} is supported"
            )
        if hash_alg != SIGNATURE_ALGORITHM:
            raise ActivationRequestInvalid(
                f"activation policy hashAlgorithm {hash_alg!r}: only {SIGNATURE_ALGORITHM!r} "
                "is supported"
            )
        if (
            isinstance(size, bool)
            or not isinstance(size, int)
            or not (MIN_KEY_SIZE <= size <= MAX_KEY_SIZE)
        ):
            raise ActivationRequestInvalid(
                f"activation policy keySize {size!r}: expected an integer in "
                f"{MIN_KEY_SIZE}..{MAX_KEY_SIZE}"
            )
        return cls(key_type=key_type, hash_algorithm=hash_alg, key_size=size)


# --------------------------------------------------------------------------- keys


def generate_key_pair(key_size: int) -> rsa.RSAPrivateKey:
    """A fresh RSA key (public exponent 65537) of ``key_size`` bits."""
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def private_key_der(key: rsa.RSAPrivateKey) -> bytes:
    """DER PKCS#8, unencrypted (the store itself is encrypted): store tag 6."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_der(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> bytes:
    """DER SubjectPublicKeyInfo: store tag 7 and the ``publicKey`` of direct activation."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --------------------------------------------------------------------------- direct


def client_secret(shared_secret: bytes, activation_id: str) -> bytes:
    """HMAC-SHA256(shared secret, UTF-8 activation id): 32 raw bytes inside the signed bytes."""
    return hmac.new(shared_secret, activation_id.encode("utf-8"), sha256).digest()


def direct_activation_signed_bytes(
    activation_id: str,
    public_key: bytes,
    shared_secret: bytes,
    *,
    attributes: Mapping[str, str] | None = None,
    algorithm: str = KEY_ALGORITHM,
    key_format: str = KEY_FORMAT,
    secret_hash_algorithm: str = SECRET_HASH_ALGORITHM,
) -> bytes:
    """The exact bytes a device signs for ``POST /activation/direct`` (§2.3)."""
    text = f"{activation_id}\n{algorithm}\n{key_format}\n{secret_hash_algorithm}\n"
    for key, value in (attributes or {}).items():
        text += f"{key}='{value}'\n"
    return text.encode("utf-8") + client_secret(shared_secret, activation_id) + public_key


@dataclass(frozen=True)
class DirectActivationRequest:
    """The body of ``POST /activation/direct``."""

    subject: str
    public_key: bytes
    signature: bytes
    device_models: tuple[str, ...]
    signature_algorithm: str = SIGNATURE_ALGORITHM
    algorithm: str = KEY_ALGORITHM
    key_format: str = KEY_FORMAT
    secret_hash_algorithm: str = SECRET_HASH_ALGORITHM
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        activation_id: str,
        shared_secret: bytes,
        private_key: rsa.RSAPrivateKey,
        device_models: Iterable[str],
        *,
        signature_algorithm: str = SIGNATURE_ALGORITHM,
    ) -> DirectActivationRequest:
        """Build and sign a request; ``direct_activation`` is added to the models if absent."""
        public = public_key_der(private_key)
        signed = direct_activation_signed_bytes(activation_id, public, shared_secret)
        signature = private_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        models = list(dict.fromkeys(device_models))
        if DIRECT_ACTIVATION_URN not in models:
            models.append(DIRECT_ACTIVATION_URN)
        return cls(
            subject=activation_id,
            public_key=public,
            signature=signature,
            device_models=tuple(models),
            signature_algorithm=signature_algorithm,
        )

    def to_json(self) -> dict[str, Any]:
        """Wire form (field names and nesting as Oracle's clients send them)."""
        return {
            "certificationRequestInfo": {
                "subject": self.subject,
                "subjectPublicKeyInfo": {
                    "algorithm": self.algorithm,
                    "publicKey": base64.b64encode(self.public_key).decode("ascii"),
                    "format": self.key_format,
                    "secretHashAlgorithm": self.secret_hash_algorithm,
                },
                "attributes": dict(self.attributes),
            },
            "signatureAlgorithm": self.signature_algorithm,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "deviceModels": list(self.device_models),
        }

    @classmethod
    def from_json(cls, obj: object) -> DirectActivationRequest:
        """Parse a body; raises :class:`ActivationRequestInvalid` naming the bad field."""
        body = _object(obj, "activation body")
        info = _object(body.get("certificationRequestInfo"), "certificationRequestInfo")
        spki = _object(
            info.get("subjectPublicKeyInfo"), "certificationRequestInfo.subjectPublicKeyInfo"
        )
        attributes = info.get("attributes") or {}
        if not isinstance(attributes, dict) or not all(
            isinstance(v, str) for v in attributes.values()
        ):
            raise ActivationRequestInvalid(
                "certificationRequestInfo.attributes must be an object of strings"
            )
        return cls(
            subject=_string(info, "subject", "certificationRequestInfo.subject"),
            public_key=_base64(spki, "publicKey", "subjectPublicKeyInfo.publicKey"),
            signature=_base64(body, "signature", "signature"),
            device_models=_urns(body.get("deviceModels"), "deviceModels"),
            signature_algorithm=_string(body, "signatureAlgorithm", "signatureAlgorithm"),
            algorithm=_string(spki, "algorithm", "subjectPublicKeyInfo.algorithm"),
            key_format=_string(spki, "format", "subjectPublicKeyInfo.format"),
            secret_hash_algorithm=_string(
                spki, "secretHashAlgorithm", "subjectPublicKeyInfo.secretHashAlgorithm"
            ),
            attributes=attributes,
        )

    def verify(self, shared_secret: bytes) -> rsa.RSAPublicKey:
        """Check the signature with the key it carries; return that key for registration.

        Raises :class:`ActivationSignatureInvalid` for a wrong secret or signature and
        :class:`ActivationRequestInvalid` for unsupported algorithms or a bad key.
        """
        if self.algorithm != KEY_ALGORITHM or self.key_format != KEY_FORMAT:
            raise ActivationRequestInvalid(
                f"public key {self.algorithm}/{self.key_format}: expected RSA/X.509"
            )
        if self.secret_hash_algorithm != SECRET_HASH_ALGORITHM:
            raise ActivationRequestInvalid(
                f"secretHashAlgorithm {self.secret_hash_algorithm!r}: expected "
                f"{SECRET_HASH_ALGORITHM!r}"
            )
        if self.signature_algorithm != SIGNATURE_ALGORITHM:
            raise ActivationRequestInvalid(
                f"signatureAlgorithm {self.signature_algorithm!r}: expected {SIGNATURE_ALGORITHM!r}"
            )
        try:
            key = load_public_key(self.public_key)
        except ValueError as exc:
            raise ActivationRequestInvalid(f"subjectPublicKeyInfo.publicKey: {exc}") from None
        signed = direct_activation_signed_bytes(
            self.subject, self.public_key, shared_secret, attributes=self.attributes
        )
        try:
            key.verify(self.signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ActivationSignatureInvalid(
                f"direct activation signature of {self.subject!r} does not verify "
                "(wrong shared secret or key)"
            ) from None
        return key


@dataclass(frozen=True)
class ActivationResult:
    """The answer of a direct or indirect activation."""

    endpoint_id: str
    endpoint_state: str = "ACTIVATED"
    activation_time: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Wire form; ``certificate`` is deliberately never sent (§2.3 step 5)."""
        out: dict[str, Any] = {"endpointId": self.endpoint_id, "endpointState": self.endpoint_state}
        if self.activation_time is not None:
            out["activationTime"] = self.activation_time
        return out

    @classmethod
    def from_json(cls, obj: object) -> ActivationResult:
        """Parse and require ``endpointState == "ACTIVATED"`` (what JS requires)."""
        body = _object(obj, "activation response")
        endpoint = _string(body, "endpointId", "endpointId")
        state = body.get("endpointState")
        if state != "ACTIVATED":
            raise ActivationRequestInvalid(
                f"activation response endpointState {state!r}: expected 'ACTIVATED'"
            )
        when = body.get("activationTime")
        return cls(
            endpoint_id=endpoint,
            endpoint_state=state,
            activation_time=when if isinstance(when, int) and not isinstance(when, bool) else None,
        )


# --------------------------------------------------------------------------- indirect

IndirectSignatureKind = Literal["secret", "restricted", "none"]


def indirect_activation_signature(
    gateway_endpoint_id: str,
    *,
    icd_secret: bytes | None = None,
    gateway_private_key: rsa.RSAPrivateKey | None = None,
    restricted: bool = False,
) -> bytes | None:
    """The §2.4 signature: ICD secret HMAC, else restricted RSA, else None (unsigned)."""
    data = gateway_endpoint_id.encode("utf-8")
    if icd_secret is not None:
        return hmac.new(icd_secret, data, sha256).digest()
    if restricted:
        if gateway_private_key is None:
            raise ValueError("a restricted registration needs the gateway's private key")
        return gateway_private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return None


def verify_indirect_activation_signature(
    signature: bytes | None,
    gateway_endpoint_id: str,
    *,
    icd_secret: bytes | None = None,
    gateway_public_key: rsa.RSAPublicKey | bytes | None = None,
) -> IndirectSignatureKind:
    """Which rule a signature satisfies: ``secret``, ``restricted`` or ``none`` (absent).

    A present signature must verify with the ICD secret (when the server knows one) or the
    gateway's public key; otherwise :class:`ActivationSignatureInvalid`.
    """
    if signature is None:
        return "none"
    data = gateway_endpoint_id.encode("utf-8")
    if icd_secret is not None and hmac.compare_digest(
        hmac.new(icd_secret, data, sha256).digest(), signature
    ):
        return "secret"
    if gateway_public_key is not None:
        key = (
            load_public_key(gateway_public_key)
            if isinstance(gateway_public_key, bytes)
            else gateway_public_key
        )
        try:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            pass
        else:
            return "restricted"
    raise ActivationSignatureInvalid(
        f"indirect activation signature does not verify for gateway {gateway_endpoint_id!r}"
    )


@dataclass(frozen=True)
class IndirectActivationRequest:
    """The body of ``POST /activation/indirect/device``: metadata flattened at top level."""

    hardware_id: str
    device_models: tuple[str, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)
    signature: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        """Wire form."""
        out: dict[str, Any] = dict(self.metadata)
        out["hardwareId"] = self.hardware_id
        out["deviceModels"] = list(self.device_models)
        if self.signature is not None:
            out["signature"] = base64.b64encode(self.signature).decode("ascii")
        return out

    @classmethod
    def from_json(cls, obj: object) -> IndirectActivationRequest:
        """Parse a body; metadata values must be strings."""
        body = _object(obj, "indirect activation body")
        hardware_id = _string(body, "hardwareId", "hardwareId")
        models = _urns(body.get("deviceModels"), "deviceModels")
        signature = _base64(body, "signature", "signature") if body.get("signature") else None
        metadata: dict[str, str] = {}
        for key, value in body.items():
            if key in ("hardwareId", "deviceModels", "signature"):
                continue
            if not isinstance(value, str):
                raise ActivationRequestInvalid(
                    f"indirect activation metadata {key!r} must be a string, got {value!r}"
                )
            metadata[key] = value
        return cls(
            hardware_id=hardware_id, device_models=models, metadata=metadata, signature=signature
        )


# --------------------------------------------------------------------------- helpers


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ActivationRequestInvalid(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def _string(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ActivationRequestInvalid(f"{where} must be a non-empty string, got {value!r}")
    return value


def _base64(obj: dict[str, Any], key: str, where: str) -> bytes:
    value = _string(obj, key, where)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ActivationRequestInvalid(f"{where} is not valid base64") from None


def _urns(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(u, str) and u for u in value):
        raise ActivationRequestInvalid(f"{where} must be an array of URN strings, got {value!r}")
    return tuple(value)
