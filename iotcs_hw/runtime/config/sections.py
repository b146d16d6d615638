"""The model-file schema, section by section: YAML nodes in, :mod:`.model` dataclasses out.

Every function here takes a node, reports what is wrong into the :class:`Context` and returns
the dataclass, or None when the entry is too broken to build (its problems are already
reported).  Checks that need two entries at once (pins used twice, names repeated) live in
:mod:`.crosscheck`; checks against the IoTCS device model live in :mod:`.model_check`.
"""

from __future__ import annotations

import math
from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config.drivers_info import DriverCatalog, DriverInfo
from iotcs_hw.runtime.config.filter_schema import filter_domain, filter_name, parse_filter
from iotcs_hw.runtime.config.schema import (
    IDENTIFIER,
    INVALID,
    NODE,
    Context,
    Key,
    Parsed,
    boolean,
    describe,
    did_you_mean,
    duration,
    frequency,
    identifier,
    integer,
    items_of,
    join,
    mapping,
    mapping_pairs,
    number,
    ok,
    one_of,
    raw_node,
    scalar_value,
    string,
)


class ModelContext(Context):
    """The validation context of a model file: diagnostics plus the driver catalog."""

    def __init__(self, file: str, drivers: DriverCatalog | None = None) -> None:
        super().__init__(file)
        self.drivers = drivers if drivers is not None else DriverCatalog()


urn = string(pattern=r"urn:[A-Za-z0-9][A-Za-z0-9:._\-]*", what="a URN (urn:...)")
attribute_name = string(pattern=IDENTIFIER, what="an attribute name")

#: Sensor intervals must lie in this range (seconds): 10 ms .. 1 day.
MIN_INTERVAL_S = 0.01
MAX_INTERVAL_S = 86400.0

ESPHOME_RENAMES = {
    "update_interval": "write 'interval' (for example interval: 30s)",
    "platform": "write 'driver' (for example driver: bme280)",
    "id": "sensors and actuators are named with 'name'",
}


# --------------------------------------------------------------------------------------------
# Report strategies


_REPORT_MODES = ("every_sample", "on_change", "periodic", "on_change_or_periodic")


def parse_report(node: Node, ctx: Context, path: str) -> m.ReportStrategy | None:
    """``report: on_change`` or ``report: {mode: on_change_or_periodic, every: 5min}``."""
    pos = ctx.pos(node)
    if isinstance(node, ScalarNode):
        mode = one_of(*_REPORT_MODES)(node, ctx, path)
        if not ok(mode):
            return None
        if mode in ("periodic", "on_change_or_periodic"):
            ctx.error(node, path, f"{mode} needs a period: report: {{mode: {mode}, every: 5min}}")
            return None
        return m.ReportStrategy(mode, None, 0.0, pos)
    parsed = mapping(
        {
            "mode": Key(one_of(*_REPORT_MODES), required=True),
            "every": Key(duration(min_s=MIN_INTERVAL_S, max_s=7 * 86400.0)),
            "min_change": Key(number(min_value=0.0), default=0.0),
        }
    )(node, ctx, path)
    if not ok(parsed) or not parsed.complete:
        return None
    mode, every = parsed["mode"], parsed.get("every")
    periodic = mode in ("periodic", "on_change_or_periodic")
    if periodic and every is None:
        ctx.error(node, path, f"mode {mode} needs 'every' (for example every: 5min)")
        return None
    if not periodic and every is not None:
        ctx.error(parsed.key_pos(ctx, "every"), join(path, "every"), f"mode {mode} takes no period")
        return None
    if parsed["min_change"] and mode not in ("on_change", "on_change_or_periodic"):
        ctx.error(
            parsed.key_pos(ctx, "min_change"),
            join(path, "min_change"),
            f"only applies to on_change modes, not {mode}",
        )
        return None
    return m.ReportStrategy(mode, every, parsed["min_change"], pos)


# --------------------------------------------------------------------------------------------
# Driver options


