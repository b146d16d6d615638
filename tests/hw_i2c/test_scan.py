"""i2cdetect-style probing: which probe at which address, nothing written, busy addresses."""

from __future__ import annotations

import errno

from drivers.i2c.bus import I2CBus
from drivers.i2c.scan import Found, grid, probe_kind, scan
from drivers.sim.chips.clock import VirtualClock
from drivers.sim.chips.mcp9808 import MCP9808Model
from drivers.sim.chips.population import populated_bus
from drivers.sim.smbus import SimSMBus


def test_probe_rules_follow_i2cdetect() -> None:
    addresses = (0x08, 0x2F, 0x30, 0x37, 0x38, 0x4F, 0x50, 0x5F, 0x60, 0x77)
    assert [probe_kind(a) for a in addresses] == [
        "quick", "quick", "read", "read", "quick", "quick", "read", "read", "quick", "quick",
    ]  # fmt: skip


def test_scan_writes_no_data_byte_to_any_chip() -> None:
    sim = populated_bus(1, clock=VirtualClock())
    found = scan(I2CBus(sim, bus_id=1))
    assert [f.address for f in found] == [
        0x18,
        0x20,
        0x23,
        0x40,
        0x41,
        0x44,
        0x45,
        0x48,
        0x76,
        0x77,
    ]
    assert len(sim.history) == 0x77 - 0x08 + 1
    for transfer in sim.history:
        kinds = {p.kind for p in transfer.pieces}
        assert kinds <= {"q", "r"}, transfer
        assert all(p.data == b"" for p in transfer.pieces if p.kind == "q")


def test_eeprom_range_is_probed_by_reading(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x50, MCP9808Model())
    found = scan(I2CBus(sim_bus, bus_id=1))
    assert found == [Found(0x50, "read")]
    assert found[0].usual_chips == ("(EEPROM)",)
    assert [t.call for t in sim_bus.history if t.address == 0x50] == ["read_byte"]


def test_address_owned_by_a_kernel_driver_shows_uu(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    sim_bus.faults(0x18).fail_next(1, code=errno.EBUSY)
    found = scan(I2CBus(sim_bus, bus_id=1))
    assert found == [Found(0x18, "quick", busy=True)]
    assert "10: -- -- -- -- -- -- -- -- UU --" in grid(found)


def test_grid_layout() -> None:
    lines = grid([Found(0x76, "quick")]).splitlines()
    assert lines[0] == "      0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f"
    assert lines[1] == "00:                         -- -- -- -- -- -- -- --"
    assert lines[8] == "70: -- -- -- -- -- -- 76 --                        "
