"""Checks a model file makes against itself: one pin, one address, one name, one binding.

Runs after the schema pass, on the built dataclasses.  A Pi has one set of pins and one set of
buses, so conflicts are looked for across every device of a gateway file.  Each problem is
reported at the second use and names the first, so the reader sees both places.
"""

from __future__ import annotations

from dataclasses import dataclass

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config import pins
from iotcs_hw.runtime.config.diagnostics import Diagnostics
from iotcs_hw.runtime.config.drivers_info import CHANNEL_OPTIONS, DriverCatalog
from iotcs_hw.runtime.config.schema import did_you_mean, format_duration


@dataclass(frozen=True)
class _Use:
    """Who uses a resource, for "already used by ..." messages."""

    what: str
    pos: m.SourcePos

    def __str__(self) -> str:
        return f"{self.what} (line {self.pos.line})"


def _entries(mf: m.ModelFile) -> list[tuple[str, m.SensorConfig | m.ActuatorConfig]]:
    out: list[tuple[str, m.SensorConfig | m.ActuatorConfig]] = []
    out.extend((f"sensor {s.name!r}", s) for s in mf.sensors)
    out.extend((f"actuator {a.name!r}", a) for a in mf.actuators)
    return out


def crosscheck(
    mf: m.ModelFile,
    diags: Diagnostics,
    drivers: DriverCatalog | None = None,
    *,
    partial: frozenset[tuple[str, m.SourcePos]] = frozenset(),
) -> None:
    """Report every conflict inside ``mf`` into ``diags``.

    ``partial`` says which parts lost broken entries in the schema pass (see
    :attr:`~.schema.Context.partial`); checks a missing entry could make wrong ("an interlock
    of one", "bus not declared") skip those parts rather than report falsely.
    """
    catalog = drivers if drivers is not None else DriverCatalog()
    all_devices = ("devices", mf.pos) not in partial
    _unique_names(mf, diags)
    _pins(mf, diags, catalog)
    _i2c(mf, diags, catalog, complete=all_devices)
    _attribute_bindings(mf, diags)
    if all_devices and not any(("actuators", d.pos) in partial for d in mf.devices):
        _interlocks(mf, diags)
    _timings(mf, diags)


def _unique_names(mf: m.ModelFile, diags: Diagnostics) -> None:
    """Device ids, hardware ids, sensor/actuator names (one namespace: health reports them)
    and alert names per device are unique."""
    seen: dict[tuple[str, str], _Use] = {}
    checks: list[tuple[str, str, str, m.SourcePos]] = []
    for d in mf.devices:
        checks.append(("device", d.id, f"device {d.id!r}", d.where("id")))
        hardware_id = d.hardware_id or d.id
        checks.append(("hardware_id", hardware_id, f"device {d.id!r}", d.where("hardware_id")))
    checks += [("entry", e.name, label, e.where("name")) for label, e in _entries(mf)]
    checks += [
        ("alert", f"{a.device}/{a.name}", f"alert {a.name!r}", a.where("name")) for a in mf.alerts
    ]
    for namespace, name, label, pos in checks:
        key = (namespace, name)
        what = "hardware_id" if namespace == "hardware_id" else "name"
        if key in seen:
            diags.error(
                pos, f"{label}: {what} {name.split('/')[-1]!r} is already used by {seen[key]}"
            )
        else:
            seen[key] = _Use(label, pos)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pins(mf: m.ModelFile, diags: Diagnostics, catalog: DriverCatalog) -> None:
    used: dict[int, _Use] = {}
    # An I2C bus in use owns its SDA/SCL pins.
    i2c_buses = {
        _int(e.options.get("bus", 1)) for _, e in _entries(mf) if _family(catalog, e) == "i2c"
    }
    for bus in sorted(b for b in i2c_buses if b is not None):
        for gpio in pins.I2C_BUS_PINS.get(bus, ()):
            used[gpio] = _Use(f"I2C bus {bus}", mf.pos)
    for label, entry in _entries(mf):
        info = catalog.info(entry.driver)
        for key in info.pin_options if info else ():
            value = entry.options.get(key)
            if value is None:
                continue
            try:
                gpio = pins.bcm_number(value)
            except pins.PinNameError:
                continue  # reported by the schema pass
            if gpio in used:
                diags.error(
                    entry.where(key),
                    f"{label}: pin {value!r} (GPIO{gpio}) is already used by {used[gpio]}",
                )
            else:
                used[gpio] = _Use(label, entry.where(key))


def _family(catalog: DriverCatalog, entry: m.SensorConfig | m.ActuatorConfig) -> str | None:
    info = catalog.info(entry.driver)
    return info.family if info else None