def parse_options(parsed: Parsed, info: DriverInfo, ctx: Context, path: str) -> dict[str, Any]:
    """Validate the keys of an entry that are not the entry's own: the driver's options.

    Returns the valid options with defaults filled in; problems go to ``ctx``.
    """
    options: dict[str, Any] = {}
    good = True
    for key, (key_node, value_node) in parsed.extra.items():
        spec = info.options.get(key)
        if spec is None:
            hint = did_you_mean(key, [*info.options, *parsed.values])
            known = ", ".join(info.options) or "none"
            ctx.error(
                key_node,
                join(path, key),
                f"unknown option for driver {info.name!r}{hint}; its options: {known}",
            )
            good = False
            continue
        value = spec.validator(value_node, ctx, join(path, key))
        good = good and ok(value)
        options[key] = value
    for key, spec in info.options.items():
        if key in options:
            continue
        if spec.required:
            ctx.error(parsed.pos, path, f"driver {info.name!r} needs option {key!r}")
            good = False
        elif spec.has_default and spec.default is not None:
            options[key] = spec.default
    if "address" in options and info.addresses and ok(options["address"]):
        address = options["address"]
        if address not in info.addresses:
            allowed = ", ".join(f"0x{a:02x}" for a in info.addresses[:8])
            more = " ..." if len(info.addresses) > 8 else ""
            ctx.error(
                ctx.pos(parsed.extra["address"][1]) if "address" in parsed.extra else parsed.pos,
                join(path, "address"),
                f"a {info.name} answers only at {allowed}{more}, not 0x{address:02x}",
            )
            good = False
    if good:
        verdict = info.check_options(options)
        if verdict is not None:
            ctx.error(parsed.pos, path, f"driver {info.name!r}: {verdict}")
    # Options that failed are dropped (not defaulted: a default address could then clash with
    # another entry and produce a second, false report).
    return {k: v for k, v in options.items() if ok(v)}


def _driver(parsed: Parsed, ctx: ModelContext, path: str, role: str) -> DriverInfo | None:
    name = parsed["driver"]
    if not ok(name):
        return None
    info = ctx.drivers.info(name)
    pos = parsed.key_pos(ctx, "driver")
    if info is None:
        hint = did_you_mean(name, ctx.drivers.names())
        ctx.error(pos, join(path, "driver"), f"unknown driver {name!r}{hint}")
        return None
    if info.role != role:
        where = "actuators" if info.role == "actuator" else "sensors"
        ctx.error(pos, join(path, "driver"), f"{name!r} is an {info.role}; list it under {where}")
        return None
    return info


# --------------------------------------------------------------------------------------------
# Sensors


def parse_reading(
    reading: str, node: Node, ctx: Context, path: str, kind: str | None
) -> m.ReadingBinding | None:
    """One ``readings:`` entry: ``temperature: temp_attr`` or a mapping with filters/report."""
    pos = ctx.pos(node)
    if isinstance(node, ScalarNode):
        attr = attribute_name(node, ctx, path)
        return (
            m.ReadingBinding(reading, attr, (), m.ReportStrategy(pos=pos), pos)
            if ok(attr)
            else None
        )
    parsed = mapping(
        {
            "attribute": Key(attribute_name, required=True),
            "filters": NODE,
            "report": NODE,
        }
    )(node, ctx, path)
    if not ok(parsed):
        return None
    filters: list[Any] = []
    filters_node = parsed.get("filters")
    if filters_node is not None:
        fpath = join(path, "filters")
        for item_path, item in items_of(filters_node, ctx, fpath):
            spec = parse_filter(item, ctx, item_path)
            if not ok(spec):
                continue
            domain = filter_domain(spec)
            if kind is not None and domain not in ("any", kind):
                ctx.error(
                    spec.pos,
                    item_path,
                    f"filter {filter_name(spec)!r} works on {domain} readings; "
                    f"{reading!r} is a {kind}",
                )
                continue
            filters.append(spec)
        given = filters_node.value if isinstance(filters_node, SequenceNode) else ()
        if len(filters) != len(given):
            ctx.partial.add(("reading", pos))
    report = m.ReportStrategy(pos=pos)
    if parsed.get("report") is not None:
        report = parse_report(parsed["report"], ctx, join(path, "report")) or report
    if not ok(parsed["attribute"]):
        return None
    return m.ReadingBinding(
        reading, parsed["attribute"], tuple(filters), report, pos, parsed.positions(ctx)
    )


