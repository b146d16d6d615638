"""A small declarative schema engine over PyYAML nodes, so every error keeps its line:column.

The model file is *composed* (not loaded) with PyYAML: the result is a tree of nodes, each with
the mark where it starts.  Validators walk that tree, convert scalars and report problems into a
:class:`Context` instead of raising, so all problems of a file surface in one run (ESPHome's
``cv.Schema`` idea: defaults live in the schema, unknown keys are rejected with "did you mean",
every error carries its path and position).

A validator is ``(node, ctx, path) -> value``; when the node is wrong it records a diagnostic and
returns :data:`INVALID`.  Callers treat ``INVALID`` as "already reported, skip".
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from iotcs_hw.runtime.config.diagnostics import Diagnostics
from iotcs_hw.runtime.config.model import SourcePos


class _Invalid:
    """Type of :data:`INVALID`: a value that failed validation (the error is recorded)."""

    _instance: _Invalid | None = None

    def __new__(cls) -> _Invalid:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID: Final = _Invalid()
_MISSING: Final = object()

Validator = Callable[[Node, "Context", str], Any]

_STANDARD_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "timestamp", "binary", "seq", "map", "merge")
)


def ok(value: Any) -> TypeGuard[Any]:
    """True when ``value`` is a real value, not :data:`INVALID`."""
    return value is not INVALID


class TooLarge(Exception):
    """The file expands (through aliases) to more values than a model file can need."""


#: How many values a model file may expand to.  A real one has a few hundred; aliases nested
#: in aliases ("billion laughs") would otherwise make validation walk an exponential tree.
MAX_VALUES = 200_000


class Context:
    """Where diagnostics go, plus the file name positions are reported against."""

    def __init__(self, file: str, diagnostics: Diagnostics | None = None) -> None:
        self.file = file
        self.values_left = MAX_VALUES
        self.diagnostics = diagnostics if diagnostics is not None else Diagnostics()
        #: What was built without some broken part, as (what, position of the container):
        #: ``("reading", pos)`` lost a filter, ``("sensors"|"actuators"|"alerts", device pos)``
        #: lost an entry, ``("devices", file pos)`` lost a device or its buses.  Later passes
        #: skip checks these gaps could make wrong.
        self.partial: set[tuple[str, SourcePos]] = set()
        self._constructor = yaml.constructor.SafeConstructor()

    def pos(self, node: Node) -> SourcePos:
        """1-based position of ``node``'s first character."""
        mark = node.start_mark
        return SourcePos(self.file, mark.line + 1, mark.column + 1)

    def error(self, node: Node | SourcePos, path: str, message: str) -> _Invalid:
        """Record ``path: message`` at ``node`` and return :data:`INVALID` for convenience."""
        where = node if isinstance(node, SourcePos) else self.pos(node)
        self.diagnostics.error(where, f"{path}: {message}" if path else message)
        return INVALID

    def visit(self, count: int = 1) -> None:
        """Count values walked; :class:`TooLarge` past :data:`MAX_VALUES`."""
        self.values_left -= count
        if self.values_left < 0:
            raise TooLarge(f"the file expands to more than {MAX_VALUES} values (nested aliases?)")

    def scalar(self, node: Node, path: str) -> Any:
        """The Python value of a scalar node (YAML 1.1 core types), or INVALID."""
        self.visit()
        if not isinstance(node, ScalarNode):
            return self.error(node, path, f"expected a single value, got {describe(self, node)}")
        if node.tag not in _STANDARD_TAGS:
            return self.error(node, path, f"unsupported YAML tag {node.tag!r}")
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            return self.error(node, path, f"cannot read value {node.value!r}: {exc}")


