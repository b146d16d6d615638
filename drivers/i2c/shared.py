"""State that several driver instances on one chip share (PCA9685 channels, PCF8574 lines).

A chip driven by several instances (one per channel or line) needs one copy of what the chip
cannot report back: the PCF8574's output latch (a read returns pin levels, not the latch) and
the PCA9685's agreed PWM frequency.  The key is the bus number and address; for buses that are not
real ``/dev/i2c-N`` files (simulated ones) the bus object itself, held weakly, so separate
simulations never share state.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from drivers.i2c.bus import I2CBus

_lock = threading.Lock()
#: Real buses, by (bus number, address).
_real: dict[tuple[Any, int], ChipState] = {}
#: Other bus objects (simulated), held weakly: a bus that is gone takes its chips' state along,
#: and a new bus object that happens to reuse the id never sees it.
_other: weakref.WeakKeyDictionary[Any, dict[int, ChipState]] = weakref.WeakKeyDictionary()


@dataclass
class ChipState:
    """What the instances of one chip agree on, and how many are alive."""

    users: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)


def _slot(bus: I2CBus, address: int) -> tuple[dict[Any, ChipState], Any]:
    """The table that holds the state of the chip at ``address`` on ``bus``, and its key there.

    Call with ``_lock`` held.
    """
    smbus = bus.smbus
    if type(smbus).__module__.split(".")[0] == "smbus2":
        return _real, (bus.bus_id, address)
    table = _other.get(smbus)
    if table is None:
        table = _other[smbus] = {}
    return table, address


def acquire(bus: I2CBus, address: int) -> ChipState:
    """Register one more user of the chip and return the shared state."""
    with _lock:
        table, key = _slot(bus, address)
        state = table.get(key)
        if state is None:
            state = table[key] = ChipState()
        state.users += 1
        return state


def release(bus: I2CBus, address: int) -> None:
    """One user fewer; the state is forgotten with the last one."""
    with _lock:
        table, key = _slot(bus, address)
        state = table.get(key)
        if state is None:
            return
        state.users -= 1
        if state.users <= 0:
            del table[key]
