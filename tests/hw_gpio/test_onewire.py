"""DS18B20 through w1 sysfs: the kernel's exact file formats and every failure form."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import create
from drivers.errors import BusError, ChecksumError, DeviceNotFound, DriverConfigError, HardwareError
from drivers.onewire.crc import crc8
from drivers.onewire.ds18b20 import Ds18b20, find_thermometers
from drivers.onewire.w1_slave import PowerOnValue, kernel_millidegrees, parse, temperature_from
from drivers.sim.onewire import (
    SimulatedW1Bus,
    power_on_scratchpad,
    scratchpad_for,
    w1_slave_text,
)
from drivers.sim.physics import FixedValues

# Real lines published for genuine parts (io-and-linux.md E.3).
REAL_23125 = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
REAL_21875 = "5e 01 ff ff 7f ff ff ff 52 : crc=52 YES\n5e 01 ff ff 7f ff ff ff 52 t=21875\n"
OLD_KERNEL_NO_DEVICE = "ff ff ff ff ff ff ff ff ff : crc=c9 NO\n50 05 4b 46 7f ff 0c 10 1c t=-62\n"
STUCK_LOW = "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n"
POWER_ON = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"


@pytest.mark.parametrize(
    ("data", "crc"),
    [
        ("72 01 4b 46 7f ff 0e 10", 0x57),
        ("50 05 4b 46 7f ff 0c 10", 0x1C),
        ("00 00 00 00 00 00 00 00", 0x00),
        ("ff ff ff ff ff ff ff ff", 0xC9),
        ("5e 01 ff ff 7f ff ff ff", 0x52),
    ],
)
def test_crc8_check_values(data: str, crc: int) -> None:
    raw = bytes.fromhex(data)
    assert crc8(raw) == crc
    assert crc8(raw + bytes([crc])) == 0


def bitwise_crc8(data: bytes) -> int:
    """The spec's per-bit description (E.7), as an independent reference."""
    crc = 0
    for value in data:
        byte = value
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


@given(st.binary(max_size=16))
def test_crc8_table_matches_the_bitwise_definition(data: bytes) -> None:
    assert crc8(data) == bitwise_crc8(data)


def test_old_kernel_corrupted_crc_value() -> None:
    assert bitwise_crc8(bytes.fromhex("76 01 4b 46 7f ff 0e 10")) == 0x42


@pytest.mark.parametrize(("text", "celsius"), [(REAL_23125, 23.125), (REAL_21875, 21.875)])
def test_real_kernel_lines(text: str, celsius: float) -> None:
    assert temperature_from(text, where="t") == celsius


def test_simulator_writes_the_real_line_byte_for_byte() -> None:
    pad = bytes.fromhex("72 01 4b 46 7f ff 0e 10 57")
    assert scratchpad_for(23.125) == pad
    assert w1_slave_text(pad, pad) == REAL_23125
    assert power_on_scratchpad() + b"" == bytes.fromhex("50 05 4b 46 7f ff 0c 10 1c")
    assert w1_slave_text(b"\xff" * 9, b"\xff" * 9).startswith(
        "ff ff ff ff ff ff ff ff ff : crc=c9 NO\n"
    )


