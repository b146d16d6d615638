"""BME280/BMP280: worked examples, the simulated chip's behaviour, full-range round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ChipIdMismatch, DriverConfigError, HardwareTimeout
from drivers.i2c import bosch
from drivers.i2c.bme280 import BME280
from drivers.i2c.bmp280 import BMP280
from drivers.sim.chips.bme280 import BME280Model
from drivers.sim.chips.bmp280 import BMP280Model
from drivers.sim.chips.clock import VirtualClock
from drivers.sim.physics import FixedValues
from drivers.sim.smbus import SimSMBus

# Register images from the hardware pages (B.9 and A.9).
EXAMPLE_TP = bytes.fromhex("706B436718FC7D8E43D6D00B270B8C00F9FF8C3CF8C67017")
EXAMPLE_H = bytes.fromhex("4B6A01001329031E")
DUMP_TP = bytes.fromhex("6C6E77663200A89227D5D00B6F18CAFFF9FFAC260AD8BD10")
DUMP_H = bytes.fromhex("4B650100140B001E")


def test_calibration_decodes_the_datasheet_example_image() -> None:
    cal = bosch.parse_calibration(EXAMPLE_TP, EXAMPLE_H)
    assert (cal.T1, cal.T2, cal.T3) == (27504, 26435, -1000)
    assert (cal.P1, cal.P2, cal.P3, cal.P4, cal.P5, cal.P6, cal.P7, cal.P8, cal.P9) == (
        36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
    )  # fmt: skip
    assert (cal.H1, cal.H2, cal.H3, cal.H4, cal.H5, cal.H6) == (75, 362, 0, 313, 50, 30)
    assert bosch.encode_calibration(cal) == (EXAMPLE_TP, EXAMPLE_H)


def test_negative_12_bit_humidity_trimming_is_sign_extended() -> None:
    cal = bosch.parse_calibration(EXAMPLE_TP, bytes([75, 0x6A, 0x01, 0, 0xEA, 0x23, 0xFE, 30]))
    assert (cal.H4, cal.H5) == (-349, -30)


def test_bmp280_datasheet_example_temperature() -> None:
    cal = bosch.parse_calibration(EXAMPLE_TP)
    assert bosch.temperature_int32(519888, cal) == (128422, 2508)
    t_fine, celsius = bosch.temperature_double(519888, cal)
    assert t_fine == 128422
    assert celsius == pytest.approx(25.0824779, abs=1e-7)


def test_bmp280_datasheet_example_pressure_as_computed_by_the_pages() -> None:
    # The datasheet figure prints 25767236 / 100653.27 Pa; executing the formulas with the
    # integer t_fine gives 25767233 / 100653.258 Pa (pages B.9).
    cal = bosch.parse_calibration(EXAMPLE_TP)
    assert bosch.pressure_int64(415148, 128422, cal) == 25767233
    assert bosch.pressure_double(415148, 128422, cal) == pytest.approx(100653.258, abs=1e-3)


def test_humidity_worked_example() -> None:
    cal = bosch.parse_calibration(EXAMPLE_TP, EXAMPLE_H)
    assert bosch.humidity_int32(30000, 128422, cal) == 56317
    assert bosch.humidity_double(30000, 128422, cal) == pytest.approx(55.0007, abs=1e-4)


def test_real_register_dump_example() -> None:
    cal = bosch.parse_calibration(DUMP_TP, DUMP_H)
    assert (cal.H2, cal.H4, cal.H5) == (357, 331, 0)
    adc_p, adc_t, adc_h = (348984, 530427, 30995)
    data = bytes.fromhex("553380817FB07913")
    from drivers.i2c.bme280 import unpack_data

    assert unpack_data(data) == (adc_p, adc_t, adc_h)
    t_fine, t = bosch.temperature_int32(adc_t, cal)
    assert (t_fine, t) == (125113, 2444)
    assert bosch.pressure_int64(adc_p, t_fine, cal) == 25502995
    assert bosch.humidity_int32(adc_h, t_fine, cal) == 55478


def test_measurement_time_table() -> None:
    assert bosch.measurement_time_max_ms(1, 1, 1) == pytest.approx(9.3)
    assert bosch.measurement_time_max_ms(1, 4, None) == pytest.approx(13.325)
    assert bosch.measurement_time_max_ms(16, 16, 16) == pytest.approx(112.8)


def test_simulator_inverse_matches_the_pages() -> None:
    model = BME280Model()
    adc_t, adc_p, adc_h = model.codes_for(25.0, 1013.25, 50.0)
    # The pages invert the double temperature formula (519625); the model inverts the integer
    # path the driver reports, whose t_fine runs a few units apart: 6 codes = 0.002 degC.
    assert abs(adc_t - 519625) <= 8
    assert adc_p == 411183
    assert adc_h == 29102


def test_driver_reads_the_example_values_through_the_simulated_bus(clock: VirtualClock) -> None:
    bus = SimSMBus(1, clock=clock)
    bus.attach(
        0x76, BME280Model(physics=FixedValues(temperature=25.0, pressure=1013.25, humidity=50.0))
    )
    sensor = BME280(bus=bus, address=0x76, oversampling=16)
    reading = sensor.read()
    assert reading["temperature"] == 25.0
    assert reading["humidity"] == pytest.approx(50.0, abs=0.01)
    assert reading["pressure"] == pytest.approx(1013.25, abs=0.002)
    assert set(reading) == set(BME280.QUANTITIES)


def test_forced_measurement_transfers(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x77, BME280Model())
    sensor = BME280(bus=sim_bus, address="0x77")
    sim_bus.clear_history()
    sensor.read()
    wire = [[(p.kind, p.data.hex()) for p in t.pieces] for t in sim_bus.history]
    assert wire[0] == [("w", "f201")]  # ctrl_hum first ...
    assert wire[1] == [("w", "f425")]  # ... then ctrl_meas: osrs_t x1, osrs_p x1, forced
    assert wire[2][0] == ("w", "f3")  # status poll after the maximum measurement time
    assert wire[3][0] == ("w", "f7")
    assert len(wire[3][1][1]) == 16
    assert len(wire) == 4


def test_reading_before_the_conversion_ends_shows_old_data_and_measuring(
    clock: VirtualClock,
) -> None:
    physics = FixedValues(temperature=10.0)
    bus = SimSMBus(1, clock=clock)
    model = bus.attach(0x76, BME280Model(physics=physics))
    assert isinstance(model, BME280Model)
    bus.write_byte_data(0x76, 0xF2, 0x01)
    bus.write_byte_data(0x76, 0xF4, 0x25)
    assert bus.read_byte_data(0x76, 0xF3) & 0x08
    assert bus.read_i2c_block_data(0x76, 0xF7, 8) == [0x80, 0, 0, 0x80, 0, 0, 0x80, 0]
    clock.advance(0.0093)
    assert bus.read_byte_data(0x76, 0xF3) & 0x08 == 0
    assert bus.read_byte_data(0x76, 0xF4) & 0x03 == 0  # back to sleep
    assert bus.read_i2c_block_data(0x76, 0xF7, 8)[0] != 0x80


def test_ctrl_hum_is_latched_only_by_ctrl_meas(sim_bus: SimSMBus, clock: VirtualClock) -> None:
    sim_bus.attach(0x76, BME280Model())
    sim_bus.write_byte_data(0x76, 0xF4, 0x25)  # ctrl_meas before ctrl_hum: humidity skipped
    sim_bus.write_byte_data(0x76, 0xF2, 0x01)
    clock.advance(0.02)
    assert sim_bus.read_i2c_block_data(0x76, 0xFD, 2) == [0x80, 0x00]


def test_writes_are_pairs_and_reset_restores_power_on_values(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x76, BME280Model())
    sim_bus.write_i2c_block_data(0x76, 0xF5, [0x10, 0xF4])  # config=0x10, then pointer 0xF4
    assert sim_bus.read_byte(0x76) == 0x00  # reads ctrl_meas (pointer 0xF4)
    assert sim_bus.read_byte_data(0x76, 0xF5) == 0x10
    sim_bus.write_byte_data(0x76, 0xD0, 0x11)  # read-only: ignored
    assert sim_bus.read_byte_data(0x76, 0xD0) == 0x60
    sim_bus.write_byte_data(0x76, 0xE0, 0xB6)
    assert sim_bus.read_byte_data(0x76, 0xF5) == 0x00
    assert sim_bus.read_byte_data(0x76, 0xE0) == 0x00
    assert sim_bus.read_byte_data(0x76, 0xF3) & 0x01  # im_update during start-up


def test_chip_id_mismatch_both_ways(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x76, BMP280Model())
    sim_bus.attach(0x77, BME280Model())
    with pytest.raises(ChipIdMismatch) as info:
        BME280(bus=sim_bus, address=0x76)
    assert str(info.value) == (
        "bus 1, address 0x76: bme280: found chip id 0x58 (BMP280), expected 0x60 (BME280)"
    )
    with pytest.raises(
        ChipIdMismatch, match=r"found chip id 0x60 \(BME280\), expected 0x58 \(BMP280\)"
    ):
        BMP280(bus=sim_bus, address=0x77)


def test_bmp280_accepts_sample_chip_ids(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x76, BMP280Model(chip_id=0x56))
    assert set(BMP280(bus=sim_bus).read()) == {"temperature", "pressure"}


def test_bad_options_name_the_option_and_the_valid_values(sim_bus: SimSMBus) -> None:
    with pytest.raises(DriverConfigError) as info:
        BME280(bus=sim_bus, address=0x75)
    assert str(info.value) == (
        "bme280: option 'address' = 117 is not an address this chip can have; valid: 0x76, 0x77"
    )
    with pytest.raises(
        DriverConfigError, match="option 'oversampling' = 3 is not valid; valid: 1, 2, 4, 8, 16"
    ):
        BME280(bus=sim_bus, oversampling=3)


def test_stuck_measuring_bit_is_a_timeout_not_a_hang(
    sim_bus: SimSMBus, clock: VirtualClock
) -> None:
    model = sim_bus.attach(0x76, BME280Model())
    sensor = BME280(bus=sim_bus)
    assert isinstance(model, BME280Model)
    model.measurement_time = lambda: 1.0  # type: ignore[method-assign]  # a chip that never finishes in time
    with pytest.raises(
        HardwareTimeout, match="measurement still running 10 ms after its maximum time"
    ):
        sensor.read()
    model.measurement_time = BME280Model.measurement_time.__get__(model)  # type: ignore[method-assign]
    clock.advance(2.0)
    assert "temperature" in sensor.read()


@settings(max_examples=60, deadline=None)
@given(
    t=st.floats(min_value=-40.0, max_value=85.0),
    p=st.floats(min_value=300.0, max_value=1100.0),
    h=st.floats(min_value=0.0, max_value=100.0),
    os=st.sampled_from([1, 16]),
)
def test_round_trip_over_the_full_range(t: float, p: float, h: float, os: int) -> None:
    physics = FixedValues(temperature=t, pressure=p, humidity=h)
    sensor = BME280.simulated(physics=physics, oversampling=os)
    reading = sensor.read()
    # Resolution: half the 0.01 degC output step plus one t_fine step of the integer path
    # (8 codes, ~0.0026 degC), plus half a 16-bit step (0.0025 degC) at x1; 2.7 Pa at x1.
    assert reading["temperature"] == pytest.approx(t, abs=0.008 + (0.0025 if os == 1 else 0))
    assert reading["pressure"] == pytest.approx(p, abs=0.03 if os == 1 else 0.003)
    assert reading["humidity"] == pytest.approx(h, abs=0.01)


@settings(max_examples=30, deadline=None)
@given(t=st.floats(min_value=-40.0, max_value=85.0), p=st.floats(min_value=300.0, max_value=1100.0))
def test_bmp280_round_trip(t: float, p: float) -> None:
    sensor = BMP280.simulated(physics=FixedValues(temperature=t, pressure=p), oversampling=16)
    reading = sensor.read()
    assert reading["temperature"] == pytest.approx(t, abs=0.008)
    assert reading["pressure"] == pytest.approx(p, abs=0.003)


def test_repr_close_and_use_after_close(sim_bus: SimSMBus) -> None:
    sensor = BME280.simulated(bus=sim_bus)
    assert repr(sensor) == "<BME280 bme280 on bus 1, address 0x76 open>"
    sensor.close()
    sensor.close()  # idempotent
    assert repr(sensor) == "<BME280 bme280 on bus 1, address 0x76 closed>"
    with pytest.raises(DriverConfigError, match="bme280 on bus 1, address 0x76 is closed"):
        sensor.read()


def test_registry_resolves_and_creates_over_a_simulated_bus(sim_bus: SimSMBus) -> None:
    from drivers import create, driver_class

    assert driver_class("bmp280") is BMP280
    sim_bus.attach(0x77, BME280Model())
    sensor = create("bme280", bus=sim_bus, address=0x77)
    assert isinstance(sensor, BME280)
    assert sensor.describe() == "bme280 on bus 1, address 0x77"


@pytest.mark.parametrize(("coefficient", "samples"), [(2, 2), (4, 5), (8, 11), (16, 22)])
def test_iir_filter_step_response_matches_the_datasheet(coefficient: int, samples: int) -> None:
    """Samples to reach 75 % of a step (pages A.5): c = 2 -> 2, 4 -> 5, 8 -> 11, 16 -> 22."""
    physics = FixedValues(temperature=20.0)
    sensor = BME280.simulated(
        physics=physics, bus=SimSMBus(1, clock=VirtualClock()), iir_filter=coefficient
    )
    assert sensor.read()["temperature"] == 20.0
    physics.set("temperature", 30.0)
    readings = [sensor.read()["temperature"] for _ in range(samples)]
    assert readings[-2] < 27.5 <= readings[-1]
    assert readings == sorted(readings)


def test_writing_the_filter_resets_its_memory(sim_bus: SimSMBus) -> None:
    physics = FixedValues(temperature=20.0)
    sensor = BME280.simulated(physics=physics, bus=sim_bus, iir_filter=16)
    sensor.read()
    physics.set("temperature", 30.0)
    assert sensor.read()["temperature"] < 21.0
    sensor.reinitialize()  # rewrites config.filter (after a reset): memory cleared
    assert sensor.read()["temperature"] == 30.0
