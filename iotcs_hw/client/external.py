"""Values of URI attributes: :class:`ExternalObject` and the cloud-stored :class:`StorageObject`.

A storage object moves content between a local path and the storage cloud.  Its state machine
(``NOT_IN_SYNC -> SYNC_PENDING -> IN_SYNC | SYNC_FAILED``) follows the seed: setting a path
resets it to ``NOT_IN_SYNC``, nothing may change while a transfer is pending, and ``sync()``
runs the transfer on a background thread and reports through the :class:`SyncCallback` and,
when the object is an attribute value, the virtual device's error callback.

How content travels is a :class:`StorageBackend`: the transport's Swift-style client in
production, :class:`DirectoryStorageBackend` (a local folder) offline and in tests.
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
import logging
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from iotcs_hw.errors import StateException

if TYPE_CHECKING:
    from iotcs_hw.client.virtual_device import AbstractVirtualDevice

log = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class ExternalObject:
    """The value of a URI attribute whose content the application manages itself."""

    def __init__(self, uri: str) -> None:
        if not isinstance(uri, str) or not uri:
            raise ValueError(f"ExternalObject needs a non-empty URI string, got {uri!r}")
        self._uri = uri

    def getURI(self) -> str:
        """Get the URI value."""
        return self._uri

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ExternalObject)
            and type(other) is type(self)
            and (other.getURI() == self._uri)
        )

    def __hash__(self) -> int:
        return hash(self._uri)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._uri!r})"


@dataclass(frozen=True)
class StoredObjectInfo:
    """What the storage cloud says about one object after a transfer."""

    uri: str
    length: int
    date: str | None
    content_type: str
    encoding: str | None = None


class StorageBackend(Protocol):
    """Moves content to and from the storage cloud. Implementations are thread-safe."""

    def object_uri(self, name: str) -> str:
        """The URI an object called ``name`` has (or will have) in the storage cloud."""
        ...

    def upload(
        self,
        name: str,
        content_type: str,
        source_path: str,
        metadata: Mapping[str, str],
        encoding: str | None,
    ) -> StoredObjectInfo:
        """Upload the file at ``source_path``; raises TransportException/SecurityException."""
        ...

    def download(self, uri: str, dest_path: str) -> StoredObjectInfo:
        """Download ``uri`` into ``dest_path``; raises TransportException/SecurityException."""
        ...

    def is_storage_uri(self, uri: str) -> bool:
        """True when ``uri`` points into this storage cloud."""
        ...


@dataclass
class StorageDelegate:
    """The parts of a storage object that belong to its backend: where and what it is."""

    backend: StorageBackend
    name: str
    content_type: str = DEFAULT_CONTENT_TYPE
    uri: str = ""
    length: int = -1
    date: str | None = None
    encoding: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.uri:
            self.uri = self.backend.object_uri(self.name)


class SyncStatus(enum.Enum):
    """The storage cloud content status."""

    IN_SYNC = "IN_SYNC"
    NOT_IN_SYNC = "NOT_IN_SYNC"
    SYNC_FAILED = "SYNC_FAILED"
    SYNC_PENDING = "SYNC_PENDING"


class SyncEvent:
    """Passed to :meth:`SyncCallback.onSync` when a transfer finished or failed."""

    def __init__(
        self,
        source: StorageObject,
        name: str | None = None,
        virtualDevice: AbstractVirtualDevice | None = None,
    ) -> None:
        self._source = source
        self._name = name
        self._virtual_device = virtualDevice

    def getName(self) -> str | None:
        """The attribute, action or format name, or None if ``sync()`` was called directly."""
        return self._name

    def getSource(self) -> StorageObject:
        """The storage object, never None."""
        return self._source

    def getVirtualDevice(self) -> AbstractVirtualDevice | None:
        """The virtual device, or None if ``sync()`` was called independently."""
        return self._virtual_device


class SyncCallback(abc.ABC):
    """Receives a :class:`SyncEvent` when content is synchronized, or failed to be."""

    @abc.abstractmethod
    def onSync(self, event: SyncEvent) -> None:
        """Called on the transfer thread; never with None."""


SyncListener = Callable[["StorageObject", BaseException | None], None]


_Status = SyncStatus
_Callback = SyncCallback


class StorageObject(ExternalObject):
    """Content in the cloud storage, uploaded from ``inputPath`` or downloaded to ``outputPath``.

    Thread-safe.  ``sync()`` returns at once; :meth:`wait_for_sync` blocks until the transfer
    ended (useful in scripts and tests).
    """

    SyncCallback = SyncCallback
    SyncEvent = SyncEvent
    SyncStatus = SyncStatus

    def __init__(self, delegate: StorageDelegate) -> None:
        super().__init__(delegate.uri)
        self._delegate = delegate
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._input_path: str | None = None
        self._output_path: str | None = None
        self._status = SyncStatus.NOT_IN_SYNC
        self._callback: _Callback | None = None
        self._listeners: list[SyncListener] = []
        self._last_error: BaseException | None = None

    # --- plain properties of the seed ---------------------------------------------------------
    @property
    def delegate(self) -> StorageDelegate:
        """The backend-side description of this object."""
        return self._delegate

    @property
    def inputPath(self) -> str | None:
        """The path content is uploaded from, or None."""
        return self._input_path

    @property
    def outputPath(self) -> str | None:
        """The path content is downloaded to, or None."""
        return self._output_path

    @property
    def syncStatus(self) -> _Status:
        """The current :class:`SyncStatus`."""
        return self._status

    @property
    def syncCallback(self) -> _Callback | None:
        """The callback set with :meth:`setOnSync`."""
        return self._callback

    def getURI(self) -> str:
        """The object's URI in the storage cloud."""
        return self._delegate.uri

    def getName(self) -> str:
        """The name of this object in the storage cloud."""
        return self._delegate.name

    def getContentType(self) -> str:
        """The mime-type of the content."""
        return self._delegate.content_type

    def getDate(self) -> str | None:
        """ISO 8601 date of the content in cloud storage, or None if not uploaded."""
        return self._delegate.date

    def getEncoding(self) -> str | None:
        """The compression scheme of the content, or None."""
        return self._delegate.encoding

    def getLength(self) -> int:
        """The length of the content in bytes, or -1 if unknown."""
        return self._delegate.length

    def getInputPath(self) -> str | None:
        """Return the input path, or None if not set."""
        return self._input_path

    def getOutputPath(self) -> str | None:
        """Return the output path, or None if not set."""
        return self._output_path

    def getSyncStatus(self) -> _Status:
        """Return the SyncStatus of this StorageObject."""
        return self._status

    def getSyncCallback(self) -> _Callback | None:
        """Return the sync callback (used internally by the client library)."""
        return self._callback

    def getCustomMetadata(self) -> dict[str, str]:
        """A copy of the custom metadata; changing it changes nothing here."""
        with self._lock:
            return dict(self._delegate.metadata)

    def setCustomMetadata(self, key: str, value: str) -> None:
        """Add metadata sent as ``X-Object-Meta-<key>``; None or empty key/value is refused."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"metadata key must be a non-empty string, got {key!r}")
        if not isinstance(value, str) or not value:
            raise ValueError(f"metadata value for {key!r} must be a non-empty string")
        with self._lock:
            self._delegate.metadata[key] = value

    # --- paths and state ----------------------------------------------------------------------
    def setInputPath(self, inputPath: str | None) -> None:
        """Set the path to upload from; clears the output path; raises OSError if unreadable."""
        with self._lock:
            self._refuse_if_pending("setInputPath")
            if inputPath is not None:
                path = os.fspath(inputPath)
                if not os.path.isfile(path) or not os.access(path, os.R_OK):
                    raise OSError(f"input path {path!r} is not a readable file")
                if path != self._input_path:
                    self._status = SyncStatus.NOT_IN_SYNC
                self._output_path = None
                self._input_path = path
            else:
                self._input_path = None

    def setOutputPath(self, outputPath: str | None) -> None:
        """Set the path to download to; clears the input path; raises OSError if unwritable."""
        with self._lock:
            self._refuse_if_pending("setOutputPath")
            if outputPath is not None:
                path = os.fspath(outputPath)
                _check_writable(path)
                if path != self._output_path:
                    self._status = SyncStatus.NOT_IN_SYNC
                self._input_path = None
                self._output_path = path
            else:
                self._output_path = None

    def setSyncStatus(self, syncStatus: _Status) -> None:
        """Set the status (used internally by the client library)."""
        with self._lock:
            self._status = syncStatus

    def setOnSync(self, callback: _Callback | None) -> None:
        """Set or (with None) remove the callback invoked when the content is synchronized."""
        with self._lock:
            self._callback = callback

    def _refuse_if_pending(self, what: str) -> None:
        if self._status is SyncStatus.SYNC_PENDING:
            raise StateException(f"{what}: storage object {self.getName()!r} is SYNC_PENDING")

    # --- transfers ----------------------------------------------------------------------------
    def sync(self) -> None:
        """Start the upload or download on a background thread; returns at once.

        Does nothing unless the status is NOT_IN_SYNC.  Raises :class:`StateException` when
        neither path is set and OSError when the input cannot be read or the output written.
        """
        with self._lock:
            if self._input_path is None and self._output_path is None:
                raise StateException(
                    f"storage object {self.getName()!r}: set an input or output path before sync()"
                )
            if self._status is not SyncStatus.NOT_IN_SYNC:
                return
            if self._input_path is not None and not os.access(self._input_path, os.R_OK):
                raise OSError(f"input path {self._input_path!r} cannot be read")
            if self._output_path is not None:
                _check_writable(self._output_path)
            self._status = SyncStatus.SYNC_PENDING
            self._done.clear()
        thread = threading.Thread(
            target=self._transfer, name=f"iotcs-storage-sync:{self.getName()}", daemon=True
        )
        thread.start()

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Block until no transfer is pending; True when the status is then IN_SYNC."""
        if self._status is SyncStatus.SYNC_PENDING:
            self._done.wait(timeout)
        return self._status is SyncStatus.IN_SYNC

    def _transfer(self) -> None:
        error: BaseException | None = None
        delegate = self._delegate
        try:
            if self._input_path is not None:
                info = delegate.backend.upload(
                    delegate.name,
                    delegate.content_type,
                    self._input_path,
                    dict(delegate.metadata),
                    delegate.encoding,
                )
            else:
                assert self._output_path is not None
                info = delegate.backend.download(delegate.uri, self._output_path)
            with self._lock:
                delegate.length = info.length
                delegate.date = info.date
                delegate.encoding = info.encoding
                if info.content_type:
                    delegate.content_type = info.content_type
                self._status = SyncStatus.IN_SYNC
        except Exception as exc:
            log.warning("storage object %r: sync failed: %s", self.getName(), exc)
            error = exc
            with self._lock:
                self._status = SyncStatus.SYNC_FAILED
        self._last_error = error
        self._done.set()
        self._notify(error)

    def _notify(self, error: BaseException | None) -> None:
        with self._lock:
            listeners = list(self._listeners)
            self._listeners.clear()
            callback = self._callback
        if not listeners and callback is not None:
            _call_sync_callback(callback, SyncEvent(self))
        for listener in listeners:
            try:
                listener(self, error)
            except Exception:
                log.exception("storage object %r: sync listener failed", self.getName())

    def _when_synced(self, listener: SyncListener) -> None:
        """Run ``listener(self, error)`` once the current or next transfer ends."""
        with self._lock:
            if self._status in (SyncStatus.IN_SYNC, SyncStatus.SYNC_FAILED):
                run_now = True
            else:
                run_now = False
                self._listeners.append(listener)
        if run_now:
            listener(self, self._last_error if self._status is SyncStatus.SYNC_FAILED else None)

    def __repr__(self) -> str:
        return f"<StorageObject {self.getName()!r} {self._status.value} uri={self.getURI()!r}>"


