"""An in-memory Client for testing the seed API without a server.

It is a real subclass of :class:`iotcs_hw.client.Client` whose sink is a RecordingSink, whose
request dispatcher is the real one, and whose storage is a local folder; tests play the server
by dispatching REQUEST messages and reading what was offered.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from iotcs_hw.client import Client, DeviceModel, DirectoryStorageBackend, VirtualDevice
from iotcs_hw.client.external import StorageBackend
from iotcs_hw.messaging import Message, RecordingSink, RequestDispatcher

URN = "urn:test:greenhouse"

MODEL_JSON: dict[str, Any] = {
    "urn": URN,
    "name": "Greenhouse",
    "description": "A test greenhouse",
    "attributes": [
        {"name": "temperature", "type": "NUMBER", "range": "-40,85", "alias": "temp"},
        {"name": "humidity", "type": "INTEGER", "range": "0,100", "defaultValue": 50},
        {"name": "label", "type": "STRING"},
        {"name": "fan", "type": "BOOLEAN", "writable": True},
        {"name": "dimming", "type": "INTEGER", "range": "0,100", "writable": True},
        {"name": "setpoint", "type": "NUMBER", "range": "10,30", "writable": True},
        {"name": "since", "type": "DATETIME", "writable": True},
        {"name": "image", "type": "URI"},
    ],
    "actions": [
        {"name": "reset"},
        {"name": "blink", "argType": "INTEGER", "range": "1,10", "alias": "flash"},
    ],
    "formats": [
        {
            "urn": URN + ":too_hot",
            "name": "tooHot",
            "type": "ALERT",
            "description": "Too hot",
            "value": {
                "fields": [
                    {"name": "temperature", "type": "NUMBER", "optional": False},
                    {"name": "note", "type": "STRING", "optional": True},
                ]
            },
        },
        {
            "urn": URN + ":reading",
            "name": "reading",
            "type": "DATA",
            "value": {"fields": [{"name": "count", "type": "INTEGER", "optional": False}]},
        },
    ],
}


class MemoryClient(Client):
    """A Client whose server is the test itself."""

    def __init__(self, storage_dir: Path, models: dict[str, dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sink = RecordingSink()
        self.dispatcher = RequestDispatcher()
        self.models = models
        self.fetches: list[str] = []
        self.storage: StorageBackend = DirectoryStorageBackend(storage_dir)

    def getEndpointId(self) -> str:
        return "EP-1"

    @property
    def message_sink(self) -> RecordingSink:
        return self.sink

    @property
    def request_dispatcher(self) -> RequestDispatcher:
        return self.dispatcher

    def _fetch_device_model(self, urn: str) -> dict[str, Any] | None:
        self.fetches.append(urn)
        return self.models.get(urn)

    def _storage_backend(self) -> StorageBackend:
        return self.storage

    def request(
        self,
        method: str,
        url: str,
        body: object = None,
        headers: dict[str, list[str]] | None = None,
    ) -> tuple[int, bytes]:
        """Play the server: send a REQUEST and return (status, body) of the RESPONSE."""
        raw = b"" if body is None else json.dumps(body).encode()
        message = Message.from_json(
            {
                "id": "REQ-1",
                "type": "REQUEST",
                "source": "server",
                "destination": "EP-1",
                "payload": {
                    "method": method,
                    "url": url,
                    "headers": headers or {},
                    "body": base64.b64encode(raw).decode(),
                },
            }
        )
        response = self.dispatcher.dispatch_message(message)
        return response.payload["statusCode"], base64.b64decode(response.payload["body"])


@pytest.fixture
def client(tmp_path: Path) -> MemoryClient:
    return MemoryClient(tmp_path / "storage", {URN: MODEL_JSON})


@pytest.fixture
def model() -> DeviceModel:
    return DeviceModel.fromJson(MODEL_JSON)


@pytest.fixture
def vd(client: MemoryClient, model: DeviceModel) -> VirtualDevice:
    return client.createVirtualDevice("EP-1", model)
