"""Fixtures for the transport tests: the Oracle vectors, decoded once per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "changeit"


@pytest.fixture
def js_outputs(vectors_dir: Path) -> dict[str, Any]:
    """``oracle-js-outputs.json``: assertions, activation signature and token body."""
    data: dict[str, Any] = json.loads((vectors_dir / "oracle-js-outputs.json").read_text())
    return data


@pytest.fixture
def unified_vector(vectors_dir: Path) -> Path:
    """The activated unified store produced by Oracle's JS library."""
    return vectors_dir / "unified-store-activated.bin"


# --------------------------------------------------------------------------- local server

THERMO_URN = "urn:test:transport:thermometer"
THERMO_MODEL = {
    "urn": THERMO_URN,
    "name": "Thermometer",
    "attributes": [
        {"name": "temp", "type": "NUMBER", "range": "-40,125"},
        {"name": "setpoint", "type": "NUMBER", "writable": True},
    ],
    "actions": [],
    "formats": [],
}


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One device model the end-to-end tests use."""
    path = tmp_path_factory.mktemp("models")
    (path / "thermometer.json").write_text(json.dumps(THERMO_MODEL))
    return path


@pytest.fixture
def cloud(cloud_dir: Path, models_dir: Path) -> Iterator[Any]:
    """The local IoTCS-compatible server on 127.0.0.1 (real HTTPS), small activation keys."""
    from iotcs_hw.cloud.runner import LocalCloud

    with LocalCloud(
        cloud_dir, models_dir=models_dir, activation_key_size=1024, default_hold_s=2.0
    ) as server:
        yield server


@pytest.fixture
def app(cloud: Any) -> Iterator[Any]:
    """The server's application-side client (registration, provisioning, messages)."""
    with cloud.app_client() as client:
        yield client


@pytest.fixture
def provision(app: Any, tmp_path: Path) -> Callable[..., Path]:
    """``provision(activation_id, **register_options)``: register and write its store (0600)."""

    def make(activation_id: str, **options: Any) -> Path:
        app.register_device(activation_id, **options)
        path = tmp_path / f"{activation_id}.bin"
        path.write_bytes(app.provisioning_file(activation_id, PASSWORD))
        path.chmod(0o600)
        return path

    return make


@pytest.fixture
def recorded() -> Callable[..., list[Any]]:
    """``recorded(server, predicate=None, count=1)``: the server's recorded exchanges.

    The server records an exchange just after answering it, so a test that looks right after
    its call waits (bounded, 5 s) until ``count`` matching exchanges are there.
    """
    import time

    def wait(
        server: Any, predicate: Callable[[Any], bool] | None = None, count: int = 1
    ) -> list[Any]:
        deadline = time.monotonic() + 5.0
        while True:
            found = list(server.recorder.requests(predicate))
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.005)

    return wait