def parse_retry(node: Node, ctx: Context, path: str) -> m.RetryPolicy | None:
    """``retry: {initial: 1s, max: 5min, multiplier: 2}``."""
    parsed = mapping(
        {
            "initial": Key(duration(min_s=0.001, max_s=3600.0), default=1.0),
            "max": Key(duration(min_s=0.001, max_s=86400.0), default=300.0),
            "multiplier": Key(number(min_value=1.0, max_value=10.0), default=2.0),
        }
    )(node, ctx, path)
    if not ok(parsed) or not parsed.complete:
        return None
    if parsed["max"] < parsed["initial"]:
        ctx.error(parsed.key_pos(ctx, "max"), join(path, "max"), "must not be shorter than initial")
        return None
    return m.RetryPolicy(parsed["initial"], parsed["max"], parsed["multiplier"], ctx.pos(node))


SENSOR_SCHEMA = {
    "name": Key(identifier, required=True),
    "driver": Key(string(what="a driver name"), required=True),
    "interval": Key(duration(min_s=MIN_INTERVAL_S, max_s=MAX_INTERVAL_S), default=60.0),
    "readings": Key(raw_node, required=True),
    "retry": NODE,
}


def parse_sensor(node: Node, ctx: ModelContext, path: str, device: str) -> m.SensorConfig | None:
    """One ``sensors:`` item."""
    parsed = mapping(SENSOR_SCHEMA, allow_extra=True, renamed=ESPHOME_RENAMES)(node, ctx, path)
    if not ok(parsed):
        return None
    info = _driver(parsed, ctx, path, "sensor")
    options = parse_options(parsed, info, ctx, path) if info is not None else None
    readings: list[m.ReadingBinding] = []
    readings_node = parsed["readings"]
    complete = True
    if ok(readings_node):
        rpath = join(path, "readings")
        pairs = mapping_pairs(readings_node, ctx, rpath)
        if isinstance(pairs, list):
            if not pairs:
                ctx.error(readings_node, rpath, "bind at least one reading to an attribute")
            for reading, key_node, value_node in pairs:
                kind = None
                readings_known = info.readings_for(options or {}) if info is not None else {}
                if readings_known:
                    if reading not in readings_known:
                        hint = did_you_mean(reading, list(readings_known))
                        ctx.error(
                            key_node,
                            join(rpath, reading),
                            f"driver {parsed['driver']!r} has no reading {reading!r}{hint}; "
                            f"it reads: {', '.join(readings_known)}",
                        )
                        complete = False
                        continue
                    kind = readings_known[reading]
                binding = parse_reading(reading, value_node, ctx, join(rpath, reading), kind)
                if binding is None:
                    complete = False
                else:
                    readings.append(binding)
        else:
            complete = False
    retry = m.RetryPolicy(pos=parsed.pos)
    if parsed.get("retry") is not None:
        retry = parse_retry(parsed["retry"], ctx, join(path, "retry")) or retry
    # With some readings broken the sensor is still built (its problems are reported), so the
    # later passes can check what is valid; the file as a whole is refused anyway.
    del complete
    if info is None or options is None or not ok(parsed["name"]):
        return None
    if not ok(parsed["interval"]):
        # Reported already; NaN compares false, so no interval check reports on top of it.
        parsed.values["interval"] = math.nan
    return m.SensorConfig(
        name=parsed["name"],
        driver=info.name,
        device=device,
        interval_s=parsed["interval"],
        readings=tuple(readings),
        options=options,
        retry=retry,
        pos=parsed.pos,
        positions=parsed.positions(ctx),
    )


