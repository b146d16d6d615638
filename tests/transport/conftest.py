"""Fixtures for the transport tests: the Oracle vectors, decoded once per test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "changeit"


@pytest.fixture
def js_outputs(vectors_dir: Path) -> dict[str, Any]:
    """``oracle-js-outputs.json``: assertions, activation signature and token body."""
    data: dict[str, Any] = json.loads((vectors_dir / "oracle-js-outputs.json").read_text())
    return data


@pytest.fixture
def unified_vector(vectors_dir: Path) -> Path:
    """The activated unified store produced by Oracle's JS library."""
    return vectors_dir / "unified-store-activated.bin"
