"""State that several driver instances on one chip share (PCA9685 channels, PCF8574 lines).

A chip driven by several instances (one per channel or line) needs one copy of what the chip
cannot report back: the PCF8574's output latch (a read returns pin levels, not the latch) and
the PCA9685's agreed PWM frequency.  The key is the bus and address; for buses that are not
real ``/dev/i2c-N`` files (simulated ones) the bus object itself, so separate simulations do not
share state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from drivers.i2c.bus import I2CBus

_lock = threading.Lock()
_chips: dict[tuple[Any, int], ChipState] = {}


@dataclass
class ChipState:
    """What the instances of one chip agree on, and how many are alive."""

    users: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


def chip_key(bus: I2CBus, address: int) -> tuple[Any, int]:
    """``(bus number, address)`` for real buses, ``(id(bus object), address)`` otherwise."""
    smbus = bus.smbus
    real = type(smbus).__module__.split(".")[0] == "smbus2"
    return (bus.bus_id if real else ("object", id(smbus)), address)


def acquire(bus: I2CBus, address: int) -> ChipState:
    """Register one more user of the chip and return the shared state."""
    with _lock:
        key = chip_key(bus, address)
        state = _chips.get(key)
        if state is None:
            state = _chips[key] = ChipState()
        state.users += 1
        return state


def release(bus: I2CBus, address: int) -> None:
    """One user fewer; the state is forgotten with the last one."""
    with _lock:
        key = chip_key(bus, address)
        state = _chips.get(key)
        if state is None:
            return
        state.users -= 1
        if state.users <= 0:
            del _chips[key]
