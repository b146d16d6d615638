"""The unified trusted-assets store (protocol §1.2), byte-compatible with Oracle's clients.

File layout: one version byte ``!`` (33), base64 of ``IV || AES-128-CBC(TLVs)`` (wrapped by
Java, one line by JS), a newline and a ``#`` comment trailer.  The key is
PBKDF2-HMAC-SHA1(password, salt=IV, 10 000 rounds, 16 bytes).  The plaintext is a sequence of
TLVs (1-byte tag, 2-byte big-endian length, value) in the order 1, 2, 3, (4), (5...), (6),
(7), (8...), tag 8 nesting ``2 = ICD id, 3 = ICD secret``.

Everything here is pure except :func:`load_store` / :func:`save_store`, which read a file and
replace one atomically (temporary file in the same directory, ``fsync``, ``rename``; mode 0600),
so a crash or a wrong password never leaves a half-written or overwritten store.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from iotcs_hw.errors import TrustedAssetsError

#: First byte of every unified store (ASCII ``!``).
VERSION_BYTE = 33
#: PBKDF2-HMAC-SHA1 rounds used by Oracle's Java and JS clients.
PBKDF2_ROUNDS = 10_000
KEY_LENGTH = 16
IV_LENGTH = 16

TAG_SERVER_URI = 1
TAG_CLIENT_ID = 2
TAG_SHARED_SECRET = 3
TAG_ENDPOINT_ID = 4
TAG_TRUST_ANCHOR = 5
TAG_PRIVATE_KEY = 6
TAG_PUBLIC_KEY = 7
TAG_CONNECTED_DEVICE = 8

_DEFAULT_PORTS = {"https": 443, "mqtts": 8883}
_MAX_TLV_VALUE = 0xFFFF


@dataclass(frozen=True)
class TrustedAssets:
    """The decrypted contents of a trusted-assets store.

    ``shared_secret`` and the ICD secrets in ``connected_devices`` are raw bytes (the HMAC keys).
    ``trust_anchors`` are DER X.509 certificates; ``private_key`` is DER PKCS#8 and
    ``public_key`` DER SubjectPublicKeyInfo.  ``comment`` is the ``#`` trailer, kept so that a
    rewrite preserves what the console wrote (JS does the same).
    """

    server_uri: str
    client_id: str
    shared_secret: bytes
    endpoint_id: str | None = None
    trust_anchors: tuple[bytes, ...] = ()
    private_key: bytes | None = None
    public_key: bytes | None = None
    connected_devices: Mapping[str, bytes] = field(default_factory=dict)
    comment: str = "#"

    def __post_init__(self) -> None:
        parts = urlsplit(self.server_uri)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                f"server URI {self.server_uri!r}: expected https://host[:port] or mqtts://host[:port]"
            )
        if not self.client_id:
            raise ValueError("client id must not be empty")
        if not self.comment.startswith("#") or "\x00" in self.comment:
            raise ValueError(f"comment trailer must start with '#', got {self.comment[:20]!r}")
        if (self.private_key is None) != (self.public_key is None):
            raise ValueError("private key and public key must be stored together")

    @property
    def server_scheme(self) -> str:
        """``https`` or ``mqtts``."""
        return urlsplit(self.server_uri).scheme

    @property
    def server_host(self) -> str:
        """Host name or IPv4 address of the server."""
        host = urlsplit(self.server_uri).hostname
        assert host is not None  # checked in __post_init__
        return host

    @property
    def server_port(self) -> int:
        """Port, defaulting to 443 for https and 8883 for mqtts."""
        port = urlsplit(self.server_uri).port
        return port if port is not None else _DEFAULT_PORTS[self.server_scheme]

    @property
    def is_activated(self) -> bool:
        """Oracle's definition: an endpoint id is present."""
        return bool(self.endpoint_id)

    def activated(self, endpoint_id: str, private_key: bytes, public_key: bytes) -> TrustedAssets:
        """A copy holding the endpoint id and key pair that direct activation produced."""
        return replace(
            self, endpoint_id=endpoint_id, private_key=private_key, public_key=public_key
        )

    def __repr__(self) -> str:
        # Never print secrets or keys.
        return (
            f"TrustedAssets(server_uri={self.server_uri!r}, client_id={self.client_id!r}, "
            f"endpoint_id={self.endpoint_id!r}, trust_anchors={len(self.trust_anchors)}, "
            f"keys={'yes' if self.private_key else 'no'}, "
            f"connected_devices={sorted(self.connected_devices)!r})"
        )


# --------------------------------------------------------------------------- TLV codec


def encode_tlv(tag: int, value: bytes) -> bytes:
    """One TLV: tag byte, 2-byte big-endian length, value."""
    if not 0 <= tag <= 0xFF:
        raise ValueError(f"TLV tag {tag} does not fit one byte")
    if len(value) > _MAX_TLV_VALUE:
        raise ValueError(f"TLV tag {tag}: value of {len(value)} bytes exceeds {_MAX_TLV_VALUE}")
    return bytes([tag]) + len(value).to_bytes(2, "big") + value


