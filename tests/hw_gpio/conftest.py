"""Fixtures for the GPIO / 1-Wire / environment tests: one fresh mock factory per test."""

from __future__ import annotations

from collections.abc import Iterator

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory

from drivers.sim.pins import mock_factory


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """A fresh mock factory; the test fails if anything assigned gpiozero's global factory."""
    before = gpiozero.Device.pin_factory
    made = mock_factory()
    yield made
    made.close()
    assert gpiozero.Device.pin_factory is before, "a driver changed Device.pin_factory"
