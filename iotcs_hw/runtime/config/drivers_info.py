"""What the validator needs to know about a driver: role, readings, value kind and options.

The truth is the driver class from :mod:`drivers.registry`: a :class:`~drivers.base.Sensor`
declares its readings in ``QUANTITIES``, a chip its ``ADDRESSES``, and a driver's keyword
arguments are its options (a parameter without default is a required option).  A driver may add
a classmethod ``check_options(options)`` raising ``DriverConfigError`` for combinations only it
understands.  :data:`PROFILES` completes that with facts a class does not state (which values an
actuator takes, a chip's channels, its measuring range) and stands in for drivers whose class
cannot be imported here, so ``check`` keeps working on a machine with a partial install.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from yaml.nodes import Node, SequenceNode

from drivers import registry
from drivers.base import Actuator, Sensor
from drivers.errors import DriverConfigError
from iotcs_hw.runtime.config import pins
from iotcs_hw.runtime.config.schema import (
    INVALID,
    Context,
    Key,
    Validator,
    boolean,
    describe,
    frequency,
    integer,
    items_of,
    number,
    ok,
    scalar_value,
    string,
)

Role = Literal["sensor", "actuator"]
Family = Literal["i2c", "gpio", "onewire", "system"]
ValueKind = Literal["number", "integer", "boolean"]
#: The values an actuator takes, given its options: ``(low, high)``.
ValueRange = Callable[[Mapping[str, Any]], tuple[float, float]]


def _address(node: Node, ctx: Context, path: str) -> Any:
    value = ctx.scalar(node, path)
    if not ok(value):
        return INVALID
    try:
        return pins.i2c_address(value)
    except ValueError as exc:
        return ctx.error(node, path, str(exc))


def pin_option(node: Node, ctx: Context, path: str) -> Any:
    """A pin name gpiozero accepts (kept as written)."""
    value = ctx.scalar(node, path)
    if not ok(value):
        return INVALID
    try:
        pins.bcm_number(value)
    except pins.PinNameError as exc:
        return ctx.error(node, path, str(exc))
    return value


def _numbers(node: Node, ctx: Context, path: str) -> Any:
    """A list of finite numbers, as a tuple."""
    if not isinstance(node, SequenceNode):
        return ctx.error(node, path, f"expected a list of numbers, got {describe(ctx, node)}")
    values = [number()(item, ctx, p) for p, item in items_of(node, ctx, path)]
    return tuple(values) if all(ok(v) for v in values) else INVALID


#: Validators for option names every family shares; anything else is a plain scalar.
COMMON_OPTIONS: dict[str, Validator] = {
    "address": _address,
    "bus": integer(min_value=0, max_value=255),
    "pin": pin_option,
    "channel": integer(min_value=0, max_value=255),
    "line": integer(min_value=0, max_value=7),
    "active_high": boolean,
    "pull_up": boolean,
    "frequency": frequency(min_hz=1, max_hz=10_000_000),
}

#: Option names that select one of several outputs/inputs of a shared chip.
CHANNEL_OPTIONS = ("channel", "line")

#: Constructor parameters the runtime injects; a model file cannot set them.
INJECTED = frozenset({"self", "clock", "pin_factory", "physics", "smbus", "bus_factory"})


@dataclass(frozen=True)
class DriverInfo:
    """Everything the model-file validator checks a sensor or actuator entry against."""

    name: str
    role: Role
    family: Family
    options: Mapping[str, Key] = field(default_factory=dict)
    readings: Mapping[str, ValueKind] = field(default_factory=dict)
    value_kind: ValueKind | None = None
    value_range: ValueRange | None = None
    addresses: tuple[int, ...] = ()
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    cls: type | None = None

    @property
    def pin_options(self) -> tuple[str, ...]:
        """Names of the options that are GPIO pins."""
        return tuple(k for k, key in self.options.items() if key.validator is pin_option)

    def readings_for(self, options: Mapping[str, Any]) -> dict[str, ValueKind]:
        """Readings an instance with ``options`` produces (a named ``quantity`` adds one)."""
        readings = dict(self.readings)
        quantity = options.get("quantity")
        if isinstance(quantity, str) and "quantity" in self.options:
            readings[quantity] = "number"
        return readings

    def check_options(self, options: Mapping[str, Any]) -> str | None:
        """The driver's own verdict on ``options`` (its ``check_options``), or None if fine."""
        checker = getattr(self.cls, "check_options", None)
        if checker is None:
            return None
        try:
            checker(dict(options))
        except DriverConfigError as exc:
            return str(exc)
        return None


def _fixed(low: float, high: float) -> ValueRange:
    return lambda options: (low, high)


def _angles(default_low: float, default_high: float) -> ValueRange:
    def value_range(options: Mapping[str, Any]) -> tuple[float, float]:
        a = float(options.get("min_angle", default_low))
        b = float(options.get("max_angle", default_high))
        return (min(a, b), max(a, b))

    return value_range


