"""LDR charge timing, HC-SR04 echoes, MCP3xxx ADC channels and the CPU thermal zone."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import create, driver_class
from drivers.base import Reading
from drivers.errors import DeviceNotFound, DriverConfigError, HardwareError, HardwareTimeout
from drivers.gpio import adc
from drivers.gpio.distance import DistanceSensor
from drivers.gpio.light_sensor import LightSensor
from drivers.gpio.system import CpuTemperature
from drivers.sim.mcp3xxx import SimulatedMcp3xxx, chip_on, code_for
from drivers.sim.physics import FixedValues
from drivers.sim.pins import LightChargingPin

WAIT_S = 3.0
pytestmark = pytest.mark.filterwarnings("ignore::gpiozero.exc.PWMSoftwareFallback")


@pytest.fixture
def prompt_threads() -> Iterator[None]:
    """Mock charging/echo pins time real thread hand-offs; with the default 5 ms GIL switch
    interval a busy thread can add milliseconds (centimetres, tenths of light level)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    yield
    sys.setswitchinterval(before)


def wait_until(predicate: object, timeout: float = WAIT_S) -> bool:
    """Poll on an Event's timed wait (no bare sleep) until ``predicate()`` holds."""
    tick = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():  # type: ignore[operator]
            return True
        tick.wait(0.02)
    return bool(predicate())  # type: ignore[operator]


# -- light-dependent resistor ------------------------------------------------------------


def test_ldr_model_charge_times() -> None:
    pin = LightChargingPin.__new__(LightChargingPin)
    pin.r10_ohm, pin.gamma, pin.capacitance_f, pin.threshold_ratio = 10_000.0, 0.7, 1e-6, 0.4
    assert pin.charge_time_for(10.0) == pytest.approx(0.00511, rel=0.01)
    assert pin.charge_time_for(250.0) < 0.001
    assert pin.charge_time_for(0.0) == 1.0


@pytest.mark.usefixtures("prompt_threads")
def test_ldr_reads_bright_then_dark_and_pushes_the_crossing(factory: MockFactory) -> None:
    light = FixedValues(light=250.0)
    # 10 uF and a 0.1 s limit: 250 lux charges in ~5 ms (level ~0.95), 0.5 lux in ~0.4 s
    with LightSensor.simulated(
        physics=light, pin_factory=factory, queue_len=1, charge_time_limit=0.1, capacitance_f=1e-5
    ) as ldr:
        bright = ldr.read()
        assert bright["light_detected"] is True
        assert 0.7 < float(bright["light_level"]) <= 1.0
        pushed: list[Reading] = []
        done = threading.Event()
        ldr.on_reading(lambda r: (pushed.append(r), done.set()))
        light.set("light", 0.5)  # night: charging takes longer than the 10 ms limit
        assert done.wait(WAIT_S)
        assert pushed[0]["light_detected"] is False
        assert ldr.read() == {"light_level": 0.0, "light_detected": False}


def test_ldr_options_checked(factory: MockFactory) -> None:
    with pytest.raises(DriverConfigError, match=r"charge_time_limit 0 s must be in \(0, 1\]"):
        LightSensor("GPIO18", charge_time_limit=0, pin_factory=factory)


# -- HC-SR04 -----------------------------------------------------------------------------


@pytest.mark.usefixtures("prompt_threads")
def test_hcsr04_distance_follows_physics(factory: MockFactory) -> None:
    room = FixedValues(distance=0.6)
    with DistanceSensor.simulated(physics=room, pin_factory=factory, queue_len=5) as sonar:
        first = sonar.read()
        # Python-timed echoes: a few centimetres of scheduling delay on top
        assert first["distance"] == pytest.approx(0.6, abs=0.15)
        assert first["in_range"] is False
        in_range = threading.Event()
        sonar.on_reading(lambda r: in_range.set() if r["in_range"] else None)
        room.set("distance", 0.05)
        assert in_range.wait(WAIT_S)
        assert sonar.read()["distance"] < 0.3


@pytest.mark.filterwarnings("ignore::gpiozero.exc.DistanceSensorNoEcho")
@pytest.mark.usefixtures("prompt_threads")
def test_hcsr04_silence_is_a_timeout_not_a_stale_value(factory: MockFactory) -> None:
    room = FixedValues(distance=0.4)
    with DistanceSensor.simulated(
        physics=room, pin_factory=factory, queue_len=1, stale_after_s=0.3
    ) as sonar:
        assert sonar.read()["distance"] == pytest.approx(0.4, abs=0.15)
        room.set("distance", 6.0)  # beyond the 4 m range: no echo at all

        def stale() -> bool:
            try:
                sonar.read()
            except HardwareTimeout:
                return True
            return False

        assert wait_until(stale)
        with pytest.raises(HardwareTimeout, match=r"no echo for .* s; last distance is stale"):
            sonar.read()