@pytest.mark.parametrize(
    ("raw", "millidegrees"),
    [
        (0x07D0, 125000),
        (0x0550, 85000),
        (0x0191, 25062),
        (0x0008, 500),
        (0xFFFF, -62),
        (0xFF5E, -10125),
        (0xFC90, -55000),
    ],
)
def test_datasheet_words_as_the_kernel_prints_them(raw: int, millidegrees: int) -> None:
    assert kernel_millidegrees(raw.to_bytes(2, "little") + bytes(7)) == millidegrees


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", BusError, "empty read"),
        (OLD_KERNEL_NO_DEVICE, BusError, "every byte is 0xff: no device answering"),
        (STUCK_LOW, BusError, "every byte is 0x00 .*stuck low"),
        (POWER_ON, PowerOnValue, "85.000 degC power-on value"),
        (
            REAL_23125.replace("YES", "NO"),
            ChecksumError,
            r"kernel's CRC check failed \(crc=57 NO\)",
        ),
        (REAL_23125.replace("72 01 4b", "73 01 4b", 1), ChecksumError, "bytes give"),
        (REAL_23125.replace("crc=57", "crc=58"), ChecksumError, "the kernel said 58"),
        (REAL_23125.replace("t=23125", "t=23126"), HardwareError, "does not match"),
        (REAL_23125[:-1], HardwareError, "unexpected w1_slave content"),
        ("garbage\n", HardwareError, "unexpected w1_slave content"),
        (REAL_23125.upper(), HardwareError, "unexpected"),
    ],
)
def test_every_failure_form(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        temperature_from(text, where="ds18b20 28-0316a2797fff")


def test_genuine_minus_0_0625_is_a_temperature() -> None:
    pad = scratchpad_for(-0.0625)
    assert pad[:2] == b"\xff\xff"
    text = w1_slave_text(pad, pad)
    assert text.endswith("t=-62\n")
    assert temperature_from(text, where="t") == -0.062


def test_real_85_degrees_is_not_the_power_on_value() -> None:
    pad = scratchpad_for(85.0)
    assert pad[6] == 0x10
    assert temperature_from(w1_slave_text(pad, pad), where="t") == 85.0


@given(
    celsius=st.floats(min_value=-55, max_value=125, allow_nan=False),
    resolution=st.sampled_from([9, 10, 11, 12]),
)
def test_round_trip_within_resolution(celsius: float, resolution: int) -> None:
    pad = scratchpad_for(celsius, resolution=resolution)
    step = 0.0625 * (1 << (12 - resolution))
    text = w1_slave_text(pad, pad)
    read = temperature_from(text, where="t")
    # kernel truncation to whole millidegrees adds < 1 m°C on top of half a step
    assert abs(read - celsius) <= step / 2 + 0.001
    assert parse(text, where="t").scratchpad[4] == 0x1F | (resolution - 9) << 5


@given(
    celsius=st.floats(min_value=-55, max_value=125, allow_nan=False),
    bit=st.integers(min_value=0, max_value=71),
)
def test_any_single_bit_error_is_caught(celsius: float, bit: int) -> None:
    pad = bytearray(scratchpad_for(celsius))
    good_crc = pad[8]
    pad[bit // 8] ^= 1 << (bit % 8)
    # Even if a line said YES with the original CRC, the bytes do not match it.
    line = "".join(f"{b:02x} " for b in pad)
    text = f"{line}: crc={good_crc:02x} YES\n{line}t={kernel_millidegrees(bytes(pad))}\n"
    with pytest.raises((ChecksumError, BusError, PowerOnValue)):
        temperature_from(text, where="t")


@pytest.fixture
def bus() -> SimulatedW1Bus:
    made = SimulatedW1Bus(physics=FixedValues(temperature=23.125))
    yield made  # type: ignore[misc]
    made.close()


def test_tree_layout_like_the_kernel(bus: SimulatedW1Bus) -> None:
    master = bus.master
    assert (master / "w1_master_slaves").read_text() == "not found.\n"
    sim = bus.add_sensor()
    assert sim.device_id == "28-0316a2797fff"
    assert (master / "w1_master_slaves").read_text() == "28-0316a2797fff\n"
    assert (master / "w1_master_slave_count").read_text() == "1\n"
    assert (sim.directory / "name").read_text() == "28-0316a2797fff\n"
    rom = (sim.directory / "id").read_bytes()
    assert rom[:7] == bytes.fromhex("28 ff7f79a21603")
    assert crc8(rom) == 0
    assert (sim.directory / "w1_slave").read_text() == REAL_23125
    assert (sim.directory / "temperature").read_text() == "23125\n"


def test_driver_by_id_and_first_found(bus: SimulatedW1Bus) -> None:
    first = bus.add_sensor()
    second = bus.add_sensor()
    assert find_thermometers(bus.base_path) == [first.device_id, second.device_id]
    by_id = Ds18b20(second.device_id.upper(), base_path=bus.base_path)
    assert by_id.read() == {"temperature": 23.125}
    anyone = create("ds18b20", base_path=bus.base_path)
    assert anyone.describe() == f"ds18b20 (first found under {bus.base_path})"
    assert anyone.read() == {"temperature": 23.125}  # type: ignore[attr-defined]
    assert anyone.describe() == f"ds18b20 {first.device_id}"


def test_no_sensor_at_all(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFound, match=r"no 1-Wire thermometer under .*dtoverlay=w1-gpio"):
        Ds18b20(base_path=tmp_path).read()


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("28-0316a2797ff", "not a 1-Wire id"),
        ("280316a2797fff", "not a 1-Wire id"),
        (28, "not a 1-Wire id"),
        ("2d-0316a2797fff", "family 2d, not a thermometer; expected one of 10 \\(DS18S20\\)"),
    ],
)
def test_bad_device_ids(device: object, message: str) -> None:
    with pytest.raises(DriverConfigError, match=message):
        Ds18b20(device)  # type: ignore[arg-type]