def _i2c(
    name: str,
    role: Role,
    addresses: tuple[int, ...],
    *,
    readings: Mapping[str, ValueKind] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    value_kind: ValueKind | None = None,
    value_range: ValueRange | None = None,
    **extra: Key,
) -> DriverInfo:
    options = {
        "bus": Key(COMMON_OPTIONS["bus"], default=1),
        "address": Key(COMMON_OPTIONS["address"], default=addresses[0]),
        **extra,
    }
    return DriverInfo(
        name,
        role,
        "i2c",
        options,
        readings or {},
        value_kind,
        value_range,
        addresses,
        ranges or {},
    )


def _gpio_out(
    name: str, kind: ValueKind, value_range: ValueRange | None, **extra: Key
) -> DriverInfo:
    options = {"pin": Key(pin_option, required=True), **extra}
    return DriverInfo(name, "actuator", "gpio", options, {}, kind, value_range)


def _gpio_in(name: str, reading: str, **extra: Key) -> DriverInfo:
    options = {"pin": Key(pin_option, required=True), "pull_up": Key(boolean, False), **extra}
    return DriverInfo(name, "sensor", "gpio", options, {reading: "boolean"})


# Measuring ranges from the datasheets, in the units of drivers.sim.physics.
_BOSCH_T = (-40.0, 85.0)
_RH = (0.0, 100.0)
_SENSIRION_T = (-40.0, 125.0)
_HPA = (300.0, 1100.0)
_T: dict[str, ValueKind] = {"temperature": "number"}
_TH: dict[str, ValueKind] = {"temperature": "number", "humidity": "number"}
_CHANNEL_16 = Key(integer(min_value=0, max_value=15), default=0)
_ANGLE = number()

PROFILES: dict[str, DriverInfo] = {
    p.name: p
    for p in (
        _i2c("bme280", "sensor", (0x76, 0x77), readings={**_TH, "pressure": "number"},
             ranges={"temperature": _BOSCH_T, "humidity": _RH, "pressure": _HPA}),
        _i2c("bmp280", "sensor", (0x76, 0x77), readings={**_T, "pressure": "number"},
             ranges={"temperature": _BOSCH_T, "pressure": _HPA}),
        _i2c("sht3x", "sensor", (0x44, 0x45), readings=_TH,
             ranges={"temperature": _SENSIRION_T, "humidity": _RH}),
        _i2c("htu21d", "sensor", (0x40,), readings=_TH,
             ranges={"temperature": _SENSIRION_T, "humidity": _RH}),
        _i2c("si7021", "sensor", (0x40,), readings=_TH,
             ranges={"temperature": _SENSIRION_T, "humidity": _RH}),
        _i2c("bh1750", "sensor", (0x23, 0x5C), readings={"light": "number"},
             ranges={"light": (0.0, 65535.0)}),
        _i2c("mcp9808", "sensor", tuple(range(0x18, 0x20)), readings=_T,
             ranges={"temperature": _SENSIRION_T}),
        _i2c("ina219", "sensor", tuple(range(0x40, 0x50)),
             readings={"voltage": "number", "shunt_voltage": "number", "current": "number",
                       "power": "number"},
             ranges={"voltage": (0.0, 32.0)},
             shunt_ohms=Key(number(min_value=0.0, exclusive_min=True), default=0.1)),
        _i2c("ads1115", "sensor", (0x48, 0x49, 0x4A, 0x4B), readings={"voltage": "number"},
             ranges={"voltage": (-6.144, 6.144)},
             channel=Key(integer(min_value=0, max_value=3), default=0),
             full_scale=Key(number(min_value=0.256, max_value=6.144), default=4.096),
             quantity=Key(string(pattern=r"[A-Za-z_][A-Za-z0-9_]*", what="a reading name")),
             unit=Key(string(what="a unit")),
             scale_from=Key(_numbers),
             scale_to=Key(_numbers)),
        _i2c("pca9685", "actuator", tuple(a for a in range(0x40, 0x78) if a != 0x70),
             value_kind="number", value_range=_fixed(0.0, 1.0), channel=_CHANNEL_16,
             frequency=Key(frequency(min_hz=24, max_hz=1526), default=200)),
        _i2c("pca9685_servo", "actuator", tuple(a for a in range(0x40, 0x78) if a != 0x70),
             value_kind="number", value_range=_angles(0.0, 180.0), channel=_CHANNEL_16,
             frequency=Key(frequency(min_hz=24, max_hz=1526), default=50),
             min_angle=Key(_ANGLE, default=0.0), max_angle=Key(_ANGLE, default=180.0)),
        _i2c("pcf8574", "actuator", (*range(0x20, 0x28), *range(0x38, 0x40)),
             value_kind="boolean", line=Key(COMMON_OPTIONS["line"], default=0)),
        _i2c("pcf8574_input", "sensor", (*range(0x20, 0x28), *range(0x38, 0x40)),
             readings={"value": "boolean"}, line=Key(COMMON_OPTIONS["line"], default=0)),
        DriverInfo("ds18b20", "sensor", "onewire",
                   {"device": Key(string(pattern=r"[0-9a-f]{2}-[0-9a-f]{12}", what="a w1 id"))},
                   _T, ranges={"temperature": (-55.0, 125.0)}),
        DriverInfo("cpu_temperature", "sensor", "system", {}, {"cpu_temperature": "number"}),
        _gpio_in("digital_input", "active"),
        _gpio_in("button", "pressed"),
        _gpio_in("motion_sensor", "motion"),
        _gpio_in("line_sensor", "line"),
        _gpio_out("relay", "boolean", None, active_high=Key(boolean, required=True)),
        _gpio_out("digital_output", "boolean", None, active_high=Key(boolean, default=True)),
        _gpio_out("led", "boolean", None, active_high=Key(boolean, default=True)),
        _gpio_out("buzzer", "boolean", None, active_high=Key(boolean, default=True)),
        _gpio_out("pwm_led", "number", _fixed(0.0, 1.0), active_high=Key(boolean, default=True),
                  frequency=Key(frequency(min_hz=1, max_hz=100_000), default=100)),
        _gpio_out("servo", "number", _fixed(-1.0, 1.0)),
        _gpio_out("angular_servo", "number", _angles(-90.0, 90.0),
                  min_angle=Key(_ANGLE, default=-90.0), max_angle=Key(_ANGLE, default=90.0)),
        DriverInfo("motor", "actuator", "gpio",
                   {"forward": Key(pin_option, required=True),
                    "backward": Key(pin_option, required=True),
                    "enable": Key(pin_option)},
                   value_kind="number", value_range=_fixed(-1.0, 1.0)),
    )
}  # fmt: skip


