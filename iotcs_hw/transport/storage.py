"""Storage objects in the IoTCS storage cloud: a Swift-like object store (protocol §5).

Credentials come from ``GET /iot/api/v2/provisioner/storage`` (a container URL and an
``X-Auth-Token``); they are renewed after 30 minutes or when the store answers 401.  An
object's URI is ``<container>/<endpoint id>/<name>``.

* Upload: ``PUT`` streamed in chunks (chunked transfer encoding, as Oracle's clients), success
  is 201; the MD5 of what was sent must equal the ``ETag`` answered, else the upload is retried
  once and then fails.
* Download: ``GET`` (200 or 206) streamed into a temporary file beside the destination, which
  is renamed into place only when complete, so a failed transfer never leaves half a file.
* Only URIs under the device's own container are storage objects (§5.2).

Implements the client's :class:`iotcs_hw.client.external.StorageBackend` protocol.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import requests

from iotcs_hw.client.external import StoredObjectInfo
from iotcs_hw.errors import ProtocolError, SecurityException, TransportException
from iotcs_hw.transport.http import API_ROOT, HttpSession

log = logging.getLogger(__name__)

CREDENTIALS_PATH = API_ROOT + "/provisioner/storage"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: JS ``storageTokenPeriod``: credentials are renewed after this long.
CREDENTIALS_PERIOD_S = 30 * 60.0
#: Java ``storage_connection_retry_limit``: attempts per transfer when the token goes stale.
RETRY_LIMIT = 2
CHUNK_SIZE = 64 * 1024
#: Uploads and downloads may be large: the read timeout applies per socket read, not overall.
TRANSFER_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class StorageCredentials:
    """A container URL, its auth token, and when they were fetched (monotonic)."""

    container_url: str
    auth_token: str
    fetched_at: float


class SwiftStorageBackend:
    """Uploads and downloads storage objects for one device. Thread-safe.

    Args:
        session: the device's HTTPS session (the container is reached with the same TLS trust).
        use_endpoint_prefix: put objects under ``<endpoint id>/`` (default, as JS 18, Java and
            Python); False is JS 1.1 and ``disable_storage_object_prefix``.
        transfer_timeout_s: connect/read timeout of object transfers (per socket read).
    """

    def __init__(
        self,
        session: HttpSession,
        *,
        use_endpoint_prefix: bool = True,
        transfer_timeout_s: float = TRANSFER_TIMEOUT_S,
    ) -> None:
        self.session = session
        self.use_endpoint_prefix = use_endpoint_prefix
        self.transfer_timeout_s = transfer_timeout_s
        self._lock = threading.Lock()
        self._credentials: StorageCredentials | None = None

    # ------------------------------------------------------------------------- credentials

    def credentials(self) -> StorageCredentials:
        """Current credentials, fetched when missing or older than 30 minutes."""
        with self._lock:
            creds = self._credentials
            now = self.session.clock.monotonic()
            if creds is None or now - creds.fetched_at >= CREDENTIALS_PERIOD_S:
                creds = self._fetch_credentials(now)
                self._credentials = creds
            return creds

    def _fetch_credentials(self, now: float) -> StorageCredentials:
        response = self.session.request("GET", CREDENTIALS_PATH)
        try:
            doc = response.json()
        except ValueError:
            doc = None
        url = doc.get("storageContainerUrl") if isinstance(doc, dict) else None
        token = doc.get("authToken") if isinstance(doc, dict) else None
        if not isinstance(url, str) or not isinstance(token, str) or not url or not token:
            raise ProtocolError(
                f"{response.url}: expected storageContainerUrl and authToken strings, "
                f"got {response.text[:200]!r}"
            )
        if urlsplit(url).scheme != "https":
            raise SecurityException(f"storage container {url!r} is not an https URL")
        return StorageCredentials(url.rstrip("/"), token, now)

    def _forget(self, stale: StorageCredentials) -> None:
        with self._lock:
            if self._credentials is stale:
                self._credentials = None

    # ------------------------------------------------------------------------- StorageBackend

    def object_uri(self, name: str) -> str:
        """``<container>/<endpoint id>/<name>`` (fetches credentials on first use)."""
        if not name:
            raise ValueError("storage object name must not be empty")
        container = self.credentials().container_url
        prefix = (
            f"{quote(self.session.assets.endpoint_id(), safe='')}/"
            if self.use_endpoint_prefix
            else ""
        )
        return f"{container}/{prefix}{quote(name, safe='/')}"

    def is_storage_uri(self, uri: str) -> bool:
        """True when ``uri`` lies under this device's container."""
        try:
            container = self.credentials().container_url
        except (TransportException, SecurityException, ProtocolError) as exc:
            log.warning("cannot tell whether %r is a storage object: %s", uri, exc)
            return False
        return uri.startswith(container + "/")

    def upload(
        self,
        name: str,
        content_type: str,
        source_path: str,
        metadata: Mapping[str, str],
        encoding: str | None,
    ) -> StoredObjectInfo:
        """PUT the file at ``source_path`` as object ``name``; see the module docstring."""
        uri = self.object_uri(name)
        mismatches = 0
        attempt = 0
        while True:
            attempt += 1
            creds = self.credentials()
            digest = hashlib.md5(usedforsecurity=False)
            sent = [0]
            headers = {
                "X-Auth-Token": creds.auth_token,
                "Content-Type": content_type or DEFAULT_CONTENT_TYPE,
            }
            if encoding:
                headers["Content-Encoding"] = encoding
            for key, value in metadata.items():
                headers[f"X-Object-Meta-{key}"] = value
            with open(source_path, "rb") as source:
                response = self.session.exchange(
                    "PUT",
                    uri,
                    headers=headers,
                    body=_chunks(source, digest, sent),
                    timeout_s=self.transfer_timeout_s,
                )
            if response.status_code == 401 and attempt < RETRY_LIMIT:
                self._forget(creds)
                continue
            _expect(response, (201,), "PUT", uri)
            etag = response.headers.get("ETag", "").strip().strip('"')
            if etag and etag.lower() != digest.hexdigest():
                mismatches += 1
                if mismatches < RETRY_LIMIT:
                    log.warning(
                        "upload of %s: ETag %s != MD5 %s, retrying", uri, etag, digest.hexdigest()
                    )
                    continue
                raise TransportException(
                    f"PUT {uri}: the store holds different bytes (ETag {etag}, sent MD5 "
                    f"{digest.hexdigest()})",
                    response.status_code,
                    uri,
                )
            return StoredObjectInfo(
                uri=uri,
                length=sent[0],
                date=_iso_date(response.headers.get("Last-Modified")),
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                encoding=encoding,
            )

    def download(self, uri: str, dest_path: str) -> StoredObjectInfo:
        """GET ``uri`` into ``dest_path`` (atomically); see the module docstring."""
        if not self.is_storage_uri(uri):
            raise ValueError(f"{uri!r} is not an object of this device's storage container")
        target = Path(dest_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while True:
            attempt += 1
            creds = self.credentials()
            response = self.session.exchange(
                "GET",
                uri,
                headers={"X-Auth-Token": creds.auth_token},
                body=None,
                timeout_s=self.transfer_timeout_s,
                stream=True,
            )
            if response.status_code == 401 and attempt < RETRY_LIMIT:
                response.close()
                self._forget(creds)
                continue
            with contextlib.closing(response):
                _expect(response, (200, 206), "GET", uri)
                length = self._save(response, uri, target)
            return StoredObjectInfo(
                uri=uri,
                length=length,
                date=_iso_date(response.headers.get("Last-Modified")),
                content_type=response.headers.get("Content-Type", DEFAULT_CONTENT_TYPE),
                encoding=response.headers.get("Content-Encoding"),
            )

    def describe(self, uri: str) -> StoredObjectInfo:
        """``HEAD uri``: type, encoding, length and date of an object the server referred to."""
        if not self.is_storage_uri(uri):
            raise ValueError(f"{uri!r} is not an object of this device's storage container")
        attempt = 0
        while True:
            attempt += 1
            creds = self.credentials()
            response = self.session.exchange(
                "HEAD",
                uri,
                headers={"X-Auth-Token": creds.auth_token},
                body=None,
                timeout_s=self.session.timeout_s,
            )
            if response.status_code == 401 and attempt < RETRY_LIMIT:
                self._forget(creds)
                continue
            _expect(response, (200, 204), "HEAD", uri)
            length = response.headers.get("Content-Length", "")
            return StoredObjectInfo(
                uri=uri,
                length=int(length) if length.isdigit() else -1,
                date=_iso_date(response.headers.get("Last-Modified")),
                content_type=response.headers.get("Content-Type", DEFAULT_CONTENT_TYPE),
                encoding=response.headers.get("Content-Encoding"),
            )

    def _save(self, response: requests.Response, uri: str, target: Path) -> int:
        expected = response.headers.get("Content-Length")
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        length = 0
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    for chunk in response.iter_content(CHUNK_SIZE):
                        out.write(chunk)
                        length += len(chunk)
                except requests.exceptions.RequestException as exc:
                    raise TransportException(
                        f"GET {uri}: transfer broke off: {exc}", None, uri
                    ) from exc
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and expected.isdigit() and int(expected) != length:
                raise TransportException(
                    f"GET {uri}: received {length} bytes, Content-Length said {expected}",
                    response.status_code,
                    uri,
                )
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return length

    def __repr__(self) -> str:
        creds = self._credentials
        return f"<SwiftStorageBackend {creds.container_url if creds else '(no credentials yet)'}>"


def _chunks(source: BinaryIO, digest: hashlib._Hash, sent: list[int]) -> Iterator[bytes]:
    """Read ``source`` in chunks, hashing and counting what is sent (``sent[0]``)."""
    while True:
        block = source.read(CHUNK_SIZE)
        if not block:
            return
        digest.update(block)
        sent[0] += len(block)
        yield block


def _expect(response: requests.Response, ok: tuple[int, ...], method: str, uri: str) -> None:
    status = response.status_code
    if status in ok:
        return
    text = " ".join(response.text.split())[:200]
    if status == 401:
        raise SecurityException(f"{method} {uri}: storage refused the auth token twice: {text}")
    raise TransportException(f"{method} {uri}: {status} {text}", status, uri)


def _iso_date(http_date: str | None) -> str:
    """ISO 8601 of an HTTP date; now (UTC) when absent or unreadable."""
    if http_date:
        with contextlib.suppress(TypeError, ValueError):
            return email.utils.parsedate_to_datetime(http_date).astimezone(dt.UTC).isoformat()
    return dt.datetime.fromtimestamp(time.time(), dt.UTC).isoformat()