def describe(ctx: Context, node: Node) -> str:
    """Short human description of what a node holds, for "expected X, got Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode) and node.tag in _STANDARD_TAGS:
        try:
            value = ctx._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            return repr(node.value)
        return describe_value(value)
    return repr(getattr(node, "value", node))


def describe_value(value: Any) -> str:
    """``'fast' (a string)``, ``12 (an integer)``, ``nothing``..."""
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if value is None:
        return "nothing (null)"
    kind = kinds.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})"


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------------------------
# Scalar validators


def string(*, pattern: str | None = None, what: str = "a string") -> Validator:
    """A non-empty string, optionally matching ``pattern`` (``what`` names it in errors)."""
    regex = re.compile(pattern) if pattern else None

    def validate(node: Node, ctx: Context, path: str) -> Any:
        value = ctx.scalar(node, path)
        if not ok(value):
            return INVALID
        if not isinstance(value, str) or not value.strip():
            return ctx.error(node, path, f"expected {what}, got {describe_value(value)}")
        if regex is not None and not regex.fullmatch(value):
            return ctx.error(node, path, f"expected {what}, got {value!r}")
        return value

    return validate


IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_\-]*"
identifier = string(pattern=IDENTIFIER, what="a name (letters, digits, _ and -)")


def boolean(node: Node, ctx: Context, path: str) -> Any:
    """``true``/``false`` (YAML 1.1 also reads yes/no/on/off)."""
    value = ctx.scalar(node, path)
    if ok(value) and not isinstance(value, bool):
        return ctx.error(node, path, f"expected true or false, got {describe_value(value)}")
    return value


def integer(*, min_value: int | None = None, max_value: int | None = None) -> Validator:
    """A whole number within ``[min_value, max_value]``."""

    def validate(node: Node, ctx: Context, path: str) -> Any:
        value = ctx.scalar(node, path)
        if not ok(value):
            return INVALID
        if isinstance(value, bool) or not isinstance(value, int):
            return ctx.error(node, path, f"expected a whole number, got {describe_value(value)}")
        return _in_range(node, ctx, path, value, min_value, max_value)

    return validate


def number(
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    allow_nan: bool = False,
    exclusive_min: bool = False,
) -> Validator:
    """A finite number (int or float) within the bounds; ``nan`` only with ``allow_nan``."""

    def validate(node: Node, ctx: Context, path: str) -> Any:
        value = ctx.scalar(node, path)
        if not ok(value):
            return INVALID
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return ctx.error(node, path, f"expected a number, got {describe_value(value)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return ctx.error(node, path, f"expected a number, got {describe_value(value)}")
        value = float(value)
        if math.isnan(value):
            if allow_nan:
                return value
            return ctx.error(node, path, "expected a number, got nan")
        if math.isinf(value):
            return ctx.error(node, path, f"expected a finite number, got {value}")
        if exclusive_min and min_value is not None and value <= min_value:
            return ctx.error(
                node, path, f"must be greater than {_fmt(min_value)}, got {_fmt(value)}"
            )
        return _in_range(node, ctx, path, value, min_value, max_value)

    return validate


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _in_range(
    node: Node, ctx: Context, path: str, value: Any, low: float | None, high: float | None
) -> Any:
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "" if low is None else _fmt(low)
        hi = "" if high is None else _fmt(high)
        if low is not None and high is not None:
            bounds = f"between {lo} and {hi}"
        elif low is not None:
            bounds = f"at least {lo}"
        else:
            bounds = f"at most {hi}"
        return ctx.error(node, path, f"must be {bounds}, got {_fmt(value)}")
    return value


_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|sec|min|h|d)\s*")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float | None:
    """Seconds in ``"500ms"``, ``"30s"``, ``"5min"``, ``"1h"``, ``"2d"``; None if not one."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def duration(*, min_s: float | None = None, max_s: float | None = None) -> Validator:
    """A duration with a unit (``500ms``, ``30s``, ``5min``, ``1h``, ``1d``), in seconds."""

    def validate(node: Node, ctx: Context, path: str) -> Any:
        value = ctx.scalar(node, path)
        if not ok(value):
            return INVALID
        seconds = parse_duration(value) if isinstance(value, str) else None
        if seconds is None:
            hint = (
                f"; add a unit, e.g. {value}s"
                if isinstance(value, int | float) and not isinstance(value, bool)
                else ""
            )
            return ctx.error(
                node,
                path,
                f"expected a duration such as 500ms, 30s, 5min or 1h, got "
                f"{describe_value(value)}{hint}",
            )
        if (min_s is not None and seconds < min_s) or (max_s is not None and seconds > max_s):
            lo = "0" if min_s is None else format_duration(min_s)
            hi = "" if max_s is None else f" and {format_duration(max_s)}"
            bounds = f"between {lo}{hi}" if max_s is not None else f"at least {lo}"
            return ctx.error(node, path, f"must be {bounds}, got {value.strip()}")
        return seconds

    return validate


