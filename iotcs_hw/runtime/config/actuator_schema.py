"""The model-file schema for actuators: driver options, limits, scale and the safety keys."""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node, SequenceNode

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config.schema import (
    INVALID,
    NODE,
    Context,
    Key,
    describe,
    duration,
    identifier,
    join,
    mapping,
    number,
    ok,
    scalar_value,
    string,
)
from iotcs_hw.runtime.config.sensor_schema import (
    ESPHOME_RENAMES,
    ModelContext,
    attribute_name,
    driver_for_entry,
    parse_options,
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
    info = driver_for_entry(parsed, ctx, path, "actuator")
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
