"""The model-file schema for sensors: driver options, reading bindings, report strategies.

Every function takes a YAML node, reports what is wrong into the context and returns the
dataclass, or None when the entry is too broken to build (its problems are already reported).
Shared by the other entry schemas: :class:`ModelContext` (diagnostics plus the driver catalog),
driver option validation and the URN and attribute-name validators.
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
    NODE,
    Context,
    Key,
    Parsed,
    did_you_mean,
    duration,
    identifier,
    items_of,
    join,
    mapping,
    mapping_pairs,
    number,
    ok,
    one_of,
    raw_node,
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


def driver_for_entry(parsed: Parsed, ctx: ModelContext, path: str, role: str) -> DriverInfo | None:
    """The driver an entry names, if it exists and has ``role``; else reported, None."""
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
    info = driver_for_entry(parsed, ctx, path, "sensor")
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
