"""The unified trusted-assets store against Oracle's vector, and our own stores."""

from __future__ import annotations

import base64
import contextlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from iotcs_hw.errors import TrustedAssetsError
from iotcs_hw.protocol import unified_store as us
from iotcs_hw.protocol.activation import generate_key_pair, private_key_der, public_key_der
from iotcs_hw.protocol.jwt import load_private_key, load_public_key

PASSWORD = "changeit"


def test_oracle_vector_loads_with_readme_values(unified_vector: Path) -> None:
    assets = us.load_store(unified_vector, PASSWORD)
    assert assets.server_uri == "https://localhost:8443"
    assert (assets.server_scheme, assets.server_host, assets.server_port) == (
        "https",
        "localhost",
        8443,
    )
    assert assets.client_id == "DEV-1"
    assert assets.shared_secret == b"secret123"
    assert assets.endpoint_id == "EP-456"
    assert assets.is_activated
    assert assets.trust_anchors == ()
    assert dict(assets.connected_devices) == {"ICD-1": b"icdsecret"}
    assert assets.comment == "#"
    assert assets.private_key is not None
    assert assets.public_key is not None
    private = load_private_key(assets.private_key)
    assert private.key_size == 1024
    assert public_key_der(private) == assets.public_key


def _decrypt_independently(data: bytes, password: str) -> bytes:
    """The §1.2 algorithm written out again, without our module, to check what we write."""
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    assert data[0] == 33
    body = data[1 : data.index(b"#")]
    raw = base64.b64decode(b"".join(body.split()))
    iv, ct = raw[:16], raw[16:]
    key = PBKDF2HMAC(hashes.SHA1(), 16, iv, 10_000).derive(password.encode())
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpad = padding.PKCS7(128).unpadder()
    return unpad.update(dec.update(ct) + dec.finalize()) + unpad.finalize()


def test_store_we_write_decrypts_with_the_oracle_algorithm(
    unified_vector: Path, tmp_path: Path
) -> None:
    original = us.load_store(unified_vector, PASSWORD)
    target = tmp_path / "copy.bin"
    us.save_store(target, original, "s3cret")
    data = target.read_bytes()
    assert data.startswith(b"!")
    assert data.endswith(b"\n#")
    plaintext = _decrypt_independently(data, "s3cret")
    tlvs = us.decode_tlvs(plaintext)
    assert [tag for tag, _ in tlvs] == [1, 2, 3, 4, 6, 7, 8]
    assert tlvs[0][1] == b"https://localhost:8443"
    assert tlvs[3][1] == b"EP-456"
    assert tlvs[6][1] == b"\x02\x00\x05ICD-1\x03\x00\x09icdsecret"
    assert us.load_store(target, "s3cret") == original


def test_the_vector_plaintext_reencodes_byte_for_byte(unified_vector: Path) -> None:
    data = unified_vector.read_bytes()
    plaintext = _decrypt_independently(data, PASSWORD)
    assert us.encode_assets(us.decode_assets(plaintext)) == plaintext


def test_wrapped_base64_and_java_trailer_are_read(unified_vector: Path, tmp_path: Path) -> None:
    data = unified_vector.read_bytes()
    body = data[1 : data.index(b"#")].strip()
    wrapped = b"\r\n".join(body[i : i + 76] for i in range(0, len(body), 76))
    trailer = b"#serverUri:https://localhost:8443\r\n#clientId:DEV-1\r\n"
    path = tmp_path / "java.bin"
    path.write_bytes(b"!" + wrapped + b"\r\n" + trailer)
    assets = us.load_store(path, PASSWORD)
    assert assets.endpoint_id == "EP-456"
    assert assets.comment == trailer.decode()
    us.save_store(path, assets, PASSWORD)
    assert path.read_bytes().endswith(b"\n" + trailer)


