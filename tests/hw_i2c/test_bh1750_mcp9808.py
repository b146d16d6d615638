"""BH1750 and MCP9808: worked examples, chip behaviour and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ChipIdMismatch, DriverConfigError
from drivers.i2c import bh1750, mcp9808
from drivers.i2c.bh1750 import BH1750
from drivers.i2c.mcp9808 import MCP9808
from drivers.sim.chips.bh1750 import BH1750Model, count_for
from drivers.sim.chips.clock import VirtualClock
from drivers.sim.chips.mcp9808 import MCP9808Model
from drivers.sim.physics import FixedValues
from drivers.sim.smbus import SimSMBus

# --- BH1750 -----------------------------------------------------------------------------------


def test_bh1750_datasheet_example() -> None:
    assert round(bh1750.lux_from_count(0b1000_0011_1001_0000)) == 28067


@pytest.mark.parametrize(
    ("count", "mode", "mtreg", "lux"),
    [
        (1000, "high", 69, 833.33),
        (1000, "high2", 69, 416.67),
        (1000, "high", 138, 416.67),
        (1000, "high", 31, 1854.84),
    ],
)
def test_bh1750_computed_examples(count: int, mode: str, mtreg: int, lux: float) -> None:
    assert bh1750.lux_from_count(count, mode=mode, mtreg=mtreg) == pytest.approx(lux, abs=0.005)


def test_bh1750_mtreg_opcodes() -> None:
    assert bh1750.mtreg_opcodes(69) == (0x42, 0x65)
    assert bh1750.mtreg_opcodes(254) == (0x47, 0x7E)
    assert bh1750.mtreg_opcodes(31) == (0x40, 0x7F)


def test_bh1750_inverse_example() -> None:
    assert count_for(500.0, "h", 69) == 0x0258


def test_bh1750_early_read_returns_the_previous_value(
    sim_bus: SimSMBus, clock: VirtualClock
) -> None:
    physics = FixedValues(light=500.0)
    sim_bus.attach(0x23, BH1750Model(physics=physics))
    sim_bus.write_byte(0x23, 0x20)  # one-time H
    clock.advance(0.100)
    from smbus2 import i2c_msg

    msg = i2c_msg.read(0x23, 2)
    sim_bus.i2c_rdwr(msg)
    assert bytes(msg) == b"\x00\x00"
    clock.advance(0.080)
    sim_bus.i2c_rdwr(msg)
    assert bytes(msg) == b"\x02\x58"
    physics.set("light", 1000.0)
    clock.advance(1.0)
    sim_bus.i2c_rdwr(msg)
    assert bytes(msg) == b"\x02\x58"  # one-time mode powered down: still the old value


def test_bh1750_smbus_register_read_sends_an_opcode(sim_bus: SimSMBus, clock: VirtualClock) -> None:
    """The pitfall of pages E.10: a "register" read writes its command byte as an opcode."""
    sim_bus.attach(0x23, BH1750Model(physics=FixedValues(light=500.0)))
    sim_bus.write_byte(0x23, 0x10)  # continuous H
    clock.advance(0.100)
    sim_bus.read_i2c_block_data(0x23, 0x00, 2)  # sends 0x00 = Power Down mid-conversion
    clock.advance(1.0)
    assert sim_bus.read_i2c_block_data(0x23, 0x01, 2) == [0, 0]  # never finished


def test_bh1750_driver_transfers(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x5C, BH1750Model(physics=FixedValues(light=500.0)))
    sensor = BH1750(bus=sim_bus, address=0x5C)
    sim_bus.clear_history()
    assert sensor.read() == {"light": 500.0}
    wire = [[(p.kind, p.data.hex()) for p in t.pieces] for t in sim_bus.history]
    assert wire == [[("w", "20")], [("r", "0258")]]


def test_bh1750_bad_mtreg() -> None:
    with pytest.raises(
        DriverConfigError, match=r"bh1750: option 'mtreg' = 300 is not valid; valid: 31\.\.254"
    ):
        BH1750.simulated(mtreg=300)


def test_bh1750_rejects_a_chip_that_does_not_clear_on_reset(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x23, MCP9808Model())  # answers 2-byte reads with something non-zero
    model = sim_bus.chip_at(0x23)
    assert model is not None
    with pytest.raises(
        ChipIdMismatch, match=r"found data 0x[0-9a-f]{4} right after Reset, expected 0x0000"
    ):
        BH1750(bus=sim_bus)


@settings(max_examples=60, deadline=None)
@given(
    lux=st.floats(min_value=0.0, max_value=54000.0),
    mode=st.sampled_from(["high", "high2", "low"]),
    mtreg=st.sampled_from([31, 69, 138, 254]),
)
def test_bh1750_round_trip(lux: float, mode: str, mtreg: int) -> None:
    counts_per_lux = 1.2 * mtreg / 69 * (2 if mode == "high2" else 1)
    full_scale = 65535 / counts_per_lux
    sensor = BH1750.simulated(physics=FixedValues(light=lux), mode=mode, mtreg=mtreg)
    reading = sensor.read()["light"]
    if lux > full_scale:
        assert reading == pytest.approx(full_scale, abs=0.01)
    else:
        step = 1 / counts_per_lux + (2.0 if mode == "low" else 0.0)
        assert reading == pytest.approx(lux, abs=step / 2 + 0.001 + (2.0 if mode == "low" else 0))


# --- MCP9808 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "celsius"),
    [
        (0x0190, 25.0),
        (0xC190, 25.0),
        (0x01A4, 26.25),
        (0x1FF0, -1.0),
        (0x1E70, -25.0),
        (0x1FFF, -0.0625),
    ],
)
def test_mcp9808_worked_examples(word: int, celsius: float) -> None:
    assert mcp9808.ambient_celsius(word) == celsius


@pytest.mark.parametrize(("celsius", "word"), [(30.0, 0x01E0), (-10.0, 0x1F60), (26.25, 0x01A4)])
def test_mcp9808_limit_encoding(celsius: float, word: int) -> None:
    assert mcp9808.limit_word(celsius) == word
    assert mcp9808.limit_celsius(word) == celsius


@pytest.mark.parametrize(
    ("celsius", "word"),
    [
        (25.0, 0x0190),
        (22.5625, 0x0169),
        (-0.0625, 0x1FFF),
        (-10.0, 0x1F60),
        (-40.0, 0x1D80),
        (125.0, 0x07D0),
    ],
)
def test_mcp9808_simulator_encoding(celsius: float, word: int) -> None:
    assert MCP9808Model().encode_ambient(celsius) & 0x1FFF == word  # flags aside


def test_mcp9808_reads_zero_until_first_conversion_and_flags(
    sim_bus: SimSMBus, clock: VirtualClock
) -> None:
    sim_bus.attach(0x18, MCP9808Model(physics=FixedValues(temperature=25.0)))
    assert sim_bus.read_i2c_block_data(0x18, 0x05, 2) == [0, 0]
    clock.advance(0.25)
    assert sim_bus.read_i2c_block_data(0x18, 0x05, 2) == [0xC1, 0x90]  # >= T_CRIT 0, > T_UPPER 0
    sim_bus.write_i2c_block_data(0x18, 0x04, [0x01, 0xE0])  # T_CRIT 30 degC
    sim_bus.write_i2c_block_data(0x18, 0x01, [0x00, 0x80])  # Crit. Lock
    sim_bus.write_i2c_block_data(0x18, 0x04, [0x00, 0x00])  # ignored while locked
    assert sim_bus.read_i2c_block_data(0x18, 0x04, 2) == [0x01, 0xE0]
    clock.advance(0.25)
    assert sim_bus.read_i2c_block_data(0x18, 0x05, 2) == [0x41, 0x90]
    assert sim_bus.read_byte(0x18) == 0x41  # the pointer is retained


def test_mcp9808_driver(sim_bus: SimSMBus) -> None:
    physics = FixedValues(temperature=-12.3)
    sim_bus.attach(0x1F, MCP9808Model(physics=physics))
    sensor = MCP9808(bus=sim_bus, address=0x1F, resolution=0.25)
    assert sensor.read() == {"temperature": -12.5}  # 0.25 degC steps, truncated toward -inf


def test_mcp9808_wrong_ids(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model(device_id=0x0200))
    with pytest.raises(ChipIdMismatch) as info:
        MCP9808(bus=sim_bus)
    assert str(info.value) == (
        "bus 1, address 0x18: mcp9808: found manufacturer id 0x0054, device id 0x0200; "
        "expected 0x0054, 0x04xx"
    )


def test_mcp9808_bad_resolution() -> None:
    with pytest.raises(
        DriverConfigError,
        match=r"option 'resolution' = 0.1 is not valid; valid: 0.5, 0.25, 0.125, 0.0625",
    ):
        MCP9808.simulated(resolution=0.1)


@settings(max_examples=60, deadline=None)
@given(t=st.floats(min_value=-40.0, max_value=125.0))
def test_mcp9808_round_trip(t: float) -> None:
    sensor = MCP9808.simulated(physics=FixedValues(temperature=t))
    assert sensor.read()["temperature"] == pytest.approx(t, abs=0.0625 / 2 + 1e-9)


def test_mcp9808_shutdown_freezes_the_temperature(sim_bus: SimSMBus, clock: VirtualClock) -> None:
    physics = FixedValues(temperature=25.0)
    sim_bus.attach(0x18, MCP9808Model(physics=physics))
    sensor = MCP9808(bus=sim_bus)
    assert sensor.read() == {"temperature": 25.0}
    sim_bus.write_i2c_block_data(0x18, 0x01, [0x01, 0x00])  # SHDN
    physics.set("temperature", 30.0)
    clock.advance(1.0)
    assert sensor.read() == {"temperature": 25.0}
    sensor.reinitialize()  # clears SHDN, waits one conversion
    assert sensor.read() == {"temperature": 30.0}
