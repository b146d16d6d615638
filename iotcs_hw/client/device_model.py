"""IoTCS device models (protocol §4): attributes, actions and formats, parsed and checked once.

A :class:`DeviceModel` is built from the JSON the server returns for
``GET /iot/api/v2/deviceModels/{urn}``.  Parsing is strict about what Oracle's Java parser
requires (``urn`` and ``name``; format ``urn``, ``name``, ``type`` and fields) and about what
would otherwise fail later (a range that is not ``low,high``, a default outside its range,
duplicate names or aliases); every error names the model, the element and the rule.
"""

from __future__ import annotations

import abc
import enum
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotcs_hw.errors import DeviceModelError

ATTRIBUTES_SUFFIX = ":attributes"


class DataType(enum.Enum):
    """Attribute, action-argument and format-field types."""

    NUMBER = "NUMBER"
    INTEGER = "INTEGER"
    STRING = "STRING"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    URI = "URI"

    @property
    def is_numeric(self) -> bool:
        """True for NUMBER and INTEGER, the types that may carry a range."""
        return self in (DataType.NUMBER, DataType.INTEGER)


class FormatType(enum.Enum):
    """The kind of a device-model format."""

    ALERT = "ALERT"
    DATA = "DATA"


@dataclass(frozen=True)
class Range:
    """An inclusive numeric range from a model's ``"low,high"`` text."""

    low: float
    high: float

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"[{_num(self.low)}, {_num(self.high)}]"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


@dataclass(frozen=True)
class DeviceModelAttribute:
    """One attribute of a device model."""

    name: str
    type: DataType
    description: str = ""
    range: Range | None = None
    writable: bool = False
    alias: str | None = None
    default_value: Any = None

    def getName(self) -> str:
        """The attribute's name."""
        return self.name

    def getType(self) -> DataType:
        """The attribute's data type."""
        return self.type

    def getDescription(self) -> str:
        """Free-form description."""
        return self.description

    def isWritable(self) -> bool:
        """True when the server may change this attribute."""
        return self.writable

    def getAlias(self) -> str | None:
        """The second name the attribute answers to in request paths, or None."""
        return self.alias

    def getLowerBound(self) -> float | None:
        """The range's low end, or None when unbounded."""
        return self.range.low if self.range else None

    def getUpperBound(self) -> float | None:
        """The range's high end, or None when unbounded."""
        return self.range.high if self.range else None

    def getDefaultValue(self) -> Any:
        """The model's default value (DATETIME as epoch ms, URI as text), or None."""
        return self.default_value


@dataclass(frozen=True)
class DeviceModelAction:
    """An action the server can invoke, with at most one argument."""

    name: str
    description: str = ""
    arg_type: DataType | None = None
    range: Range | None = None
    alias: str | None = None

    def getName(self) -> str:
        """The action's name."""
        return self.name

    def getArgType(self) -> DataType | None:
        """The argument's type, or None for an action without argument."""
        return self.arg_type

    def getDescription(self) -> str:
        """Free-form description."""
        return self.description

    def getAlias(self) -> str | None:
        """The action's alias, or None."""
        return self.alias


@dataclass(frozen=True)
class FormatField:
    """One field of an alert or data format."""

    name: str
    type: DataType
    optional: bool = False
    description: str = ""


@dataclass(frozen=True)
class DeviceModelFormat:
    """An ALERT or DATA format: a URN and typed fields."""

    urn: str
    name: str
    type: FormatType
    fields: tuple[FormatField, ...]
    description: str = ""

    def getURN(self) -> str:
        """The format's URN."""
        return self.urn

    def getName(self) -> str:
        """The format's name."""
        return self.name

    def getType(self) -> FormatType:
        """ALERT or DATA."""
        return self.type

    def getDescription(self) -> str:
        """Free-form description (sent in ALERT messages)."""
        return self.description

    def getFields(self) -> tuple[FormatField, ...]:
        """The format's fields, in model order."""
        return self.fields

    def field(self, name: str) -> FormatField | None:
        """The field called ``name``, or None."""
        return next((f for f in self.fields if f.name == name), None)


