"""Read a model file: YAML text -> :class:`~.model.ModelFile`, or every problem at once.

Three passes, each collecting diagnostics rather than stopping at the first:

1. the schema (:mod:`.sections`): shapes, types, units, defaults, drivers and their options;
2. the file against itself (:mod:`.crosscheck`): names, pins, I2C addresses, buses, interlocks;
3. the file against its IoTCS device models (:mod:`.model_check`), when models are available.

Any problem raises one :class:`~.diagnostics.ModelFileError` listing them all, sorted by line.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml
from yaml.nodes import Node

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config.crosscheck import crosscheck
from iotcs_hw.runtime.config.device_models import ModelResolver
from iotcs_hw.runtime.config.diagnostics import Diagnostic, ModelFileError
from iotcs_hw.runtime.config.drivers_info import DriverCatalog
from iotcs_hw.runtime.config.model_check import check_against_models
from iotcs_hw.runtime.config.schema import NODE, Context, TooLarge, items_of, mapping, ok
from iotcs_hw.runtime.config.sections import (
    parse_buses,
    parse_device,
    parse_health,
    parse_logging,
    parse_store,
)
from iotcs_hw.runtime.config.sensor_schema import ModelContext

FILE_SCHEMA = {
    "store": NODE,
    "buses": NODE,
    "devices": NODE,
    "health": NODE,
    "logging": NODE,
}

FILE_RENAMES = {
    "sensor": "sensors belong to a device: devices: [{id: ..., model: ..., sensors: [...]}]",
    "sensors": "sensors belong to a device: devices: [{id: ..., model: ..., sensors: [...]}]",
    "actuators": "actuators belong to a device: devices: [{id: ..., actuators: [...]}]",
    "alerts": "alerts belong to a device: devices: [{id: ..., alerts: [...]}]",
    "device": "write 'devices' (a list, even for one device)",
    "i2c": "declare I2C buses under buses: {i2c: [{bus: 1}]}",
    "esphome": "this is an iotcs-hw model file, not an ESPHome configuration",
}


#: libyaml's parser when PyYAML was built with it (five times faster); marks are the same.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str, ctx: Context) -> Node | None:
    """The YAML node tree of ``text``; syntax errors become diagnostics."""
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        ctx.diagnostics.error(m.SourcePos(ctx.file, line, column), f"YAML syntax: {problem}")
    except yaml.YAMLError as exc:
        ctx.diagnostics.error(m.SourcePos(ctx.file, 1, 1), f"YAML syntax: {exc}")
    return None


def parse_text(
    text: str,
    file: str,
    *,
    models: ModelResolver | None = None,
    drivers: DriverCatalog | None = None,
) -> m.ModelFile:
    """Parse and validate model-file ``text`` (named ``file`` in diagnostics).

    With ``models`` the file is also checked against its device models (:mod:`.model_check`);
    without, only the schema and the file's own consistency are checked.  ``drivers`` reuses a
    driver catalog across many files (listing plug-ins costs milliseconds).
    Raises :class:`ModelFileError` listing every problem.
    """
    ctx = ModelContext(file, drivers)
    root = compose(text, ctx)
    if root is None:
        if not ctx.diagnostics:
            ctx.diagnostics.error(m.SourcePos(file, 1, 1), "the file is empty")
        ctx.diagnostics.raise_if_any()
        raise AssertionError("unreachable")  # pragma: no cover
    try:
        result = _parse_root(root, ctx)
    except TooLarge as exc:
        ctx.diagnostics.error(ctx.pos(root), str(exc))
        ctx.diagnostics.raise_if_any()
    if result is not None:
        crosscheck(result, ctx.diagnostics, ctx.drivers, partial=frozenset(ctx.partial))
        if models is not None:
            check_against_models(
                result, models, ctx.diagnostics, ctx.drivers, partial=frozenset(ctx.partial)
            )
    ctx.diagnostics.raise_if_any()
    assert result is not None, "a file that failed to build always has diagnostics"
    return result


def _parse_root(root: Node, ctx: ModelContext) -> m.ModelFile | None:
    """Build the file from whatever parts are valid; problems are in ``ctx`` meanwhile.

    A broken section is replaced by its default (or a placeholder) so the cross-checks and the
    device-model checks still run on the valid parts: one run reports every problem.
    """
    parsed = mapping(FILE_SCHEMA, renamed=FILE_RENAMES)(root, ctx, "")
    if not ok(parsed):
        return None
    store = None
    if parsed.get("store") is None:
        ctx.error(root, "", "missing required key 'store' (where the device keeps its identity)")
    else:
        store = parse_store(parsed["store"], ctx, "store")
    devices: list[m.DeviceConfig] = []
    devices_node = parsed.get("devices")
    if devices_node is None:
        ctx.error(root, "", "missing required key 'devices' (at least one device)")
    else:
        for item_path, item in items_of(devices_node, ctx, "devices", min_len=1):
            device = parse_device(item, ctx, item_path)
            if device is not None:
                devices.append(device)
            else:
                ctx.partial.add(("devices", parsed.pos))
    buses: tuple[m.BusConfig, ...] | None = (m.BusConfig("i2c", 1, pos=parsed.pos),)
    if parsed.get("buses") is not None:
        buses = parse_buses(parsed["buses"], ctx, "buses")
        if buses is None:
            ctx.partial.add(("devices", parsed.pos))
    health: m.HealthConfig | None = m.HealthConfig(pos=parsed.pos)
    if parsed.get("health") is not None:
        health = parse_health(parsed["health"], ctx, "health")
    logging_config: m.LoggingConfig | None = m.LoggingConfig(pos=parsed.pos)
    if parsed.get("logging") is not None:
        logging_config = parse_logging(parsed["logging"], ctx, "logging")
    return m.ModelFile(
        path=ctx.file,
        store=store or m.StoreConfig("", pos=parsed.pos),
        devices=tuple(devices),
        buses=buses if buses is not None else (),
        health=health or m.HealthConfig(pos=parsed.pos),
        logging=logging_config or m.LoggingConfig(pos=parsed.pos),
        pos=parsed.pos,
    )


def load_model_file(
    path: str | os.PathLike[str],
    *,
    models: ModelResolver | None = None,
    drivers: DriverCatalog | None = None,
) -> m.ModelFile:
    """Read, parse and validate the model file at ``path``.

    Relative ``store`` paths (and ``~``) are resolved against the model file's directory.
    Raises :class:`ModelFileError` (every problem, ``FILE:LINE:COLUMN: message``), including
    for a file that cannot be read or is not UTF-8.
    """
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ModelFileError(
            [Diagnostic(file, 1, 1, f"cannot read the model file: {reason}")]
        ) from exc
    model_file = parse_text(text, file, models=models, drivers=drivers)
    return _resolve_store_paths(model_file, Path(file).resolve().parent)


def _resolve_store_paths(model_file: m.ModelFile, base: Path) -> m.ModelFile:
    """Store paths written relative to the model file, made absolute against its directory."""

    def resolve(path: str | None) -> str | None:
        if path is None:
            return None
        expanded = Path(path).expanduser()
        return str(expanded if expanded.is_absolute() else base / expanded)

    store = model_file.store
    resolved = dataclasses.replace(
        store,
        path=resolve(store.path) or store.path,
        password_file=resolve(store.password_file),
        state_dir=resolve(store.state_dir),
    )
    return dataclasses.replace(model_file, store=resolved)
