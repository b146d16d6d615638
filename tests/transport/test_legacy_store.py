"""The legacy JSON store of Oracle's JS library (read only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iotcs_hw.errors import TrustedAssetsError
from iotcs_hw.protocol.jwt import load_private_key, load_public_key
from iotcs_hw.protocol.unified_store import load_store


def test_vector_loads(vectors_dir: Path) -> None:
    assets = load_store(vectors_dir / "legacy-json-store.json", "changeit")
    assert assets.client_id == "DEV-1"
    assert assets.server_uri == "https://localhost:8443"
    assert assets.shared_secret == b"secret123"
    assert assets.endpoint_id == "EP-123"
    assert dict(assets.connected_devices) == {"ICD-1": b"icdsecret"}
    assert assets.private_key is not None
    assert assets.public_key is not None
    assert load_private_key(assets.private_key).public_key().public_numbers() == (
        load_public_key(assets.public_key).public_numbers()
    )


def test_wrong_password_is_refused(vectors_dir: Path) -> None:
    path = vectors_dir / "legacy-json-store.json"
    with pytest.raises(TrustedAssetsError, match="signature does not verify") as info:
        load_store(path, "nope")
    assert str(path) in str(info.value)


def test_modified_field_is_refused(vectors_dir: Path, tmp_path: Path) -> None:
    doc = json.loads((vectors_dir / "legacy-json-store.json").read_text())
    doc["serverPort"] = 9443
    path = tmp_path / "store.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(TrustedAssetsError, match=r"store\.json: legacy JSON store signature"):
        load_store(path, "changeit")


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text("{nope")
    with pytest.raises(
        TrustedAssetsError, match=r"store\.json: legacy JSON store is not valid JSON"
    ):
        load_store(path, "changeit")
