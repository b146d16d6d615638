"""The server's device-model registry and the checks a cloud write must pass (protocol §4).

Models are IoTCS device-model JSON documents, loaded from a directory (one model per ``*.json``
file) and added at run time through ``POST /iot/api/v2/deviceModels``.  The server keeps each
document as given (it serves it back verbatim to devices) and a parsed view used to validate
what applications write to devices and what devices report.

Capability models (``urn:oracle:iot:dcd:capability:...``) are always known.
"""

from __future__ import annotations

import datetime
import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotcs_hw.errors import ConfigError, DeviceModelError

CAPABILITY_PREFIX = "urn:oracle:iot:dcd:capability:"
TYPES = ("NUMBER", "INTEGER", "STRING", "BOOLEAN", "DATETIME", "URI")


class WriteRejected(ConfigError):
    """A cloud write does not fit the device model; nothing was queued. Not retryable."""


@dataclass(frozen=True)
class Attribute:
    """One attribute of a model: its type, optional inclusive range and whether it is writable."""

    name: str
    type: str
    writable: bool = False
    low: float | None = None
    high: float | None = None
    alias: str | None = None


@dataclass(frozen=True)
class Action:
    """One action; ``arg_type`` is None for an action without argument."""

    name: str
    arg_type: str | None = None
    low: float | None = None
    high: float | None = None
    alias: str | None = None


@dataclass(frozen=True)
class DeviceModel:
    """A parsed device model plus the document it came from."""

    urn: str
    name: str
    attributes: Mapping[str, Attribute]
    actions: Mapping[str, Action]
    document: Mapping[str, Any]
    draft: bool = False

    def attribute(self, name: str) -> Attribute | None:
        """The attribute called ``name`` or aliased so."""
        found = self.attributes.get(name)
        if found is not None:
            return found
        return next((a for a in self.attributes.values() if a.alias == name), None)

    def action(self, name: str) -> Action | None:
        """The action called ``name`` or aliased so."""
        found = self.actions.get(name)
        if found is not None:
            return found
        return next((a for a in self.actions.values() if a.alias == name), None)


def parse_model(doc: object, where: str = "device model") -> DeviceModel:
    """Parse one model document; :class:`DeviceModelError` names ``where`` and the bad field."""
    if not isinstance(doc, dict):
        raise DeviceModelError(f"{where}: must be a JSON object")
    urn = doc.get("urn")
    if not isinstance(urn, str) or not urn.startswith("urn:"):
        raise DeviceModelError(f"{where}: field 'urn' must be a string starting with 'urn:'")
    name = doc.get("name", urn)
    if not isinstance(name, str):
        raise DeviceModelError(f"{where}: field 'name' must be a string")
    attributes: dict[str, Attribute] = {}
    for i, raw in enumerate(_list(doc, "attributes", where)):
        path = f"{where}: attributes[{i}]"
        attr_name, kind = _name_type(raw, path, "type")
        if attr_name in attributes:
            raise DeviceModelError(f"{path}: duplicate attribute name {attr_name!r}")
        low, high = _range(raw, path, kind)
        writable = raw.get("writable", False)
        if not isinstance(writable, bool):
            raise DeviceModelError(f"{path}.writable: {writable!r} is not true or false")
        attributes[attr_name] = Attribute(attr_name, kind, writable, low, high, _alias(raw, path))
    actions: dict[str, Action] = {}
    for i, raw in enumerate(_list(doc, "actions", where)):
        path = f"{where}: actions[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise DeviceModelError(f"{path}: needs a string 'name'")
        action_name = raw["name"]
        if action_name in actions:
            raise DeviceModelError(f"{path}: duplicate action name {action_name!r}")
        arg_type = raw.get("argType")
        if arg_type is not None:
            if not isinstance(arg_type, str) or arg_type.upper() not in TYPES:
                raise DeviceModelError(f"{path}.argType: {arg_type!r} is not one of {TYPES}")
            arg_type = arg_type.upper()
        low, high = _range(raw, path, arg_type)
        actions[action_name] = Action(action_name, arg_type, low, high, _alias(raw, path))
    _list(doc, "formats", where)
    draft = bool(doc.get("draft", False))
    return DeviceModel(urn, name, attributes, actions, dict(doc), draft)