def _kind_of(py_type: type) -> ValueKind:
    if py_type is bool:
        return "boolean"
    if py_type is int:
        return "integer"
    return "number"


def _validator_for(param: inspect.Parameter) -> Validator:
    """A validator from a constructor parameter's name and annotation."""
    if param.name in COMMON_OPTIONS:
        return COMMON_OPTIONS[param.name]
    annotation = str(param.annotation)
    if "PinSpec" in annotation:
        return pin_option
    if "Sequence[" in annotation:
        return _numbers
    if annotation == "bool":
        return boolean
    return scalar_value


def _options_from_signature(cls: type, profile: DriverInfo | None) -> dict[str, Key]:
    """Option schema from the constructor's parameters.

    The class decides which options exist and which are required; a profile only lends a
    stricter validator for the value.
    """
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return dict(profile.options) if profile else {}
    options: dict[str, Key] = {}
    for param in params:
        if param.name in INJECTED or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        validator = (
            profile.options[param.name].validator
            if profile is not None and param.name in profile.options
            else _validator_for(param)
        )
        if param.default is inspect.Parameter.empty:
            options[param.name] = Key(validator, required=True)
        elif param.default is None or isinstance(param.default, bool | int | float | str):
            options[param.name] = Key(validator, default=param.default)
        else:
            options[param.name] = Key(validator)
    return options


def _family_of(cls: type) -> Family:
    module = cls.__module__
    if ".i2c" in module:
        return "i2c"
    if ".gpio" in module:
        return "gpio"
    if ".onewire" in module:
        return "onewire"
    return "system"


def _driver_info(name: str, *, registered: bool) -> DriverInfo | None:
    profile = PROFILES.get(name)
    if not registered:
        return profile
    try:
        cls = registry.driver_class(name)
    except (ImportError, AttributeError, DriverConfigError):
        return profile
    if issubclass(cls, Sensor):
        role: Role = "sensor"
        readings = {q: _kind_of(quantity.kind) for q, quantity in cls.QUANTITIES.items()}
    elif issubclass(cls, Actuator):
        role = "actuator"
        readings = {}
    else:  # pragma: no cover - the registry only returns Device subclasses
        return profile
    addresses = tuple(a for a in getattr(cls, "ADDRESSES", ()) if isinstance(a, int))
    return DriverInfo(
        name=name,
        role=role,
        family=profile.family if profile else _family_of(cls),
        options=_options_from_signature(cls, profile),
        readings=readings or (profile.readings if profile else {}),
        value_kind=profile.value_kind if profile else None,
        value_range=profile.value_range if profile else None,
        addresses=addresses or (profile.addresses if profile else ()),
        ranges=profile.ranges if profile else {},
        cls=cls,
    )


class DriverCatalog:
    """A snapshot of what is known about drivers, for one validation run.

    Listing plug-in entry points costs milliseconds; a run asks about the same few drivers many
    times, so names and answers are looked up once here.
    """

    def __init__(self) -> None:
        self._registered = frozenset(registry.known_drivers())
        self._cache: dict[str, DriverInfo | None] = {}

    def names(self) -> list[str]:
        """Registry names plus profiled ones (sorted), for did-you-mean hints."""
        return sorted(self._registered | set(PROFILES))

    def info(self, name: str) -> DriverInfo | None:
        """What is known about driver ``name``; None when it is neither registered nor profiled."""
        if name not in self._cache:
            self._cache[name] = _driver_info(name, registered=name in self._registered)
        return self._cache[name]
