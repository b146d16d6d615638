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

from iotcs_hw.client.device_model import (
    DataType,
    DeviceModelAction,
    DeviceModelAttribute,
    Range,
)
from iotcs_hw.client.device_model import DeviceModel as ClientDeviceModel
from iotcs_hw.client.values import encode_value, validate_value
from iotcs_hw.errors import ConfigError, DeviceModelError

CAPABILITY_PREFIX = "urn:oracle:iot:dcd:capability:"
TYPES = ("NUMBER", "INTEGER", "STRING", "BOOLEAN", "DATETIME", "URI")


class WriteRejected(ConfigError):
    """A cloud write does not fit the device model; nothing was queued. Not retryable."""


@dataclass(frozen=True)
class DeviceModel:
    """A device model as the server keeps it: the document it serves verbatim to devices and
    the parsed model (the client's own :class:`~iotcs_hw.client.DeviceModel`, so the server and
    the device judge a model and a value by the very same rules)."""

    spec: ClientDeviceModel
    document: Mapping[str, Any]

    @property
    def urn(self) -> str:
        """The model's URN."""
        return self.spec.getURN()

    @property
    def name(self) -> str:
        """The model's name."""
        return self.spec.getName()

    @property
    def draft(self) -> bool:
        """True for a draft model."""
        return self.spec.isDraft()

    @property
    def attributes(self) -> dict[str, DeviceModelAttribute]:
        """Attributes by name."""
        return self.spec.getDeviceModelAttributes()

    @property
    def actions(self) -> dict[str, DeviceModelAction]:
        """Actions by name."""
        return self.spec.getDeviceModelActions()

    def attribute(self, name: str) -> DeviceModelAttribute | None:
        """The attribute called ``name`` or aliased so."""
        return self.spec.attribute(name)

    def action(self, name: str) -> DeviceModelAction | None:
        """The action called ``name`` or aliased so."""
        return self.spec.action(name)


def parse_model(doc: object, where: str = "device model") -> DeviceModel:
    """Parse one model document; :class:`DeviceModelError` names ``where`` and the bad field."""
    try:
        spec = ClientDeviceModel.fromJson(doc)
    except DeviceModelError as exc:
        raise DeviceModelError(f"{where}: {exc}") from None
    assert isinstance(doc, dict)
    return DeviceModel(spec, dict(doc))


def capability_model(urn: str) -> DeviceModel:
    """A stand-in for a capability model (they carry no attributes a write could target)."""
    doc: dict[str, Any] = {"urn": urn, "name": urn.rsplit(":", 1)[-1], "system": True}
    doc.update({"draft": False, "attributes": [], "actions": [], "formats": []})
    return parse_model(doc, urn)


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


@dataclass(frozen=True)
class _Spec:
    """What a value is checked against: a name, a type and (optionally) a range."""

    name: str
    type: DataType
    range: Range | None = None


def check_value(kind: str | DataType, value: object, what: str, rng: Range | None = None) -> object:
    """Check ``value`` against a model type and range; return it in its wire form.

    The rules are the client's (:func:`iotcs_hw.client.values.validate_value`, from the wire):
    DATETIME comes back as epoch ms (from epoch ms or ISO-8601 text), an integral float for
    INTEGER as an int, a URI as its text.  Raises :class:`WriteRejected` naming ``what``.
    """
    dtype = kind if isinstance(kind, DataType) else DataType(kind)
    try:
        checked = validate_value(_Spec(what, dtype, rng), value, from_wire=True)
    except ValueError as exc:
        raise WriteRejected(str(exc)) from None
    return encode_value(dtype, checked)


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
        what = f"{model.urn} attribute {attr.name!r} ({attr.type.value})"
        text_kind = attr.type.value
        value = value_from_text(text_kind, raw, what) if from_text and isinstance(raw, str) else raw
        out[attr.name] = check_value(attr.type, value, what, attr.range)
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
    arg_kind = action.arg_type.value
    if value is _NO_ARG or value is None:
        raise WriteRejected(f"{what}: needs an argument of type {arg_kind}")
    if from_text and isinstance(value, str):
        value = value_from_text(arg_kind, value, what)
    return action.name, check_value(action.arg_type, value, f"{what} ({arg_kind})", action.range)


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
        what = f"{model.urn} attribute {attr.name!r} ({attr.type.value})"
        out[key] = None if value is None else check_value(attr.type, value, what)
    return out
