"""The device-side store holder: identity, assertions, persistence of activation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from iotcs_hw.errors import StateException, TrustedAssetsError
from iotcs_hw.protocol import jwt
from iotcs_hw.protocol.activation import generate_key_pair, public_key_der
from iotcs_hw.protocol.unified_store import load_store, new_store, save_store
from iotcs_hw.transport.trusted_assets import TrustedAssetsManager

PASSWORD = "changeit"


@pytest.fixture
def fresh_store(tmp_path: Path) -> Path:
    path = tmp_path / "dev.bin"
    save_store(path, new_store("https://127.0.0.1:1", "DEV-1", "secret123"), PASSWORD)
    return path


def test_unactivated_identity_and_hs256(fresh_store: Path) -> None:
    tam = TrustedAssetsManager(fresh_store, PASSWORD)
    assert tam.identity() == ("DEV-1", False)
    assert not tam.is_activated()
    with pytest.raises(StateException, match="not activated yet"):
        tam.endpoint_id()
    token = tam.build_assertion(1000.0)
    parsed = jwt.parse_assertion(token)
    assert (parsed.alg, parsed.issuer, parsed.exp) == ("HS256", "DEV-1", 1900)
    parsed.verify(now_s=1000.0, shared_secret=b"secret123")
    assert tam.ca_bundle() is True  # no trust anchors: the system CAs
    assert "not activated" in repr(tam)


def test_activation_is_persisted_then_adopted(fresh_store: Path) -> None:
    tam = TrustedAssetsManager(fresh_store, PASSWORD)
    key = generate_key_pair(1024)
    tam.set_endpoint_credentials("EP-1", key)
    assert tam.identity() == ("EP-1", True)
    on_disk = load_store(fresh_store, PASSWORD)
    assert on_disk.endpoint_id == "EP-1"
    assert on_disk.public_key == public_key_der(key)
    assert stat.S_IMODE(fresh_store.stat().st_mode) == 0o600
    parsed = jwt.parse_assertion(tam.build_assertion(1000.0))
    assert (parsed.alg, parsed.issuer) == ("RS256", "EP-1")
    parsed.verify(now_s=1000.0, public_key=key.public_key())
    again = TrustedAssetsManager(fresh_store, PASSWORD)
    assert again.identity() == ("EP-1", True)


def test_failed_persist_changes_nothing(fresh_store: Path) -> None:
    tam = TrustedAssetsManager(fresh_store, PASSWORD)
    fresh_store.unlink()
    (fresh_store / "occupied").mkdir(parents=True)  # the rename target is now a directory
    with pytest.raises(TrustedAssetsError, match="cannot write store"):
        tam.set_endpoint_credentials("EP-1", generate_key_pair(1024))
    assert tam.identity() == ("DEV-1", False)  # memory follows the disk, not the attempt
    assert tam.build_assertion(0).count(".") == 2
    assert jwt.parse_assertion(tam.build_assertion(0)).alg == "HS256"


def test_icd_secrets_and_signing(vectors_dir: Path) -> None:
    tam = TrustedAssetsManager(vectors_dir / "unified-store-activated.bin", PASSWORD)
    assert tam.icd_secret("ICD-1") == b"icdsecret"
    assert tam.icd_secret("nope") is None
    assert tam.private_key().key_size == 1024
    assert tam.endpoint_id() == "EP-456"


def test_trust_anchor_bundle_is_private_and_removed(tmp_path: Path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = generate_key_pair(1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    path = tmp_path / "dev.bin"
    save_store(path, new_store("https://h:1", "D", "s", trust_anchors=[der]), PASSWORD)
    tam = TrustedAssetsManager(path, PASSWORD)
    bundle = tam.ca_bundle()
    assert isinstance(bundle, str)
    loaded = x509.load_pem_x509_certificates(Path(bundle).read_bytes())
    assert [c.public_bytes(serialization.Encoding.DER) for c in loaded] == [der]
    tam.close()
    assert not Path(bundle).exists()
    tam.close()
