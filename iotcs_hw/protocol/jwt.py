"""Client assertions (protocol §2.1) and the token request body (§2.2), both directions.

The device builds RFC 7515 compact JWTs: unpadded base64url segments, ``iss`` and ``sub`` both
the activation id (HS256, keyed with the shared secret) before activation and the endpoint id
(RS256, the device private key) after, ``aud`` ``oracle/iot/oauth2/token`` and ``exp`` = now +
15 min in epoch seconds.

The server verifies what any of Oracle's clients send: Java pads every segment with ``=``, JS
keeps inner ``=`` pads, a third-party client omits ``sub``.  The signature is checked over the
*literal* first two segments, never over a re-encoding.  Time is always passed in.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Literal
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from iotcs_hw.errors import SecurityException

AUDIENCE = "oracle/iot/oauth2/token"
#: Lifetime of an assertion, as Oracle's clients use it (900 000 ms).
ASSERTION_LIFETIME_S = 900
ACTIVATION_SCOPE = "oracle/iot/activation"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_TYPE = "client_credentials"

Algorithm = Literal["HS256", "RS256"]


class ClientAssertionError(SecurityException):
    """A client assertion was refused. Not retryable with the same assertion."""


class MalformedAssertion(ClientAssertionError, ValueError):
    """The token is not a three-segment JWT of JSON header and claims."""


class AssertionSignatureInvalid(ClientAssertionError):
    """The signature does not verify with the device's secret or key (forged or stale)."""


class AssertionClaimsInvalid(ClientAssertionError):
    """``aud`` is wrong or ``iss``/``sub`` disagree."""


class AssertionTimeInvalid(ClientAssertionError):
    """``exp`` is in the past or implausibly far in the future: the clocks disagree.

    Servers answer 400 with ``currentTime`` so the device can correct its clock (§2.5).
    """

    def __init__(self, message: str, exp: int, now_s: float):
        super().__init__(message)
        self.exp = exp
        self.now_s = now_s


# --------------------------------------------------------------------------- base64url


def b64url_encode(data: bytes) -> str:
    """RFC 7515 base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Decode a base64url segment with or without ``=`` padding (standard alphabet too)."""
    text = segment.rstrip("=").replace("+", "-").replace("/", "_")
    if "=" in text:
        raise ValueError("'=' inside a base64url segment")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64url: {exc}") from None


# --------------------------------------------------------------------------- building


def _compact_json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def assertion_expiry(now_s: float, *, lifetime_s: int = ASSERTION_LIFETIME_S) -> int:
    """``exp`` for an assertion built at ``now_s`` (already skew-corrected)."""
    return int(now_s + lifetime_s)


def build_hs256_assertion(client_id: str, shared_secret: bytes, *, exp: int) -> str:
    """Activation-scope assertion: HMAC-SHA256 keyed by the shared secret bytes."""
    signing_input = _signing_input("HS256", client_id, exp)
    signature = hmac.new(shared_secret, signing_input.encode("ascii"), sha256).digest()
    return f"{signing_input}.{b64url_encode(signature)}"


def build_rs256_assertion(endpoint_id: str, private_key: rsa.RSAPrivateKey, *, exp: int) -> str:
    """Endpoint assertion: RSASSA-PKCS1-v1_5 with SHA-256 by the device's private key."""
    signing_input = _signing_input("RS256", endpoint_id, exp)
    signature = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url_encode(signature)}"


def _signing_input(alg: Algorithm, subject: str, exp: int) -> str:
    header = _compact_json({"typ": "JWT", "alg": alg})
    claims = _compact_json({"iss": subject, "sub": subject, "aud": AUDIENCE, "exp": exp})
    return f"{b64url_encode(header)}.{b64url_encode(claims)}"


def token_request_body(assertion: str, scope: str) -> str:
    """The form body of ``POST /oauth2/token`` exactly as Oracle's JS client writes it.

    Only ``:`` is escaped (as ``%3A``); ``scope`` is ``oracle/iot/activation`` or empty.
    """
    if scope not in (ACTIVATION_SCOPE, ""):
        raise ValueError(f"scope {scope!r}: expected {ACTIVATION_SCOPE!r} or ''")
    fields = (
        ("grant_type", GRANT_TYPE),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
        ("scope", scope),
    )
    return "&".join(f"{k}={v.replace(':', '%3A')}" for k, v in fields)


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class TokenRequest:
    """The fields of a token request form."""

    grant_type: str
    assertion_type: str
    assertion: str
    scope: str