def test_hcsr04_options(factory: MockFactory) -> None:
    with pytest.raises(DriverConfigError, match=r"max_distance 5 m must be in \(0, 4\]"):
        DistanceSensor(24, 23, max_distance=5, pin_factory=factory)
    with pytest.raises(DriverConfigError, match="trigger 24 and echo are the same pin GPIO24"):
        DistanceSensor(24, 24, pin_factory=factory)


# -- MCP3xxx -----------------------------------------------------------------------------


def test_mcp3008_datasheet_three_byte_transaction(factory: MockFactory) -> None:
    """The MCU-SPI sequence of the MCP3008 datasheet (section 6.1): 0x01, SGL|D2..D0, 0x00;
    the answer's second byte ends in B9 B8, the third is B7..B0."""
    chip = SimulatedMcp3xxx("mcp3008", factory=factory)
    chip.set_voltage(5, 2.5)
    with factory.spi(port=0, device=0) as spi:
        answer = spi.transfer([0x01, 0x80 | 5 << 4, 0x00])
    code = (answer[1] & 0x03) << 8 | answer[2]
    assert code == code_for(2.5, 3.3, 10) == 775
    assert chip.conversions == 1


def test_mcp3008_lsb_first_tail_then_zeros(factory: MockFactory) -> None:
    """Datasheet 5.0: after B0, further clocks with CS low give B1..B9, then zeros."""
    chip = SimulatedMcp3xxx("mcp3008", factory=factory)
    chip.set_voltage(0, 2.0)
    with factory.spi(port=0, device=0) as spi:
        spi.bits_per_word = 32
        # start, SGL=1, D2..D0 = 0; then 27 clocks: sample, null, B9..B0, B1..B9, 6 zeros
        word = spi.transfer([0b11000 << 27])[0]
    code = code_for(2.0, 3.3, 10)
    assert word >> 25 == 0  # sample clock and null bit (and nothing before)
    assert word >> 15 & 0x3FF == code
    assert word >> 6 & 0x1FF == int(f"{code >> 1:09b}"[::-1], 2)
    assert word & 0x3F == 0


def test_mcp3208_datasheet_three_byte_transaction(factory: MockFactory) -> None:
    """MCP3208 datasheet section 6.1: 0b00000110 | D2, D1 D0 in the top bits, then 0x00;
    the second byte ends in B11..B8."""
    chip = SimulatedMcp3xxx("mcp3208", factory=factory)
    chip.set_voltage(6, 1.0)
    with factory.spi(port=0, device=0) as spi:
        answer = spi.transfer([0x06 | 6 >> 2, (6 & 3) << 6, 0x00])
    assert (answer[1] & 0x0F) << 8 | answer[2] == code_for(1.0, 3.3, 12) == 1241


def test_mcp3002_lsb_first_tail(factory: MockFactory) -> None:
    chip = SimulatedMcp3xxx("mcp3002", factory=factory)
    chip.set_voltage(1, 3.0)
    # start, SGL=1, ODD=1, MSBF=0 then clocks for null + 10 bits + 9 LSB-first bits
    with factory.spi(port=0, device=0) as spi:
        spi.bits_per_word = 24
        word = spi.transfer([0b1110 << 20])[0]
    code = code_for(3.0, 3.3, 10)
    msb_first = word >> 9 & 0x3FF
    lsb_tail = word & 0x1FF
    assert msb_first == code
    assert lsb_tail == int(f"{code >> 1:09b}"[::-1], 2)


@pytest.mark.parametrize(
    "name", ["mcp3001", "mcp3002", "mcp3004", "mcp3008", "mcp3201", "mcp3202", "mcp3204", "mcp3208"]
)
def test_every_family_member_round_trips(name: str) -> None:
    cls = driver_class(name)
    assert issubclass(cls, adc._Mcp3xxx)
    bits = 12 if name.startswith("mcp32") else 10
    last_channel = {
        "mcp3001": 0,
        "mcp3201": 0,
        "mcp3002": 1,
        "mcp3202": 1,
        "mcp3004": 3,
        "mcp3204": 3,
    }.get(name, 7)
    for volts in (0.0, 0.7, 1.65, 3.29):
        physics = FixedValues(voltage=volts)
        options = {"channel": last_channel} if last_channel else {}
        with cls.simulated(physics=physics, **options) as channel:
            reading = channel.read()
        assert reading["voltage"] == pytest.approx(volts, abs=3.3 / 2**bits)
        assert reading["value"] == pytest.approx(volts / 3.3, abs=1 / 2**bits)


