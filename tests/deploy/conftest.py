"""Fixtures for the deploy tests: the scripts under ``deploy/``, scratch roots, tool skips.

The checks need Debian tools (shellcheck, systemd-analyze, cloud-init) that the README's test
command does not install; their tests skip with the reason, and ``deploy/ci-checks.sh`` installs
the tools and runs this folder again so that in CI they really run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_DIR / "deploy"
INSTALL_SH = DEPLOY_DIR / "install.sh"
CI_CHECKS = DEPLOY_DIR / "ci-checks.sh"

TRIXIE_OS_RELEASE = 'PRETTY_NAME="Raspberry Pi OS (trixie)"\nID=debian\nVERSION_CODENAME=trixie\n'


def require_tool(name: str, why: str) -> None:
    """Skip the calling test, saying why, when ``name`` is not on PATH."""
    if shutil.which(name) is None:
        pytest.skip(
            f"{name} is not installed ({why}); deploy/ci-checks.sh installs it and runs this again"
        )


def require_root() -> None:
    """install.sh sets owners and modes of the files it places: that needs root."""
    if os.geteuid() != 0:
        pytest.skip("install.sh into a scratch root sets file owners: run as root")


def run(
    args: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; never raises on a non-zero exit."""
    full_env = dict(os.environ)
    full_env.pop("IOTCS_HW_BIN", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def need() -> Callable[[str, str], None]:
    """``need("shellcheck", "why")`` skips the test with a clear reason when the tool is absent."""
    return require_tool


@pytest.fixture
def as_root() -> None:
    """Skip unless root (install.sh sets owners of what it places)."""
    require_root()


@pytest.fixture
def sh() -> Runner:
    """``sh(args, env=...)``: run a command, capture text output, never raise on failure."""
    return run


@pytest.fixture
def tree() -> Callable[[Path], dict[str, tuple[int, int, int, bytes | str]]]:
    """``tree(root)``: snapshot of every path under root (mode, owner, content)."""
    return snapshot


@pytest.fixture
def ci_check() -> Runner:
    """``ci_check("verify", unit)`` runs one check of deploy/ci-checks.sh on given files."""

    def _run(check: str, *files: Path) -> subprocess.CompletedProcess[str]:
        return run(["bash", CI_CHECKS, check, *files])

    return _run


@pytest.fixture
def scratch_root(tmp_path: Path) -> Path:
    """An empty Trixie root with a Raspberry Pi ``config.txt``, as install.sh --root expects."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(TRIXIE_OS_RELEASE)
    (root / "boot" / "firmware" / "config.txt").write_text("# config.txt\ndtparam=audio=on\n")
    return root


def snapshot(root: Path) -> dict[str, tuple[int, int, int, bytes | str]]:
    """Every path under ``root`` with mode, owner, group and content (or link target)."""
    state: dict[str, tuple[int, int, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            body: bytes | str = os.readlink(path)
        elif path.is_file():
            body = path.read_bytes()
        else:
            body = "<dir>"
        state[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, body)
    return state


def write_exe(path: Path, text: str) -> Path:
    """Write an executable shell script."""
    path.write_text(text)
    path.chmod(0o755)
    return path