# --------------------------------------------------------------------------------------------
# Actuators


ACTUATOR_SCHEMA = {
    "name": Key(identifier, required=True),
    "driver": Key(string(what="a driver name"), required=True),
    "attribute": Key(attribute_name, required=True),
    "safe_state": Key(scalar_value),
    "limits": NODE,
    "min_on": Key(duration(min_s=0.0, max_s=86400.0), default=0.0),
    "min_off": Key(duration(min_s=0.0, max_s=86400.0), default=0.0),
    "interlock": Key(identifier),
    "offline_safe_after": Key(duration(min_s=1.0, max_s=7 * 86400.0)),
    "scale": NODE,
}


def _pair(node: Node, ctx: Context, path: str) -> Any:
    """Two different finite numbers: ``[0, 100]``."""
    if not isinstance(node, SequenceNode) or len(node.value) != 2:
        return ctx.error(
            node, path, f"expected two numbers like [0, 100], got {describe(ctx, node)}"
        )
    a, b = (number()(item, ctx, path) for item in node.value)
    if not (ok(a) and ok(b)):
        return INVALID
    if a == b:
        return ctx.error(node, path, f"the two ends must differ, got [{a:g}, {b:g}]")
    return (a, b)


def parse_scale(node: Node, ctx: Context, path: str) -> m.LinearMap | None:
    """``scale: {from: [0, 100], to: [0, 1]}``: attribute values -> driver values."""
    parsed = mapping({"from": Key(_pair, required=True), "to": Key(_pair, required=True)})(
        node, ctx, path
    )
    if not ok(parsed) or not parsed.complete:
        return None
    return m.LinearMap(parsed["from"], parsed["to"], ctx.pos(node))


def parse_limits(node: Node, ctx: Context, path: str) -> m.Limits | None:
    """``limits: {min: 0, max: 80}``."""
    parsed = mapping({"min": Key(number()), "max": Key(number())})(node, ctx, path)
    if not ok(parsed) or not parsed.complete:
        return None
    low, high = parsed.get("min"), parsed.get("max")
    if low is None and high is None:
        ctx.error(node, path, "give min and/or max")
        return None
    if low is not None and high is not None and low > high:
        ctx.error(node, path, f"min {low:g} is greater than max {high:g}")
        return None
    return m.Limits(low, high, ctx.pos(node))


def parse_actuator(
    node: Node, ctx: ModelContext, path: str, device: str
) -> m.ActuatorConfig | None:
    """One ``actuators:`` item."""
    parsed = mapping(ACTUATOR_SCHEMA, allow_extra=True, renamed=ESPHOME_RENAMES)(node, ctx, path)
    if not ok(parsed):
        return None
    info = _driver(parsed, ctx, path, "actuator")
    options = parse_options(parsed, info, ctx, path) if info is not None else None
    limits = None
    if parsed.get("limits") is not None:
        limits = parse_limits(parsed["limits"], ctx, join(path, "limits"))
    scale = None
    if parsed.get("scale") is not None:
        scale = parse_scale(parsed["scale"], ctx, join(path, "scale"))
        if scale is None:
            ctx.partial.add(("scale", parsed.pos))
    if info is None or options is None or not all(ok(parsed[k]) for k in ("name", "attribute")):
        return None
    # Optional keys that failed validation (already reported) fall back to their defaults so
    # the later passes can still check the rest of this actuator.
    for key, spec in ACTUATOR_SCHEMA.items():
        if not ok(parsed.get(key)):
            parsed.values[key] = spec.default if spec.has_default else None
    boolean_only = ("min_on", "min_off", "interlock")
    if info.value_kind == "number":
        for key in boolean_only[:2]:
            if parsed[key]:
                ctx.error(
                    parsed.key_pos(ctx, key),
                    join(path, key),
                    f"only applies to on/off actuators; {info.name!r} takes a number",
                )
                return None
    if info.value_kind == "boolean" and limits is not None:
        ctx.error(
            limits.pos, join(path, "limits"), f"{info.name!r} is on/off; limits need a number"
        )
        return None
    if info.value_kind == "boolean" and scale is not None:
        ctx.error(scale.pos, join(path, "scale"), f"{info.name!r} is on/off; scale needs a number")
        return None
    return m.ActuatorConfig(
        name=parsed["name"],
        driver=info.name,
        device=device,
        attribute=parsed["attribute"],
        options=options,
        safe_state=parsed.get("safe_state"),
        limits=limits,
        min_on_s=parsed["min_on"],
        min_off_s=parsed["min_off"],
        interlock=parsed.get("interlock"),
        offline_safe_after_s=parsed.get("offline_safe_after"),
        pos=parsed.pos,
        positions=parsed.positions(ctx),
        scale=scale,
    )