def format_duration(seconds: float) -> str:
    """The shortest readable form: ``500ms``, ``30s``, ``5min``, ``2h``."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


_FREQUENCY = re.compile(r"\s*(\d+(?:\.\d*)?)\s*(Hz|kHz|MHz)\s*")
_FREQUENCY_UNITS = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6}


def frequency(*, min_hz: float, max_hz: float) -> Validator:
    """A frequency: ``400kHz``, ``1MHz``, ``50Hz`` or a bare number of hertz; returns int Hz."""

    def validate(node: Node, ctx: Context, path: str) -> Any:
        value = ctx.scalar(node, path)
        if not ok(value):
            return INVALID
        hz: float | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            hz = float(value)
        elif isinstance(value, str) and (m := _FREQUENCY.fullmatch(value)):
            hz = float(m.group(1)) * _FREQUENCY_UNITS[m.group(2)]
        if hz is None:
            return ctx.error(
                node,
                path,
                f"expected a frequency such as 100kHz, 400kHz or 50Hz, got {describe_value(value)}",
            )
        if not min_hz <= hz <= max_hz:
            return ctx.error(
                node, path, f"must be between {min_hz:g} Hz and {max_hz:g} Hz, got {hz:g} Hz"
            )
        return int(hz)

    return validate


def one_of(*choices: str, upper: bool = False) -> Validator:
    """One of ``choices`` (compared upper-cased when ``upper``), with a did-you-mean hint."""

    def validate(node: Node, ctx: Context, path: str) -> Any:
        value = ctx.scalar(node, path)
        if not ok(value):
            return INVALID
        if isinstance(value, str):
            candidate = value.upper() if upper else value
            if candidate in choices:
                return candidate
        hint = did_you_mean(str(value), choices)
        return ctx.error(
            node,
            path,
            f"expected one of {', '.join(choices)}, got {describe_value(value)}{hint}",
        )

    return validate


def scalar_value(node: Node, ctx: Context, path: str) -> Any:
    """Any single value: string, number or boolean (not null, not a list or mapping)."""
    value = ctx.scalar(node, path)
    if not ok(value):
        return INVALID
    if isinstance(value, float) and not math.isfinite(value):
        return ctx.error(node, path, f"expected a finite value, got {value}")
    if not isinstance(value, bool | int | float | str):
        return ctx.error(
            node, path, f"expected a number, string or boolean, got {describe_value(value)}"
        )
    return value


# --------------------------------------------------------------------------------------------
# Containers


def items_of(node: Node, ctx: Context, path: str, *, min_len: int = 0) -> list[tuple[str, Node]]:
    """``(path[i], item)`` for each element of a list node; reports a non-list."""
    if not isinstance(node, SequenceNode):
        ctx.error(node, path, f"expected a list, got {describe(ctx, node)}")
        return []
    ctx.visit(len(node.value))
    if len(node.value) < min_len:
        ctx.error(node, path, f"expected at least {min_len} item(s), got {len(node.value)}")
    return [(f"{path}[{i}]", item) for i, item in enumerate(node.value)]


def seq(item: Validator, *, min_len: int = 0) -> Validator:
    """A list whose items all pass ``item``; returns INVALID if any item failed."""

    def validate(node: Node, ctx: Context, path: str) -> Any:
        if not isinstance(node, SequenceNode):
            return ctx.error(node, path, f"expected a list, got {describe(ctx, node)}")
        values = [item(child, ctx, p) for p, child in items_of(node, ctx, path, min_len=min_len)]
        if len(node.value) < min_len or not all(ok(v) for v in values):
            return INVALID
        return values

    return validate


def mapping_pairs(node: Node, ctx: Context, path: str) -> list[tuple[str, Node, Node]] | _Invalid:
    """``(key, key_node, value_node)`` of a mapping node, reporting bad and duplicate keys."""
    if not isinstance(node, MappingNode):
        return ctx.error(node, path, f"expected a mapping (key: value), got {describe(ctx, node)}")
    ctx.visit(len(node.value))
    explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
    try:
        ctx._constructor.flatten_mapping(node)
    except yaml.YAMLError as exc:
        return ctx.error(node, path, f"bad merge key: {exc}")
    # flatten_mapping puts merged pairs first; keys written explicitly override them.
    merged_count = len(node.value) - explicit
    overridden = {k.value for k, _ in node.value[merged_count:] if isinstance(k, ScalarNode)}
    pairs: list[tuple[str, Node, Node]] = []
    first_seen: dict[str, Node] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        if index < merged_count and getattr(key_node, "value", None) in overridden:
            continue
        key = ctx.scalar(key_node, path) if isinstance(key_node, ScalarNode) else INVALID
        if not isinstance(key, str):
            if key is not INVALID or not isinstance(key_node, ScalarNode):
                hint = (
                    f"; YAML reads {key_node.value} as a boolean, quote it: '{key_node.value}'"
                    if isinstance(key, bool)
                    else ""
                )
                ctx.error(
                    key_node, path, f"keys must be names, got {describe(ctx, key_node)}{hint}"
                )
            continue
        if key in first_seen:
            line = first_seen[key].start_mark.line + 1
            ctx.error(key_node, join(path, key), f"duplicate key (first given on line {line})")
            continue
        first_seen[key] = key_node
        pairs.append((key, key_node, value_node))
    return pairs


def join(path: str, key: str) -> str:
    """``devices[0]`` + ``id`` -> ``devices[0].id``."""
    return f"{path}.{key}" if path else key


@dataclass(frozen=True)
class Key:
    """One key of a mapping schema: its validator and its default (or that it is required)."""

    validator: Validator
    default: Any = _MISSING
    required: bool = False

    @property
    def has_default(self) -> bool:
        """True when the schema gives this key a default value."""
        return self.default is not _MISSING


def raw_node(node: Node, ctx: Context, path: str) -> Node:
    """Hand the node back unvalidated, for a section parsed by its own function."""
    return node


#: An optional key whose node is parsed later by a dedicated function.
NODE = Key(raw_node)


@dataclass
class Parsed:
    """A validated mapping: values (defaults filled in, INVALID where wrong) and positions."""

    values: dict[str, Any]
    pos: SourcePos
    nodes: dict[str, Node] = field(default_factory=dict)
    extra: dict[str, tuple[Node, Node]] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` or ``default`` if it is absent."""
        return self.values.get(key, default)

    @property
    def complete(self) -> bool:
        """True when no key failed validation."""
        return all(ok(v) for v in self.values.values())

    def positions(self, ctx: Context) -> dict[str, SourcePos]:
        """Key -> position of its value, for every key given (driver options included)."""
        out = {key: ctx.pos(node) for key, node in self.nodes.items()}
        out.update((key, ctx.pos(value)) for key, (_k, value) in self.extra.items())
        return out

    def key_pos(self, ctx: Context, key: str) -> SourcePos:
        """Position of ``key``'s value, or of the mapping when the key was defaulted."""
        node = self.nodes.get(key)
        return ctx.pos(node) if node is not None else self.pos


