"""render.sh fills the cloud-init templates into files cloud-init accepts, byte for byte."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

Runner = Callable[..., subprocess.CompletedProcess[str]]
CLOUD_INIT_DIR = Path(__file__).resolve().parents[2] / "deploy" / "cloud-init"
RENDER = CLOUD_INIT_DIR / "render.sh"
FIRSTBOOT = "/var/lib/iotcs-hw-firstboot"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkZ admin@laptop"


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    model = tmp_path / "model.yaml"
    model.write_text("store: {path: /var/lib/iotcs-hw/device.store}\n\ndevices: []  # empty\n")
    (tmp_path / "greenhouse.json").write_text('{"urn": "urn:com:example:greenhouse"}\n')
    store = tmp_path / "device.store"
    store.write_bytes(b"#serverUri=https://iot.example.com:443\r\nAAECAwQ=\r\n")
    password = tmp_path / "pw"
    password.write_bytes(b'pa"ss\\w&rd $HOME\n')
    wheel = tmp_path / "iotcs_hw-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04 not really a wheel")
    return {"model": model, "store": store, "password": password, "wheel": wheel}


def render(sh: Runner, out: Path, inputs: dict[str, Path], *extra: str):
    return sh([
        "bash", RENDER, "--out", out, "--model", inputs["model"], "--store", inputs["store"],
        "--password-file", inputs["password"], "--wheel", inputs["wheel"], "--ssh-key", SSH_KEY,
        *extra,
    ])  # fmt: skip


def test_render_embeds_model_store_password_and_bundle(
    sh: Runner, tmp_path: Path, inputs: dict[str, Path]
) -> None:
    out = tmp_path / "bootfs"
    ssid, wifi_password = 'Caf\u00e9 "Net" & co', 'se\\cr&et"12'
    result = render(
        sh, out, inputs, "--wifi-ssid", ssid, "--wifi-password", wifi_password,
        "--country", "DE", "--hostname", "greenhouse-1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    user_data = (out / "user-data").read_text()
    assert user_data.startswith("#cloud-config\n")
    assert "__" not in user_data.replace("__...__", "")
    doc = yaml.safe_load(user_data)
    assert doc["hostname"] == "greenhouse-1"
    assert doc["users"][0]["ssh_authorized_keys"] == [SSH_KEY]
    files = {f["path"]: f for f in doc["write_files"]}
    assert files[f"{FIRSTBOOT}/model.yaml"]["content"] == inputs["model"].read_text()
    for name, key in (("device.store", "store"), ("store-password", "password")):
        entry = files[f"{FIRSTBOOT}/{name}"]
        assert entry["encoding"] == "b64"
        assert base64.b64decode(entry["content"]) == inputs[key].read_bytes()
    bundle = base64.b64decode(files[f"{FIRSTBOOT}/bundle.tar.gz"]["content"])
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        names = set(tar.getnames())
    assert {
        "./deploy/install.sh",
        "./deploy/firstboot.sh",
        "./deploy/systemd/iotcs-hw.service",
        "./iotcs_hw-0.1.0-py3-none-any.whl",
        "./device-models/greenhouse.json",
    } <= names
    net = yaml.safe_load((out / "network-config").read_text())["network"]
    wlan = net["wifis"]["wlan0"]
    assert wlan["regulatory-domain"] == "DE"
    assert wlan["access-points"] == {ssid: {"password": wifi_password}}
    meta = yaml.safe_load((out / "meta-data").read_text())
    assert meta["instance-id"].startswith("iotcs-hw-")
    assert meta["local-hostname"] == "greenhouse-1"


def test_render_without_wifi_leaves_ethernet_only(
    sh: Runner, tmp_path: Path, inputs: dict[str, Path]
) -> None:
    out = tmp_path / "bootfs"
    assert render(sh, out, inputs).returncode == 0
    net = yaml.safe_load((out / "network-config").read_text())["network"]
    assert net == {"version": 2, "ethernets": {"eth0": {"dhcp4": True, "optional": True}}}


def test_rendered_user_data_passes_the_cloud_init_schema(
    sh: Runner, tmp_path: Path, inputs: dict[str, Path]
) -> None:
    if shutil.which("cloud-init") is None:
        pytest.skip("cloud-init is not installed; deploy/ci-checks.sh installs it and runs this")
    out = tmp_path / "bootfs"
    assert render(sh, out, inputs).returncode == 0
    result = sh(["cloud-init", "schema", "--config-file", out / "user-data"])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ssh-key", "hunter2"], "is not an OpenSSH public key"),
        (["--country", "Germany"], "--country 'Germany'"),
        (["--wifi-ssid", "home", "--wifi-password", "short"], "8 to 63 characters"),
        (["--hostname", "Green_House"], "--hostname 'Green_House'"),
    ],
)
def test_render_rejects_bad_input(
    sh: Runner, tmp_path: Path, inputs: dict[str, Path], args: list[str], message: str
) -> None:
    out = tmp_path / "bootfs"
    result = render(sh, out, inputs, *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert not out.exists()


def test_render_for_bookworm_writes_the_first_boot_folder(
    sh: Runner, tmp_path: Path, inputs: dict[str, Path]
) -> None:
    out = tmp_path / "bootfs"
    result = sh([
        "bash", RENDER, "--bookworm", "--out", out, "--model", inputs["model"],
        "--store", inputs["store"], "--password-file", inputs["password"],
        "--wheel", inputs["wheel"],
    ])  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = out / "iotcs-hw-firstboot"
    assert (folder / "store-password").read_bytes() == inputs["password"].read_bytes()
    assert (folder / "device.store").read_bytes() == inputs["store"].read_bytes()
    assert (folder / "model.yaml").read_bytes() == inputs["model"].read_bytes()
    bundle = folder / "bundle"
    assert (bundle / "iotcs_hw-0.1.0-py3-none-any.whl").is_file()
    assert (bundle / "device-models" / "greenhouse.json").is_file()
    unit = (bundle / "deploy" / "iotcs-hw-firstboot.service").read_text()
    assert "/boot/firmware/iotcs-hw-firstboot/bundle/deploy/firstboot.sh" in unit
    assert not (out / "user-data").exists()


FIRSTBOOT_SH = CLOUD_INIT_DIR.parent / "firstboot.sh"


def _staged(tmp_path: Path, install_exit: int) -> Path:
    """A first-boot folder whose bundle's install.sh records its arguments and exits as told."""
    stage = tmp_path / "iotcs-hw-firstboot"
    deploy = stage / "bundle" / "deploy"
    deploy.mkdir(parents=True)
    (stage / "bundle" / "iotcs_hw-0.1.0-py3-none-any.whl").write_bytes(b"wheel")
    (stage / "model.yaml").write_text("devices: []\n")
    (stage / "device.store").write_bytes(b"store")
    (stage / "store-password").write_bytes(b"pw")
    record = tmp_path / "install-args"
    (deploy / "install.sh").write_text(f'printf "%s\\n" "$@" > {record}\nexit {install_exit}\n')
    return stage


def test_firstboot_runs_install_sh_with_the_staged_files_then_deletes_them(
    sh: Runner, tmp_path: Path
) -> None:
    stage = _staged(tmp_path, 0)
    result = sh(["bash", FIRSTBOOT_SH, stage])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "install-args").read_text().splitlines() == [
        "--wheel", f"{stage}/bundle/iotcs_hw-0.1.0-py3-none-any.whl",
        "--model", f"{stage}/model.yaml",
        "--store", f"{stage}/device.store",
        "--password-file", f"{stage}/store-password",
    ]  # fmt: skip
    assert not stage.exists()  # the password is gone with it


def test_firstboot_keeps_the_folder_when_install_sh_fails(sh: Runner, tmp_path: Path) -> None:
    stage = _staged(tmp_path, 1)
    result = sh(["bash", FIRSTBOOT_SH, stage])
    assert result.returncode == 1
    assert f"{stage} kept for a retry" in result.stderr
    assert (stage / "store-password").exists()
