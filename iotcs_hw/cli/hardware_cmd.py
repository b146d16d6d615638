"""``iotcs-hw scan`` and ``iotcs-hw read``: look at the hardware without a model file.

A thin face over :mod:`drivers`: the probing lives in :mod:`drivers.i2c.scan`, the simulated
bus in :mod:`drivers.sim.chips.population`, drivers come from :mod:`drivers.registry` (so
``read`` works for every registered driver, GPIO and plug-ins included).

Examples::

    iotcs-hw scan --simulate
    iotcs-hw scan --bus 1
    iotcs-hw read bme280 --simulate --json
    iotcs-hw read ads1115 --address 0x49 --option channel=2 --option full_scale=2.048
    iotcs-hw read sht3x --simulate --set temperature=30 --set humidity=70
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
from typing import Any

import yaml

from drivers import registry
from drivers.base import Actuator, Device, Sensor
from drivers.errors import DeviceNotFound, DriverConfigError
from drivers.i2c.bus import open_bus
from drivers.i2c.device import reject_unknown
from drivers.i2c.scan import FIRST, LAST, grid, scan


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``scan`` and ``read`` to ``sub``."""
    p_scan = sub.add_parser(
        "scan",
        help="list the addresses that answer on an I2C bus (like i2cdetect)",
        description="Probe every address of an I2C bus the way i2cdetect does (no register is "
        "written) and list the responding addresses with the chips that usually live there.",
    )
    p_scan.add_argument("--bus", type=int, default=1, help="bus number, /dev/i2c-N (default 1)")
    p_scan.add_argument(
        "--simulate",
        action="store_true",
        help="scan a simulated bus with one of each supported chip",
    )
    p_scan.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_scan.set_defaults(handler=run_scan)

    p_read = sub.add_parser(
        "read",
        help="read one sensor once (or show an actuator's state)",
        description="Build driver DRIVER with the given options and read it once.",
    )
    p_read.add_argument(
        "driver", metavar="DRIVER", nargs="?", help="driver name, e.g. bme280 (see --list)"
    )
    p_read.add_argument("--list", action="store_true", help="list the driver names and exit")
    p_read.add_argument("--bus", help="I2C bus number (default: the driver's, 1)")
    p_read.add_argument("--address", help="I2C address, e.g. 0x76 (default: the driver's)")
    p_read.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a driver option as in a model file (repeatable), e.g. --option oversampling=16",
    )
    p_read.add_argument("--simulate", action="store_true", help="use simulated hardware")
    p_read.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="QUANTITY=VALUE",
        help="with --simulate: a physical value the simulated sensor sees, e.g. temperature=30",
    )
    p_read.add_argument("--json", action="store_true", help="print JSON")
    p_read.set_defaults(handler=run_read)


def _error(message: str) -> int:
    print(f"iotcs-hw: error: {message}", file=sys.stderr)
    return 2


def run_scan(args: argparse.Namespace) -> int:
    """Scan a real or simulated bus and print what answered."""
    if args.simulate:
        from drivers.i2c.bus import I2CBus  # noqa: PLC0415
        from drivers.sim.chips.population import populated_bus  # noqa: PLC0415

        bus = I2CBus(populated_bus(args.bus), bus_id=args.bus)
    else:
        bus = open_bus(args.bus)
    with bus:
        found = scan(bus)
    if args.json:
        rows = [
            {
                "address": f"0x{f.address:02x}",
                "busy": f.busy,
                "probe": f.probe,
                "usual_chips": list(f.usual_chips),
            }
            for f in found
        ]
        print(json.dumps({"bus": args.bus, "simulated": args.simulate, "found": rows}, indent=2))
        return 0
    label = "simulated bus" if args.simulate else "bus"
    print(f"{label} {args.bus}, addresses 0x{FIRST:02x}..0x{LAST:02x}:")
    print(grid(found))
    print()
    if not found:
        print("nothing answered; check wiring, power, pull-ups and the bus number")
        return 0
    for f in found:
        usual = ", ".join(f.usual_chips) or "unknown"
        state = " (in use by a kernel driver)" if f.busy else ""
        print(f"0x{f.address:02x}  {usual}{state}")
    print(
        "\nread one with: iotcs-hw read DRIVER --bus N --address 0xNN"
        + (" --simulate" if args.simulate else "")
    )
    return 0


def _value(text: str) -> Any:
    """A YAML scalar or list, as a model file would give it ("0x48", "true", "[2.8, 1.2]")."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _pairs(items: list[str], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DriverConfigError(f"{flag} {item!r} is not KEY=VALUE")
        out[key.strip()] = _value(value.strip())
    return out


def _option_names(cls: type[Device]) -> list[str]:
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name != "clock"]


def _build(
    cls: type[Device], options: dict[str, Any], simulate: bool, physics: dict[str, float]
) -> Device:
    params = inspect.signature(cls.__init__).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        reject_unknown(cls.NAME, options, _option_names(cls))
    try:
        if simulate:
            from drivers.sim.physics import FixedValues  # noqa: PLC0415

            return cls.simulated(physics=FixedValues(**physics), **options)
        return cls(**options)
    except TypeError as exc:
        names = ", ".join(_option_names(cls)) or "none"
        raise DriverConfigError(f"driver {cls.NAME!r}: {exc}; its options: {names}") from exc


def _format(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_read(args: argparse.Namespace) -> int:
    """Build one driver, read it once, print the reading."""
    if args.list or args.driver is None:
        names = registry.known_drivers()
        if args.list:
            print("\n".join(names))
            return 0
        return _error(f"name a driver to read; known drivers: {', '.join(names)}")
    cls = registry.driver_class(args.driver)
    options = _pairs(args.option, "--option")
    if args.bus is not None:
        options["bus"] = _value(args.bus)
    if args.address is not None:
        options["address"] = str(args.address)
    physics = {k: float(v) for k, v in _pairs(args.set, "--set").items()}
    if physics and not args.simulate:
        return _error("--set only makes sense with --simulate")
    try:
        device = _build(cls, options, args.simulate, physics)
    except DeviceNotFound as exc:
        hint = "" if args.simulate or exc.address is None else "; see what answers: iotcs-hw scan"
        return _error(f"{exc}{hint}")
    with device:
        if isinstance(device, Sensor):
            reading = device.read()
            units = {name: q.unit for name, q in device.QUANTITIES.items()}
            result = {
                "driver": cls.NAME,
                "device": device.describe(),
                "simulated": args.simulate,
                "reading": {k: _format(v) for k, v in reading.items()},
                "units": units,
            }
        elif isinstance(device, Actuator):
            result = {
                "driver": cls.NAME,
                "device": device.describe(),
                "simulated": args.simulate,
                "state": device.state,
                "safe_state": device.safe_state,
            }
        else:  # pragma: no cover - every Device is one of the two
            return _error(f"driver {cls.NAME!r} is neither a sensor nor an actuator")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(result["device"] + (" (simulated)" if args.simulate else ""))
    if "reading" in result:
        for name, value in result["reading"].items():
            shown = f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else value
            print(f"  {name:<16} {shown} {units.get(name, '')}".rstrip())
    else:
        print(f"  state            {result['state']}")
        print(f"  safe state       {result['safe_state']}")
    return 0
