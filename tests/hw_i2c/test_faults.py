"""Fault injection: each kind gives its documented exception, the bus stays usable, no hang."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from drivers.base import Actuator, Device, Sensor
from drivers.errors import BusError, ChecksumError, DeviceNotFound, HardwareError, HardwareTimeout
from drivers.i2c.ads1115 import ADS1115
from drivers.i2c.bh1750 import BH1750
from drivers.i2c.bme280 import BME280
from drivers.i2c.bmp280 import BMP280
from drivers.i2c.htu21d import HTU21D, Si7021
from drivers.i2c.ina219 import INA219
from drivers.i2c.mcp9808 import MCP9808
from drivers.i2c.pca9685 import PCA9685Channel, PCA9685Servo
from drivers.i2c.pcf8574 import PCF8574Input, PCF8574Output
from drivers.i2c.sht3x import SHT3x
from drivers.sim.chips.ads1115 import ADS1115Model
from drivers.sim.chips.clock import VirtualClock
from drivers.sim.smbus import SimSMBus

pytestmark = pytest.mark.timeout(20)

DRIVERS: list[type[Device]] = [
    BME280, BMP280, SHT3x, BH1750, ADS1115, INA219, MCP9808, HTU21D, Si7021,
    PCA9685Channel, PCA9685Servo, PCF8574Output, PCF8574Input,
]  # fmt: skip


def _use(device: Device) -> Callable[[], object]:
    if isinstance(device, Sensor):
        return device.read
    assert isinstance(device, Actuator)
    return lambda: device.apply(device.safe_state)


def _build(cls: type[Device]) -> tuple[Device, SimSMBus, int]:
    bus = SimSMBus(1, clock=VirtualClock())
    device = cls.simulated(bus=bus)
    address = bus.addresses[0]
    return device, bus, address


@pytest.mark.parametrize("cls", DRIVERS, ids=lambda c: c.NAME)
def test_fail_next_nack_is_device_not_found_then_recovers(cls: type[Device]) -> None:
    device, bus, address = _build(cls)
    use = _use(device)
    use()
    bus.faults(address).fail_next(2)
    for _ in range(2):
        with pytest.raises(DeviceNotFound) as info:
            use()
        assert info.value.address == address
        assert info.value.bus == 1
    use()


@pytest.mark.parametrize("cls", DRIVERS, ids=lambda c: c.NAME)
def test_other_errno_is_bus_error_then_recovers(cls: type[Device]) -> None:
    device, bus, address = _build(cls)
    use = _use(device)
    bus.faults(address).fail_next(1, code=errno.EIO)
    with pytest.raises(BusError) as info:
        use()
    assert not isinstance(info.value, DeviceNotFound)
    assert isinstance(info.value.cause, OSError)
    assert info.value.cause.errno == errno.EIO
    use()


@pytest.mark.parametrize("cls", DRIVERS, ids=lambda c: c.NAME)
def test_disappear_and_come_back(cls: type[Device]) -> None:
    device, bus, address = _build(cls)
    use = _use(device)
    bus.faults(address).disappear()
    for _ in range(3):
        with pytest.raises(DeviceNotFound):
            use()
    bus.faults(address).reappear()
    use()


@pytest.mark.parametrize("cls", DRIVERS, ids=lambda c: c.NAME)
def test_failure_rate_is_seeded_and_every_failure_is_a_hardware_error(cls: type[Device]) -> None:
    outcomes = []
    for _ in range(2):
        device, bus, address = _build(cls)
        use = _use(device)
        bus.faults(address).fail_rate(0.3, seed=42)
        run = []
        for _ in range(40):
            try:
                use()
                run.append(True)
            except HardwareError:
                run.append(False)
        outcomes.append(run)
        bus.faults(address).clear()
        use()
    assert outcomes[0] == outcomes[1]  # the same seed gives the same faults
    assert 0 < outcomes[0].count(False) < 40


@pytest.mark.parametrize("cls", [SHT3x, HTU21D, Si7021], ids=lambda c: c.NAME)
def test_bad_crc_is_a_checksum_error_then_recovers(cls: type[Device]) -> None:
    device, bus, address = _build(cls)
    assert isinstance(device, Sensor)
    bus.faults(address).bad_crc(2)
    for _ in range(2):
        with pytest.raises(ChecksumError, match="CRC mismatch"):
            device.read()
    device.read()


def test_bad_crc_needs_a_chip_with_crcs(sim_bus: SimSMBus) -> None:
    BME280.simulated(bus=sim_bus)
    with pytest.raises(ValueError, match="bme280 answers carry no CRC"):
        sim_bus.faults(0x76).bad_crc()
    with pytest.raises(ValueError, match="no chip at 0x10"):
        sim_bus.faults(0x10).bad_crc()


def test_one_failing_chip_leaves_the_others_on_the_bus_working(sim_bus: SimSMBus) -> None:
    bme = BME280.simulated(bus=sim_bus)
    sht = SHT3x.simulated(bus=sim_bus)
    sim_bus.faults(0x76).disappear()
    with pytest.raises(DeviceNotFound):
        bme.read()
    assert set(sht.read()) == {"temperature", "humidity"}


def test_adc_conversion_ready_timeout_then_recovers(sim_bus: SimSMBus) -> None:
    adc = ADS1115.simulated(bus=sim_bus)
    model = sim_bus.chip_at(0x48)
    assert isinstance(model, ADS1115Model)
    model.slowdown = 50.0
    with pytest.raises(HardwareTimeout) as info:
        adc.read()
    assert str(info.value) == (
        "bus 1, address 0x48: ads1115: conversion not ready 22.2 ms after start "
        "(expected 7.81 ms at 128 SPS)"
    )
    model.slowdown = 1.0
    sim_bus.clock.sleep(1.0)  # the slow conversion finishes
    assert adc.read()["voltage"] == pytest.approx(1.5, abs=1e-3)


def test_chip_power_cycle_is_noticed_and_reinitialize_recovers(sim_bus: SimSMBus) -> None:
    ina = INA219.simulated(bus=sim_bus)
    model = sim_bus.chip_at(0x40)
    assert model is not None
    model.power_on()  # type: ignore[attr-defined]  # a brown-out: calibration lost
    with pytest.raises(HardwareError, match="calibration reads 0, expected 4194"):
        ina.read()
    ina.reinitialize()
    assert ina.read()["current"] == pytest.approx(0.1, abs=1e-3)
