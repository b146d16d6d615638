"""The systemd units say what the issue asks of them, and the template differs only per instance."""

from __future__ import annotations

from pathlib import Path

import pytest

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
DEPLOY_DIR = SYSTEMD_DIR.parent


def directives(path: Path) -> dict[tuple[str, str], list[str]]:
    """``(section, key) -> [values]`` in file order; systemd allows a key more than once."""
    out: dict[tuple[str, str], list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key), []).append(value)
    return out


@pytest.fixture(params=["iotcs-hw.service", "iotcs-hw@.service"])
def unit(request: pytest.FixtureRequest) -> dict[tuple[str, str], list[str]]:
    return directives(SYSTEMD_DIR / request.param)


REQUIRED_SERVICE = {
    "Type": ["notify"],
    "Restart": ["on-failure"],
    "UMask": ["0077"],
    "DevicePolicy": ["closed"],
    "DeviceAllow": ["char-gpiochip rw", "char-i2c rw", "char-spi rw"],
    "CapabilityBoundingSet": [""],
    "NoNewPrivileges": ["yes"],
    "ProtectSystem": ["strict"],
    "ProtectHome": ["yes"],
    "PrivateTmp": ["yes"],
    "ProtectKernelTunables": ["yes"],
    "ProtectKernelModules": ["yes"],
    "ProtectKernelLogs": ["yes"],
    "RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6"],
    "User": ["iotcs-hw"],
}


def test_service_section_has_the_required_settings(
    unit: dict[tuple[str, str], list[str]],
) -> None:
    for key, values in REQUIRED_SERVICE.items():
        assert unit.get(("Service", key)) == values, key
    assert unit[("Service", "SystemCallFilter")][0] == "@system-service"
    assert int(unit[("Service", "WatchdogSec")][0]) > 0
    assert unit[("Service", "StateDirectory")][0].startswith("iotcs-hw")
    assert unit[("Service", "ConfigurationDirectory")] == ["iotcs-hw"]
    assert unit[("Service", "RuntimeDirectory")][0].startswith("iotcs-hw")
    assert unit[("Service", "Environment")][0].startswith("LG_WD=%t/iotcs-hw")
    assert unit[("Service", "LoadCredential")][0].startswith("iotcs-store-password:/etc/iotcs-hw/")
    # A problem a person must fix (exit 2) or a missing credential is not retried in a loop.
    assert unit[("Service", "RestartPreventExitStatus")] == ["2 243"]


def test_unit_section_waits_for_time_and_network_and_limits_restarts(
    unit: dict[tuple[str, str], list[str]],
) -> None:
    after = unit[("Unit", "After")][0].split()
    assert {"time-sync.target", "network-online.target"} <= set(after)
    assert int(unit[("Unit", "StartLimitBurst")][0]) > 0
    assert int(unit[("Unit", "StartLimitIntervalSec")][0]) > 0
    assert unit[("Install", "WantedBy")] == ["multi-user.target"]


def test_template_differs_from_the_unit_only_in_instance_paths() -> None:
    single = directives(SYSTEMD_DIR / "iotcs-hw.service")
    template = directives(SYSTEMD_DIR / "iotcs-hw@.service")
    assert single.keys() == template.keys()
    differing = {k for k in single if single[k] != template[k]}
    assert differing == {
        ("Unit", "Description"),
        ("Unit", "ConditionPathExists"),
        ("Service", "ExecStart"),
        ("Service", "StateDirectory"),
        ("Service", "RuntimeDirectory"),
        ("Service", "WorkingDirectory"),
        ("Service", "Environment"),
        ("Service", "LoadCredential"),
    }
    for key in differing - {("Unit", "Description")}:
        assert "%i" in template[key][0], key
    assert template[("Service", "ExecStart")] == [
        "/opt/iotcs-hw/venv/bin/iotcs-hw run /etc/iotcs-hw/%i.yaml"
    ]


def test_sysusers_puts_the_account_in_the_hardware_groups() -> None:
    lines = [
        line.split()
        for line in (DEPLOY_DIR / "sysusers.d" / "iotcs-hw.conf").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0][:2] == ["u", "iotcs-hw"]
    assert sorted(line[2] for line in lines if line[0] == "m") == ["gpio", "i2c", "spi"]


def test_tmpfiles_keeps_state_private_and_configuration_group_readable() -> None:
    lines = [
        line.split()
        for line in (DEPLOY_DIR / "tmpfiles.d" / "iotcs-hw.conf").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ["d", "/etc/iotcs-hw", "0750", "root", "iotcs-hw", "-"] in lines
    assert ["d", "/var/lib/iotcs-hw", "0700", "iotcs-hw", "iotcs-hw", "-"] in lines
