"""Client (model lookup, virtual devices, storage objects) and the StorageObject state machine."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from iotcs_hw.client import (
    DeviceModel,
    StateException,
    StorageObject,
    StoredObjectInfo,
    SyncCallback,
    SyncEvent,
    SyncStatus,
)
from iotcs_hw.client.external import DirectoryStorageBackend
from iotcs_hw.errors import DeviceClosed, DeviceModelError, TransportException
from iotcs_hw.messaging import MessageType

from .conftest import MODEL_JSON, URN, MemoryClient


# --- Client -----------------------------------------------------------------------------------
def test_get_device_model_parses_and_caches(client: MemoryClient) -> None:
    model = client.getDeviceModel(URN)
    assert isinstance(model, DeviceModel)
    assert client.getDeviceModel(URN) is model
    assert client.fetches == [URN]


def test_get_device_model_unknown_is_none_and_none_urn_raises(client: MemoryClient) -> None:
    assert client.getDeviceModel("urn:unknown") is None
    with pytest.raises(ValueError, match="deviceModelUrn"):
        client.getDeviceModel(None)  # type: ignore[arg-type]


def test_draft_models_need_permission(tmp_path: Path) -> None:
    draft = copy.deepcopy(MODEL_JSON)
    draft["draft"] = True
    assert MemoryClient(tmp_path, {URN: draft}).getDeviceModel(URN) is None
    allowed = MemoryClient(tmp_path, {URN: draft}, allowDraftDeviceModels=True)
    model = allowed.getDeviceModel(URN)
    assert model is not None
    assert model.isDraft()


def test_malformed_server_model_is_a_device_model_error(tmp_path: Path) -> None:
    client = MemoryClient(tmp_path, {URN: {"urn": URN}})
    with pytest.raises(DeviceModelError, match="'name' is required"):
        client.getDeviceModel(URN)


def test_create_virtual_device_refuses_none(client: MemoryClient, model: DeviceModel) -> None:
    with pytest.raises(ValueError, match="got None"):
        client.createVirtualDevice(None, model)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got None"):
        client.createVirtualDevice("EP-1", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be a DeviceModel"):
        client.createVirtualDevice("EP-1", MODEL_JSON)  # type: ignore[arg-type]


def test_create_virtual_device_refuses_a_model_the_device_does_not_implement(
    tmp_path: Path, model: DeviceModel
) -> None:
    class Picky(MemoryClient):
        def _implements(self, endpointId: str, urn: str) -> bool:
            return False

    with pytest.raises(ValueError, match="does not implement urn:test:greenhouse"):
        Picky(tmp_path, {}).createVirtualDevice("EP-1", model)


def test_virtual_devices_are_not_cached(client: MemoryClient, model: DeviceModel) -> None:
    assert client.createVirtualDevice("EP-1", model) is not client.createVirtualDevice(
        "EP-1", model
    )


def test_closed_client_refuses_work(client: MemoryClient, model: DeviceModel) -> None:
    with client:
        pass
    client.close()  # idempotent
    assert client.isClosed()
    with pytest.raises(DeviceClosed, match="MemoryClient is closed"):
        client.createVirtualDevice("EP-1", model)


def test_create_storage_object_defaults(client: MemoryClient) -> None:
    obj = client.createStorageObject("photo.jpg")
    assert obj.getContentType() == "application/octet-stream"
    assert obj.getName() == "photo.jpg"
    assert obj.getURI().startswith("file://")
    assert obj.getSyncStatus() is SyncStatus.NOT_IN_SYNC
    assert obj.getLength() == -1
    assert obj.getDate() is None
    assert obj.getEncoding() is None
    assert client.createStorageObject("a.txt", "text/plain").getContentType() == "text/plain"
    with pytest.raises(ValueError, match="non-empty string"):
        client.createStorageObject("")


# --- StorageObject ----------------------------------------------------------------------------
@pytest.fixture
def content(tmp_path: Path) -> Path:
    path = tmp_path / "in.bin"
    path.write_bytes(b"\x00\x01hello")
    return path


def test_paths_exclude_each_other_and_reset_status(
    client: MemoryClient, content: Path, tmp_path: Path
) -> None:
    obj = client.createStorageObject("x")
    obj.setInputPath(str(content))
    assert (obj.getInputPath(), obj.inputPath, obj.getOutputPath()) == (str(content),) * 2 + (None,)
    obj.setSyncStatus(SyncStatus.IN_SYNC)
    obj.setInputPath(str(content))  # same path: status kept
    assert obj.getSyncStatus() is SyncStatus.IN_SYNC
    obj.setOutputPath(str(tmp_path / "out" / "x.bin"))
    assert obj.getInputPath() is None
    assert obj.getSyncStatus() is SyncStatus.NOT_IN_SYNC


def test_unreadable_input_and_unwritable_output_raise_oserror(
    client: MemoryClient, tmp_path: Path
) -> None:
    obj = client.createStorageObject("x")
    with pytest.raises(OSError, match="not a readable file"):
        obj.setInputPath(str(tmp_path / "missing"))
    with pytest.raises(OSError, match="is a directory"):
        obj.setOutputPath(str(tmp_path))


def test_sync_without_paths_raises_state_exception(client: MemoryClient) -> None:
    with pytest.raises(StateException, match="set an input or output path"):
        client.createStorageObject("x").sync()


class GatedBackend:
    """A storage backend whose transfers wait for a gate: lets tests see SYNC_PENDING."""

    def __init__(self, inner: DirectoryStorageBackend, fail: bool = False) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.fail = fail

    def object_uri(self, name: str) -> str:
        return self.inner.object_uri(name)

    def upload(
        self,
        name: str,
        content_type: str,
        source_path: str,
        metadata: Mapping[str, str],
        encoding: str | None,
    ) -> StoredObjectInfo:
        assert self.gate.wait(5)
        if self.fail:
            raise TransportException("storage answered 503", statusCode=503)
        return self.inner.upload(name, content_type, source_path, metadata, encoding)

    def download(self, uri: str, dest_path: str) -> StoredObjectInfo:
        assert self.gate.wait(5)
        return self.inner.download(uri, dest_path)

    def is_storage_uri(self, uri: str) -> bool:
        return self.inner.is_storage_uri(uri)


class SyncRecorder(SyncCallback):
    def __init__(self) -> None:
        self.events: list[SyncEvent] = []
        self.done = threading.Event()

    def onSync(self, event: SyncEvent) -> None:
        self.events.append(event)
        self.done.set()


def test_sync_pending_refuses_changes_then_in_sync(
    client: MemoryClient, content: Path, tmp_path: Path
) -> None:
    gated = GatedBackend(DirectoryStorageBackend(tmp_path / "cloud"))
    client.storage = gated
    obj = client.createStorageObject("blob", "application/x-test")
    obj.setCustomMetadata("camera", "north")
    recorder = SyncRecorder()
    obj.setOnSync(recorder)
    obj.setInputPath(str(content))
    obj.sync()
    assert obj.getSyncStatus() is SyncStatus.SYNC_PENDING
    with pytest.raises(StateException, match="SYNC_PENDING"):
        obj.setInputPath(str(content))
    with pytest.raises(ValueError, match="SYNC_PENDING"):
        obj.setOutputPath(str(tmp_path / "o"))
    obj.sync()  # not NOT_IN_SYNC: does nothing
    gated.gate.set()
    assert obj.wait_for_sync(5)
    assert recorder.done.wait(5)
    assert obj.getSyncStatus() is SyncStatus.IN_SYNC
    assert obj.getLength() == len(b"\x00\x01hello")
    assert obj.getDate() is not None
    event = recorder.events[0]
    assert (event.getSource(), event.getName(), event.getVirtualDevice()) == (obj, None, None)


def test_download_round_trip(client: MemoryClient, content: Path, tmp_path: Path) -> None:
    up = client.createStorageObject("blob")
    up.setInputPath(str(content))
    up.sync()
    assert up.wait_for_sync(5)
    down = client.createStorageObject("blob")
    target = tmp_path / "deep" / "copy.bin"
    down.setOutputPath(str(target))
    down.sync()
    assert down.wait_for_sync(5)
    assert target.read_bytes() == content.read_bytes()


def test_failed_sync_is_sync_failed_and_reported(
    client: MemoryClient, content: Path, tmp_path: Path
) -> None:
    gated = GatedBackend(DirectoryStorageBackend(tmp_path / "cloud"), fail=True)
    gated.gate.set()
    client.storage = gated
    obj = client.createStorageObject("blob")
    recorder = SyncRecorder()
    obj.setOnSync(recorder)
    obj.setInputPath(str(content))
    obj.sync()
    assert not obj.wait_for_sync(5)
    assert recorder.done.wait(5)
    assert obj.getSyncStatus() is SyncStatus.SYNC_FAILED


def test_custom_metadata_rules(client: MemoryClient) -> None:
    obj = client.createStorageObject("x")
    for key, value in [(None, "v"), ("", "v"), ("k", None), ("k", "")]:
        with pytest.raises(ValueError, match="metadata"):
            obj.setCustomMetadata(key, value)  # type: ignore[arg-type]
    obj.setCustomMetadata("k", "v")
    copy_ = obj.getCustomMetadata()
    copy_["k"] = "changed"
    assert obj.getCustomMetadata() == {"k": "v"}


def test_storage_object_attribute_waits_for_upload(
    client: MemoryClient, content: Path, tmp_path: Path
) -> None:
    gated = GatedBackend(DirectoryStorageBackend(tmp_path / "cloud"))
    client.storage = gated
    model = client.getDeviceModel(URN)
    assert model is not None
    vd = client.createVirtualDevice("EP-1", model)
    obj = client.createStorageObject("snap.png", "image/png")
    obj.setInputPath(str(content))
    delivered = threading.Event()
    original = client.sink.offer

    def offer(messages: Any, on_error: Any = None) -> None:
        original(messages, on_error)
        delivered.set()

    client.sink.offer = offer  # type: ignore[method-assign]
    vd.set("image", obj)
    assert client.sink.sent == []  # held until the upload finishes
    assert obj.getSyncStatus() is SyncStatus.SYNC_PENDING
    gated.gate.set()
    assert delivered.wait(5)
    (message,) = client.sink.sent
    assert message.type is MessageType.DATA
    assert message.payload["data"] == {"image": obj.getURI()}
    assert isinstance(vd.get("image"), StorageObject)


def test_failed_upload_reports_through_the_error_callback(
    client: MemoryClient, content: Path, tmp_path: Path
) -> None:
    gated = GatedBackend(DirectoryStorageBackend(tmp_path / "cloud"), fail=True)
    client.storage = gated
    model = client.getDeviceModel(URN)
    assert model is not None
    vd = client.createVirtualDevice("EP-1", model)
    errors: list[str] = []
    got = threading.Event()

    def on_error(event: Any) -> None:
        errors.append(event.getMessage())
        got.set()

    vd.setOnError(on_error, "image")
    obj = client.createStorageObject("snap.png")
    obj.setInputPath(str(content))
    vd.set("image", obj)
    gated.gate.set()
    assert got.wait(5)
    assert errors == ["storage answered 503"]
    assert client.sink.sent == []
