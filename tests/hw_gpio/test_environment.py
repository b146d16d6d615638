"""The environment model: dynamics, determinism, couplings, and a closed loop through drivers."""

from __future__ import annotations

import math

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.gpio.digital_outputs import Relay
from drivers.gpio.pwm_outputs import AngularServo
from drivers.onewire.ds18b20 import Ds18b20
from drivers.sim.environment import (
    FAN,
    GROW_LIGHT,
    HEATER,
    PUMP,
    VENT,
    Effect,
    Environment,
    Room,
    Weather,
    state_level,
)
from drivers.sim.pins import pin_level, servo_opening

CALM = Weather(temperature_noise=0.0, pressure_noise=0.0)


class ManualClock:
    """A fake monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_order_relaxation_matches_the_closed_form() -> None:
    # Outside constant 15 degC (no swing, no sun at midnight), inside starts at 25.
    weather = Weather(daily_swing=0.0, temperature_noise=0.0, pressure_noise=0.0)
    env = Environment(start_hour=0.0, weather=weather, initial={"temperature": 25.0})
    env.advance(1800)  # one time constant
    expected = 15.0 + 10.0 * math.exp(-1)
    assert env.get("temperature") == pytest.approx(expected, abs=1e-9)


def test_same_seed_same_numbers_and_grid_independent_of_chunking() -> None:
    first = Environment(seed=7, start_hour=9.0, step_s=4.0)
    second = Environment(seed=7, start_hour=9.0, step_s=4.0)
    other = Environment(seed=8, start_hour=9.0, step_s=4.0)
    first.advance(3600)
    for _ in range(36):
        second.advance(100)
    other.advance(3600)
    assert first.snapshot() == second.snapshot()
    assert first.get("temperature") != other.get("temperature")


def test_clock_drives_time_and_advance_adds_to_it() -> None:
    clock = ManualClock()
    env = Environment(clock=clock, step_s=1.0)
    assert env.time_s == 0.0
    clock.now += 10.4
    assert env.time_s == 10.0
    env.advance(5)
    assert env.time_s == 15.0
    with pytest.raises(ValueError, match="only moves forward"):
        env.advance(-1)


def test_day_and_night_light() -> None:
    env = Environment(start_hour=13.0, weather=CALM, step_s=10.0)
    noon_lux = env.get("light")
    assert noon_lux > 30_000
    env.advance(10 * 3600)  # 23:00
    assert env.get("light") == 0.0
    assert env.hour == pytest.approx(23.0)


def test_fan_cools_and_dries_heater_warms() -> None:
    warm = {"temperature": 30.0, "humidity": 80.0}
    still = Environment(start_hour=0.0, weather=CALM, initial=warm)
    fanned = Environment(start_hour=0.0, weather=CALM, initial=warm)
    heated = Environment(start_hour=0.0, weather=CALM, initial=warm)
    fanned.couple("fan", *FAN)
    fanned.actuate("fan", True)
    heated.couple("heater", *HEATER)
    heated.actuate("heater", 1.0)
    for env in (still, fanned, heated):
        env.advance(1200)
    assert fanned.get("temperature") < still.get("temperature") - 2.0
    assert fanned.get("humidity") < still.get("humidity") - 2.0
    assert heated.get("temperature") > still.get("temperature") + 1.5
    assert fanned.get("current") == pytest.approx(0.1 + 0.3)
    assert heated.get("current") == pytest.approx(0.1 + 4.0)


def test_pump_wets_soil_and_empties_tank_grow_light_adds_lux() -> None:
    env = Environment(start_hour=0.0, weather=CALM, step_s=5.0, initial={"soil_moisture": 20.0})
    env.couple("pump", *PUMP)
    env.couple("light", *GROW_LIGHT)
    env.actuate("pump", 1)
    env.actuate("light", 1)
    env.advance(60)
    assert env.get("soil_moisture") == pytest.approx(50.0, abs=0.1)
    assert env.get("distance") == pytest.approx(0.5 + 0.06)
    assert env.get("light") == 5000.0
    env.actuate("pump", 0)
    env.advance(6 * 3600)
    assert 20.0 < env.get("soil_moisture") < 50.0  # drying slowly toward 10 %


def test_soil_dries_toward_its_set_point_over_weeks() -> None:
    env = Environment(weather=CALM, step_s=600.0, initial={"soil_moisture": 50.0})
    env.advance(20 * 86_400)  # ten time constants
    assert env.get("soil_moisture") == pytest.approx(10.0, abs=0.01)


def test_soil_clamped_at_100_percent() -> None:
    env = Environment(weather=CALM, initial={"soil_moisture": 95.0})
    env.couple("pump", *PUMP)
    env.actuate("pump", True)
    env.advance(120)
    assert env.get("soil_moisture") == 100.0


def test_unknown_coupling_and_quantity() -> None:
    env = Environment()
    env.couple("fan", *FAN)
    with pytest.raises(KeyError, match="no coupling named 'heater'; coupled actuators: fan"):
        env.actuate("heater", 1)
    with pytest.raises(KeyError, match="no value for quantity 'flux'"):
        env.get("flux")
    with pytest.raises(ValueError, match="use force"):
        env.set("light", 3.0)
    env.force("light", 3.0)
    assert env.get("light") == 3.0
    with pytest.raises(ValueError, match="at least one Effect"):
        env.couple("nothing")


def test_vent_servo_opening_exchanges_air(factory: MockFactory) -> None:
    hot = {"temperature": 32.0}
    closed_env = Environment(start_hour=0.0, weather=CALM, initial=hot)
    open_env = Environment(start_hour=0.0, weather=CALM, initial=hot)
    with AngularServo.simulated(
        pin_factory=factory, pin="GPIO13", min_angle=0, max_angle=90, safe_angle=0
    ) as vent:
        open_env.couple("vent", *VENT, level=servo_opening(factory, "GPIO13"))
        closed_env.couple("vent", *VENT, level=state_level(vent, low=0, high=90))
        assert open_env.level("vent") == 0.0
        vent.apply(90)
        assert open_env.level("vent") == pytest.approx(1.0)
        assert closed_env.level("vent") == pytest.approx(1.0)
        closed_env.decouple("vent")
        open_env.advance(1800)
        closed_env.advance(1800)
    assert open_env.get("temperature") < closed_env.get("temperature") - 3.0


def test_failing_level_source_keeps_last_level(caplog: pytest.LogCaptureFixture) -> None:
    calls = iter([1.0])

    def flaky() -> float:
        return next(calls)  # raises StopIteration after the first call

    env = Environment(weather=CALM)
    env.couple("heater", Effect("temperature", rate=1.0), level=flaky)
    env.advance(3)
    assert env.level("heater") == 1.0
    assert "level of coupling 'heater' failed" in caplog.text


def test_closed_loop_fan_relay_cools_what_a_ds18b20_reads(factory: MockFactory) -> None:
    """Sensor reads, a decision switches a relay, the mock pin drives the fan, the sensor
    reads differently: the loop the runtime closes, through real drivers on both ends."""
    room = Room(solar_gain=0.0)
    warm = {"temperature": 30.0}
    env = Environment(seed=3, start_hour=2.0, weather=CALM, room=room, initial=warm)
    with Relay.simulated(pin_factory=factory, pin="GPIO17", active_high=True) as fan:
        env.couple("fan", *FAN, level=pin_level(factory, "GPIO17"))
        probe = Ds18b20.simulated(physics=env)
        before = probe.read()["temperature"]
        assert before == pytest.approx(30.0, abs=0.07)
        # The "cloud" decides: too warm -> fan on.
        assert fan.apply(before > 25.0) is True
        env.advance(900)
        after = probe.read()["temperature"]
        # Compare with the same room without the fan (same seed, same time).
        baseline = Environment(seed=3, start_hour=2.0, weather=CALM, room=room, initial=warm)
        baseline.advance(900)
        assert after < before - 2.0
        assert after < baseline.get("temperature") - 1.0
        fan.apply(False)
        assert env.level("fan") == 0.0


def test_i2c_chip_models_see_the_same_environment(factory: MockFactory) -> None:
    """A heater relay on a mock pin warms the room a BME280 model measures, and the INA219
    model on the supply sees its current (the I2C chips read physics the same way)."""
    from drivers import driver_class

    env = Environment(seed=2, start_hour=3.0, weather=CALM)
    with Relay.simulated(pin_factory=factory, pin="GPIO5", active_high=True) as heater:
        env.couple("heater", *HEATER, level=pin_level(factory, "GPIO5"))
        climate = driver_class("bme280").simulated(physics=env)
        # A 4 A heater needs a smaller shunt than the 0.1 ohm default (3.2 A full scale).
        supply = driver_class("ina219").simulated(physics=env, shunt_ohms=0.01, max_current=8.0)
        cold = climate.read()
        idle = supply.read()
        heater.apply(True)
        env.advance(1800)
        warm = climate.read()
        busy = supply.read()
    assert float(warm["temperature"]) > float(cold["temperature"]) + 1.5
    assert float(busy["current"]) > float(idle["current"]) + 1.0


def test_closed_loop_pump_relay_wets_what_an_mcp3008_probe_reads(factory: MockFactory) -> None:
    """Dry soil read through the ADC -> pump relay on -> the same channel reads wetter."""
    from drivers.gpio.adc import Mcp3008

    env = Environment(seed=4, weather=CALM, initial={"soil_moisture": 18.0})
    with (
        Relay.simulated(pin_factory=factory, pin="GPIO27", active_high=False) as pump,
        Mcp3008.simulated(
            physics=env,
            pin_factory=factory,
            channel=1,
            quantity="soil_moisture",
            unit="%",
            points=[[2.8, 0.0], [1.2, 100.0]],  # capacitive probe: wetter = lower volts
        ) as probe,
    ):
        env.couple("pump", *PUMP, level=state_level(pump))
        dry = probe.read()
        assert dry["soil_moisture"] == pytest.approx(18.0, abs=0.25)
        pump.apply(float(dry["soil_moisture"]) < 30.0)
        assert pin_level(factory, "GPIO27")() == 0.0  # active-low board: pin low = pump on
        env.advance(40)
        wet = probe.read()
        pump.apply(False)
    assert wet["soil_moisture"] == pytest.approx(38.0, abs=0.5)
    assert float(wet["voltage"]) < float(dry["voltage"])