def decode_tlvs(data: bytes) -> list[tuple[int, bytes]]:
    """Split ``data`` into ``(tag, value)`` pairs; raises ValueError on a truncated TLV."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        if pos + 3 > len(data):
            raise ValueError(f"truncated TLV header at offset {pos}")
        tag = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 3], "big")
        end = pos + 3 + length
        if end > len(data):
            raise ValueError(
                f"TLV tag {tag} at offset {pos} claims {length} bytes, {len(data) - pos - 3} remain"
            )
        out.append((tag, data[pos + 3 : end]))
        pos = end
    return out


def encode_assets(assets: TrustedAssets) -> bytes:
    """The plaintext TLV sequence, in the order both Oracle libraries write."""
    parts = [
        encode_tlv(TAG_SERVER_URI, assets.server_uri.encode("utf-8")),
        encode_tlv(TAG_CLIENT_ID, assets.client_id.encode("utf-8")),
        encode_tlv(TAG_SHARED_SECRET, assets.shared_secret),
    ]
    if assets.endpoint_id:
        parts.append(encode_tlv(TAG_ENDPOINT_ID, assets.endpoint_id.encode("utf-8")))
    parts.extend(encode_tlv(TAG_TRUST_ANCHOR, der) for der in assets.trust_anchors)
    if assets.private_key is not None and assets.public_key is not None:
        parts.append(encode_tlv(TAG_PRIVATE_KEY, assets.private_key))
        parts.append(encode_tlv(TAG_PUBLIC_KEY, assets.public_key))
    for icd_id, secret in assets.connected_devices.items():
        nested = encode_tlv(TAG_CLIENT_ID, icd_id.encode("utf-8")) + encode_tlv(
            TAG_SHARED_SECRET, secret
        )
        parts.append(encode_tlv(TAG_CONNECTED_DEVICE, nested))
    return b"".join(parts)


def decode_assets(plaintext: bytes, *, comment: str = "#") -> TrustedAssets:
    """Parse the TLV sequence; raises ValueError naming the missing or malformed tag.

    Unknown tags are skipped, as Java does (JS refuses them), so a store written by a newer
    console still loads.
    """
    values: dict[int, bytes] = {}
    anchors: list[bytes] = []
    connected: dict[str, bytes] = {}
    for tag, value in decode_tlvs(plaintext):
        if tag == TAG_TRUST_ANCHOR:
            anchors.append(value)
        elif tag == TAG_CONNECTED_DEVICE:
            icd_id, secret = _decode_connected_device(value)
            connected[icd_id] = secret
        elif tag in (
            TAG_SERVER_URI,
            TAG_CLIENT_ID,
            TAG_SHARED_SECRET,
            TAG_ENDPOINT_ID,
            TAG_PRIVATE_KEY,
            TAG_PUBLIC_KEY,
        ):
            if tag in values:
                raise ValueError(f"TLV tag {tag} appears twice")
            values[tag] = value
    for required, name in (
        (TAG_SERVER_URI, "server URI"),
        (TAG_CLIENT_ID, "client id"),
        (TAG_SHARED_SECRET, "shared secret"),
    ):
        if required not in values:
            raise ValueError(f"TLV tag {required} ({name}) is missing")
    endpoint = values.get(TAG_ENDPOINT_ID)
    return TrustedAssets(
        server_uri=values[TAG_SERVER_URI].decode("utf-8"),
        client_id=values[TAG_CLIENT_ID].decode("utf-8"),
        shared_secret=values[TAG_SHARED_SECRET],
        endpoint_id=endpoint.decode("utf-8") if endpoint else None,
        trust_anchors=tuple(anchors),
        private_key=values.get(TAG_PRIVATE_KEY),
        public_key=values.get(TAG_PUBLIC_KEY),
        connected_devices=connected,
        comment=comment,
    )


def _decode_connected_device(value: bytes) -> tuple[str, bytes]:
    nested = dict(decode_tlvs(value))
    if TAG_CLIENT_ID not in nested or TAG_SHARED_SECRET not in nested:
        raise ValueError("TLV tag 8 (connected device) needs nested tags 2 and 3")
    return nested[TAG_CLIENT_ID].decode("utf-8"), nested[TAG_SHARED_SECRET]


# --------------------------------------------------------------------------- encryption


def derive_key(password: str, salt: bytes, *, rounds: int = PBKDF2_ROUNDS) -> bytes:
    """PBKDF2-HMAC-SHA1(password as UTF-8, salt, rounds) -> 16-byte AES key."""
    kdf = PBKDF2HMAC(algorithm=hashes.SHA1(), length=KEY_LENGTH, salt=salt, iterations=rounds)
    return kdf.derive(password.encode("utf-8"))


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """AES-CBC with PKCS#7 padding."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Inverse of :func:`aes_cbc_encrypt`; raises ValueError on bad length or padding."""
    if not ciphertext or len(ciphertext) % 16:
        raise ValueError(f"ciphertext length {len(ciphertext)} is not a positive multiple of 16")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def encrypt_store(assets: TrustedAssets, password: str, *, iv: bytes | None = None) -> bytes:
    """The complete file contents: version byte, one-line base64, newline, comment trailer.

    ``iv`` is for tests; by default 16 fresh random bytes (also the PBKDF2 salt).
    """
    if iv is None:
        iv = os.urandom(IV_LENGTH)
    if len(iv) != IV_LENGTH:
        raise ValueError(f"IV must be {IV_LENGTH} bytes, got {len(iv)}")
    ciphertext = aes_cbc_encrypt(derive_key(password, iv), iv, encode_assets(assets))
    body = base64.b64encode(iv + ciphertext)
    return bytes([VERSION_BYTE]) + body + b"\n" + assets.comment.encode("utf-8")


