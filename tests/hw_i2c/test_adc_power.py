"""ADS1115 and INA219: worked examples, chip behaviour and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ChipIdMismatch, DriverConfigError, HardwareError
from drivers.i2c import ads1115, ina219
from drivers.i2c.ads1115 import ADS1115
from drivers.i2c.ina219 import INA219
from drivers.sim.chips.ads1115 import ADS1115Model, code_for
from drivers.sim.chips.clock import VirtualClock
from drivers.sim.chips.ina219 import INA219Model
from drivers.sim.physics import FixedValues
from drivers.sim.smbus import SimSMBus

# --- ADS1115 ----------------------------------------------------------------------------------


def test_ads1115_worked_example_config_word() -> None:
    config = ads1115.CONFIG.encode(
        os=True, mux=0, pga=4.096, single_shot=True, dr=128, comp_que=0b11
    )
    assert config == 0xC383


@pytest.mark.parametrize(
    ("code", "fsr", "volts"),
    [
        (0x3340, 4.096, 1.640),
        (0xFF38, 4.096, -0.025),
        (0x7FFF, 4.096, 4.0959),
        (0x8000, 4.096, -4.096),
    ],
)
def test_ads1115_code_examples(code: int, fsr: float, volts: float) -> None:
    assert ads1115.volts_from_code(code, fsr) == pytest.approx(volts, abs=1e-4)


def test_ads1115_simulator_clips_like_the_chip() -> None:
    assert code_for(1.640, 4.096) == 0x3340
    assert code_for(5.0, 4.096) == 0x7FFF
    assert code_for(-5.0, 4.096) == 0x8000


def test_ads1115_single_shot_on_the_wire(sim_bus: SimSMBus, clock: VirtualClock) -> None:
    sim_bus.attach(0x48, ADS1115Model(physics=FixedValues(voltage=1.640)))
    sim_bus.write_i2c_block_data(0x48, 0x01, [0xC3, 0x83])
    assert sim_bus.read_i2c_block_data(0x48, 0x01, 2) == [0x43, 0x83]  # OS = 0: converting
    clock.advance(1 / 128)
    assert sim_bus.read_i2c_block_data(0x48, 0x01, 2) == [0xC3, 0x83]
    assert sim_bus.read_i2c_block_data(0x48, 0x00, 2) == [0x33, 0x40]
    assert sim_bus.read_word_data(0x48, 0x00) == 0x4033  # SMBus words are little-endian


def test_ads1115_driver_polls_config_then_reads_conversion(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x49, ADS1115Model(physics=FixedValues(voltage=1.640)))
    adc = ADS1115(bus=sim_bus, address=0x49)
    sim_bus.clear_history()
    assert adc.read() == {"voltage": 1.64}
    wire = [[(p.kind, p.data.hex()) for p in t.pieces] for t in sim_bus.history]
    assert wire == [[("w", "01c383")], [("w", "01"), ("r", "c383")], [("w", "00"), ("r", "3340")]]


def test_ads1115_differential_and_gain(sim_bus: SimSMBus) -> None:
    inputs = {0: lambda: 1.0, 1: lambda: 0.25, 2: lambda: 0.0, 3: lambda: 0.5}
    sim_bus.attach(0x48, ADS1115Model(inputs=inputs))
    assert ADS1115(bus=sim_bus, channel="0-1", full_scale=1.024).read()["voltage"] == pytest.approx(
        0.75, abs=4e-5
    )
    assert ADS1115(bus=sim_bus, channel="2-3", full_scale=0.512).read()["voltage"] == pytest.approx(
        -0.5, abs=2e-5
    )
    assert ADS1115(bus=sim_bus, channel="3", full_scale=0.256).read()["voltage"] == pytest.approx(
        0.256, abs=1e-5
    )


def test_ads1115_recognises_an_ina219_at_its_address(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x48, INA219Model())
    with pytest.raises(
        ChipIdMismatch, match="found register 0x02 reading 0x0000 after writing 0x5a3c"
    ):
        ADS1115(bus=sim_bus)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"channel": 4},
            "'channel' = 4 is not valid; valid: '0-1', '0-3', '1-3', '2-3', 0, 1, 2, 3",
        ),
        (
            {"full_scale": 5},
            "'full_scale' = 5 is not valid; valid: 6.144, 4.096, 2.048, 1.024, 0.512, 0.256",
        ),
        (
            {"data_rate": 100},
            "'data_rate' = 100 is not valid; valid: 8, 16, 32, 64, 128, 250, 475, 860",
        ),
        (
            {"quantity": "soil"},
            "ads1115: option 'quantity' = 'soil' needs 'scale_from' (volts) and 'scale_to'",
        ),
        (
            {"quantity": "soil", "scale_from": [1, 1], "scale_to": [0, 100]},
            "needs two different voltages",
        ),
        ({"scale_from": [1, 2]}, "options 'scale_from'/'scale_to' need option 'quantity'"),
    ],
)
def test_ads1115_option_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(DriverConfigError) as info:
        ADS1115.simulated(**options)
    assert message in str(info.value)


def test_soil_moisture_clamps_to_the_scale(sim_bus: SimSMBus) -> None:
    adc = ADS1115.simulated(
        physics=FixedValues(soil_moisture=130.0),
        quantity="soil_moisture", unit="%", scale_from=[2.8, 1.2], scale_to=[0, 100],
    )  # fmt: skip
    assert adc.read()["soil_moisture"] == 100.0
    assert dict(adc.QUANTITIES)["soil_moisture"].unit == "%"
    assert set(ADS1115.QUANTITIES) == {"voltage"}  # the class is untouched


@settings(max_examples=60, deadline=None)
@given(
    volts=st.floats(min_value=0.0, max_value=4.09),
    fsr=st.sampled_from([6.144, 4.096]),
    channel=st.sampled_from([0, 1, 2, 3]),
)
def test_ads1115_round_trip(volts: float, fsr: float, channel: int) -> None:
    adc = ADS1115.simulated(physics=FixedValues(voltage=volts), channel=channel, full_scale=fsr)
    assert adc.read()["voltage"] == pytest.approx(volts, abs=fsr / 32768 / 2 + 1e-6)


@settings(max_examples=40, deadline=None)
@given(moisture=st.floats(min_value=0.0, max_value=100.0))
def test_soil_moisture_round_trip(moisture: float) -> None:
    adc = ADS1115.simulated(
        physics=FixedValues(soil_moisture=moisture),
        quantity="soil_moisture", scale_from=[2.8, 1.2], scale_to=[0, 100], channel=2,
    )  # fmt: skip
    # One LSB (125 uV) is 0.0078 % on a 1.6 V span.
    assert adc.read()["soil_moisture"] == pytest.approx(moisture, abs=0.005)


# --- INA219 -----------------------------------------------------------------------------------


def test_ina219_datasheet_example() -> None:
    assert ina219.calibration_value(0.001, 0.002) == 0x5000  # 20480
    assert ina219.current_register(0x07D0, 0x5000) == 0x2710  # 10000
    assert ina219.power_register(0x2710, 0x5D98) == 0x1766  # 5990
    assert ina219.bus_volts(0x5D98) == pytest.approx(11.98)
    assert ina219.shunt_volts(0x07D0) == pytest.approx(0.020)
    assert (
        ina219.CONFIGURATION.encode(brng=16, pg=0.04, badc=0b0011, sadc=0b0011, mode=0b111)
        == 0x019F
    )


def test_ina219_example_through_the_simulated_chip(sim_bus: SimSMBus, clock: VirtualClock) -> None:
    model = INA219Model(physics=FixedValues(current=10.0, voltage=11.98), shunt_ohms=0.002)
    sim_bus.attach(0x40, model)
    sim_bus.write_i2c_block_data(0x40, 0x05, [0x50, 0x00])
    sim_bus.write_i2c_block_data(0x40, 0x00, [0x01, 0x9F])
    clock.advance(0.002)
    assert sim_bus.read_i2c_block_data(0x40, 0x01, 2) == [0x07, 0xD0]
    assert sim_bus.read_i2c_block_data(0x40, 0x02, 2) == [0x5D, 0x9A]  # 0x5D98 | CNVR
    assert sim_bus.read_i2c_block_data(0x40, 0x04, 2) == [0x27, 0x10]
    assert sim_bus.read_i2c_block_data(0x40, 0x03, 2) == [0x17, 0x66]
    assert sim_bus.read_i2c_block_data(0x40, 0x02, 2) == [0x5D, 0x98]  # reading power cleared CNVR


def test_ina219_calibration_and_reset_rules(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, INA219Model(physics=FixedValues(current=1.0)))
    assert sim_bus.read_i2c_block_data(0x40, 0x00, 2) == [0x39, 0x9F]
    assert sim_bus.read_i2c_block_data(0x40, 0x04, 2) == [0, 0]  # no calibration: no current
    sim_bus.write_i2c_block_data(0x40, 0x05, [0x7F, 0xFF])
    assert sim_bus.read_i2c_block_data(0x40, 0x05, 2) == [0x7F, 0xFE]
    sim_bus.write_i2c_block_data(0x40, 0x00, [0x80, 0x00])
    assert sim_bus.read_i2c_block_data(0x40, 0x05, 2) == [0, 0]


def test_ina219_driver_example_values(sim_bus: SimSMBus) -> None:
    sim_bus.attach(
        0x44, INA219Model(physics=FixedValues(current=10.0, voltage=11.98), shunt_ohms=0.002)
    )
    meter = INA219(
        bus=sim_bus, address=0x44, shunt_ohms=0.002, max_current=15, bus_voltage_range=16
    )
    sim_bus.clock.sleep(0.01)
    reading = meter.read()
    assert reading["voltage"] == 11.98
    assert reading["shunt_voltage"] == 0.02
    assert reading["current"] == pytest.approx(10.0, abs=meter.current_lsb)
    assert reading["power"] == pytest.approx(119.8, abs=20 * meter.current_lsb)


def test_ina219_overflow_is_reported(sim_bus: SimSMBus) -> None:
    physics = FixedValues(current=1.0, voltage=5.0)
    sim_bus.attach(0x40, INA219Model(physics=physics, shunt_ohms=0.1))
    meter = INA219(bus=sim_bus, max_current=0.35)  # 35 mV: the 40 mV shunt range
    physics.set("current", 0.39)
    sim_bus.clock.sleep(0.01)
    with pytest.raises(HardwareError, match=r"math overflow, current beyond max_current 0\.35 A"):
        meter.read()


def test_ina219_clipped_shunt_is_reported(sim_bus: SimSMBus) -> None:
    physics = FixedValues(current=1.0, voltage=5.0)
    sim_bus.attach(0x40, INA219Model(physics=physics, shunt_ohms=0.1))
    meter = INA219(bus=sim_bus, max_current=3.2)
    physics.set("current", 4.1)
    sim_bus.clock.sleep(0.01)
    with pytest.raises(HardwareError, match="shunt voltage at the 320 mV full scale"):
        meter.read()
    physics.set("current", 3.0)
    sim_bus.clock.sleep(0.01)
    assert meter.read()["current"] == pytest.approx(3.0, abs=0.001)


def test_ina219_wrong_chip_and_impossible_range(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x48, ADS1115Model())
    with pytest.raises(
        ChipIdMismatch, match="found configuration 0x0000 after reset, expected 0x399f"
    ):
        INA219(bus=sim_bus, address=0x48)
    with pytest.raises(DriverConfigError, match="gives 500 mV, beyond the 320 mV shunt range"):
        INA219.simulated(max_current=5, shunt_ohms=0.1)


@settings(max_examples=60, deadline=None)
@given(
    current=st.floats(min_value=-3.199, max_value=3.199),
    volts=st.floats(min_value=0.0, max_value=26.0),
)
def test_ina219_round_trip(current: float, volts: float) -> None:
    """Up to just below the 320 mV full scale (at it, the driver reports a clipped reading)."""
    clock = VirtualClock()
    meter = INA219.simulated(
        physics=FixedValues(current=current, voltage=volts), bus=SimSMBus(1, clock=clock)
    )
    clock.advance(0.01)
    reading = meter.read()
    # Shunt LSB 10 uV over 0.1 ohm = 0.1 mA, then the current register's own LSB.
    assert reading["current"] == pytest.approx(current, abs=0.0001 / 2 + 2 * meter.current_lsb)
    assert reading["voltage"] == pytest.approx(volts, abs=0.002 + 1e-9)
    assert reading["power"] == pytest.approx(
        abs(current) * volts, abs=20 * meter.current_lsb + 0.0002 * volts + 0.01
    )