@pytest.mark.parametrize("kernel", ["new", "old"])
def test_injected_faults_then_recovery(kernel: str) -> None:
    bus = SimulatedW1Bus(physics=FixedValues(temperature=-10.125), kernel=kernel)  # type: ignore[arg-type]
    try:
        sensor = Ds18b20.simulated(bus=bus)
        sim = bus.sensor(sensor.device_id)  # type: ignore[arg-type]
        for fault, error in [
            ("crc", BusError if kernel == "new" else ChecksumError),
            ("no_device", BusError),
            ("power_on", PowerOnValue),
            ("stuck_low", BusError),
        ]:
            sim.fail(fault)  # type: ignore[arg-type]
            with pytest.raises(error):
                sensor.read()
            assert sensor.read() == {"temperature": -10.125}
        sim.vanish()
        with pytest.raises(DeviceNotFound, match="is gone"):
            sensor.read()
        assert (bus.master / "w1_master_slaves").read_text() == "not found.\n"
        sim.reappear()
        assert sensor.read() == {"temperature": -10.125}
    finally:
        bus.close()


def test_old_kernel_crc_no_line_format() -> None:
    bus = SimulatedW1Bus(physics=FixedValues(temperature=23.125), kernel="old")
    try:
        sim = bus.add_sensor()
        sim.fail("crc")
        sim.convert()
        text = (sim.directory / "w1_slave").read_text()
        line1, line2, end = text.split("\n")
        assert line1 == "76 01 4b 46 7f ff 0e 10 57 : crc=42 NO"
        assert line2 == "72 01 4b 46 7f ff 0e 10 57 t=23375"  # retained good bytes, current t
        assert end == ""
    finally:
        bus.close()


def test_simulated_sensor_follows_physics() -> None:
    physics = FixedValues(temperature=20.0)
    with Ds18b20.simulated(physics=physics) as sensor:
        assert sensor.read() == {"temperature": 20.0}
        physics.set("temperature", 30.3)
        assert sensor.read() == {"temperature": 30.312}
        tree = sensor.base_path
        assert tree.is_dir()
    assert not tree.exists()
    with pytest.raises(KeyError, match="nonexistent"):
        Ds18b20.simulated(physics=physics, quantity="nonexistent")


def test_ds18s20_family_trusts_the_kernels_conversion() -> None:
    # DS18S20 (family 10) counts in 0.5 degC with COUNT_REMAIN refinement that the kernel
    # applies; the DS18B20 cross-check must not be used for it.
    data = bytes.fromhex("2e 00 4b 46 7f ff 0c 10")
    pad = data + bytes([crc8(data)])
    line = "".join(f"{b:02x} " for b in pad)
    text = f"{line}: crc={pad[8]:02x} YES\n{line}t=22750\n"
    assert temperature_from(text, where="t", family=0x10) == 22.75
    with pytest.raises(HardwareError, match="does not match"):
        temperature_from(text, where="t", family=0x28)


@pytest.mark.parametrize("kernel", ["new", "old"])
def test_resolution_written_through_sysfs_and_restored_after_power_cycle(
    kernel: str, caplog: pytest.LogCaptureFixture
) -> None:
    physics = FixedValues(temperature=21.3)
    bus = SimulatedW1Bus(physics=physics, kernel=kernel)  # type: ignore[arg-type]
    try:
        sim = bus.add_sensor()
        sensor = Ds18b20(sim.device_id, base_path=bus.base_path, resolution=9)
        sensor._before_read = sim.convert  # each read converts, as the kernel does
        assert sensor.read() == {"temperature": 21.5}  # 0.5 degC steps at 9 bits
        assert sim.resolution == 9
        text = (sim.directory / "w1_slave").read_text()
        assert text.startswith("58 01 4b 46 1f ff ")  # 0x0158 = 344/16 = 21.5; config 0x1f = 9 bits
        sim.power_cycle()  # back to the EEPROM's 12 bits
        assert sensor.read() == {"temperature": 21.312}  # this one is still a reading
        assert "converts at 12 bits, not 9" in caplog.text
        assert sensor.read() == {"temperature": 21.5}  # rewritten before this conversion
    finally:
        bus.close()


def test_resolution_option_checked() -> None:
    with pytest.raises(DriverConfigError, match="resolution 8 must be one of 9, 10, 11, 12"):
        Ds18b20(resolution=8)


def test_resolution_write_failure_is_a_bus_error(bus: SimulatedW1Bus) -> None:
    sim = bus.add_sensor()
    (sim.directory / "resolution").unlink()
    (sim.directory / "resolution").mkdir()  # writing it now fails like an EIO would
    sensor = Ds18b20(sim.device_id, base_path=bus.base_path, resolution=10)
    with pytest.raises(BusError, match=r"writing resolution 10 to .*resolution failed"):
        sensor.read()