def mapping(
    schema: Mapping[str, Key],
    *,
    allow_extra: bool = False,
    renamed: Mapping[str, str] | None = None,
) -> Callable[[Node, Context, str], Parsed | _Invalid]:
    """A mapping with exactly the keys of ``schema``.

    Unknown keys are errors with a did-you-mean hint, unless ``allow_extra`` (then they are
    handed back in :attr:`Parsed.extra` for a second schema, such as driver options).
    ``renamed`` maps a key people carry over from elsewhere (ESPHome's ``update_interval``) to
    the message explaining what to write instead.
    """
    renamed = renamed or {}

    def validate(node: Node, ctx: Context, path: str) -> Parsed | _Invalid:
        pairs = mapping_pairs(node, ctx, path)
        if not isinstance(pairs, list):
            return INVALID
        parsed = Parsed(values={}, pos=ctx.pos(node))
        for key, key_node, value_node in pairs:
            spec = schema.get(key)
            if spec is None:
                if key in renamed:
                    ctx.error(key_node, join(path, key), renamed[key])
                elif allow_extra:
                    parsed.extra[key] = (key_node, value_node)
                else:
                    hint = did_you_mean(key, list(schema))
                    ctx.error(
                        key_node,
                        join(path, key),
                        f"unknown key{hint}; expected one of: {', '.join(schema)}",
                    )
                continue
            parsed.nodes[key] = value_node
            parsed.values[key] = spec.validator(value_node, ctx, join(path, key))
        for key, spec in schema.items():
            if key in parsed.values:
                continue
            if spec.required:
                ctx.error(node, path, f"missing required key {key!r}")
                parsed.values[key] = INVALID
            elif spec.default is not _MISSING:
                parsed.values[key] = spec.default
        return parsed

    return validate
