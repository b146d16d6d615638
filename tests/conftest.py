"""Fixtures shared by every test package."""

from __future__ import annotations

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
