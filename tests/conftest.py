"""Fixtures shared by every test package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

#: ``shared/`` sits beside the checkout, for developers and for CI alike.
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
VECTORS_DIR = SHARED_DIR / "vectors"
REPO_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def vectors_dir() -> Path:
    """The folder of Oracle-produced interoperability vectors; fails loudly if absent."""
    if not VECTORS_DIR.is_dir():
        pytest.fail(f"{VECTORS_DIR} is missing: shared/ must sit beside the checkout")
    return VECTORS_DIR


# --------------------------------------------------------------------------- local server TLS


@pytest.fixture(scope="session")
def tls_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local server's CA and host certificate, made once per session for every package.

    RSA key generation is the slow part of starting a server, so each test copies these
    files (``cloud_dir``) instead of making its own.  The certificate is issued for
    127.0.0.1 first, the host ``LocalCloud`` serves on, so no server reissues it per test.
    """
    from iotcs_hw.cloud.tls import ensure_tls

    path = tmp_path_factory.mktemp("tls")
    ensure_tls(path, ("127.0.0.1",))
    return path


@pytest.fixture
def cloud_dir(tmp_path: Path, tls_template: Path) -> Path:
    """A fresh local server data directory holding the session's TLS material."""
    from iotcs_hw.cloud.tls import CA_CERT, CA_KEY, HOST_CERT, HOST_KEY

    path = tmp_path / "cloud"
    path.mkdir()
    for name in (CA_CERT, CA_KEY, HOST_CERT, HOST_KEY):
        shutil.copy2(tls_template / name, path / name)
    return path
