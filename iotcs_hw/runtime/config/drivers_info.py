"""What the validator needs to know about a driver: role, readings, value kind and options.

The truth is the driver class from :mod:`drivers.registry`: a :class:`~drivers.base.Sensor`
declares its readings in ``QUANTITIES``; a driver's keyword arguments are its options; a driver
may add a classmethod ``check_options(options)`` raising ``DriverConfigError`` for combinations
only it understands.  :data:`PROFILES` completes that with facts a class does not state
(the addresses a chip can answer at, how many channels it has, what an actuator takes) and stands
in for drivers whose class is not importable here, so ``check`` keeps working on a machine with a
partial install.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from yaml.nodes import Node

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
    frequency,
    integer,
    number,
    ok,
    scalar_value,
    string,
)

Role = Literal["sensor", "actuator"]
Family = Literal["i2c", "gpio", "onewire", "system"]
ValueKind = Literal["number", "integer", "boolean"]


def _address(node: Node, ctx: Context, path: str) -> Any:
    value = ctx.scalar(node, path)
    if not ok(value):
        return INVALID
    try:
        return pins.i2c_address(value)
    except ValueError as exc:
        return ctx.error(node, path, str(exc))


def _pin(node: Node, ctx: Context, path: str) -> Any:
    value = ctx.scalar(node, path)
    if not ok(value):
        return INVALID
    try:
        pins.bcm_number(value)
    except pins.PinNameError as exc:
        return ctx.error(node, path, str(exc))
    return value


#: Validators for option names every family shares; anything else is a plain scalar.
COMMON_OPTIONS: dict[str, Validator] = {
    "address": _address,
    "bus": integer(min_value=0, max_value=255),
    "pin": _pin,
    "channel": integer(min_value=0, max_value=255),
    "active_high": boolean,
    "pull_up": boolean,
    "frequency": frequency(min_hz=1, max_hz=10_000_000),
}

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
    addresses: tuple[int, ...] = ()
    channels: int = 0
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    cls: type | None = None

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


def _i2c_sensor(
    name: str,
    addresses: tuple[int, ...],
    readings: Mapping[str, ValueKind],
    ranges: Mapping[str, tuple[float, float]],
    **extra: Key,
) -> DriverInfo:
    options = {"bus": Key(COMMON_OPTIONS["bus"], default=1)}
    options["address"] = Key(COMMON_OPTIONS["address"], default=addresses[0])
    options.update(extra)
    return DriverInfo(name, "sensor", "i2c", options, readings, addresses=addresses, ranges=ranges)


# Measurement ranges from the datasheets (operating range, in the units of drivers.sim.physics).
_BOSCH_T = (-40.0, 85.0)
_RH = (0.0, 100.0)
_SENSIRION_T = (-40.0, 125.0)
_HPA = (300.0, 1100.0)


_T: dict[str, ValueKind] = {"temperature": "number"}
_TH: dict[str, ValueKind] = {"temperature": "number", "humidity": "number"}
_GPIO_OUT = {
    "pin": Key(COMMON_OPTIONS["pin"], required=True),
    "active_high": Key(boolean, default=True),
}

PROFILES: dict[str, DriverInfo] = {
    p.name: p
    for p in (
        _i2c_sensor(
            "bme280",
            (0x76, 0x77),
            {**_TH, "pressure": "number"},
            {"temperature": _BOSCH_T, "humidity": _RH, "pressure": _HPA},
        ),
        _i2c_sensor(
            "bmp280",
            (0x76, 0x77),
            {**_T, "pressure": "number"},
            {"temperature": _BOSCH_T, "pressure": _HPA},
        ),
        _i2c_sensor("sht3x", (0x44, 0x45), _TH, {"temperature": _SENSIRION_T, "humidity": _RH}),
        _i2c_sensor("htu21d", (0x40,), _TH, {"temperature": _SENSIRION_T, "humidity": _RH}),
        _i2c_sensor("si7021", (0x40,), _TH, {"temperature": _SENSIRION_T, "humidity": _RH}),
        _i2c_sensor("bh1750", (0x23, 0x5C), {"light": "number"}, {"light": (0.0, 65535.0)}),
        _i2c_sensor("mcp9808", tuple(range(0x18, 0x20)), _T, {"temperature": _SENSIRION_T}),
        _i2c_sensor(
            "ina219",
            tuple(range(0x40, 0x50)),
            {"voltage": "number", "current": "number", "power": "number"},
            {"voltage": (0.0, 32.0)},
            shunt_ohms=Key(number(min_value=0.0, exclusive_min=True), default=0.1),
        ),
        DriverInfo(
            "ads1115",
            "sensor",
            "i2c",
            {
                "bus": Key(COMMON_OPTIONS["bus"], default=1),
                "address": Key(COMMON_OPTIONS["address"], default=0x48),
                "channel": Key(integer(min_value=0, max_value=3), required=True),
                "full_scale": Key(number(min_value=0.256, max_value=6.144), default=4.096),
            },
            {"voltage": "number"},
            addresses=(0x48, 0x49, 0x4A, 0x4B),
            ranges={"voltage": (-6.144, 6.144)},
            channels=4,
        ),
        DriverInfo(
            "pca9685",
            "actuator",
            "i2c",
            {
                "bus": Key(COMMON_OPTIONS["bus"], default=1),
                "address": Key(COMMON_OPTIONS["address"], default=0x40),
                "channel": Key(integer(min_value=0, max_value=15), required=True),
                "frequency": Key(frequency(min_hz=24, max_hz=1526), default=1000),
            },
            value_kind="number",
            addresses=tuple(a for a in range(0x40, 0x78) if a != 0x70),
            channels=16,
        ),
        DriverInfo(
            "ds18b20",
            "sensor",
            "onewire",
            {"sensor_id": Key(string(pattern=r"[0-9a-f]{2}-[0-9a-f]{12}", what="a w1 id"))},
            _T,
            ranges={"temperature": (-55.0, 125.0)},
        ),
        DriverInfo("cpu_temperature", "sensor", "system", {}, {"cpu_temperature": "number"}),
        DriverInfo(
            "digital_input",
            "sensor",
            "gpio",
            {"pin": Key(COMMON_OPTIONS["pin"], required=True), "pull_up": Key(boolean, False)},
            {"active": "boolean"},
        ),
        DriverInfo("relay", "actuator", "gpio", _GPIO_OUT, value_kind="boolean"),
        DriverInfo("led", "actuator", "gpio", _GPIO_OUT, value_kind="boolean"),
        DriverInfo(
            "pwm_led",
            "actuator",
            "gpio",
            {**_GPIO_OUT, "frequency": Key(frequency(min_hz=1, max_hz=100_000), default=100)},
            value_kind="number",
        ),
        DriverInfo(
            "servo",
            "actuator",
            "gpio",
            {
                "pin": Key(COMMON_OPTIONS["pin"], required=True),
                "min_angle": Key(number(), default=-90.0),
                "max_angle": Key(number(), default=90.0),
            },
            value_kind="number",
        ),
    )
}


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


def _kind_of(py_type: type) -> ValueKind:
    if py_type is bool:
        return "boolean"
    if py_type is int:
        return "integer"
    return "number"


def _options_from_signature(cls: type, profile: DriverInfo | None) -> dict[str, Key]:
    """Option schema from the constructor's keyword parameters (profile validators win)."""
    options: dict[str, Key] = {}
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return dict(profile.options) if profile else {}
    for param in params:
        if param.name in INJECTED or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if profile is not None and param.name in profile.options:
            options[param.name] = profile.options[param.name]
            continue
        validator = COMMON_OPTIONS.get(param.name, scalar_value)
        if param.default is inspect.Parameter.empty:
            options[param.name] = Key(validator, required=True)
        elif param.default is None or isinstance(param.default, bool | int | float | str):
            options[param.name] = Key(validator, default=param.default)
        else:
            options[param.name] = Key(validator)
    return options


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
        value_kind = None
    elif issubclass(cls, Actuator):
        role = "actuator"
        readings = {}
        value_kind = profile.value_kind if profile else None
    else:  # pragma: no cover - registry only returns Device subclasses
        return profile
    family: Family = profile.family if profile else _family_of(cls)
    return DriverInfo(
        name=name,
        role=role,
        family=family,
        options=_options_from_signature(cls, profile),
        readings=readings or (profile.readings if profile else {}),
        value_kind=value_kind,
        addresses=tuple(getattr(cls, "ADDRESSES", ())) or (profile.addresses if profile else ()),
        channels=profile.channels if profile else 0,
        ranges=profile.ranges if profile else {},
        cls=cls,
    )


def _family_of(cls: type) -> Family:
    module = cls.__module__
    if ".i2c" in module:
        return "i2c"
    if ".gpio" in module:
        return "gpio"
    if ".onewire" in module:
        return "onewire"
    return "system"
