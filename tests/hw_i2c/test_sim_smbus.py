"""SimSMBus as a drop-in for smbus2.SMBus: the API, the wire pieces, the history."""

from __future__ import annotations

import inspect

import pytest
import smbus2
from smbus2 import i2c_msg

from drivers.sim.chips.mcp9808 import MCP9808Model
from drivers.sim.chips.pca9685 import PCA9685Model
from drivers.sim.smbus import Piece, SimSMBus


def test_offers_every_public_smbus2_method_with_the_same_parameters() -> None:
    for name, member in inspect.getmembers(smbus2.SMBus, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = getattr(SimSMBus, name, None)
        assert ours is not None, name
        theirs = [p for p in inspect.signature(member).parameters if p != "self"]
        mine = [p for p in inspect.signature(ours).parameters if p != "self"]
        assert mine[: len(theirs)] == theirs, name


def test_nothing_at_an_address_is_errno_121(sim_bus: SimSMBus) -> None:
    with pytest.raises(OSError, match=r"\[Errno 121\] Remote I/O error"):
        sim_bus.read_byte(0x33)
    assert sim_bus.history[-1].errno == 121


def test_word_calls_are_little_endian_on_the_wire(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, PCA9685Model())
    sim_bus.write_byte_data(0x40, 0x00, 0x20)  # auto-increment
    sim_bus.write_word_data(0x40, 0x08, 0xF234)  # LED0_OFF_L, LED0_OFF_H
    assert sim_bus.history[-1].pieces == (Piece("w", bytes([0x08, 0x34, 0xF2])),)
    assert sim_bus.read_word_data(0x40, 0x08) == 0x1234  # bits 7:5 of OFF_H are reserved
    assert sim_bus.read_byte_data(0x40, 0x08) == 0x34


def test_block_calls(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, PCA9685Model())
    sim_bus.write_byte_data(0x40, 0x00, 0x20)
    sim_bus.write_i2c_block_data(0x40, 0x06, [1, 2, 3, 4])
    assert sim_bus.read_i2c_block_data(0x40, 0x06, 4) == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="Desired block length over 32 bytes"):
        sim_bus.read_i2c_block_data(0x40, 0x06, 33)
    with pytest.raises(ValueError, match="Data length cannot exceed 32 bytes"):
        sim_bus.write_i2c_block_data(0x40, 0x06, [0] * 33)
    sim_bus.write_block_data(0x40, 0x0A, [9])  # register, count, data
    assert sim_bus.read_i2c_block_data(0x40, 0x0A, 2) == [1, 9]


def test_i2c_rdwr_fills_read_messages(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    write, read = i2c_msg.write(0x18, [0x06]), i2c_msg.read(0x18, 2)
    sim_bus.i2c_rdwr(write, read)
    assert list(read) == [0x00, 0x54]
    assert sim_bus.history[-1].call == "i2c_rdwr"
    assert sim_bus.history[-1].pieces == (Piece("w", b"\x06"), Piece("r", b"\x00\x54"))


def test_quick_write_and_closed_bus(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    sim_bus.write_quick(0x18)
    assert sim_bus.history[-1].pieces == (Piece("q"),)
    with SimSMBus(2) as other:
        other.attach(0x18, MCP9808Model())
    with pytest.raises(ValueError, match="SimSMBus is closed"):
        other.read_byte(0x18)


def test_an_address_holds_one_chip(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    with pytest.raises(ValueError, match="address 0x18 already holds mcp9808"):
        sim_bus.attach(0x18, MCP9808Model())


def test_history_is_bounded(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    sim_bus.history_limit = 5
    for _ in range(20):
        sim_bus.read_byte(0x18)
    assert len(sim_bus.history) == 5


def test_general_call_reset_reaches_every_chip_that_implements_it(sim_bus: SimSMBus) -> None:
    from drivers.sim.chips.ads1115 import ADS1115Model
    from drivers.sim.chips.sht3x import SHT3xModel

    pwm = sim_bus.attach(0x40, PCA9685Model())
    adc = sim_bus.attach(0x48, ADS1115Model())
    sim_bus.attach(0x44, SHT3xModel())
    sim_bus.attach(0x18, MCP9808Model())  # no general call: keeps its state
    assert isinstance(pwm, PCA9685Model)
    assert isinstance(adc, ADS1115Model)
    sim_bus.write_byte_data(0x40, 0x00, 0x01)  # PCA9685 awake
    sim_bus.write_i2c_block_data(0x48, 0x02, [0x12, 0x34])
    sim_bus.write_byte_data(0x18, 0x08, 0x00)
    sim_bus.write_byte(0x00, 0x06)
    assert pwm.sleeping
    assert sim_bus.read_i2c_block_data(0x48, 0x02, 2) == [0x80, 0x00]
    assert sim_bus.read_byte_data(0x18, 0x08) == 0x00
    with pytest.raises(OSError, match="Remote I/O"):
        sim_bus.read_byte(0x44)  # resetting: no answer for 1.5 ms
    with pytest.raises(OSError, match="Remote I/O"):
        sim_bus.write_byte(0x00, 0x07)  # nobody acts on 0x07