def parse_token_request(body: str) -> TokenRequest:
    """Parse the token form leniently (JS escapes only ``:``; others form-encode fully).

    ``+`` is kept literally (a JWT never holds a space, and JS does not encode ``+``).
    Raises :class:`MalformedAssertion` naming a missing or wrong field.
    """
    fields: dict[str, str] = {}
    for pair in body.strip().split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        fields[unquote(key)] = unquote(value)
    for name in ("grant_type", "client_assertion_type", "client_assertion"):
        if not fields.get(name):
            raise MalformedAssertion(f"token request lacks field {name!r}")
    if fields["grant_type"] != GRANT_TYPE:
        raise MalformedAssertion(
            f"token request grant_type {fields['grant_type']!r}: expected {GRANT_TYPE!r}"
        )
    if fields["client_assertion_type"] != ASSERTION_TYPE:
        raise MalformedAssertion(
            f"token request client_assertion_type {fields['client_assertion_type']!r}: "
            f"expected {ASSERTION_TYPE!r}"
        )
    return TokenRequest(
        grant_type=fields["grant_type"],
        assertion_type=fields["client_assertion_type"],
        assertion=fields["client_assertion"],
        scope=fields.get("scope", ""),
    )


@dataclass(frozen=True)
class ParsedAssertion:
    """A decoded but not yet verified client assertion.

    ``signing_input`` is the literal ``header.claims`` text received; ``issuer`` is the id the
    server looks up (activation id for HS256, endpoint id for RS256).
    """

    alg: Algorithm
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def issuer(self) -> str:
        """``iss`` (always present: checked at parse time)."""
        return str(self.claims["iss"])

    @property
    def exp(self) -> int:
        """``exp`` in epoch seconds."""
        return int(self.claims["exp"])

    def verify(
        self,
        *,
        now_s: float,
        shared_secret: bytes | None = None,
        public_key: rsa.RSAPublicKey | bytes | None = None,
        max_lifetime_s: int = ASSERTION_LIFETIME_S,
        leeway_s: int = 60,
    ) -> None:
        """Check signature, audience, subject and expiry; raise a :class:`ClientAssertionError`.

        HS256 needs ``shared_secret``; RS256 needs ``public_key`` (an RSA key or DER SPKI).
        The signature is checked first, so a forged token is reported as forged even when its
        ``exp`` is also wrong.  ``exp`` must lie in ``(now, now + max_lifetime + leeway]``.
        """
        if self.alg == "HS256":
            if shared_secret is None:
                raise AssertionSignatureInvalid(f"no shared secret known for {self.issuer!r}")
            expected = hmac.new(shared_secret, self.signing_input, sha256).digest()
            if not hmac.compare_digest(expected, self.signature):
                raise AssertionSignatureInvalid(
                    f"HS256 signature of {self.issuer!r} does not verify"
                )
        else:
            if public_key is None:
                raise AssertionSignatureInvalid(f"no public key known for {self.issuer!r}")
            key = load_public_key(public_key) if isinstance(public_key, bytes) else public_key
            try:
                key.verify(self.signature, self.signing_input, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                raise AssertionSignatureInvalid(
                    f"RS256 signature of {self.issuer!r} does not verify"
                ) from None
        if self.claims.get("aud") != AUDIENCE:
            raise AssertionClaimsInvalid(
                f"assertion aud {self.claims.get('aud')!r}: expected {AUDIENCE!r}"
            )
        sub = self.claims.get("sub")
        if sub is not None and sub != self.issuer:
            raise AssertionClaimsInvalid(f"assertion sub {sub!r} differs from iss {self.issuer!r}")
        if self.exp <= now_s:
            raise AssertionTimeInvalid(
                f"assertion expired: exp {self.exp} <= server time {int(now_s)}", self.exp, now_s
            )
        if self.exp > now_s + max_lifetime_s + leeway_s:
            raise AssertionTimeInvalid(
                f"assertion exp {self.exp} is more than {max_lifetime_s + leeway_s} s after "
                f"server time {int(now_s)}",
                self.exp,
                now_s,
            )


def parse_assertion(token: str) -> ParsedAssertion:
    """Split and decode a JWT without trusting it; raises :class:`MalformedAssertion`."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts):
        raise MalformedAssertion(f"assertion has {len(parts)} segments, expected 3 non-empty")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedAssertion(f"assertion segment is not base64url JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise MalformedAssertion("assertion header and claims must be JSON objects")
    alg = header.get("alg")
    if alg not in ("HS256", "RS256"):
        raise MalformedAssertion(f"assertion alg {alg!r}: expected 'HS256' or 'RS256'")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise MalformedAssertion("assertion claim 'iss' must be a non-empty string")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise MalformedAssertion(f"assertion claim 'exp' must be epoch seconds, got {exp!r}")
    return ParsedAssertion(
        alg=alg,
        header=header,
        claims=claims,
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii", "replace"),
        signature=signature,
    )


def load_public_key(der: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from DER SubjectPublicKeyInfo; ValueError for anything else."""
    key = serialization.load_der_public_key(der)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"public key is {type(key).__name__}, expected RSA")
    return key


def load_private_key(der: bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from unencrypted DER PKCS#8; ValueError for anything else."""
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"private key is {type(key).__name__}, expected RSA")
    return key
