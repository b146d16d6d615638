"""Fixtures of the I2C tests: a simulated bus on a virtual clock and a settable physics source."""

from __future__ import annotations

import pytest

from drivers.sim.chips.clock import VirtualClock
from drivers.sim.physics import FixedValues
from drivers.sim.smbus import SimSMBus


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock starting at t = 100 s."""
    return VirtualClock(100.0)


@pytest.fixture
def sim_bus(clock: VirtualClock) -> SimSMBus:
    """An empty simulated bus 1 on the virtual clock."""
    return SimSMBus(1, clock=clock)


@pytest.fixture
def physics() -> FixedValues:
    """Physical values at their defaults; tests set what they need."""
    return FixedValues()
