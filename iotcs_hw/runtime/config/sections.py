"""The model-file schema for the file's sections: devices (with their entries), store, buses,
health and logging.  Entries have their own modules (:mod:`.sensor_schema`,
:mod:`.actuator_schema`, :mod:`.alert_schema`); cross-entry checks live in :mod:`.crosscheck`,
checks against the IoTCS device model in :mod:`.model_check`.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node, SequenceNode

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config.actuator_schema import parse_actuator
from iotcs_hw.runtime.config.alert_schema import parse_alert
from iotcs_hw.runtime.config.schema import (
    NODE,
    Context,
    Key,
    boolean,
    frequency,
    identifier,
    integer,
    items_of,
    join,
    mapping,
    mapping_pairs,
    ok,
    one_of,
    raw_node,
    scalar_value,
    string,
)
from iotcs_hw.runtime.config.sensor_schema import (
    ModelContext,
    parse_sensor,
    urn,
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