class DeviceModel(abc.ABC):  # noqa: B024 - an ABC in Oracle's API; concrete here
    """Detailed information on a device model: attributes, actions and formats.

    Build one with :meth:`fromJson` (a parsed JSON object), :meth:`fromText` or
    :meth:`fromFile`.  Instances are immutable and safe to share between threads.
    """

    def __init__(
        self,
        urn: str,
        name: str,
        description: str = "",
        attributes: Sequence[DeviceModelAttribute] = (),
        actions: Sequence[DeviceModelAction] = (),
        formats: Sequence[DeviceModelFormat] = (),
        *,
        draft: bool = False,
        system: bool = False,
    ) -> None:
        self._urn = urn
        self._name = name
        self._description = description
        self._attributes = {a.name: a for a in attributes}
        self._aliases = {a.alias: a for a in attributes if a.alias}
        self._actions = {a.name: a for a in actions}
        self._action_aliases = {a.alias: a for a in actions if a.alias}
        self._formats = {f.urn: f for f in formats}
        self._draft = draft
        self._system = system

    # --- the seed API -------------------------------------------------------------------------
    def getURN(self) -> str:
        """Return the URN of the device model."""
        return self._urn

    def getName(self) -> str:
        """Return the name of the device model."""
        return self._name

    def getDescription(self) -> str:
        """Return the free form description of the device model."""
        return self._description

    # --- read access to the parts -------------------------------------------------------------
    def getDeviceModelAttributes(self) -> dict[str, DeviceModelAttribute]:
        """Attributes by name (a copy)."""
        return dict(self._attributes)

    def getDeviceModelActions(self) -> dict[str, DeviceModelAction]:
        """Actions by name (a copy)."""
        return dict(self._actions)

    def getDeviceModelFormats(self) -> dict[str, DeviceModelFormat]:
        """Formats by URN (a copy)."""
        return dict(self._formats)

    def isDraft(self) -> bool:
        """True for a draft model (not returned by ``getDeviceModel`` unless drafts are allowed)."""
        return self._draft

    def isSystem(self) -> bool:
        """True for the server's own capability models."""
        return self._system

    def attribute(self, name_or_alias: str) -> DeviceModelAttribute | None:
        """The attribute with this name or alias, or None."""
        return self._attributes.get(name_or_alias) or self._aliases.get(name_or_alias)

    def action(self, name_or_alias: str) -> DeviceModelAction | None:
        """The action with this name or alias, or None."""
        return self._actions.get(name_or_alias) or self._action_aliases.get(name_or_alias)

    def format(self, urn: str) -> DeviceModelFormat | None:
        """The format with this URN, or None."""
        return self._formats.get(urn)

    @property
    def attributes_format(self) -> str:
        """The ``format`` of DATA messages carrying attribute values."""
        return self._urn + ATTRIBUTES_SUFFIX

    def __repr__(self) -> str:
        return (
            f"<DeviceModel {self._urn} attributes={list(self._attributes)} "
            f"actions={list(self._actions)} formats={list(self._formats)}>"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeviceModel):
            return NotImplemented
        return (
            self._urn == other._urn
            and self._attributes == other._attributes
            and self._actions == other._actions
            and self._formats == other._formats
        )

    def __hash__(self) -> int:
        return hash(self._urn)

    # --- parsing ------------------------------------------------------------------------------
    @classmethod
    def fromJson(cls, obj: object) -> DeviceModel:
        """Parse a device model JSON object; :class:`DeviceModelError` names what is wrong."""
        return _parse_model(obj)

    @classmethod
    def fromText(cls, text: str | bytes, *, source: str = "device model") -> DeviceModel:
        """Parse JSON text; ``source`` (a file name) prefixes every error message."""
        try:
            obj = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DeviceModelError(f"{source}: not valid JSON: {exc}") from exc
        try:
            return _parse_model(obj)
        except DeviceModelError as exc:
            raise DeviceModelError(f"{source}: {exc}") from exc

    @classmethod
    def fromFile(cls, path: str | Path) -> DeviceModel:
        """Read and parse a device model file."""
        path = Path(path)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise DeviceModelError(f"{path}: cannot read device model: {exc.strerror}") from exc
        return cls.fromText(text, source=str(path))


def _parse_model(obj: object) -> DeviceModel:
    if not isinstance(obj, dict):
        raise DeviceModelError(f"a device model must be a JSON object, got {type(obj).__name__}")
    urn = _required_str(obj, "urn", "device model")
    if not urn.startswith("urn:"):
        raise DeviceModelError(f"device model: 'urn' {urn!r} must start with 'urn:'")
    where = f"device model {urn}"
    name = _required_str(obj, "name", where)
    description = _optional_str(obj, "description", where)
    attributes = [
        _parse_attribute(item, f"{where}: attributes[{i}]")
        for i, item in enumerate(_list(obj, "attributes", where))
    ]
    _check_unique(
        [a.name for a in attributes] + [a.alias for a in attributes if a.alias],
        where,
        "attribute name or alias",
    )
    actions = [
        _parse_action(item, f"{where}: actions[{i}]")
        for i, item in enumerate(_list(obj, "actions", where))
    ]
    _check_unique(
        [a.name for a in actions] + [a.alias for a in actions if a.alias],
        where,
        "action name or alias",
    )
    formats = [
        _parse_format(item, f"{where}: formats[{i}]")
        for i, item in enumerate(_list(obj, "formats", where))
    ]
    _check_unique([f.urn for f in formats], where, "format urn")
    return DeviceModel(
        urn,
        name,
        description,
        attributes,
        actions,
        formats,
        draft=_bool(obj, "draft", where),
        system=_bool(obj, "system", where),
    )