def _list(doc: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise DeviceModelError(f"{where}: field {key!r} must be a list")
    return value


def _name_type(raw: object, path: str, type_key: str) -> tuple[str, str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise DeviceModelError(f"{path}: needs a string 'name'")
    kind = raw.get(type_key)
    if not isinstance(kind, str) or kind.upper() not in TYPES:
        raise DeviceModelError(f"{path}.{type_key}: {kind!r} is not one of {', '.join(TYPES)}")
    return raw["name"], kind.upper()


def _alias(raw: Mapping[str, Any], path: str) -> str | None:
    alias = raw.get("alias")
    if alias is not None and not isinstance(alias, str):
        raise DeviceModelError(f"{path}.alias: must be a string")
    return alias or None


def _range(
    raw: Mapping[str, Any], path: str, kind: str | None
) -> tuple[float | None, float | None]:
    text = raw.get("range")
    if text in (None, ""):
        return None, None
    if kind not in ("NUMBER", "INTEGER"):
        raise DeviceModelError(f"{path}.range: only NUMBER and INTEGER have a range")
    try:
        low_text, high_text = str(text).split(",")
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise DeviceModelError(f"{path}.range: {text!r} is not 'low,high'") from None
    if low > high:
        raise DeviceModelError(f"{path}.range: {text!r} has low > high")
    return low, high


def capability_model(urn: str) -> DeviceModel:
    """A stand-in for a capability model (they carry no attributes a write could target)."""
    doc = {"urn": urn, "name": urn.rsplit(":", 1)[-1], "system": True, "draft": False}
    doc.update({"attributes": [], "actions": [], "formats": []})
    return DeviceModel(urn, str(doc["name"]), {}, {}, doc)


class ModelRegistry:
    """Device models by URN; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, DeviceModel] = {}

    @classmethod
    def from_directory(cls, directory: Path | None) -> ModelRegistry:
        """Load every ``*.json`` model under ``directory`` (recursively); None -> empty.

        A file that is not a model (no ``urn``) is skipped only if it is not JSON-with-urn at all
        (model files sit beside other JSON); a file that claims to be a model but is malformed
        raises :class:`DeviceModelError` naming it.
        """
        registry = cls()
        if directory is None:
            return registry
        if not directory.is_dir():
            raise ConfigError(f"{directory}: device-model directory does not exist")
        for path in sorted(directory.rglob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DeviceModelError(f"{path}: not readable JSON ({exc})") from exc
            if not isinstance(doc, dict) or "urn" not in doc:
                continue
            registry.add(parse_model(doc, str(path)))
        return registry

    def add(self, model: DeviceModel) -> None:
        """Add or replace a model."""
        with self._lock:
            self._models[model.urn] = model

    def get(self, urn: str) -> DeviceModel | None:
        """The model for ``urn``; capability URNs always resolve."""
        with self._lock:
            found = self._models.get(urn)
        if found is None and urn.startswith(CAPABILITY_PREFIX):
            return capability_model(urn)
        return found

    def urns(self) -> list[str]:
        """Every registered URN, sorted."""
        with self._lock:
            return sorted(self._models)


# -- values -------------------------------------------------------------------------------------


def parse_datetime(value: object, what: str) -> int:
    """Epoch milliseconds from an epoch-ms number or an ISO-8601 string (what JS 1.x sends)."""
    if isinstance(value, bool):
        raise WriteRejected(f"{what}: {value!r} is not a DATETIME (epoch ms or ISO-8601)")
    if isinstance(value, int | float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            stamp = datetime.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=datetime.UTC)
            return int(stamp.timestamp() * 1000)
    raise WriteRejected(f"{what}: {value!r} is not a DATETIME (epoch ms or ISO-8601)")


def check_value(
    kind: str, value: object, what: str, low: float | None = None, high: float | None = None
) -> object:
    """Check ``value`` against a model type and range; return it normalised for the wire.

    DATETIME comes back as epoch ms; an integral float for INTEGER comes back as int.
    Raises :class:`WriteRejected` with ``what``, the value and what was expected.
    """
    if kind in ("NUMBER", "INTEGER"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WriteRejected(f"{what}: {value!r} is not a {kind}")
        if not math.isfinite(value):
            raise WriteRejected(f"{what}: {value!r} is not a finite {kind}")
        if kind == "INTEGER":
            if value != int(value):
                raise WriteRejected(f"{what}: {value!r} is not a whole number (INTEGER)")
            value = int(value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise WriteRejected(f"{what}: {value!r} is out of range [{_num(low)}, {_num(high)}]")
        return value
    if kind == "BOOLEAN":
        if not isinstance(value, bool):
            raise WriteRejected(f"{what}: {value!r} is not a BOOLEAN (true or false)")
        return value
    if kind in ("STRING", "URI"):
        if not isinstance(value, str):
            raise WriteRejected(f"{what}: {value!r} is not a {kind} (a JSON string)")
        return value
    if kind == "DATETIME":
        return parse_datetime(value, what)
    raise WriteRejected(f"{what}: unknown type {kind}")


def _num(x: float | None) -> str:
    if x is None:
        return "-inf"
    return str(int(x)) if x == int(x) else str(x)


def value_from_text(kind: str, text: str, what: str) -> object:
    """Read a command-line value (``ATTRIBUTE=VALUE``) as the attribute's type."""
    if kind in ("NUMBER", "INTEGER"):
        try:
            number = float(text)
        except ValueError:
            raise WriteRejected(f"{what}: {text!r} is not a {kind}") from None
        return int(number) if kind == "INTEGER" and number == int(number) else number
    if kind == "BOOLEAN":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "on", "yes"):
            return True
        if lowered in ("false", "0", "off", "no"):
            return False
        raise WriteRejected(f"{what}: {text!r} is not a BOOLEAN (true or false)")
    if kind == "DATETIME":
        try:
            return int(text)
        except ValueError:
            return parse_datetime(text, what)
    return text


def check_attribute_write(
    model: DeviceModel, values: Mapping[str, object], *, from_text: bool = False
) -> dict[str, object]:
    """Validate a write of ``values`` to ``model``; the normalised values keyed by real name."""
    if not values:
        raise WriteRejected(f"{model.urn}: a write needs at least one attribute")
    out: dict[str, object] = {}
    for key, raw in values.items():
        attr = model.attribute(key)
        if attr is None:
            known = ", ".join(sorted(model.attributes)) or "none"
            raise WriteRejected(f"{model.urn}: no attribute {key!r} (attributes: {known})")
        if not attr.writable:
            raise WriteRejected(f"{model.urn}: attribute {attr.name!r} is not writable")
        what = f"{model.urn} attribute {attr.name!r} ({attr.type})"
        value = value_from_text(attr.type, raw, what) if from_text and isinstance(raw, str) else raw
        out[attr.name] = check_value(attr.type, value, what, attr.low, attr.high)
    return out


_NO_ARG = object()


def check_action_call(
    model: DeviceModel, name: str, value: object = _NO_ARG, *, from_text: bool = False
) -> tuple[str, object]:
    """Validate an action call; returns the real action name and the argument (or the marker)."""
    action = model.action(name)
    if action is None:
        known = ", ".join(sorted(model.actions)) or "none"
        raise WriteRejected(f"{model.urn}: no action {name!r} (actions: {known})")
    what = f"{model.urn} action {action.name!r}"
    if action.arg_type is None:
        if value is not _NO_ARG and value is not None:
            raise WriteRejected(f"{what}: takes no argument, got {value!r}")
        return action.name, _NO_ARG
    if value is _NO_ARG or value is None:
        raise WriteRejected(f"{what}: needs an argument of type {action.arg_type}")
    if from_text and isinstance(value, str):
        value = value_from_text(action.arg_type, value, what)
    return action.name, check_value(
        action.arg_type, value, f"{what} ({action.arg_type})", action.low, action.high
    )


def no_argument() -> object:
    """The marker :func:`check_action_call` uses for "no argument"."""
    return _NO_ARG


def check_reported_data(model: DeviceModel, data: Mapping[str, object]) -> dict[str, object]:
    """Check the attribute values a device reported (DATA ``<urn>:attributes``).

    Lenient where Oracle's clients differ: numbers for INTEGER may arrive as integral floats,
    DATETIME as epoch ms or ISO text (normalised to epoch ms); ranges are the device's
    business.  Unknown names and wrong types are refused.
    """
    out: dict[str, object] = {}
    for key, value in data.items():
        attr = model.attribute(key)
        if attr is None:
            raise WriteRejected(f"{model.urn}: device reported unknown attribute {key!r}")
        what = f"{model.urn} attribute {attr.name!r} ({attr.type})"
        out[key] = None if value is None else check_value(attr.type, value, what)
    return out
