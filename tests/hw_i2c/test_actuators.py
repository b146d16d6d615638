"""PCA9685 and PCF8574: register writes, chip behaviour, shared chips, safe states."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ChipIdMismatch, DriverConfigError
from drivers.i2c import pca9685
from drivers.i2c.pca9685 import PCA9685Channel, PCA9685Servo
from drivers.i2c.pcf8574 import PCF8574Input, PCF8574Output
from drivers.sim.chips.pca9685 import PCA9685Model
from drivers.sim.chips.pcf8574 import PCF8574Model
from drivers.sim.smbus import SimSMBus

# --- PCA9685 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hz", "prescale", "actual"),
    [
        (24, 253, 24.03),
        (50, 121, 50.03),
        (60, 101, 59.84),
        (100, 60, 100.06),
        (200, 30, 196.9),
        (1000, 5, 1017.3),
        (1526, 3, 1525.9),
    ],
)
def test_prescaler_table(hz: float, prescale: int, actual: float) -> None:
    assert pca9685.prescale_for(hz) == prescale
    assert pca9685.frequency_for(prescale) == pytest.approx(actual, abs=0.05)  # table: 1 decimal


@pytest.mark.parametrize(
    ("pulse", "counts"), [(500, 102), (1000, 205), (1500, 307), (2000, 410), (2500, 512)]
)
def test_servo_counts_at_prescale_121(pulse: float, counts: int) -> None:
    assert pca9685.servo_counts(pulse, pca9685.frequency_for(121)) == counts


def test_servo_example_bytes(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, PCA9685Model())
    servo = PCA9685Servo(
        bus=sim_bus, channel=0, min_angle=0, max_angle=180, min_pulse_us=1000, max_pulse_us=2000
    )
    sim_bus.clear_history()
    servo.apply(90)
    assert [t.pieces[0].data.hex() for t in sim_bus.history] == [
        "0600003301"
    ]  # ON=0, OFF=0x133=307


def test_setup_sequence_sets_prescale_in_sleep_and_wakes(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x40, PCA9685Model())
    assert isinstance(model, PCA9685Model)
    PCA9685Channel(bus=sim_bus, channel=0, frequency=50)
    assert model.mem[0xFE] == 121
    assert not model.sleeping
    assert model.mem[0x00] & 0x20  # auto-increment
    assert model.frequency == pytest.approx(50.03, abs=0.01)


def test_prescale_is_only_writable_in_sleep(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x40, PCA9685Model())
    assert isinstance(model, PCA9685Model)
    sim_bus.write_byte_data(0x40, 0xFE, 0x02)
    assert model.mem[0xFE] == 3  # clamped to 3 while sleeping
    sim_bus.write_byte_data(0x40, 0x00, 0x01)  # wake
    sim_bus.write_byte_data(0x40, 0xFE, 100)
    assert model.mem[0xFE] == 3


def test_duty_and_full_on_off(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x40, PCA9685Model())
    assert isinstance(model, PCA9685Model)
    fan = PCA9685Channel(bus=sim_bus, channel=5)
    assert fan.state == 0.0  # power-on: full off
    assert fan.apply(0.25) == 0.25
    assert model.duty(5) == 0.25
    assert fan.apply(True) == 1.0
    assert model.channel_registers(5) == (0, 0, True, False)
    assert fan.make_safe() == 0.0
    assert model.channel_registers(5)[3] is True
    with pytest.raises(
        DriverConfigError,
        match=r"pca9685 channel 5 on bus 1, address 0x40: duty 1\.5 not in 0\.\.1",
    ):
        fan.apply(1.5)
    assert model.duty(5) == 0.0  # untouched


def test_all_led_registers_load_every_channel_and_read_zero(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x40, PCA9685Model())
    assert isinstance(model, PCA9685Model)
    sim_bus.write_byte_data(0x40, 0x00, 0x21)  # wake, auto-increment
    sim_bus.write_i2c_block_data(0x40, 0xFA, [0x00, 0x00, 0x00, 0x08])  # all: OFF = 2048
    assert all(model.duty(n) == 0.5 for n in range(16))
    assert sim_bus.read_i2c_block_data(0x40, 0xFA, 4) == [0, 0, 0, 0]
    with pytest.raises(OSError, match="Remote I/O"):
        sim_bus.write_byte_data(0x40, 0x50, 0x00)  # reserved: not acknowledged


def test_two_channels_share_a_chip_but_not_frequencies(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x40, PCA9685Model())
    a = PCA9685Servo(bus=sim_bus, channel=0)
    b = PCA9685Servo(bus=sim_bus, channel=1)
    with pytest.raises(DriverConfigError) as info:
        PCA9685Channel(bus=sim_bus, channel=2, frequency=1000)
    assert str(info.value) == (
        "pca9685: channel 2 asks for 1000 Hz but the chip at bus 1, address 0x40 already runs at "
        "50.03 Hz for another channel; one PWM frequency per chip"
    )
    a.close()
    b.close()
    assert PCA9685Channel(bus=sim_bus, channel=2, frequency=1000).frequency == pytest.approx(
        1017.3, abs=0.1
    )


def test_servo_options_are_checked() -> None:
    with pytest.raises(
        DriverConfigError, match=r"option 'channel' = 16 is not valid; valid: 0\.\.15"
    ):
        PCA9685Servo.simulated(channel=16)
    with pytest.raises(DriverConfigError, match="option 'address' = 112 is not an address"):
        PCA9685Servo.simulated(address=0x70)
    with pytest.raises(DriverConfigError, match="max_pulse_us 2000 does not fit a 655 us period"):
        PCA9685Servo.simulated(frequency=1526)
    servo = PCA9685Servo.simulated(min_angle=-90, max_angle=90)
    with pytest.raises(DriverConfigError, match=r"angle 100 not in -90\.\.90"):
        servo.apply(100)
    assert servo.safe_state == 0.0


def test_something_else_at_the_address_is_not_driven(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x40, PCA9685Model())
    assert isinstance(model, PCA9685Model)
    model.mem[0x01] = 0xE4  # MODE2 reserved bits set: not a PCA9685
    with pytest.raises(ChipIdMismatch, match="found MODE2 0xe4"):
        PCA9685Channel(bus=sim_bus)


@settings(max_examples=60, deadline=None)
@given(angle=st.floats(min_value=0.0, max_value=180.0))
def test_servo_round_trip(angle: float) -> None:
    bus = SimSMBus(1)
    servo = PCA9685Servo.simulated(bus=bus, channel=7)
    applied = servo.apply(angle)
    model = bus.chip_at(0x40)
    assert isinstance(model, PCA9685Model)
    pulse = model.pulse_us(7)
    step_deg = 180 * (1e6 / model.frequency / 4096) / 1000  # one 12-bit count, in degrees
    # Within one count: half a count from rounding, a whole one at the ends of the pulse range.
    assert applied == pytest.approx(angle, abs=step_deg + 0.001)
    assert 1000 + applied / 180 * 1000 == pytest.approx(pulse, abs=0.01)


# --- PCF8574 ----------------------------------------------------------------------------------


def test_quasi_bidirectional_pins(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x20, PCF8574Model())
    assert isinstance(model, PCF8574Model)
    assert sim_bus.read_byte(0x20) == 0xFF  # power-on latch, nothing attached
    sim_bus.write_byte(0x20, 0xF0)
    model.drive(7, False)
    assert sim_bus.read_byte(0x20) == 0x70  # latch AND outside
    model.drive(0, True)
    assert sim_bus.read_byte(0x20) & 1 == 0  # a latch-0 pin reads 0 whatever the outside does


def test_interrupt_line(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x20, PCF8574Model())
    assert isinstance(model, PCF8574Model)
    assert not model.interrupt
    model.drive(3, False)
    assert model.interrupt
    sim_bus.read_byte(0x20)
    assert not model.interrupt


def test_register_style_calls_write_the_port(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x20, PCF8574Model())
    assert isinstance(model, PCF8574Model)
    sim_bus.write_byte_data(0x20, 0x0F, 0xAA)  # both bytes land on the port in turn
    assert model.latch == 0xAA


def test_outputs_and_inputs_share_the_latch_shadow(sim_bus: SimSMBus) -> None:
    model = sim_bus.attach(0x27, PCF8574Model())
    assert isinstance(model, PCF8574Model)
    relay = PCF8574Output(bus=sim_bus, address=0x27, line=0, active_high=False)
    button = PCF8574Input(bus=sim_bus, address=0x27, line=4, active_high=False)
    led = PCF8574Output(bus=sim_bus, address=0x27, line=1)
    assert relay.state is False  # latch 1 = relay off for an active-low board
    model.drive(4, False)  # button pressed: its pin pulled low
    assert button.read() == {"value": True}
    relay.apply(True)
    led.apply(True)
    assert model.latch == 0xFE  # line 0 low (relay on), line 1 high, line 4 still an input
    assert button.read() == {"value": True}
    relay.make_safe()
    assert model.latch == 0xFF
    with pytest.raises(DriverConfigError, match="value 2 not in true, false"):
        led.apply(2)


@pytest.mark.parametrize(
    ("address", "ok"), [(0x20, True), (0x3F, True), (0x28, False), (0x40, False)]
)
def test_pcf8574_addresses(address: int, ok: bool) -> None:
    if ok:
        assert PCF8574Output.simulated(address=address).address == address
    else:
        with pytest.raises(DriverConfigError, match="valid: 0x20, 0x21"):
            PCF8574Output.simulated(address=address)