def _call_sync_callback(callback: SyncCallback | Any, event: SyncEvent) -> None:
    try:
        if isinstance(callback, SyncCallback) or hasattr(callback, "onSync"):
            callback.onSync(event)
        else:
            callback(event)
    except Exception:
        log.exception("sync callback %r raised", callback)


def _check_writable(path: str) -> None:
    target = Path(path)
    if target.is_dir():
        raise OSError(f"output path {path!r} is a directory")
    parent = target.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        raise OSError(f"output path {path!r} cannot be written")


class DirectoryStorageBackend:
    """A storage "cloud" that is a local folder: for offline runs and tests.

    URIs are ``file://`` URLs of the stored objects; metadata is kept beside them.
    """

    def __init__(self, root: str | Path) -> None:
        self._root = Path(root)
        self._root.mkdir(parents=True, exist_ok=True)

    def object_uri(self, name: str) -> str:
        """The ``file://`` URI of ``name`` inside the folder."""
        return (self._root / _safe_name(name)).resolve().as_uri()

    def upload(
        self,
        name: str,
        content_type: str,
        source_path: str,
        metadata: Mapping[str, str],
        encoding: str | None,
    ) -> StoredObjectInfo:
        """Copy the file in."""
        target = self._root / _safe_name(name)
        shutil.copyfile(source_path, target)
        return StoredObjectInfo(
            uri=target.resolve().as_uri(),
            length=target.stat().st_size,
            date=dt.datetime.now(dt.UTC).isoformat(),
            content_type=content_type,
            encoding=encoding,
        )

    def download(self, uri: str, dest_path: str) -> StoredObjectInfo:
        """Copy the file out, creating the destination's folders."""
        if not self.is_storage_uri(uri):
            raise ValueError(f"{uri!r} is not an object of storage folder {self._root}")
        source = Path(uri.removeprefix("file://"))
        Path(dest_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest_path)
        return StoredObjectInfo(
            uri=uri,
            length=source.stat().st_size,
            date=dt.datetime.fromtimestamp(source.stat().st_mtime, dt.UTC).isoformat(),
            content_type=DEFAULT_CONTENT_TYPE,
        )

    def is_storage_uri(self, uri: str) -> bool:
        """True for ``file://`` URIs inside the folder."""
        return uri.startswith(self._root.resolve().as_uri() + "/")


def _safe_name(name: str) -> str:
    cleaned = name.replace("/", "_").replace("\\", "_")
    if cleaned in ("", ".", ".."):
        raise ValueError(f"storage object name {name!r} is not usable")
    return cleaned
