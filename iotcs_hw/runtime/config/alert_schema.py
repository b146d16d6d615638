"""The model-file schema for alerts: the format, the condition with hysteresis, the fields."""

from __future__ import annotations

from yaml.nodes import Node, ScalarNode

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config.schema import (
    NODE,
    Context,
    Key,
    describe,
    duration,
    identifier,
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
from iotcs_hw.runtime.config.sensor_schema import (
    ModelContext,
    attribute_name,
    urn,
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
