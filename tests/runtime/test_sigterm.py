"""SIGTERM during sampling, to a real ``iotcs-hw run --simulate`` process: the actuators go to
their safe states, the outbox is flushed or kept, and the process exits 0."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).parent / "data"


def read_until(proc: subprocess.Popen[str], needle: str, timeout_s: float) -> str:
    """Read the child's stdout until a line contains ``needle`` (bounded)."""
    assert proc.stdout is not None
    seen = []
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return "".join(seen)
    raise AssertionError(f"{needle!r} not seen within {timeout_s} s; output:\n{''.join(seen)}")


def test_sigterm_during_sampling_applies_safe_states_and_exits_0(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("mini.yaml", "mini.json", "mini.rules.yaml"):
        shutil.copy(DATA / name, models / name)
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    command = [
        sys.executable,
        "-m",
        "iotcs_hw.cli.main",
        "run",
        str(models / "mini.yaml"),
        "--simulate",
        "--state-dir",
        str(state),
        "--time-scale",
        "100",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        read_until(proc, "CLOUD  fan=true", 60)  # sampling, and the loop is running
        read_until(proc, "WRITE  fan=true", 30)  # the cloud's write moved the relay
        read_until(proc, "DATA   temperature=", 30)  # still sampling (every 0.1 s)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SAFE   fan=false  (SIGTERM)" in out
    assert "stopped (SIGTERM); safe states applied" in out
    assert "Traceback" not in err
    # what was not acknowledged is kept for the next start; the outbox survives the process
    assert (state / "outbox").is_dir()


def test_cloud_write_from_another_terminal_moves_an_actuator(tmp_path: Path) -> None:
    """What the README shows: run the greenhouse, write from a second command, see it move."""
    models = tmp_path / "models"
    models.mkdir()
    repo_models = Path(__file__).resolve().parents[2] / "device_models"
    for name in ("greenhouse.yaml", "greenhouse.json"):  # no rules: only our write moves it
        shutil.copy(repo_models / name, models / name)
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    run = [
        sys.executable,
        "-m",
        "iotcs_hw.cli.main",
        "run",
        str(models / "greenhouse.yaml"),
        "--simulate",
        "--state-dir",
        str(state),
        "--health-port",
        "0",
    ]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        seen = read_until(proc, "endpoint 0-", 60)
        endpoint = seen.rsplit("endpoint ", 1)[1].split()[0]
        read_until(proc, "DATA   temperature=", 30)
        write = subprocess.run(
            [
                sys.executable,
                "-m",
                "iotcs_hw.cli.main",
                "cloud",
                "write",
                "--data",
                str(state / "cloud"),
                endpoint,
                "vent=45",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert write.returncode == 0, write.stderr
        read_until(proc, "WRITE  vent=45  (from the cloud)", 30)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SAFE   vent=0  (SIGTERM)" in out
