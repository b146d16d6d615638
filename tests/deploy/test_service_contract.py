"""What the systemd unit relies on from ``iotcs-hw run``: a missing store is exit status 2 and
one clear line, so that ``RestartPreventExitStatus=2`` stops the service instead of a restart loop.

Runs against this checkout's real ``iotcs-hw`` and example model file; skips (saying why) until
the runtime that provides them is in the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

Runner = Callable[..., subprocess.CompletedProcess[str]]
REPO_DIR = Path(__file__).resolve().parents[2]
GREENHOUSE = REPO_DIR / "device_models" / "greenhouse.yaml"
UNIT = REPO_DIR / "deploy" / "systemd" / "iotcs-hw.service"


def test_a_missing_store_is_exit_2_with_one_line_and_no_traceback(
    sh: Runner, tmp_path: Path
) -> None:
    real = shutil.which("iotcs-hw", path=str(REPO_DIR / ".venv" / "bin"))
    if real is None or sh([real, "run", "--help"]).returncode != 0:
        pytest.skip("this checkout's iotcs-hw has no 'run' command yet (the runtime issue adds it)")
    if not GREENHOUSE.is_file():
        pytest.skip(f"{GREENHOUSE} is not in this checkout yet (the runtime issue adds it)")
    doc = yaml.safe_load(GREENHOUSE.read_text())
    missing = tmp_path / "state" / "device.store"
    doc["store"] = {**(doc.get("store") or {}), "path": str(missing)}
    doc["store"].pop("password_file", None)
    # The example's device models may be found relative to it: keep it beside a copy of them.
    models = shutil.copytree(GREENHOUSE.parent, tmp_path / "device_models")
    model = models / "missing-store.yaml"
    model.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = sh(
        [real, "run", model],
        env={
            "IOTCS_HW_STORE_PASSWORD": "changeit",
            "GPIOZERO_PIN_FACTORY": "mock",
        },
        cwd=tmp_path,
        timeout=60,
    )
    assert "RestartPreventExitStatus=2 243" in UNIT.read_text()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert str(missing) in lines[0]
