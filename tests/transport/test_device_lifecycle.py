"""Device-class lifecycle without a server: construction, repr, close, state errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotcs_hw.client import DirectlyConnectedDevice, GatewayDevice
from iotcs_hw.errors import ConfigError, DeviceClosed, StateException, TrustedAssetsError
from iotcs_hw.protocol.unified_store import new_store, save_store

PASSWORD = "changeit"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "dev.bin"
    save_store(path, new_store("https://127.0.0.1:9", "DEV-L", "s"), PASSWORD)
    return path


def test_unactivated_device_lifecycle(store: Path, tmp_path: Path) -> None:
    dcd = DirectlyConnectedDevice(store, PASSWORD, state_dir=tmp_path / "state")
    assert repr(dcd) == f"<DirectlyConnectedDevice 'DEV-L' not activated store={str(store)!r}>"
    assert not dcd.isActivated()
    assert dcd.dispatcher is None
    with pytest.raises(StateException, match="activate the device before sending"):
        _ = dcd.message_sink
    assert not (tmp_path / "state").exists()  # nothing is created before activation
    dcd.close()
    dcd.close()
    assert "closed" in repr(dcd)
    with pytest.raises(DeviceClosed, match="DirectlyConnectedDevice is closed"):
        dcd.activate("urn:x")
    with pytest.raises(DeviceClosed):
        dcd.getDeviceModel("urn:x")


def test_password_from_the_environment(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOTCS_HW_STORE_PASSWORD", PASSWORD)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with DirectlyConnectedDevice(store, state_dir=tmp_path / "s") as dcd:
        assert dcd.session.assets.client_id == "DEV-L"


def test_no_password_anywhere(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOTCS_HW_STORE_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigError, match="no trusted-assets store password"):
        DirectlyConnectedDevice(store)


def test_missing_store(tmp_path: Path) -> None:
    with pytest.raises(TrustedAssetsError, match=r"nope\.bin: cannot read store"):
        GatewayDevice(tmp_path / "nope.bin", PASSWORD)


def test_argument_checks(store: Path, tmp_path: Path) -> None:
    with GatewayDevice(store, PASSWORD, state_dir=tmp_path / "s") as gw:
        with pytest.raises(ValueError, match="URNs must be non-empty strings"):
            gw.activate("")
        with pytest.raises(ValueError, match="hardwareId must be a non-empty string"):
            gw.registerDevice("", {}, "urn:x")
        with pytest.raises(StateException, match="activate the gateway"):
            gw.registerDevice("ICD", {}, "urn:x")
        assert GatewayDevice.MANUFACTURER == "manufacturer"
        assert GatewayDevice.PROTOCOL_DEVICE_ID == "protocolDeviceId"