# --------------------------------------------------------------------------------------------
# Alerts


_OPS = ("above", "below", "equals")


def parse_condition(node: Node, ctx: Context, path: str) -> m.AlertCondition | None:
    """``when: {attribute: temperature, above: 35, hysteresis: 2, for: 1min}``."""
    parsed = mapping(
        {
            "attribute": Key(attribute_name, required=True),
            "above": Key(number()),
            "below": Key(number()),
            "equals": Key(scalar_value),
            "hysteresis": Key(number(min_value=0.0), default=0.0),
            "for": Key(duration(min_s=0.0, max_s=86400.0), default=0.0),
        }
    )(node, ctx, path)
    if not ok(parsed):
        return None
    given = [op for op in _OPS if op in parsed.nodes]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        ctx.error(node, path, f"give exactly one of above, below, equals (got {what})")
        return None
    if not parsed.complete:
        return None
    op = given[0]
    if op == "equals" and parsed["hysteresis"]:
        ctx.error(
            parsed.key_pos(ctx, "hysteresis"),
            join(path, "hysteresis"),
            "only applies to above/below",
        )
        return None
    return m.AlertCondition(
        parsed["attribute"],
        op,  # type: ignore[arg-type]  # one of _OPS
        parsed[op],
        parsed["hysteresis"],
        parsed["for"],
        ctx.pos(node),
        parsed.positions(ctx),
    )


def parse_alert_field(name: str, node: Node, ctx: Context, path: str) -> m.AlertField | None:
    """``field: attribute_name`` or ``field: {value: 35}`` (a constant)."""
    pos = ctx.pos(node)
    if isinstance(node, ScalarNode):
        value = ctx.scalar(node, path)
        if ok(value) and not isinstance(value, str):
            ctx.error(
                node,
                path,
                f"expected an attribute name, got {describe(ctx, node)}; "
                f"write a constant as {{value: {node.value}}}",
            )
            return None
        attr = attribute_name(node, ctx, path)
        return m.AlertField(name, attr, None, pos) if ok(attr) else None
    parsed = mapping({"attribute": Key(attribute_name), "value": Key(scalar_value)})(
        node, ctx, path
    )
    if not ok(parsed) or not parsed.complete:
        return None
    if ("attribute" in parsed.nodes) == ("value" in parsed.nodes):
        ctx.error(node, path, "give either attribute or value")
        return None
    return m.AlertField(name, parsed.get("attribute"), parsed.get("value"), pos)


ALERT_SCHEMA = {
    "name": Key(identifier, required=True),
    "format": Key(urn, required=True),
    "when": Key(raw_node, required=True),
    "severity": Key(one_of("LOW", "NORMAL", "SIGNIFICANT", "CRITICAL", upper=True), "SIGNIFICANT"),
    "fields": NODE,
    "description": Key(string()),
    "repeat": Key(duration(min_s=1.0, max_s=7 * 86400.0)),
}


