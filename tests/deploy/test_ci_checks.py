"""Each check of deploy/ci-checks.sh passes on the real file and fails on a broken one.

A check that cannot fail proves nothing, so every check here meets one file broken in a way a
person could plausibly break it. The tools come from Debian; without them these tests skip with
the reason, and deploy/ci-checks.sh runs them again after installing the tools.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

Runner = Callable[..., subprocess.CompletedProcess[str]]
Need = Callable[[str, str], None]
DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"

UNIT = DEPLOY_DIR / "systemd" / "iotcs-hw.service"
TEMPLATE = DEPLOY_DIR / "systemd" / "iotcs-hw@.service"
USER_DATA = DEPLOY_DIR / "cloud-init" / "user-data"
NETWORK_CONFIG = DEPLOY_DIR / "cloud-init" / "network-config"


def _broken(tmp_path: Path, source: Path, old: str, new: str, name: str | None = None) -> Path:
    text = source.read_text()
    assert old in text, f"{old!r} not in {source}: the test no longer breaks anything"
    out = tmp_path / (name or source.name)
    out.write_text(text.replace(old, new, 1))
    return out


# --- shellcheck ------------------------------------------------------------------------------


def test_shellcheck_passes_every_deploy_script(ci_check: Runner, need: Need) -> None:
    need("shellcheck", "apt-get install shellcheck")
    scripts = sorted(DEPLOY_DIR.rglob("*.sh"))
    assert len(scripts) >= 4
    result = ci_check("lint", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_fails_on_an_unquoted_variable(
    ci_check: Runner, need: Need, tmp_path: Path
) -> None:
    need("shellcheck", "apt-get install shellcheck")
    broken = _broken(
        tmp_path, DEPLOY_DIR / "firstboot.sh", 'rm -rf "$dir"', "rm -rf $dir", "firstboot.sh"
    )
    result = ci_check("lint", broken)
    assert result.returncode != 0
    assert "SC2086" in result.stdout


# --- systemd-analyze verify ------------------------------------------------------------------


def test_verify_passes_both_units(ci_check: Runner, need: Need) -> None:
    need("systemd-analyze", "apt-get install systemd")
    result = ci_check("verify", UNIT, TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify: iotcs-hw@ci.service clean" in result.stdout


def test_verify_fails_on_a_misspelt_directive(ci_check: Runner, need: Need, tmp_path: Path) -> None:
    need("systemd-analyze", "apt-get install systemd")
    broken = _broken(tmp_path, UNIT, "UMask=0077", "UMsak=0077")
    result = ci_check("verify", broken)
    assert result.returncode != 0
    assert "Unknown key 'UMsak'" in result.stderr


def test_verify_fails_on_a_broken_template(ci_check: Runner, need: Need, tmp_path: Path) -> None:
    need("systemd-analyze", "apt-get install systemd")
    broken = _broken(tmp_path, TEMPLATE, "Restart=on-failure", "Restart=sometimes")
    result = ci_check("verify", broken)
    assert result.returncode != 0
    assert "sometimes" in result.stderr


# --- systemd-analyze security ----------------------------------------------------------------


def test_security_exposure_of_both_units_is_at_most_2(ci_check: Runner, need: Need) -> None:
    need("systemd-analyze", "apt-get install systemd")
    result = ci_check("security", UNIT, TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    levels = [
        float(line.split(": ")[-1].split()[0])
        for line in result.stdout.splitlines()
        if "exposure level" in line
    ]
    assert len(levels) == 2
    assert all(level <= 2.0 for level in levels), result.stdout


def test_security_fails_when_the_sandbox_is_dropped(
    ci_check: Runner, need: Need, tmp_path: Path
) -> None:
    need("systemd-analyze", "apt-get install systemd")
    text = UNIT.read_text()
    hardening = text.index("# Hardening")
    weak = tmp_path / "iotcs-hw.service"
    weak.write_text(text[:hardening] + "\n[Install]\nWantedBy=multi-user.target\n")
    result = ci_check("security", weak)
    assert result.returncode != 0
    assert "exposure above 2.0" in result.stderr


# --- cloud-init schema -----------------------------------------------------------------------


def test_user_data_template_is_valid_cloud_config(ci_check: Runner, need: Need) -> None:
    need("cloud-init", "apt-get install cloud-init")
    result = ci_check("user-data", USER_DATA)
    assert result.returncode == 0, result.stdout + result.stderr


def test_user_data_schema_fails_on_a_bad_power_state(
    ci_check: Runner, need: Need, tmp_path: Path
) -> None:
    need("cloud-init", "apt-get install cloud-init")
    broken = _broken(tmp_path, USER_DATA, "mode: reboot", "mode: restart")
    result = ci_check("user-data", broken)
    assert result.returncode != 0
    assert "power_state.mode" in result.stdout + result.stderr


# --- network-config --------------------------------------------------------------------------


def test_network_config_parses(ci_check: Runner) -> None:
    result = ci_check("network-config", NETWORK_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "version 2: ethernets, wifis" in result.stdout


def test_network_config_fails_on_broken_yaml(ci_check: Runner, tmp_path: Path) -> None:
    # A tab where YAML wants spaces: the classic hand-edit on a boot partition.
    broken = _broken(
        tmp_path,
        NETWORK_CONFIG,
        "      dhcp4: true\n      optional",
        "\tdhcp4: true\n      optional",
    )
    result = ci_check("network-config", broken)
    assert result.returncode != 0
    assert "not YAML" in result.stderr


def test_network_config_fails_without_version_2(ci_check: Runner, tmp_path: Path) -> None:
    broken = _broken(tmp_path, NETWORK_CONFIG, "version: 2", "version: 1")
    result = ci_check("network-config", broken)
    assert result.returncode != 0
    assert "netplan version 2" in result.stderr


# --- install.sh into a scratch root ----------------------------------------------------------


def test_scratch_install_passes(ci_check: Runner, need: Need, as_root: None) -> None:
    need("systemd-sysusers", "apt-get install systemd")
    result = ci_check("scratch-install")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "second run: nothing changed" in result.stdout


def test_scratch_install_fails_when_install_sh_places_a_wrong_mode(
    ci_check: Runner, need: Need, as_root: None, tmp_path: Path
) -> None:
    need("systemd-sysusers", "apt-get install systemd")
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY_DIR, deploy)
    install = deploy / "install.sh"
    text = install.read_text()
    old = 'place "$PASSWORD_FILE" "$LIVE_PASSWORD" 0600 root root'
    assert old in text
    install.write_text(text.replace(old, old.replace("0600", "0644")))
    result = ci_check("scratch-install", install)
    assert result.returncode != 0
    assert "/etc/iotcs-hw/store-password is '644 0:0', expected '600 0:0'" in result.stderr


# --- rpi-image-gen layer ---------------------------------------------------------------------

LAYER = DEPLOY_DIR / "image" / "layer" / "iotcs-hw.yaml"


def test_image_layer_passes(ci_check: Runner, need: Need) -> None:
    need("shellcheck", "apt-get install shellcheck")
    result = ci_check("image-layer", LAYER)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_layer_fails_on_a_hook_with_a_bash_only_construct(
    ci_check: Runner, need: Need, tmp_path: Path
) -> None:
    need("shellcheck", "apt-get install shellcheck")
    broken = _broken(
        tmp_path,
        LAYER,
        'if [ -n "${IGconf_iotcshw_model:-}" ]',
        'if [[ -n "${IGconf_iotcshw_model:-}" ]]',
    )
    result = ci_check("image-layer", broken)
    assert result.returncode != 0
    assert "SC3010" in result.stdout


# --- .deb ------------------------------------------------------------------------------------


def test_deb_check_passes(ci_check: Runner, need: Need) -> None:
    need("dpkg-deb", "apt-get install dpkg")
    result = ci_check("deb")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deb: iotcs-hw_0.1.0_all.deb has the wheel" in result.stdout


def test_deb_check_fails_when_the_units_are_left_out(
    ci_check: Runner, need: Need, tmp_path: Path
) -> None:
    need("dpkg-deb", "apt-get install dpkg")
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY_DIR, deploy, ignore=shutil.ignore_patterns("image"))
    build = deploy / "deb" / "build-deb.sh"
    build.write_text(
        build.read_text().replace("for d in systemd sysusers.d", "for d in sysusers.d")
    )
    result = ci_check("deb", build)
    assert result.returncode != 0
    assert (
        "deb: missing '-rw-r--r-- root/root ./opt/iotcs-hw/share/deploy/systemd/iotcs-hw.service'"
        in result.stderr
    )