def decrypt_store(data: bytes, password: str, *, path: str | os.PathLike[str]) -> TrustedAssets:
    """Parse file contents; every failure is a :class:`TrustedAssetsError` naming ``path``."""
    where = os.fspath(path)
    if not data:
        raise TrustedAssetsError("store is empty", path=where)
    if data[0] != VERSION_BYTE:
        raise TrustedAssetsError(
            f"not a unified trusted-assets store: first byte is {data[0]}, expected "
            f"{VERSION_BYTE} ('!')",
            path=where,
        )
    hash_at = data.find(b"#", 1)
    body, trailer = (data[1:], b"#") if hash_at < 0 else (data[1:hash_at], data[hash_at:])
    try:
        raw = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise TrustedAssetsError(
            "store body is not valid base64 (file truncated or corrupt)", path=where
        ) from None
    if len(raw) < IV_LENGTH + 16:
        raise TrustedAssetsError(
            f"store body is {len(raw)} bytes, too short for IV and ciphertext", path=where
        )
    iv, ciphertext = raw[:IV_LENGTH], raw[IV_LENGTH:]
    try:
        plaintext = aes_cbc_decrypt(derive_key(password, iv), iv, ciphertext)
    except ValueError:
        raise TrustedAssetsError(
            "cannot decrypt store: wrong password or corrupt file", path=where
        ) from None
    try:
        comment = trailer.decode("utf-8")
        return decode_assets(plaintext, comment=comment)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustedAssetsError(
            f"store contents are invalid ({exc}): wrong password or corrupt file", path=where
        ) from None


# --------------------------------------------------------------------------- files


def load_store(path: str | os.PathLike[str], password: str) -> TrustedAssets:
    """Read a unified store, or a legacy JSON store when ``path`` ends in ``.json`` (as JS does).

    Raises :class:`TrustedAssetsError` naming the file for a missing, unreadable, corrupt or
    wrong-password store.  Never writes.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TrustedAssetsError(f"cannot read store: {exc.strerror or exc}", path=str(p)) from exc
    if p.suffix.lower() == ".json":
        # Imported here: legacy_store builds on this module's crypto helpers.
        from iotcs_hw.protocol.legacy_store import decode_legacy_store  # noqa: PLC0415

        return decode_legacy_store(data, password, path=p)
    return decrypt_store(data, password, path=p)


def save_store(
    path: str | os.PathLike[str], assets: TrustedAssets, password: str, *, mode: int = 0o600
) -> None:
    """Write ``assets`` as a unified store, atomically and readable by the owner only.

    The new contents go to a temporary file in the same directory (created 0600), are flushed
    and fsynced, then renamed over ``path``; the directory is fsynced too.  A crash at any point
    leaves either the old file or the new one.  Writing a ``.json`` path is refused: the legacy
    format is read-only here.
    """
    p = Path(path)
    if p.suffix.lower() == ".json":
        raise TrustedAssetsError(
            "writing the legacy JSON store format is not supported; use a unified store path",
            path=str(p),
        )
    write_atomically(p, encrypt_store(assets, password), mode=mode)


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` via temp file + fsync + rename; ``mode`` on the result."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise TrustedAssetsError(
            f"cannot create a temporary file in {directory}: {exc.strerror or exc}",
            path=str(path),
        ) from exc
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        _unlink_quietly(tmp_name)
        raise TrustedAssetsError(
            f"cannot write store: {exc.strerror or exc}", path=str(path)
        ) from exc
    except BaseException:
        _unlink_quietly(tmp_name)
        raise
    _fsync_directory(directory)


def _unlink_quietly(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)


def _fsync_directory(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def new_store(
    server_uri: str,
    client_id: str,
    shared_secret: bytes | str,
    *,
    trust_anchors: Iterable[bytes] = (),
    connected_devices: Mapping[str, bytes | str] | None = None,
) -> TrustedAssets:
    """Contents of a freshly provisioned (unactivated) store, as the console produces it."""
    secret = shared_secret.encode("utf-8") if isinstance(shared_secret, str) else shared_secret
    icds = {
        k: (v.encode("utf-8") if isinstance(v, str) else v)
        for k, v in (connected_devices or {}).items()
    }
    return TrustedAssets(
        server_uri=server_uri,
        client_id=client_id,
        shared_secret=secret,
        trust_anchors=tuple(trust_anchors),
        connected_devices=icds,
    )
