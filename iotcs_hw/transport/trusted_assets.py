"""The device's view of its trusted-assets store: identity, keys, signing, and persistence.

:class:`TrustedAssetsManager` loads the store once, answers "who am I" (activation id before
activation, endpoint id after), builds client assertions, signs indirect activations, and
persists the endpoint id and key pair atomically when activation succeeds.  The in-memory
state changes only after the file was written, so a failed write never leaves the process
believing it is activated while the disk says otherwise.

Trust anchors become a PEM bundle in a private temporary directory so that ``requests`` can
verify the server against exactly those CAs (as Oracle's clients do); the directory is removed
by :meth:`close`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iotcs_hw.errors import StateException, TrustedAssetsError
from iotcs_hw.protocol.activation import private_key_der, public_key_der
from iotcs_hw.protocol.jwt import (
    assertion_expiry,
    build_hs256_assertion,
    build_rs256_assertion,
    load_private_key,
)
from iotcs_hw.protocol.unified_store import TrustedAssets, load_store, save_store


class TrustedAssetsManager:
    """Holds one store and its password for the life of a device object. Thread-safe.

    Args:
        path: the store file (unified format; a ``.json`` legacy store is read-only).
        password: the store password (see :mod:`iotcs_hw.transport.store_password`).

    Raises:
        TrustedAssetsError: the file is missing, unreadable, corrupt, or the password is wrong.
    """

    def __init__(self, path: str | os.PathLike[str], password: str) -> None:
        self._path = Path(path)
        self._password = password
        self._lock = threading.Lock()
        self._assets = load_store(self._path, password)
        self._private_key = self._load_key(self._assets)
        self._bundle_dir: str | None = None
        self._bundle_path: str | None = None

    def _load_key(self, assets: TrustedAssets) -> rsa.RSAPrivateKey | None:
        if assets.private_key is None:
            return None
        try:
            return load_private_key(assets.private_key)
        except ValueError as exc:
            raise TrustedAssetsError(
                f"private key (TLV tag 6) is unusable: {exc}", path=str(self._path)
            ) from None

    # ------------------------------------------------------------------------- identity

    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    @property
    def assets(self) -> TrustedAssets:
        """A snapshot of the store contents."""
        with self._lock:
            return self._assets

    @property
    def server_uri(self) -> str:
        """``https://host:port`` of the server."""
        return self.assets.server_uri

    @property
    def client_id(self) -> str:
        """The activation id."""
        return self.assets.client_id

    def is_activated(self) -> bool:
        """True once the store holds an endpoint id (and the key pair)."""
        with self._lock:
            return self._assets.is_activated and self._private_key is not None

    def endpoint_id(self) -> str:
        """The endpoint id; raises :class:`StateException` before activation."""
        with self._lock:
            endpoint = self._assets.endpoint_id
        if not endpoint:
            raise StateException(f"{self._path}: the device is not activated yet")
        return endpoint

    def identity(self) -> tuple[str, bool]:
        """``(id, activated)``: the id to put in ``X-EndpointId`` / ``X-ActivationId``."""
        with self._lock:
            if self._assets.endpoint_id and self._private_key is not None:
                return self._assets.endpoint_id, True
            return self._assets.client_id, False

    # ------------------------------------------------------------------------- signing

    def build_assertion(self, now_s: float) -> str:
        """A client assertion valid for 15 minutes from ``now_s`` (server-corrected time)."""
        exp = assertion_expiry(now_s)
        with self._lock:
            assets, key = self._assets, self._private_key
        if assets.endpoint_id and key is not None:
            return build_rs256_assertion(assets.endpoint_id, key, exp=exp)
        return build_hs256_assertion(assets.client_id, assets.shared_secret, exp=exp)

    def icd_secret(self, hardware_id: str) -> bytes | None:
        """The shared secret the store holds for an indirectly connected device, if any."""
        with self._lock:
            return self._assets.connected_devices.get(hardware_id)

    def private_key(self) -> rsa.RSAPrivateKey:
        """The device key; raises :class:`StateException` before activation."""
        with self._lock:
            key = self._private_key
        if key is None:
            raise StateException(f"{self._path}: no key pair yet (the device is not activated)")
        return key

    # ------------------------------------------------------------------------- persistence

    def check_writable(self) -> None:
        """Rewrite the store unchanged (new IV) to prove it can be replaced.

        Called before asking the server to activate: once the server has activated the device,
        failing to persist the endpoint id would strand it, so a full disk or a read-only
        directory must surface first.
        """
        with self._lock:
            save_store(self._path, self._assets, self._password)

    def set_endpoint_credentials(self, endpoint_id: str, private_key: rsa.RSAPrivateKey) -> None:
        """Persist the endpoint id and key pair, then adopt them in memory.

        Raises :class:`TrustedAssetsError` (naming the file) when the write fails; the store
        on disk and in memory are then both unchanged.
        """
        if not endpoint_id:
            raise ValueError("endpoint id must not be empty")
        with self._lock:
            updated = self._assets.activated(
                endpoint_id, private_key_der(private_key), public_key_der(private_key)
            )
            save_store(self._path, updated, self._password)
            self._assets = updated
            self._private_key = private_key

    # ------------------------------------------------------------------------- TLS

    def ca_bundle(self) -> str | bool:
        """What ``requests`` gets as ``verify``: a PEM file of the trust anchors, or True.

        True (the system CAs) only when the store has no trust anchor, as Oracle's clients do.
        """
        with self._lock:
            if self._bundle_path is not None:
                return self._bundle_path
            anchors = self._assets.trust_anchors
            if not anchors:
                return True
            pems = []
            for index, der in enumerate(anchors):
                try:
                    cert = x509.load_der_x509_certificate(der)
                except ValueError as exc:
                    raise TrustedAssetsError(
                        f"trust anchor #{index + 1} (TLV tag 5) is not a DER certificate: {exc}",
                        path=str(self._path),
                    ) from None
                pems.append(cert.public_bytes(serialization.Encoding.PEM))
            self._bundle_dir = tempfile.mkdtemp(prefix="iotcs-ca-")
            bundle = Path(self._bundle_dir) / "trust-anchors.pem"
            bundle.write_bytes(b"".join(pems))
            self._bundle_path = str(bundle)
            return self._bundle_path

    def close(self) -> None:
        """Remove the temporary CA bundle. Idempotent."""
        with self._lock:
            directory, self._bundle_dir, self._bundle_path = self._bundle_dir, None, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def __repr__(self) -> str:
        ident, activated = self.identity()
        state = "activated" if activated else "not activated"
        return f"<TrustedAssetsManager {str(self._path)!r} {ident!r} {state}>"
