"""install.sh for real, inside a fresh Debian root filesystem built by mmdebstrap (slow, ~4 min).

What the scratch-root tests cannot show: apt-get, systemd-sysusers, the venv with
``--system-site-packages`` and pip installing the wheel, all run by install.sh inside a real
Debian system (a chroot that mmdebstrap sets up with /proc, /dev and networking for its hooks).

The issue asks for an arm64 root under qemu-user. Running foreign binaries needs a qemu handler
registered in the kernel's binfmt_misc, which is global to the host kernel: this sandbox must not
change it, so the root here has the host's architecture (install.sh is told ``--arch arm64``).
On a machine with qemu-user-static registered, ``IOTCS_HW_ROOTFS_ARCH=arm64`` builds an arm64
root instead (not run here; lgpio then comes from PyPI and needs network or a downloaded wheel).
python3-lgpio is not in Debian (only the Raspberry Pi archive has it): install.sh's fallback to
PyPI's lgpio (the ``[pi]`` extra) is what runs; raspi-config is absent, so config.txt is edited.
The Python dependencies are downloaded on the host first (``pip download``) and installed in the
chroot from that folder (``PIP_NO_INDEX``), as an offline image build would.

Run with: ``.venv/bin/python -m pytest -m slow tests/deploy/test_rootfs_slow.py``
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]
REPO_DIR = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
PACKAGES = "python3,python3-venv,systemd,ca-certificates,python3-yaml,python3-requests"


def logged(command: str, log: str) -> str:
    """A hook running ``command``, its output kept in the root's /root/t/LOG, shown on failure.

    (Not /tmp: mmdebstrap empties the root's /tmp when it finishes.)
    """
    return f'{command} > "$1/root/t/{log}" 2>&1 || {{ cat "$1/root/t/{log}"; exit 1; }}'


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_install_sh_inside_a_debian_root_filesystem(tmp_path: Path, sh: Runner) -> None:
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (apt-get install mmdebstrap)")
    if os.geteuid() != 0:
        pytest.skip("mmdebstrap's root mode and chroot need root")
    stage = tmp_path / "stage"
    wheels = stage / "wheels"
    built = sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, REPO_DIR])
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("iotcs_hw-*.whl")
    fetched = sh([sys.executable, "-m", "pip", "download", "-q", "-d", wheels, wheel])
    assert fetched.returncode == 0, fetched.stderr
    shutil.copytree(REPO_DIR / "deploy", stage / "deploy")
    deb = sh(["bash", REPO_DIR / "deploy/deb/build-deb.sh", "--wheel", wheel, "--out", stage])
    assert deb.returncode == 0, deb.stderr
    deb_name = Path(deb.stdout.strip()).name
    (stage / "store-password").write_text("changeit\n")

    inside = "/tmp/stage"
    install = (
        f"PIP_NO_INDEX=1 PIP_FIND_LINKS={inside}/wheels bash {inside}/deploy/install.sh"
        f" --arch arm64 --wheel {inside}/wheels/{wheel.name} --interfaces i2c"
        f" --password-file {inside}/store-password"
    )
    root = tmp_path / "root"
    arch = os.environ.get("IOTCS_HW_ROOTFS_ARCH")
    venv = "/opt/iotcs-hw/venv/bin"
    imports = "import cryptography, yaml, requests, gpiozero, apscheduler, smbus2; "
    imports += "print(cryptography.__file__)"
    hooks = [
        'mkdir -p "$1/boot/firmware" "$1/root/t"',
        'echo "# config.txt" > "$1/boot/firmware/config.txt"',
        f"copy-in {stage} /tmp",
        logged(f'chroot "$1" sh -c "{install}"', "first.log"),
        logged(f'chroot "$1" sh -c "{install}"', "second.log"),
        f'chroot "$1" {venv}/iotcs-hw --version > "$1/root/t/version"',
        f'chroot "$1" {venv}/python -c \'{imports}\' > "$1/root/t/imports"',
        'cp -a "$1/etc/passwd" "$1/etc/group" "$1/boot/firmware/config.txt" "$1/root/t/"',
        'cp -P "$1/etc/systemd/system/multi-user.target.wants/iotcs-hw.service" "$1/root/t/wants"',
        logged(f'chroot "$1" bash {inside}/deploy/install.sh --uninstall --purge', "purge.log"),
        # The .deb: postinst runs install.sh; purge takes everything away again.
        logged(
            f'chroot "$1" sh -c "IOTCS_HW_ARCH=arm64 PIP_NO_INDEX=1 PIP_FIND_LINKS={inside}/wheels'
            f' apt-get install -y {inside}/{deb_name}"',
            "deb.log",
        ),
        f'chroot "$1" {venv}/iotcs-hw --version > "$1/root/t/deb-version"',
        logged('chroot "$1" apt-get purge -y iotcs-hw', "deb-purge.log"),
        'cd "$1" && ls -d opt/iotcs-hw etc/iotcs-hw usr/local/lib/systemd/system/iotcs-hw.service'
        " > root/t/left-after-purge 2>/dev/null || true",
    ]
    # A private mount namespace: the mounts mmdebstrap makes for its hooks die with it, even if
    # the run is killed half way.
    command: list[str | Path] = ["unshare", "--mount", "--propagation", "private"]
    command += ["mmdebstrap", "--variant=apt", f"--include={PACKAGES}"]
    if arch:
        command.append(f"--architectures={arch}")
    for hook in hooks:
        command += ["--customize-hook", hook]
    result = sh([*command, SUITE, root], timeout=840)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    first = (root / "root/t/first.log").read_text()
    second = (root / "root/t/second.log").read_text()
    assert "install.sh: done" in first, first
    assert "image build" in first  # the chroot is detected: no live changes attempted
    assert "lgpio comes from PyPI instead" in first
    assert "reusing /opt/iotcs-hw/venv" in second
    assert "installed:" not in second, second  # nothing differs on the second run
    assert (root / "root/t/version").read_text().startswith("iotcs-hw ")
    # --system-site-packages: cryptography is Debian's, not a wheel in the venv.
    assert (root / "root/t/imports").read_text().startswith("/usr/lib/python3/dist-packages/")

    passwd = (root / "root/t/passwd").read_text()
    assert any(
        line.startswith("iotcs-hw:") and line.endswith(":/usr/sbin/nologin")
        for line in passwd.splitlines()
    )
    group = {
        line.split(":")[0]: line.split(":")[3]
        for line in (root / "root/t/group").read_text().splitlines()
    }
    assert all("iotcs-hw" in group[g].split(",") for g in ("gpio", "i2c", "spi"))
    assert os.readlink(root / "root/t/wants") == "/usr/local/lib/systemd/system/iotcs-hw.service"
    assert "dtparam=i2c_arm=on" in (root / "root/t/config.txt").read_text().splitlines()

    assert "install.sh: uninstalled" in (root / "root/t/purge.log").read_text()
    assert "Setting up iotcs-hw" in (root / "root/t/deb.log").read_text()
    assert (root / "root/t/deb-version").read_text().startswith("iotcs-hw ")
    assert (root / "root/t/left-after-purge").read_text() == ""
    assert "iotcs-hw:" not in (root / "etc/passwd").read_text()
