"""``Client``: what directly connected devices and gateways share (Oracle's ``Client``).

Subclasses (``DirectlyConnectedDevice``, ``GatewayDevice`` in the transport layer) provide the
endpoint id, the message sink (the durable dispatcher), the request dispatcher, the raw model
fetch and the storage backend; this class turns them into the seed API: model lookup with a
cache and the draft rule, virtual devices, storage objects, and an idempotent ``close()``.
"""

from __future__ import annotations

import abc
import threading
from types import TracebackType
from typing import Any, Self

from iotcs_hw.client.device_model import DeviceModel
from iotcs_hw.client.external import StorageBackend, StorageDelegate, StorageObject
from iotcs_hw.client.virtual_device import VirtualDevice
from iotcs_hw.errors import DeviceClosed
from iotcs_hw.messaging.requests import RequestDispatcher
from iotcs_hw.messaging.sink import MessageSink

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class Closeable(abc.ABC):
    """Holds resources that ``close()`` releases (Oracle's ``iotcs.common.Closeable``)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release resources; idempotent."""


class Client(Closeable):
    """Client of the Oracle IoT Cloud Service: a directly connected device or a gateway.

    ``allowDraftDeviceModels`` mirrors the ``allow_draft_device_models`` configuration
    property (default False): draft models are then not returned by :meth:`getDeviceModel`.
    """

    def __init__(self, *, allowDraftDeviceModels: bool = False) -> None:
        self._allow_drafts = allowDraftDeviceModels
        self._models: dict[str, DeviceModel] = {}
        self._models_lock = threading.Lock()
        self._closed = False

    # --- what subclasses provide --------------------------------------------------------------
    @abc.abstractmethod
    def getEndpointId(self) -> str:
        """The endpoint id of this client (after activation)."""

    @property
    @abc.abstractmethod
    def message_sink(self) -> MessageSink:
        """Where virtual devices of this client put their messages."""

    @property
    @abc.abstractmethod
    def request_dispatcher(self) -> RequestDispatcher:
        """Where virtual devices register for server requests."""

    @abc.abstractmethod
    def _fetch_device_model(self, urn: str) -> dict[str, Any] | None:
        """The model's JSON from the server, or None when the server does not know it."""

    @abc.abstractmethod
    def _storage_backend(self) -> StorageBackend:
        """How storage objects move content."""

    def _implements(self, endpointId: str, urn: str) -> bool:
        """Whether ``endpointId`` declared model ``urn``; subclasses that know refine this."""
        return True

    # --- the seed API -------------------------------------------------------------------------
    def getDeviceModel(self, deviceModelUrn: str) -> DeviceModel | None:
        """The model for ``deviceModelUrn``, or None if unknown (or a draft, unless allowed).

        Raises ValueError when ``deviceModelUrn`` is None; transport failures propagate as
        TransportException, authentication failures as SecurityException.
        """
        if deviceModelUrn is None or not isinstance(deviceModelUrn, str) or not deviceModelUrn:
            raise ValueError(f"deviceModelUrn must be a non-empty string, got {deviceModelUrn!r}")
        self._check_open()
        with self._models_lock:
            model = self._models.get(deviceModelUrn)
        if model is None:
            raw = self._fetch_device_model(deviceModelUrn)
            if raw is None:
                return None
            model = DeviceModel.fromJson(raw)
            with self._models_lock:
                self._models[deviceModelUrn] = model
        if model.isDraft() and not self._allow_drafts:
            return None
        return model

    def createVirtualDevice(self, deviceId: str, deviceModel: DeviceModel) -> VirtualDevice:
        """A new VirtualDevice for ``deviceId`` implementing ``deviceModel`` (not cached).

        Raises ValueError if either is None or the device does not implement the model.
        """
        if deviceId is None or deviceModel is None:
            raise ValueError("createVirtualDevice needs a deviceId and a deviceModel, got None")
        if not isinstance(deviceModel, DeviceModel):
            raise ValueError(f"deviceModel must be a DeviceModel, got {deviceModel!r}")
        self._check_open()
        if not self._implements(deviceId, deviceModel.getURN()):
            raise ValueError(f"device {deviceId!r} does not implement {deviceModel.getURN()}")
        return VirtualDevice(
            deviceId, deviceModel, sink=self.message_sink, requests=self.request_dispatcher
        )

    def createStorageObject(self, name: str, contentType: str | None = None) -> StorageObject:
        """A StorageObject called ``name``; ``contentType`` None means application/octet-stream."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"storage object name must be a non-empty string, got {name!r}")
        self._check_open()
        delegate = StorageDelegate(
            backend=self._storage_backend(),
            name=name,
            content_type=contentType or DEFAULT_CONTENT_TYPE,
        )
        return StorageObject(delegate)

    # --- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Release resources; idempotent.  Subclasses extend it and call ``super().close()``."""
        self._closed = True

    def isClosed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceClosed(f"{type(self).__name__} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