def _i2c(mf: m.ModelFile, diags: Diagnostics, catalog: DriverCatalog, *, complete: bool) -> None:
    declared: dict[int, m.BusConfig] = {}
    for declaration in mf.buses:
        if declaration.number in declared:
            diags.error(declaration.pos, f"buses.i2c: bus {declaration.number} is declared twice")
        declared.setdefault(declaration.number, declaration)
    owners: dict[tuple[int, int], tuple[str, str, m.SourcePos]] = {}
    channels: dict[tuple[int, int, str, int], _Use] = {}
    for label, entry in _entries(mf):
        bus, address = _int(entry.options.get("bus", 1)), _int(entry.options.get("address"))
        if _family(catalog, entry) != "i2c" or bus is None or address is None:
            continue
        if bus not in declared:
            if complete:
                known = ", ".join(str(b) for b in sorted(declared)) or "none"
                diags.error(
                    entry.where("bus"),
                    f"{label}: I2C bus {bus} is not declared under buses.i2c (declared: {known})",
                )
            continue
        where = f"bus {bus} address 0x{address:02x}"
        selector = next((k for k in CHANNEL_OPTIONS if k in entry.options), None)
        channel = _int(entry.options.get(selector)) if selector else None
        owner = owners.get((bus, address))
        if owner is None:
            owners[(bus, address)] = (entry.driver, label, entry.where("address"))
        elif _chip(owner[0]) != _chip(entry.driver) or channel is None:
            diags.error(
                entry.where("address"),
                f"{label}: {where} is already used by {owner[1]} (line {owner[2].line})",
            )
            continue
        if selector is not None and channel is not None:
            key = (bus, address, selector, channel)
            if key in channels:
                diags.error(
                    entry.where(selector),
                    f"{label}: {where} {selector} {channel} is already used by {channels[key]}",
                )
            else:
                channels[key] = _Use(label, entry.where(selector))


def _chip(driver: str) -> str:
    """Drivers that talk to the same chip (``pca9685`` and ``pca9685_servo``) share it."""
    return driver.split("_", maxsplit=1)[0]


def _attribute_bindings(mf: m.ModelFile, diags: Diagnostics) -> None:
    for device in mf.devices:
        bound: dict[str, _Use] = {}
        for sensor in device.sensors:
            for reading in sensor.readings:
                label = f"sensor {sensor.name!r} reading {reading.reading!r}"
                if reading.attribute in bound:
                    diags.error(
                        reading.where("attribute"),
                        f"{label}: attribute {reading.attribute!r} of device {device.id!r} is "
                        f"already fed by {bound[reading.attribute]}",
                    )
                else:
                    bound[reading.attribute] = _Use(label, reading.where("attribute"))
        for actuator in device.actuators:
            label = f"actuator {actuator.name!r}"
            if actuator.attribute in bound:
                diags.error(
                    actuator.where("attribute"),
                    f"{label}: attribute {actuator.attribute!r} of device {device.id!r} is "
                    f"already bound to {bound[actuator.attribute]}",
                )
            else:
                bound[actuator.attribute] = _Use(label, actuator.where("attribute"))


def _interlocks(mf: m.ModelFile, diags: Diagnostics) -> None:
    groups: dict[str, list[m.ActuatorConfig]] = {}
    for actuator in mf.actuators:
        if actuator.interlock is not None:
            groups.setdefault(actuator.interlock, []).append(actuator)
    for name, members in groups.items():
        if len(members) == 1:
            others = [g for g in groups if g != name]
            hint = did_you_mean(name, others)
            diags.error(
                members[0].where("interlock"),
                f"actuator {members[0].name!r}: interlock group {name!r} has no other "
                f"member{hint}; an interlock needs at least two actuators",
            )


def _timings(mf: m.ModelFile, diags: Diagnostics) -> None:
    for sensor in mf.sensors:
        interval = format_duration(sensor.interval_s)
        for reading in sensor.readings:
            report = reading.report
            if report.period_s is not None and report.period_s < sensor.interval_s:
                diags.error(
                    report.pos,
                    f"sensor {sensor.name!r} reading {reading.reading!r}: report every "
                    f"{format_duration(report.period_s)} is shorter than the sensor interval "
                    f"{interval}; the same sample would be sent again",
                )
            for spec in reading.filters:
                if isinstance(spec, m.TimeoutFilter) and spec.timeout_s <= sensor.interval_s:
                    diags.error(
                        spec.pos,
                        f"sensor {sensor.name!r} reading {reading.reading!r}: timeout "
                        f"{format_duration(spec.timeout_s)} is not longer than the sensor "
                        f"interval {interval}; it would fire between every two samples",
                    )
