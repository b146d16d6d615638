"""The ``filters:`` list of a reading: ESPHome's vocabulary, parsed into filter specs.

Each item is either a bare name (``- median``, all defaults) or a one-key mapping whose value
is the filter's setting (``- offset: -0.5``, ``- delta: 5%``) or its options
(``- median: {window_size: 7}``).  ``lambda`` is refused on purpose: a model file holds no code.
Defaults are ESPHome's, so a filter copied from an ESPHome config behaves the same.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Literal

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config.schema import (
    INVALID,
    Context,
    Key,
    boolean,
    describe,
    did_you_mean,
    duration,
    integer,
    items_of,
    join,
    mapping,
    mapping_pairs,
    number,
    ok,
)
from iotcs_hw.runtime.filters import fit_line, fit_polynomial

FilterParser = Callable[[Node | None, Context, str, m.SourcePos], Any]
#: Which readings a filter applies to.
FilterDomain = Literal["number", "boolean", "any"]

_POSITIVE = number(min_value=0.0, exclusive_min=True)
_ANY_NUMBER = number()
_WINDOW_DEFAULTS = {
    "median": (5, 5, 1),
    "quantile": (5, 5, 1),
    "min": (5, 5, 1),
    "max": (5, 5, 1),
    "sliding_window_moving_average": (15, 15, 1),
}
_DATAPOINT = re.compile(r"\s*([-+]?[0-9.eE+-]+)\s*->\s*([-+]?[0-9.eE+-]+)\s*")
#: Calibration datapoints beyond this magnitude are surely a typo (and would overflow a fit).
MAX_DATAPOINT = 1e9
_PERCENT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*")


def _value_of(
    validator: Any, node: Node | None, ctx: Context, path: str, pos: m.SourcePos, what: str
) -> Any:
    if node is None:
        return ctx.error(pos, path, f"needs a value: {what}")
    return validator(node, ctx, path)


def _scalar_filter(
    build: Callable[[Any, m.SourcePos], Any], validator: Any, what: str
) -> FilterParser:
    def parse(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
        value = _value_of(validator, node, ctx, path, pos, what)
        return build(value, pos) if ok(value) else INVALID

    return parse


def _window(name: str, node: Node | None, ctx: Context, path: str) -> Any:
    size, every, first = _WINDOW_DEFAULTS.get(name, (15, 15, 1))
    schema = {
        "window_size": Key(integer(min_value=1, max_value=10_000), default=size),
        "send_every": Key(integer(min_value=1, max_value=10_000), default=every),
        "send_first_at": Key(integer(min_value=1, max_value=10_000), default=first),
    }
    if name == "quantile":
        schema["quantile"] = Key(number(min_value=0.0, max_value=1.0), default=0.9)
    if node is None:
        return {k: v.default for k, v in schema.items()}, None
    parsed = mapping(schema)(node, ctx, path)
    if not ok(parsed) or not parsed.complete:
        return INVALID, None
    if parsed["send_first_at"] > parsed["send_every"]:
        ctx.error(
            parsed.key_pos(ctx, "send_first_at"),
            join(path, "send_first_at"),
            f"must not be greater than send_every ({parsed['send_every']}), "
            f"got {parsed['send_first_at']}",
        )
        return INVALID, None
    return parsed.values, parsed


def _windowed(name: str, build: Callable[..., Any]) -> FilterParser:
    def parse(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
        values, _ = _window(name, node, ctx, path)
        if not ok(values):
            return INVALID
        window = m.WindowOptions(
            values["window_size"], values["send_every"], values["send_first_at"]
        )
        if name == "quantile":
            return build(window=window, quantile=values["quantile"], pos=pos)
        return build(window=window, pos=pos)

    return parse


def _ema(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
    schema = {
        "alpha": Key(number(min_value=0.0, max_value=1.0, exclusive_min=True), default=0.1),
        "send_every": Key(integer(min_value=1, max_value=10_000), default=15),
        "send_first_at": Key(integer(min_value=1, max_value=10_000), default=1),
    }
    if node is None:
        return m.ExponentialMovingAverageFilter(0.1, 15, 1, pos)
    parsed = mapping(schema)(node, ctx, path)
    if not ok(parsed) or not parsed.complete:
        return INVALID
    if parsed["send_first_at"] > parsed["send_every"]:
        return ctx.error(
            parsed.key_pos(ctx, "send_first_at"),
            join(path, "send_first_at"),
            f"must not be greater than send_every ({parsed['send_every']})",
        )
    return m.ExponentialMovingAverageFilter(
        parsed["alpha"], parsed["send_every"], parsed["send_first_at"], pos
    )


def _datapoint(node: Node, ctx: Context, path: str) -> Any:
    if isinstance(node, SequenceNode) and len(node.value) == 2:
        x = _ANY_NUMBER(node.value[0], ctx, path)
        y = _ANY_NUMBER(node.value[1], ctx, path)
        return (x, y) if ok(x) and ok(y) else INVALID
    value = ctx.scalar(node, path) if isinstance(node, ScalarNode) else None
    if isinstance(value, str) and (match := _DATAPOINT.fullmatch(value)):
        try:
            x, y = float(match.group(1)), float(match.group(2))
        except ValueError:
            pass
        else:
            if math.isfinite(x) and math.isfinite(y):
                return (x, y)
    return ctx.error(
        node,
        path,
        f"expected a datapoint like '0.5 -> 12.0' or [0.5, 12.0], got {describe(ctx, node)}",
    )


def _datapoints(node: Node, ctx: Context, path: str, min_points: int) -> Any:
    points = [_datapoint(item, ctx, p) for p, item in items_of(node, ctx, path)]
    if not all(ok(p) for p in points):
        return INVALID
    if len(points) < min_points:
        return ctx.error(node, path, f"needs at least {min_points} datapoints, got {len(points)}")
    xs = [p[0] for p in points]
    if len(set(xs)) != len(xs):
        return ctx.error(node, path, "two datapoints share the same measured value")
    if any(abs(v) > MAX_DATAPOINT for point in points for v in point):
        return ctx.error(node, path, f"datapoint values must lie within ±{MAX_DATAPOINT:g}")
    return tuple(points)


def _calibrate_linear(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
    if node is None:
        return ctx.error(pos, path, "needs datapoints")
    method: Any = "least_squares"
    points_node: Node | None = node
    if isinstance(node, MappingNode):
        parsed = mapping(
            {
                "datapoints": Key(lambda n, c, p: n, required=True),
                "method": Key(_method, default="least_squares"),
            }
        )(node, ctx, path)
        if not ok(parsed):
            return INVALID
        method, points_node = parsed["method"], parsed.get("datapoints")
        if not ok(points_node) or not ok(method):
            return INVALID
    assert points_node is not None
    points_path = join(path, "datapoints") if points_node is not node else path
    points = _datapoints(points_node, ctx, points_path, 2)
    if not ok(points):
        return INVALID
    try:
        fit_line(points)
    except ValueError as exc:
        return ctx.error(points_node, points_path, str(exc))
    return m.CalibrateLinearFilter(points, method, pos)


def _method(node: Node, ctx: Context, path: str) -> Any:
    value = ctx.scalar(node, path)
    if value in ("least_squares", "exact"):
        return value
    if ok(value):
        return ctx.error(node, path, f"expected least_squares or exact, got {value!r}")
    return INVALID


def _calibrate_polynomial(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
    if node is None:
        return ctx.error(pos, path, "needs degree and datapoints")
    parsed = mapping(
        {
            "degree": Key(integer(min_value=1, max_value=9), required=True),
            "datapoints": Key(lambda n, c, p: n, required=True),
        }
    )(node, ctx, path)
    if not ok(parsed) or not ok(parsed["degree"]) or not ok(parsed["datapoints"]):
        return INVALID
    degree = parsed["degree"]
    points = _datapoints(parsed["datapoints"], ctx, join(path, "datapoints"), degree + 1)
    if not ok(points):
        return INVALID
    try:
        coefficients = fit_polynomial(points, degree)
    except (ValueError, ArithmeticError):
        coefficients = []
    if not coefficients or not all(math.isfinite(c) for c in coefficients):
        return ctx.error(
            parsed["datapoints"],
            join(path, "datapoints"),
            f"these datapoints do not determine a polynomial of degree {degree}",
        )
    return m.CalibratePolynomialFilter(degree, points, pos)


def _clamp(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
    if node is None:
        return ctx.error(pos, path, "needs min_value and/or max_value")
    parsed = mapping(
        {
            "min_value": Key(_ANY_NUMBER),
            "max_value": Key(_ANY_NUMBER),
            "ignore_out_of_range": Key(boolean, default=False),
        }
    )(node, ctx, path)
    if not ok(parsed) or not parsed.complete:
        return INVALID
    low, high = parsed.get("min_value"), parsed.get("max_value")
    if low is None and high is None:
        return ctx.error(node, path, "needs min_value and/or max_value")
    if low is not None and high is not None and low > high:
        return ctx.error(node, path, f"min_value {low:g} is greater than max_value {high:g}")
    return m.ClampFilter(low, high, parsed["ignore_out_of_range"], pos)


def _delta(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
    if node is None:
        return ctx.error(pos, path, "needs a threshold such as 0.5 or 5%")
    value = ctx.scalar(node, path)
    if not ok(value):
        return INVALID
    if isinstance(value, str) and (match := _PERCENT.fullmatch(value)):
        percent = float(match.group(1))
        if percent <= 0:
            return ctx.error(node, path, "must be greater than 0%")
        return m.DeltaFilter(percent / 100.0, True, pos)
    threshold = number(min_value=0.0, exclusive_min=True)(node, ctx, path)
    return m.DeltaFilter(threshold, False, pos) if ok(threshold) else INVALID


def _timeout(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
    if node is None:
        return ctx.error(pos, path, "needs a duration such as 5min")
    if isinstance(node, MappingNode):
        parsed = mapping(
            {
                "timeout": Key(duration(min_s=0.001), required=True),
                "value": Key(number(allow_nan=True)),
            }
        )(node, ctx, path)
        if not ok(parsed) or not parsed.complete:
            return INVALID
        value = parsed.get("value")
        if value is not None and math.isnan(value):
            value = None
        return m.TimeoutFilter(parsed["timeout"], value, pos)
    seconds = duration(min_s=0.001)(node, ctx, path)
    return m.TimeoutFilter(seconds, None, pos) if ok(seconds) else INVALID


def _filter_out(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
    if node is None:
        return ctx.error(pos, path, "needs a value or a list of values (nan allowed)")
    validator = number(allow_nan=True)
    if isinstance(node, SequenceNode):
        values = [validator(item, ctx, p) for p, item in items_of(node, ctx, path, min_len=1)]
        if not values or not all(ok(v) for v in values):
            return INVALID
        return m.FilterOutFilter(tuple(values), pos)
    value = validator(node, ctx, path)
    return m.FilterOutFilter((value,), pos) if ok(value) else INVALID


def _invert(node: Node | None, ctx: Context, path: str, pos: m.SourcePos) -> Any:
    if node is not None:
        value = ctx.scalar(node, path)
        if value not in (None, True) and ok(value):
            return ctx.error(node, path, "takes no value: write '- invert'")
    return m.InvertFilter(pos)


#: name -> (parser, domain).  Domain says which readings the filter can take.
FILTERS: dict[str, tuple[FilterParser, FilterDomain]] = {
    "offset": (_scalar_filter(m.OffsetFilter, _ANY_NUMBER, "a number to add"), "number"),
    "multiply": (_scalar_filter(m.MultiplyFilter, _ANY_NUMBER, "a factor"), "number"),
    "calibrate_linear": (_calibrate_linear, "number"),
    "calibrate_polynomial": (_calibrate_polynomial, "number"),
    "clamp": (_clamp, "number"),
    "round": (
        _scalar_filter(m.RoundFilter, integer(min_value=0, max_value=12), "decimal places"),
        "number",
    ),
    "round_to_multiple_of": (
        _scalar_filter(m.RoundToMultipleOfFilter, _POSITIVE, "a positive step"),
        "number",
    ),
    "median": (_windowed("median", m.MedianFilter), "number"),
    "quantile": (_windowed("quantile", m.QuantileFilter), "number"),
    "min": (_windowed("min", m.MinFilter), "number"),
    "max": (_windowed("max", m.MaxFilter), "number"),
    "sliding_window_moving_average": (
        _windowed("sliding_window_moving_average", m.SlidingWindowMovingAverageFilter),
        "number",
    ),
    "exponential_moving_average": (_ema, "number"),
    "throttle": (_scalar_filter(m.ThrottleFilter, duration(min_s=0.001), "a duration"), "any"),
    "throttle_average": (
        _scalar_filter(m.ThrottleAverageFilter, duration(min_s=0.001), "a duration"),
        "number",
    ),
    "heartbeat": (_scalar_filter(m.HeartbeatFilter, duration(min_s=0.001), "a duration"), "any"),
    "delta": (_delta, "number"),
    "timeout": (_timeout, "any"),
    "debounce": (_scalar_filter(m.DebounceFilter, duration(min_s=0.001), "a duration"), "any"),
    "filter_out": (_filter_out, "number"),
    "invert": (_invert, "boolean"),
}

#: Names people bring from ESPHome that we refuse on purpose, with what to do instead.
REFUSED = {
    "lambda": "lambda filters are not supported: a model file holds no code; "
    "use offset, multiply, calibrate_linear, clamp or filter_out",
    "or": "'or' is not supported; list the filters one after another",
    "delayed_on": "use debounce",
    "delayed_off": "use debounce",
}


def parse_filter(node: Node, ctx: Context, path: str) -> Any:
    """One filter item (``- median`` or ``- offset: 1``) -> a filter spec, or INVALID."""
    if isinstance(node, ScalarNode):
        name = ctx.scalar(node, path)
        if not ok(name):
            return INVALID
        if not isinstance(name, str):
            return ctx.error(node, path, f"expected a filter, got {describe(ctx, node)}")
        return _named(name, node, None, ctx, path)
    if isinstance(node, MappingNode):
        pairs = mapping_pairs(node, ctx, path)
        if not isinstance(pairs, list):
            return INVALID
        if len(pairs) != 1:
            return ctx.error(
                node,
                path,
                "each filter is one item: '- name: setting' (start a new '-' per filter)",
            )
        name, key_node, value_node = pairs[0]
        return _named(name, key_node, value_node, ctx, path)
    return ctx.error(node, path, f"expected a filter, got {describe(ctx, node)}")


def _named(name: str, key_node: Node, value: Node | None, ctx: Context, path: str) -> Any:
    if name in REFUSED:
        return ctx.error(key_node, join(path, name), REFUSED[name])
    entry = FILTERS.get(name)
    if entry is None:
        hint = did_you_mean(name, list(FILTERS))
        return ctx.error(key_node, path, f"unknown filter {name!r}{hint}")
    return entry[0](value, ctx, join(path, name), ctx.pos(key_node))


#: Filter name -> class of its spec.
FILTER_CLASSES: dict[str, type] = {
    "offset": m.OffsetFilter,
    "multiply": m.MultiplyFilter,
    "calibrate_linear": m.CalibrateLinearFilter,
    "calibrate_polynomial": m.CalibratePolynomialFilter,
    "clamp": m.ClampFilter,
    "round": m.RoundFilter,
    "round_to_multiple_of": m.RoundToMultipleOfFilter,
    "median": m.MedianFilter,
    "quantile": m.QuantileFilter,
    "min": m.MinFilter,
    "max": m.MaxFilter,
    "sliding_window_moving_average": m.SlidingWindowMovingAverageFilter,
    "exponential_moving_average": m.ExponentialMovingAverageFilter,
    "throttle": m.ThrottleFilter,
    "throttle_average": m.ThrottleAverageFilter,
    "heartbeat": m.HeartbeatFilter,
    "delta": m.DeltaFilter,
    "timeout": m.TimeoutFilter,
    "debounce": m.DebounceFilter,
    "filter_out": m.FilterOutFilter,
    "invert": m.InvertFilter,
}
_NAMES: dict[type, str] = {cls: name for name, cls in FILTER_CLASSES.items()}


def filter_name(spec: object) -> str:
    """The model-file name of a filter spec (``MedianFilter`` -> ``median``)."""
    return _NAMES.get(type(spec), type(spec).__name__)


def filter_domain(spec: object) -> FilterDomain:
    """Which readings ``spec`` applies to (``number``, ``boolean`` or ``any``)."""
    entry = FILTERS.get(filter_name(spec))
    return entry[1] if entry else "any"