@settings(max_examples=40, deadline=None)
@given(moisture=st.floats(min_value=0, max_value=100))
def test_scaled_soil_moisture_round_trip(moisture: float) -> None:
    physics = FixedValues(soil_moisture=moisture)
    with adc.Mcp3008.simulated(
        physics=physics,
        channel=3,
        quantity="soil_moisture",
        unit="%",
        points=[[2.8, 0], [1.2, 100]],
    ) as probe:
        assert probe.quantities["soil_moisture"].unit == "%"
        reading = probe.read()
    # one LSB of 3.3 V / 1024 is 3.2 mV; the probe spans 1.6 V for 100 %: 0.2 %/LSB
    assert reading["soil_moisture"] == pytest.approx(moisture, abs=0.21)
    assert set(reading) == {"value", "voltage", "soil_moisture"}


def test_two_channels_share_one_chip(factory: MockFactory) -> None:
    physics = FixedValues(voltage=1.0)
    with (
        adc.Mcp3008.simulated(physics=physics, pin_factory=factory, channel=0) as a,
        adc.Mcp3008.simulated(physics=physics, pin_factory=factory, channel=7) as b,
    ):
        assert a.read()["voltage"] == pytest.approx(1.0, abs=0.004)
        assert b.read()["voltage"] == pytest.approx(1.0, abs=0.004)
        assert chip_on(factory, "mcp3008").conversions == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"channel": 8}, "channel 8 does not exist; valid: 0..7"),
        ({"channel": True}, "channel True must be an integer"),
        ({"select": 2}, r"select 2 must be 0 \(CE0\) or 1 \(CE1\)"),
        ({"quantity": "soil"}, "needs points"),
        ({"quantity": "Soil", "points": [[0, 0], [1, 1]]}, "lower-case name"),
        ({"quantity": "soil", "points": [[1, 0], [1, 100]]}, "two different, finite voltages"),
        ({"quantity": "soil", "points": [[1, 0]]}, "two \\[voltage, value\\] pairs"),
        ({"points": [[0, 0], [1, 1]]}, "without a quantity"),
    ],
)
def test_adc_options_checked(
    factory: MockFactory, options: dict[str, object], message: str
) -> None:
    with pytest.raises(DriverConfigError, match=message):
        adc.Mcp3008(pin_factory=factory, **options)  # type: ignore[arg-type]


def test_spi_pin_in_use(factory: MockFactory) -> None:
    with (
        create("led", pin="GPIO8", pin_factory=factory),
        pytest.raises(
            DriverConfigError, match=r"mcp3008 on clock GPIO11, .*GPIO8 is already in use"
        ),
    ):
        adc.Mcp3008(pin_factory=factory)


# -- CPU temperature ---------------------------------------------------------------------


def test_cpu_temperature_from_zone_file(tmp_path: Path) -> None:
    zone = tmp_path / "temp"
    zone.write_text("48312\n")
    sensor = CpuTemperature(zone_path=zone)
    assert sensor.read() == {"cpu_temperature": 48.312}
    zone.write_text("-1500\n")
    assert sensor.read() == {"cpu_temperature": -1.5}
    zone.write_text("hot\n")
    with pytest.raises(HardwareError, match="holds 'hot', not millidegrees"):
        sensor.read()
    zone.unlink()
    with pytest.raises(DeviceNotFound, match="does not exist"):
        sensor.read()


def test_cpu_temperature_zone_option() -> None:
    assert CpuTemperature(zone=2).zone_path == Path("/sys/class/thermal/thermal_zone2/temp")
    with pytest.raises(DriverConfigError, match="zone -1 must be an integer >= 0"):
        CpuTemperature(zone=-1)


def test_cpu_temperature_simulated_follows_physics() -> None:
    physics = FixedValues(cpu_temperature=51.25)
    sensor = CpuTemperature.simulated(physics=physics)
    assert sensor.read() == {"cpu_temperature": 51.25}
    physics.set("cpu_temperature", 70.0)
    assert sensor.read() == {"cpu_temperature": 70.0}
