"""Client assertions: Oracle's vectors verify, ours are RFC 7515, forgeries are refused."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iotcs_hw.protocol import jwt
from iotcs_hw.protocol.activation import generate_key_pair, public_key_der
from iotcs_hw.protocol.unified_store import load_store

VECTOR_EXP = 1795549013
BEFORE_EXP = VECTOR_EXP - 600


@pytest.mark.parametrize("name", ["hs256", "hs256_unified"])
def test_oracle_hs256_vectors_verify(js_outputs: dict[str, Any], name: str) -> None:
    parsed = jwt.parse_assertion(js_outputs[name])
    assert parsed.alg == "HS256"
    assert parsed.claims == {
        "iss": "DEV-1",
        "sub": "DEV-1",
        "aud": "oracle/iot/oauth2/token",
        "exp": VECTOR_EXP,
    }
    parsed.verify(now_s=BEFORE_EXP, shared_secret=b"secret123")


def test_oracle_hs256_vector_is_refused_after_exp(js_outputs: dict[str, Any]) -> None:
    parsed = jwt.parse_assertion(js_outputs["hs256"])
    with pytest.raises(jwt.AssertionTimeInvalid, match="expired") as info:
        parsed.verify(now_s=VECTOR_EXP + 1, shared_secret=b"secret123")
    assert info.value.exp == VECTOR_EXP


def test_oracle_hs256_vector_with_wrong_secret_is_forged(js_outputs: dict[str, Any]) -> None:
    parsed = jwt.parse_assertion(js_outputs["hs256"])
    with pytest.raises(jwt.AssertionSignatureInvalid, match="'DEV-1' does not verify"):
        parsed.verify(now_s=BEFORE_EXP, shared_secret=b"secret124")


def test_oracle_unified_rs256_vector_verifies_with_the_store_key(
    js_outputs: dict[str, Any], unified_vector: Path
) -> None:
    token = js_outputs["unified_rs256"]
    assert token.split(".")[1].endswith("M30=")  # inner pad kept by JS
    assets = load_store(unified_vector, "changeit")
    parsed = jwt.parse_assertion(token)
    assert (parsed.alg, parsed.issuer) == ("RS256", "EP-456")
    assert assets.public_key is not None
    parsed.verify(now_s=BEFORE_EXP, public_key=assets.public_key)


def test_rs256_vector_refused_with_another_key(js_outputs: dict[str, Any]) -> None:
    parsed = jwt.parse_assertion(js_outputs["rs256"])
    other = public_key_der(generate_key_pair(1024))
    with pytest.raises(jwt.AssertionSignatureInvalid, match="RS256 signature of 'EP-123'"):
        parsed.verify(now_s=BEFORE_EXP, public_key=other)


def test_reencoding_the_padded_segment_would_break_the_signature(
    js_outputs: dict[str, Any], unified_vector: Path
) -> None:
    header, claims, sig = js_outputs["unified_rs256"].split(".")
    stripped = jwt.parse_assertion(f"{header}.{claims.rstrip('=')}.{sig}")
    assets = load_store(unified_vector, "changeit")
    assert assets.public_key is not None
    with pytest.raises(jwt.AssertionSignatureInvalid):
        stripped.verify(now_s=BEFORE_EXP, public_key=assets.public_key)


def test_token_body_matches_the_js_library_exactly(js_outputs: dict[str, Any]) -> None:
    assertion = jwt.build_hs256_assertion("DEV-1", b"secret123", exp=VECTOR_EXP)
    assert assertion == js_outputs["hs256"]  # no inner pads here, so identical to JS
    assert jwt.token_request_body(assertion, jwt.ACTIVATION_SCOPE) == js_outputs["token_body"]


def test_token_body_parses_back(js_outputs: dict[str, Any]) -> None:
    request = jwt.parse_token_request(js_outputs["token_body"])
    assert request.scope == "oracle/iot/activation"
    assert request.assertion == js_outputs["hs256"]
    fully_encoded = js_outputs["token_body"].replace("scope=oracle/iot/activation", "scope=")
    assert jwt.parse_token_request(fully_encoded).scope == ""


def test_token_request_missing_field() -> None:
    with pytest.raises(jwt.MalformedAssertion, match="lacks field 'client_assertion'"):
        jwt.parse_token_request("grant_type=client_credentials&client_assertion_type=x")


def test_rs256_we_build_is_unpadded_and_verifies() -> None:
    key = generate_key_pair(1024)
    token = jwt.build_rs256_assertion("EP-1", key, exp=1000 + 900)
    assert "=" not in token
    header, claims, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"typ": "JWT", "alg": "RS256"}
    assert json.loads(base64.urlsafe_b64decode(claims + "==="))["sub"] == "EP-1"
    jwt.parse_assertion(token).verify(now_s=1000, public_key=key.public_key())


def test_java_style_padding_everywhere_is_accepted() -> None:
    header = base64.urlsafe_b64encode(b'{"typ":"JWT","alg":"HS256"}').decode()
    claims = base64.urlsafe_b64encode(
        b'{"iss":"D", "sub":"D", "aud":"oracle/iot/oauth2/token", "exp":1900}'
    ).decode()
    import hashlib
    import hmac

    sig = hmac.new(b"k", f"{header}.{claims}".encode(), hashlib.sha256).digest()
    token = f"{header}.{claims}.{base64.urlsafe_b64encode(sig).decode()}"
    jwt.parse_assertion(token).verify(now_s=1000, shared_secret=b"k")


def test_missing_sub_is_accepted_but_a_different_sub_is_not() -> None:
    def signed(claims: dict[str, Any]) -> str:
        import hashlib
        import hmac

        h = jwt.b64url_encode(b'{"alg":"HS256"}')
        c = jwt.b64url_encode(json.dumps(claims).encode())
        s = hmac.new(b"k", f"{h}.{c}".encode(), hashlib.sha256).digest()
        return f"{h}.{c}.{jwt.b64url_encode(s)}"

    base = {"iss": "D", "aud": jwt.AUDIENCE, "exp": 1500}
    jwt.parse_assertion(signed(base)).verify(now_s=1000, shared_secret=b"k")
    with pytest.raises(jwt.AssertionClaimsInvalid, match="sub 'X' differs"):
        jwt.parse_assertion(signed({**base, "sub": "X"})).verify(now_s=1000, shared_secret=b"k")
    with pytest.raises(jwt.AssertionClaimsInvalid, match="aud 'other'"):
        jwt.parse_assertion(signed({**base, "aud": "other"})).verify(now_s=1000, shared_secret=b"k")


def test_future_exp_is_clock_skew() -> None:
    token = jwt.build_hs256_assertion("D", b"k", exp=10_000)
    with pytest.raises(jwt.AssertionTimeInvalid, match="more than 960 s after server time 1000"):
        jwt.parse_assertion(token).verify(now_s=1000, shared_secret=b"k")


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        ("a.b", "2 segments"),
        ("a..c", "expected 3 non-empty"),
        ("!!!.e30.e30", "not base64url JSON"),
        (jwt.b64url_encode(b'{"alg":"none"}') + ".e30.e30", "alg 'none'"),
        (jwt.b64url_encode(b'{"alg":"HS256"}') + ".e30.e30", "'iss' must be"),
    ],
)
def test_malformed_tokens(token: str, fragment: str) -> None:
    with pytest.raises(jwt.MalformedAssertion, match=fragment):
        jwt.parse_assertion(token)


@given(st.text(max_size=200))
def test_parser_only_raises_malformed(token: str) -> None:
    with contextlib.suppress(jwt.MalformedAssertion):
        jwt.parse_assertion(token)


@given(st.binary(max_size=100))
def test_b64url_round_trip(data: bytes) -> None:
    encoded = jwt.b64url_encode(data)
    assert "=" not in encoded
    assert jwt.b64url_decode(encoded) == data
    assert jwt.b64url_decode(base64.urlsafe_b64encode(data).decode()) == data


@given(
    client_id=st.text(min_size=1, max_size=30),
    secret=st.binary(min_size=1, max_size=40),
    now=st.integers(min_value=0, max_value=2**33),
)
def test_hs256_round_trip_for_any_id(client_id: str, secret: bytes, now: int) -> None:
    token = jwt.build_hs256_assertion(client_id, secret, exp=jwt.assertion_expiry(now))
    assert "=" not in token
    parsed = jwt.parse_assertion(token)
    assert (parsed.issuer, parsed.claims["sub"]) == (client_id, client_id)
    parsed.verify(now_s=now, shared_secret=secret)
    with pytest.raises(jwt.AssertionSignatureInvalid):
        parsed.verify(now_s=now, shared_secret=secret + b"x")
    body = jwt.token_request_body(token, "")
    assert jwt.parse_token_request(body).assertion == token
