"""Fixtures for the model-file tests: the greenhouse files and a checker for YAML snippets."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from iotcs_hw.runtime.config import ModelDirectory, ModelFile, ModelFileError, parse_text

REPO_DIR = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_DIR / "device_models"
GREENHOUSE_YAML = MODELS_DIR / "greenhouse.yaml"
GREENHOUSE_JSON = MODELS_DIR / "greenhouse.json"
HERE = Path(__file__).resolve().parent

#: A minimal valid head for snippets: store plus one greenhouse device.
HEAD = """\
store: {path: /tmp/x.conf}
devices:
  - id: gh
    model: urn:com:iotcshw:device:greenhouse
"""

Check = Callable[[str], ModelFile]
Problems = Callable[[str], list[str]]


@pytest.fixture(scope="session")
def models() -> ModelDirectory:
    """The repository's device models."""
    return ModelDirectory(MODELS_DIR)


@pytest.fixture
def check(models: ModelDirectory) -> Check:
    """Parse a snippet (dedented) against the greenhouse model; raises ModelFileError."""

    def run(text: str) -> ModelFile:
        return parse_text(textwrap.dedent(text), "snippet.yaml", models=models)

    return run


@pytest.fixture
def problems(check: Check) -> Problems:
    """The diagnostics of a snippet as ``LINE:COLUMN: message`` strings (must be invalid)."""

    def run(text: str) -> list[str]:
        with pytest.raises(ModelFileError) as info:
            check(text)
        return [f"{d.line}:{d.column}: {d.message}" for d in info.value.diagnostics]

    return run
