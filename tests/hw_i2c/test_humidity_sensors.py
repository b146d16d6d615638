"""SHT3x and HTU21D/Si7021: CRC check values, conversions, chip behaviour and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ChecksumError, ChipIdMismatch, DeviceNotFound, HardwareTimeout
from drivers.i2c import htu21d, sht3x
from drivers.i2c.htu21d import HTU21D, Si7021
from drivers.i2c.sht3x import SHT3x
from drivers.sim.chips.clock import VirtualClock
from drivers.sim.chips.htu21d import HTU21DModel, Si7021Model
from drivers.sim.chips.htu21d import raw_humidity as htu_raw_rh
from drivers.sim.chips.htu21d import raw_temperature as htu_raw_t
from drivers.sim.chips.sht3x import SHT3xModel
from drivers.sim.physics import FixedValues
from drivers.sim.smbus import SimSMBus

# --- SHT3x ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "crc"),
    [
        ("beef", 0x92),
        ("0000", 0x81),
        ("ffff", 0xAC),
        ("8010", 0xE1),
        ("6666", 0x93),
        ("8000", 0xA2),
    ],
)
def test_sht3x_crc_check_values(data: str, crc: int) -> None:
    assert sht3x.sht_crc(bytes.fromhex(data)) == crc


@pytest.mark.parametrize(
    ("raw", "celsius"), [(0x6666, 25.0), (0x8000, 42.5013), (0x0000, -45.0), (0xFFFF, 130.0)]
)
def test_sht3x_temperature_examples(raw: int, celsius: float) -> None:
    assert sht3x.temperature_celsius(raw) == pytest.approx(celsius, abs=1e-4)


def test_sht3x_humidity_examples() -> None:
    assert sht3x.humidity_percent(0x6666) == pytest.approx(40.0, abs=1e-4)
    assert sht3x.humidity_percent(0x8000) == pytest.approx(50.0008, abs=1e-4)


def test_sht3x_frames_match_the_pages(sim_bus: SimSMBus, clock: VirtualClock) -> None:
    sim_bus.attach(0x44, SHT3xModel(physics=FixedValues(temperature=20.0, humidity=65.0)))
    sim_bus.write_i2c_block_data(0x44, 0x24, [0x00])
    clock.advance(0.016)
    assert (
        bytes(sim_bus.read_byte(0x44) for _ in range(1)) == b"\x5f"
    )  # master may stop after 1 byte
    sim_bus.write_i2c_block_data(0x44, 0x24, [0x00])
    clock.advance(0.016)
    from smbus2 import i2c_msg

    msg = i2c_msg.read(0x44, 6)
    sim_bus.i2c_rdwr(msg)
    assert bytes(msg) == bytes.fromhex("5f161aa66639")


def test_sht3x_status_after_power_up_and_clear(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x44, SHT3xModel())
    sim_bus.write_byte_data(0x44, 0xF3, 0x2D)
    assert bytes(sim_bus.read_byte(0x44) for _ in range(1)) == b"\x80"
    sim_bus.write_byte_data(0x44, 0xF3, 0x2D)
    from smbus2 import i2c_msg

    msg = i2c_msg.read(0x44, 3)
    sim_bus.i2c_rdwr(msg)
    assert bytes(msg) == bytes.fromhex("8010e1")


def test_sht3x_nacks_while_measuring_and_after_the_data_was_read(
    sim_bus: SimSMBus, clock: VirtualClock
) -> None:
    sim_bus.attach(0x44, SHT3xModel())
    sim_bus.write_byte_data(0x44, 0x24, 0x00)
    clock.advance(0.010)
    with pytest.raises(OSError, match="Remote I/O") as info:
        sim_bus.read_byte(0x44)
    assert info.value.errno == 121
    clock.advance(0.006)
    sim_bus.read_byte(0x44)
    with pytest.raises(OSError, match="Remote I/O"):
        sim_bus.read_byte(0x44)


def test_sht3x_driver_sends_no_stretch_command_and_reads_six_bytes(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x45, SHT3xModel(physics=FixedValues(temperature=25.0, humidity=50.0)))
    sensor = SHT3x(bus=sim_bus, address=0x45, repeatability="low")
    sim_bus.clear_history()
    assert sensor.read() == {"temperature": 25.0, "humidity": 50.0008}
    wire = [[(p.kind, p.data.hex()) for p in t.pieces] for t in sim_bus.history]
    assert wire == [[("w", "2416")], [("r", "6666938000a2")]]  # the frame of pages C.7


def test_sht3x_bad_crc_is_a_checksum_error_and_the_next_read_works(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x44, SHT3xModel(physics=FixedValues(temperature=25.0, humidity=50.0)))
    sensor = SHT3x(bus=sim_bus)
    sim_bus.faults(0x44).bad_crc(1)
    with pytest.raises(ChecksumError) as info:
        sensor.read()
    assert str(info.value) == (
        "bus 1, address 0x44: sht3x: CRC mismatch on word 6666: got 0x6c, expected 0x93"
    )
    assert sensor.read()["temperature"] == 25.0


def test_sht3x_never_ready_is_a_timeout(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x44, SHT3xModel())
    sensor = SHT3x(bus=sim_bus)
    assert isinstance(model, SHT3xModel)
    original = model.write

    def slow_write(data: bytes) -> None:
        original(data)
        model._ready_at += 1.0  # a chip that takes a second

    model.write = slow_write  # type: ignore[method-assign]
    with pytest.raises(
        HardwareTimeout, match=r"no result 5 ms after the maximum measurement time of 15\.5 ms"
    ):
        sensor.read()


def test_sht3x_probe_rejects_a_device_without_valid_crc(sim_bus: SimSMBus) -> None:
    model = SHT3xModel()
    sim_bus.attach(0x44, model)
    model.corrupt_crc(1)
    # The status probe uses the same CRC machinery: status answers are checked, but the model
    # corrupts only measurement frames, so corrupt a status answer by hand.
    model._word = lambda value: value.to_bytes(2, "big") + b"\x00"  # type: ignore[method-assign]
    with pytest.raises(ChipIdMismatch, match="status answer fails the SHT3x CRC"):
        SHT3x(bus=sim_bus)


@settings(max_examples=60, deadline=None)
@given(t=st.floats(min_value=-40.0, max_value=125.0), h=st.floats(min_value=0.0, max_value=100.0))
def test_sht3x_round_trip(t: float, h: float) -> None:
    sensor = SHT3x.simulated(physics=FixedValues(temperature=t, humidity=h))
    reading = sensor.read()
    assert reading["temperature"] == pytest.approx(t, abs=175 / 65535 / 2 + 1e-4)
    assert reading["humidity"] == pytest.approx(h, abs=100 / 65535 / 2 + 1e-4)


# --- HTU21D / Si7021 --------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "crc"), [("dc", 0x79), ("683a", 0x7C), ("4e85", 0x6B)])
def test_htu21d_crc_check_values(data: str, crc: int) -> None:
    assert htu21d.htu_crc(bytes.fromhex(data)) == crc


def test_htu21d_worked_examples() -> None:
    assert htu21d.temperature_celsius(0x6838) == pytest.approx(24.686, abs=1e-3)
    assert htu21d.humidity_percent(0x4E86) == pytest.approx(32.338, abs=1e-3)
    assert htu21d.temperature_celsius(0x68AC) == pytest.approx(24.997, abs=1e-3)
    assert htu21d.humidity_percent(0x72B2) == pytest.approx(49.9998, abs=1e-4)
    # The status bits are masked: 0x683A reads as 0x6838, not 24.692 degC.
    assert htu21d.temperature_celsius(0x683A) == htu21d.temperature_celsius(0x6838)
    assert htu21d.htu_crc(bytes([0x68, 0x38])) == 0x1E
    assert htu21d.htu_crc(bytes([0x4E, 0x86])) == 0x38


def test_simulator_encodes_the_si7021_examples() -> None:
    assert htu_raw_t(25.0) == 0x68AC
    assert htu_raw_rh(50.0) == 0x72B2


def test_htu21d_no_hold_read_is_nacked_until_the_conversion_ends(
    sim_bus: SimSMBus, clock: VirtualClock
) -> None:
    sim_bus.attach(0x40, HTU21DModel())
    sim_bus.write_byte(0x40, 0xF3)
    clock.advance(0.049)
    with pytest.raises(OSError, match="Remote I/O"):
        sim_bus.read_byte(0x40)
    clock.advance(0.001)
    assert sim_bus.read_byte(0x40) == htu_raw_t(21.0) >> 8  # MSB of the 21 degC word


def test_hold_master_command_during_conversion_is_a_clock_stretch_error(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, HTU21DModel())
    sim_bus.write_byte(0x40, 0xE3)
    with pytest.raises(OSError, match="Input/output error") as info:
        sim_bus.read_byte(0x40)
    assert info.value.errno == 5


def test_user_register_keeps_reserved_bits(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, Si7021Model())
    sim_bus.write_byte_data(0x40, 0xE6, 0x00)
    assert sim_bus.read_byte_data(0x40, 0xE7) == 0x3A  # reserved 5:3 and bit 1 stay set
    sim_bus.write_byte_data(0x40, 0xE6, 0x81)
    assert sim_bus.read_byte_data(0x40, 0xE7) == 0xBB


def test_driver_sets_resolution_preserving_reserved_bits(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x40, HTU21DModel())
    HTU21D(bus=sim_bus, humidity_bits=11)
    assert isinstance(model, HTU21DModel)
    assert model.user == 0x83


def test_wrong_family_member_is_named(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, HTU21DModel())
    with pytest.raises(ChipIdMismatch) as info:
        Si7021(bus=sim_bus)
    assert str(info.value) == (
        "bus 1, address 0x40: si7021: found user register 0x02 after reset "
        "(a htu21d: use driver 'htu21d'), expected 0x3a"
    )


def test_si7021_uses_the_temperature_of_the_humidity_conversion(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x40, Si7021Model(physics=FixedValues(temperature=25.0, humidity=50.0)))
    sensor = Si7021(bus=sim_bus)
    sim_bus.clear_history()
    assert sensor.read() == {"temperature": 24.9974, "humidity": 49.9998}
    commands = [t.pieces[0].data.hex() for t in sim_bus.history if t.pieces[0].kind == "w"]
    assert commands == ["f5", "e0"]
    assert isinstance(model, Si7021Model)
    assert model.measurements == 1


def test_htu21d_bad_crc_then_recovery(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, HTU21DModel(physics=FixedValues(temperature=25.0, humidity=50.0)))
    sensor = HTU21D(bus=sim_bus)
    sim_bus.faults(0x40).bad_crc(1)
    with pytest.raises(
        ChecksumError, match="htu21d: CRC mismatch on 68ac: got 0x1c, expected 0xe3"
    ):
        sensor.read()
    assert sensor.read()["humidity"] == pytest.approx(50.0, abs=0.01)


def test_htu21d_missing_chip(sim_bus: SimSMBus) -> None:
    with pytest.raises(
        DeviceNotFound, match="bus 1, address 0x40: no device acknowledged write fe"
    ):
        HTU21D(bus=sim_bus)


@settings(max_examples=50, deadline=None)
@given(
    t=st.floats(min_value=-40.0, max_value=125.0),
    h=st.floats(min_value=0.0, max_value=100.0),
    chip=st.sampled_from([HTU21D, Si7021]),
    bits=st.sampled_from([12, 11, 10, 8]),
)
def test_htu21d_family_round_trip(t: float, h: float, chip: type[HTU21D], bits: int) -> None:
    sensor = chip.simulated(physics=FixedValues(temperature=t, humidity=h), humidity_bits=bits)
    reading = sensor.read()
    t_bits = htu21d.TEMPERATURE_BITS[bits]
    # One step of the resolution in use (truncated, so up to one full step low).
    assert reading["temperature"] == pytest.approx(t, abs=175.72 / (1 << t_bits) + 0.002)
    assert reading["humidity"] == pytest.approx(h, abs=125.0 / (1 << bits) + 0.002)


def test_sht3x_setup_breaks_periodic_mode_before_the_soft_reset(
    sim_bus: SimSMBus, clock: VirtualClock
) -> None:
    model = SHT3xModel(physics=FixedValues(temperature=25.0, humidity=50.0))
    sim_bus.attach(0x44, model)
    sim_bus.write_byte_data(0x44, 0x27, 0x37)  # left in 10 mps periodic mode by a previous run
    clock.advance(1.0)
    sensor = SHT3x(bus=sim_bus)
    commands = [
        t.pieces[0].data.hex() for t in sim_bus.history if t.pieces and t.pieces[0].kind == "w"
    ]
    assert commands[1:4] == ["3093", "30a2", "f32d"]
    assert sensor.read() == {"temperature": 25.0, "humidity": 50.0008}


def test_sht3x_periodic_mode_fetch_and_break(sim_bus: SimSMBus, clock: VirtualClock) -> None:
    from smbus2 import i2c_msg

    model = SHT3xModel(physics=FixedValues(temperature=25.0, humidity=50.0))
    sim_bus.attach(0x44, model)
    sim_bus.write_byte_data(0x44, 0x21, 0x30)  # 1 mps, high repeatability
    sim_bus.write_byte_data(0x44, 0xE0, 0x00)  # fetch before the first sample: NACK
    with pytest.raises(OSError, match="Remote I/O"):
        sim_bus.read_byte(0x44)
    clock.advance(1.0)
    sim_bus.write_byte_data(0x44, 0xE0, 0x00)
    msg = i2c_msg.read(0x44, 6)
    sim_bus.i2c_rdwr(msg)
    assert bytes(msg) == bytes.fromhex("6666938000a2")
    sim_bus.write_byte_data(0x44, 0xE0, 0x00)  # the fetch cleared the data memory
    with pytest.raises(OSError, match="Remote I/O"):
        sim_bus.i2c_rdwr(i2c_msg.read(0x44, 6))
    sim_bus.write_byte_data(0x44, 0xF3, 0x2D)  # not Break/Fetch in periodic mode: ignored
    with pytest.raises(OSError, match="Remote I/O"):
        sim_bus.i2c_rdwr(i2c_msg.read(0x44, 3))
    assert model.status & 0x0002  # "last command not processed"
    sim_bus.write_byte_data(0x44, 0x30, 0x93)  # Break: back to single shot
    sim_bus.write_byte_data(0x44, 0xF3, 0x2D)
    status = i2c_msg.read(0x44, 3)
    sim_bus.i2c_rdwr(status)
    assert bytes(status) == bytes.fromhex("8010e1")


def test_si7021_electronic_id_and_firmware(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, Si7021Model())
    sim_bus.write_i2c_block_data(0x40, 0xFC, [0xC9])
    from smbus2 import i2c_msg

    eid = i2c_msg.read(0x40, 6)
    sim_bus.i2c_rdwr(eid)
    data = bytes(eid)
    assert data[0] == 0x15
    assert htu21d.htu_crc(data[:2]) == data[2]
    assert htu21d.htu_crc(data[3:5]) == data[5]
    sim_bus.write_i2c_block_data(0x40, 0x84, [0xB8])
    assert sim_bus.read_byte(0x40) == 0x20  # firmware 2.0
