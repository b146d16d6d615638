"""Pin names, pins used twice, and the injected (never global) pin factory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DriverConfigError
from drivers.gpio.digital_inputs import Button
from drivers.gpio.digital_outputs import Led
from drivers.gpio.motor import Motor
from drivers.gpio.pin_factory import (
    default_pin_factory,
    forget_default_pin_factory,
    gpio_pin_name,
    valid_gpio_names,
)
from drivers.sim.pins import SimPinFactory, mock_factory


@pytest.mark.parametrize("name", [17, "17", "GPIO17", "BCM17", "BOARD11", "J8:11", "WPI0"])
def test_gpiozero_names_resolve(factory: MockFactory, name: object) -> None:
    assert gpio_pin_name(factory, name, driver="led") == "GPIO17"


@pytest.mark.parametrize("name", ["gpio17", "GPIO 17", "board11", "J8:11 ", 99, -1, "GPIO28", ""])
def test_bad_pin_names_say_which_and_what_is_valid(factory: MockFactory, name: object) -> None:
    with pytest.raises(DriverConfigError) as caught:
        Led(name, pin_factory=factory)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"led: pin {name!r} is not a valid pin name;")
    assert "'GPIO17', 'BCM17', 'BOARD11' or 'J8:11'" in message
    assert message.endswith("GPIO pins on this board: GPIO0..GPIO27")


def test_power_pin_is_not_a_gpio(factory: MockFactory) -> None:
    with pytest.raises(DriverConfigError, match=r"led: pin 'BOARD6' is header pin 6 \(GND\)"):
        Led("BOARD6", pin_factory=factory)


@pytest.mark.parametrize("name", [True, 17.0, None, [17]])
def test_non_pin_types(factory: MockFactory, name: object) -> None:
    with pytest.raises(DriverConfigError, match=r"is not a pin; expected a BCM number"):
        Led(name, pin_factory=factory)  # type: ignore[arg-type]


def test_pin_used_twice(factory: MockFactory) -> None:
    with (
        Led("GPIO17", pin_factory=factory),
        pytest.raises(
            DriverConfigError,
            match=r"^button on GPIO17: pin GPIO17 is already in use by <gpiozero.LED object",
        ),
    ):
        Button("BOARD11", pin_factory=factory)
    # Released on close: the pin can be used again.
    with Button("BOARD11", pin_factory=factory) as button:
        assert button.read() == {"pressed": False}


def test_same_pin_for_two_roles(factory: MockFactory) -> None:
    with pytest.raises(DriverConfigError, match="backward 17 and forward are the same pin GPIO17"):
        Motor("GPIO17", 17, pin_factory=factory)


def test_fixed_pull_pin(factory: MockFactory) -> None:
    with pytest.raises(DriverConfigError, match="GPIO2 has a fixed pull"):
        Button("GPIO2", pull_up=False, pin_factory=factory)


def test_floating_input_needs_active_state(factory: MockFactory) -> None:
    with pytest.raises(DriverConfigError, match="active_state"):
        Button("GPIO17", pull_up=None, pin_factory=factory)


def test_valid_names_on_a_pi5_board() -> None:
    pi5 = MockFactory(revision="d04170")
    assert valid_gpio_names(pi5)[:3] == ["GPIO0", "GPIO1", "GPIO2"]
    assert gpio_pin_name(pi5, "BOARD11", driver="led") == "GPIO17"


@pytest.fixture
def no_default_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start and end without a cached default factory; the global stays untouched."""
    monkeypatch.setattr(gpiozero.Device, "pin_factory", None)
    forget_default_pin_factory()
    yield
    forget_default_pin_factory()
    assert gpiozero.Device.pin_factory is None


@pytest.mark.usefixtures("no_default_factory")
def test_default_factory_is_mock_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    with Led("GPIO17") as led, Button("GPIO27") as button:
        assert isinstance(default_pin_factory(), SimPinFactory)
        assert led.gpiozero_device.pin_factory is button.gpiozero_device.pin_factory
        led.apply(True)
    assert gpiozero.Device.pin_factory is None


@pytest.mark.usefixtures("no_default_factory")
@pytest.mark.filterwarnings("ignore::gpiozero.exc.PinFactoryFallback")
@pytest.mark.filterwarnings("ignore::gpiozero.exc.NativePinFactoryFallback")
def test_no_real_factory_off_a_pi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    if Path("/proc/device-tree/model").exists():
        pytest.skip("this machine has a device tree; a real factory may load")
    with pytest.raises(DriverConfigError, match="no GPIO pin factory works on this machine"):
        Led("GPIO17")


@given(name=st.one_of(st.text(max_size=8), st.integers(min_value=-5, max_value=60)))
def test_any_pin_name_is_a_gpio_or_a_clear_config_error(name: object) -> None:
    board = mock_factory()
    try:
        canonical = gpio_pin_name(board, name, driver="led")
    except DriverConfigError as exc:
        assert str(exc).startswith(f"led: pin {name!r} ")
    else:
        assert canonical in valid_gpio_names(board)