def parse_alert(node: Node, ctx: ModelContext, path: str, device: str) -> m.AlertConfig | None:
    """One ``alerts:`` item."""
    parsed = mapping(ALERT_SCHEMA)(node, ctx, path)
    if not ok(parsed):
        return None
    condition = None
    if ok(parsed["when"]):
        condition = parse_condition(parsed["when"], ctx, join(path, "when"))
    fields: list[m.AlertField] = []
    if parsed.get("fields") is not None:
        fpath = join(path, "fields")
        pairs = mapping_pairs(parsed["fields"], ctx, fpath)
        if isinstance(pairs, list):
            for name, _key, value_node in pairs:
                alert_field = parse_alert_field(name, value_node, ctx, join(fpath, name))
                # A broken field keeps its name (bound to nothing) so "field missing" is not
                # reported on top of what is wrong with it.
                fields.append(alert_field or m.AlertField(name, pos=ctx.pos(value_node)))
    if not all(ok(parsed[k]) for k in ("name", "format")):
        return None
    if condition is None:
        # Reported already; an empty attribute tells the later passes to skip the condition
        # while still checking the format and its fields.
        condition = m.AlertCondition("", "above", 0.0, pos=parsed.pos)
    if not ok(parsed["severity"]):
        parsed.values["severity"] = "SIGNIFICANT"
    return m.AlertConfig(
        name=parsed["name"],
        device=device,
        format=parsed["format"],
        condition=condition,
        severity=parsed["severity"],
        fields=tuple(fields),
        description=parsed.get("description"),
        repeat_s=parsed.get("repeat"),
        pos=parsed.pos,
        positions=parsed.positions(ctx),
    )


# --------------------------------------------------------------------------------------------
# Devices, store, buses, health, logging


DEVICE_SCHEMA = {
    "id": Key(identifier, required=True),
    "model": Key(raw_node, required=True),
    "hardware_id": Key(string()),
    "metadata": NODE,
    "sensors": NODE,
    "actuators": NODE,
    "alerts": NODE,
}


def _models(node: Node, ctx: Context, path: str) -> tuple[str, ...] | None:
    if isinstance(node, SequenceNode):
        urns = [urn(item, ctx, p) for p, item in items_of(node, ctx, path, min_len=1)]
        return tuple(urns) if urns and all(ok(u) for u in urns) else None
    value = urn(node, ctx, path)
    return (value,) if ok(value) else None


def _metadata(node: Node, ctx: Context, path: str) -> dict[str, str] | None:
    pairs = mapping_pairs(node, ctx, path)
    if not isinstance(pairs, list):
        return None
    result: dict[str, str] = {}
    for key, _key_node, value_node in pairs:
        value = scalar_value(value_node, ctx, join(path, key))
        if ok(value):
            result[key] = str(value)
    return result if len(result) == len(pairs) else None


def parse_device(node: Node, ctx: ModelContext, path: str) -> m.DeviceConfig | None:
    """One ``devices:`` item with its sensors, actuators and alerts."""
    parsed = mapping(
        DEVICE_SCHEMA,
        renamed={
            "sensor": "write 'sensors' (a list)",
            "urn": "write 'model' (the device-model URN, or a list of URNs)",
            "models": "write 'model' (one URN or a list of URNs)",
        },
    )(node, ctx, path)
    if not ok(parsed):
        return None
    device_id = parsed["id"] if ok(parsed["id"]) else "?"
    models = _models(parsed["model"], ctx, join(path, "model")) if ok(parsed["model"]) else None
    metadata: dict[str, str] | None = {}
    if parsed.get("metadata") is not None:
        metadata = _metadata(parsed["metadata"], ctx, join(path, "metadata"))
    built: dict[str, list[Any]] = {}
    for section, parse in (
        ("sensors", parse_sensor),
        ("actuators", parse_actuator),
        ("alerts", parse_alert),
    ):
        built[section] = []
        section_node = parsed.get(section)
        if section_node is None:
            continue
        for item_path, item in items_of(section_node, ctx, join(path, section)):
            entry = parse(item, ctx, item_path, device_id)
            if entry is not None:
                built[section].append(entry)
            else:
                ctx.partial.add((section, parsed.pos))
        if not isinstance(section_node, SequenceNode):
            ctx.partial.add((section, parsed.pos))
    if models is None or not ok(parsed["id"]):
        return None
    return m.DeviceConfig(
        id=device_id,
        models=models,
        sensors=tuple(built["sensors"]),
        actuators=tuple(built["actuators"]),
        alerts=tuple(built["alerts"]),
        hardware_id=parsed.get("hardware_id") or None,
        metadata=metadata or {},
        pos=parsed.pos,
        positions=parsed.positions(ctx),
    )