def test_save_creates_0600_and_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "dev.bin"
    assets = us.new_store("https://127.0.0.1:9443", "DEV-9", "pw-secret")
    us.save_store(path, assets, PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first_inode = path.stat().st_ino
    key = generate_key_pair(1024)
    activated = assets.activated("EP-9", private_key_der(key), public_key_der(key))
    us.save_store(path, activated, PASSWORD)
    assert path.stat().st_ino != first_inode  # a new file was renamed into place
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["dev.bin"]  # no temporary left behind
    assert us.load_store(path, PASSWORD).endpoint_id == "EP-9"


def test_two_saves_use_fresh_ivs(tmp_path: Path) -> None:
    assets = us.new_store("https://h:1", "D", "s")
    assert us.encrypt_store(assets, PASSWORD) != us.encrypt_store(assets, PASSWORD)


def _expect_error(path: Path, password: str, fragment: str) -> None:
    before = path.read_bytes()
    with pytest.raises(TrustedAssetsError) as info:
        us.load_store(path, password)
    message = str(info.value)
    assert str(path) in message
    assert fragment in message
    assert info.value.path == str(path)
    assert path.read_bytes() == before


def test_wrong_password_names_the_file(unified_vector: Path, tmp_path: Path) -> None:
    path = tmp_path / "store.bin"
    path.write_bytes(unified_vector.read_bytes())
    _expect_error(path, "not-the-password", "wrong password or corrupt file")


def test_truncated_store(unified_vector: Path, tmp_path: Path) -> None:
    path = tmp_path / "store.bin"
    path.write_bytes(unified_vector.read_bytes()[:400])
    _expect_error(path, PASSWORD, "truncated or corrupt")


def test_truncated_on_a_block_boundary(unified_vector: Path, tmp_path: Path) -> None:
    data = unified_vector.read_bytes()
    raw = base64.b64decode(data[1 : data.index(b"#")])
    path = tmp_path / "store.bin"
    path.write_bytes(b"!" + base64.b64encode(raw[: 16 + 64]) + b"\n#")
    _expect_error(path, PASSWORD, "wrong password or corrupt file")


def test_bad_version_byte(unified_vector: Path, tmp_path: Path) -> None:
    path = tmp_path / "store.bin"
    path.write_bytes(b"?" + unified_vector.read_bytes()[1:])
    _expect_error(path, PASSWORD, "first byte is 63, expected 33")


def test_not_base64(tmp_path: Path) -> None:
    path = tmp_path / "store.bin"
    path.write_bytes(b"!this is *not* base64\n#")
    _expect_error(path, PASSWORD, "not valid base64")


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    _expect_error(empty, PASSWORD, "store is empty")
    with pytest.raises(TrustedAssetsError, match=r"missing\.bin: cannot read store"):
        us.load_store(tmp_path / "missing.bin", PASSWORD)


def test_missing_required_tag_is_reported(tmp_path: Path) -> None:
    iv = bytes(range(16))
    plaintext = us.encode_tlv(1, b"https://h:1") + us.encode_tlv(2, b"D")
    ct = us.aes_cbc_encrypt(us.derive_key(PASSWORD, iv), iv, plaintext)
    path = tmp_path / "store.bin"
    path.write_bytes(b"!" + base64.b64encode(iv + ct) + b"\n#")
    _expect_error(path, PASSWORD, "TLV tag 3 (shared secret) is missing")


def test_unknown_tags_are_skipped_like_java() -> None:
    plaintext = (
        us.encode_tlv(1, b"https://h:1")
        + us.encode_tlv(2, b"D")
        + us.encode_tlv(3, b"s")
        + us.encode_tlv(42, b"future")
    )
    assert us.decode_assets(plaintext).client_id == "D"


def test_a_failed_save_leaves_the_old_store(tmp_path: Path) -> None:
    path = tmp_path / "dev.bin"
    assets = us.new_store("https://h:1", "D", "s")
    us.save_store(path, assets, PASSWORD)
    before = path.read_bytes()
    too_big = assets.activated("EP", b"k" * 70_000, b"p")
    with pytest.raises(ValueError, match="exceeds 65535"):
        us.save_store(path, too_big, PASSWORD)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["dev.bin"]


def test_a_failed_rename_names_the_file_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "dev.bin"
    (path / "occupied").mkdir(parents=True)  # a non-empty directory cannot be replaced
    with pytest.raises(TrustedAssetsError, match=r"dev\.bin: cannot write store"):
        us.save_store(path, us.new_store("https://h:1", "D", "s"), PASSWORD)
    assert sorted(os.listdir(tmp_path)) == ["dev.bin"]


def test_legacy_json_path_is_not_written(tmp_path: Path) -> None:
    with pytest.raises(TrustedAssetsError, match="legacy JSON store format is not supported"):
        us.save_store(tmp_path / "dev.json", us.new_store("https://h:1", "D", "s"), PASSWORD)
    assert not (tmp_path / "dev.json").exists()


def test_repr_hides_secrets(unified_vector: Path) -> None:
    text = repr(us.load_store(unified_vector, PASSWORD))
    assert "secret123" not in text
    assert "icdsecret" not in text
    assert "EP-456" in text


def test_assets_validate_their_uri() -> None:
    with pytest.raises(ValueError, match="expected https://host"):
        us.new_store("ftp://h", "D", "s")


_ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40)


@given(
    client_id=_ids,
    secret=st.binary(max_size=64),
    endpoint=st.one_of(st.none(), _ids),
    anchors=st.lists(st.binary(min_size=1, max_size=300), max_size=3),
    icds=st.dictionaries(_ids, st.binary(max_size=40), max_size=3),
)
def test_tlv_round_trip(
    client_id: str,
    secret: bytes,
    endpoint: str | None,
    anchors: list[bytes],
    icds: dict[str, bytes],
) -> None:
    assets = us.TrustedAssets(
        server_uri="https://example.com:8443",
        client_id=client_id,
        shared_secret=secret,
        endpoint_id=endpoint,
        trust_anchors=tuple(anchors),
        connected_devices=icds,
    )
    assert us.decode_assets(us.encode_assets(assets)) == assets


@given(st.binary(max_size=200))
def test_tlv_decoder_never_crashes_uncontrolled(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        us.decode_assets(data)


def test_keys_in_store_are_usable(unified_vector: Path) -> None:
    assets = us.load_store(unified_vector, PASSWORD)
    assert assets.public_key is not None
    assert isinstance(load_public_key(assets.public_key), rsa.RSAPublicKey)