def _parse_attribute(obj: object, where: str) -> DeviceModelAttribute:
    if not isinstance(obj, dict):
        raise DeviceModelError(f"{where}: must be an object")
    name = _required_str(obj, "name", where)
    where = f"{where} ({name})"
    dtype = _data_type(obj.get("type"), f"{where}: type")
    rng = _parse_range(obj.get("range"), dtype, where)
    attribute = DeviceModelAttribute(
        name=name,
        type=dtype,
        description=_optional_str(obj, "description", where),
        range=rng,
        writable=_bool(obj, "writable", where),
        alias=_optional_str(obj, "alias", where) or None,
    )
    default = obj.get("defaultValue")
    if default is not None:
        from iotcs_hw.client.values import validate_value  # noqa: PLC0415 - import cycle

        try:
            validate_value(attribute, default, from_wire=True)
        except ValueError as exc:
            raise DeviceModelError(f"{where}: defaultValue: {exc}") from None
        attribute = DeviceModelAttribute(
            name=attribute.name,
            type=attribute.type,
            description=attribute.description,
            range=attribute.range,
            writable=attribute.writable,
            alias=attribute.alias,
            default_value=default,
        )
    return attribute


def _parse_action(obj: object, where: str) -> DeviceModelAction:
    if not isinstance(obj, dict):
        raise DeviceModelError(f"{where}: must be an object")
    name = _required_str(obj, "name", where)
    where = f"{where} ({name})"
    raw_type = obj.get("argType")
    arg_type = None if raw_type in (None, "") else _data_type(raw_type, f"{where}: argType")
    rng = _parse_range(obj.get("range"), arg_type, where) if arg_type else None
    return DeviceModelAction(
        name=name,
        description=_optional_str(obj, "description", where),
        arg_type=arg_type,
        range=rng,
        alias=_optional_str(obj, "alias", where) or None,
    )


def _parse_format(obj: object, where: str) -> DeviceModelFormat:
    if not isinstance(obj, dict):
        raise DeviceModelError(f"{where}: must be an object")
    urn = _required_str(obj, "urn", where)
    where = f"{where} ({urn})"
    name = _required_str(obj, "name", where)
    raw_type = obj.get("type")
    try:
        ftype = FormatType(raw_type)
    except ValueError:
        raise DeviceModelError(f"{where}: type {raw_type!r} is not ALERT or DATA") from None
    value = obj.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("fields"), list):
        raise DeviceModelError(f"{where}: needs 'value': {{'fields': [...]}}")
    fields = []
    for i, item in enumerate(value["fields"]):
        fwhere = f"{where}: fields[{i}]"
        if not isinstance(item, dict):
            raise DeviceModelError(f"{fwhere}: must be an object")
        fname = _required_str(item, "name", fwhere)
        raw_field_type = item.get("type")
        ftype_field = _data_type(
            raw_field_type.upper() if isinstance(raw_field_type, str) else raw_field_type,
            f"{fwhere} ({fname}): type",
        )
        fields.append(
            FormatField(
                name=fname,
                type=ftype_field,
                optional=_bool(item, "optional", fwhere),
                description=_optional_str(item, "description", fwhere),
            )
        )
    _check_unique([f.name for f in fields], where, "field name")
    return DeviceModelFormat(
        urn=urn,
        name=name,
        type=ftype,
        fields=tuple(fields),
        description=_optional_str(obj, "description", where),
    )


def _parse_range(raw: object, dtype: DataType | None, where: str) -> Range | None:
    if raw in (None, ""):
        return None
    if dtype is None or not dtype.is_numeric:
        kind = dtype.value if dtype else "no"
        raise DeviceModelError(f"{where}: range is only allowed on NUMBER or INTEGER, not {kind}")
    if not isinstance(raw, str):
        raise DeviceModelError(f"{where}: range {raw!r} must be text 'low,high'")
    parts = raw.split(",")
    try:
        if len(parts) != 2:
            raise ValueError(raw)
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise DeviceModelError(f"{where}: range {raw!r} is not 'low,high'") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise DeviceModelError(f"{where}: range {raw!r} needs finite low <= high")
    return Range(low, high)


def _data_type(raw: object, where: str) -> DataType:
    try:
        return DataType(raw)
    except ValueError:
        allowed = ", ".join(t.value for t in DataType)
        raise DeviceModelError(f"{where} {raw!r} is not one of {allowed}") from None


def _required_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeviceModelError(f"{where}: '{key}' is required and must be a non-empty string")
    return value


def _optional_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DeviceModelError(f"{where}: '{key}' must be a string, got {value!r}")
    return value


def _bool(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = obj.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise DeviceModelError(f"{where}: '{key}' must be true or false, got {value!r}")
    return value


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DeviceModelError(f"{where}: '{key}' must be an array")
    return value


def _check_unique(names: Iterable[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DeviceModelError(f"{where}: duplicate {what} {name!r}")
        seen.add(name)