def parse_store(node: Node, ctx: Context, path: str) -> m.StoreConfig | None:
    """``store: {path: ..., password_env: ..., password_file: ..., state_dir: ...}``."""
    parsed = mapping(
        {
            "path": Key(string(what="a file path"), required=True),
            "password_env": Key(
                string(pattern=r"[A-Za-z_][A-Za-z0-9_]*", what="an environment variable name"),
                default="IOTCS_HW_STORE_PASSWORD",
            ),
            "password_file": Key(string(what="a file path")),
            "state_dir": Key(string(what="a directory path")),
        },
        renamed={"password": "never write the password here; use password_env or password_file"},
    )(node, ctx, path)
    if not ok(parsed) or not parsed.complete:
        return None
    return m.StoreConfig(
        parsed["path"],
        parsed["password_env"],
        parsed.get("password_file"),
        parsed.get("state_dir"),
        parsed.pos,
    )


def parse_buses(node: Node, ctx: Context, path: str) -> tuple[m.BusConfig, ...] | None:
    """``buses: {i2c: [{bus: 1, frequency: 400kHz}]}``."""
    parsed = mapping({"i2c": NODE})(node, ctx, path)
    if not ok(parsed):
        return None
    buses: list[m.BusConfig] = []
    complete = parsed.complete
    i2c = parsed.get("i2c")
    if i2c is not None:
        for item_path, item in items_of(i2c, ctx, join(path, "i2c")):
            bus = mapping(
                {
                    "bus": Key(integer(min_value=0, max_value=255), required=True),
                    "frequency": Key(frequency(min_hz=10_000, max_hz=3_400_000), default=100_000),
                }
            )(item, ctx, item_path)
            if not ok(bus) or not bus.complete:
                complete = False
                continue
            buses.append(m.BusConfig("i2c", bus["bus"], bus["frequency"], bus.pos))
    return tuple(buses) if complete else None


def parse_health(node: Node, ctx: Context, path: str) -> m.HealthConfig | None:
    """``health: {enabled: true, host: 127.0.0.1, port: 8321, watchdog: true}``."""
    parsed = mapping(
        {
            "enabled": Key(boolean, default=True),
            "host": Key(string(what="a host name or address"), default="127.0.0.1"),
            "port": Key(integer(min_value=0, max_value=65535), default=8321),
            "watchdog": Key(boolean, default=True),
        }
    )(node, ctx, path)
    if not ok(parsed) or not parsed.complete:
        return None
    return m.HealthConfig(
        parsed["enabled"], parsed["host"], parsed["port"], parsed["watchdog"], parsed.pos
    )


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_logging(node: Node, ctx: Context, path: str) -> m.LoggingConfig | None:
    """``logging: {level: INFO, loggers: {iotcs_hw.transport: DEBUG}}``."""
    parsed = mapping({"level": Key(one_of(*_LEVELS, upper=True), "INFO"), "loggers": NODE})(
        node, ctx, path
    )
    if not ok(parsed):
        return None
    loggers: dict[str, Any] = {}
    if parsed.get("loggers") is not None:
        lpath = join(path, "loggers")
        pairs = mapping_pairs(parsed["loggers"], ctx, lpath)
        if not isinstance(pairs, list):
            return None
        for name, _key, value_node in pairs:
            loggers[name] = one_of(*_LEVELS, upper=True)(value_node, ctx, join(lpath, name))
    if not parsed.complete or not all(ok(v) for v in loggers.values()):
        return None
    return m.LoggingConfig(parsed["level"], loggers, parsed.pos)
