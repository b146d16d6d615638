"""The model file: parsed dataclasses (:mod:`.model`), the parser and the validator.

>>> from iotcs_hw.runtime.config import check_file
>>> model_file = check_file("device_models/greenhouse.yaml")  # doctest: +SKIP

:func:`load_model_file` checks the schema and the file's own consistency;
:func:`check_file` also checks it against the device models in a directory.  Both raise
:class:`ModelFileError` listing every problem as ``FILE:LINE:COLUMN: message``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from iotcs_hw.runtime.config.device_models import ModelDirectory, ModelMapping, ModelResolver
from iotcs_hw.runtime.config.diagnostics import Diagnostic, Diagnostics, ModelFileError
from iotcs_hw.runtime.config.loader import load_model_file, parse_text
from iotcs_hw.runtime.config.model import ModelFile
from iotcs_hw.runtime.config.model_check import check_against_models
from iotcs_hw.runtime.config.schema import format_duration

__all__ = [
    "Diagnostic",
    "ModelDirectory",
    "ModelFile",
    "ModelFileError",
    "ModelMapping",
    "ModelResolver",
    "check_file",
    "load_model_file",
    "parse_text",
    "summarize",
    "validate_against_models",
]


def check_file(
    path: str | os.PathLike[str], *, models_dir: str | os.PathLike[str] | None = None
) -> ModelFile:
    """Load ``path`` and validate it against the device models in ``models_dir``.

    ``models_dir`` defaults to the model file's own directory (where ``greenhouse.yaml`` finds
    ``greenhouse.json``).  Raises :class:`ModelFileError` with every problem.
    """
    directory = Path(models_dir) if models_dir is not None else Path(path).parent
    return load_model_file(path, models=ModelDirectory(directory))


def validate_against_models(model_file: ModelFile, models: ModelResolver) -> None:
    """Check an already loaded file against device models obtained later (``run`` fetches them
    from the server after activation).  Raises :class:`ModelFileError` with every problem, at
    the positions the file was loaded from.
    """
    diagnostics = Diagnostics()
    check_against_models(model_file, models, diagnostics)
    diagnostics.raise_if_any()


def summarize(model_file: ModelFile) -> str:
    """A short human summary of a valid model file, as ``iotcs-hw check`` prints it."""
    role = (
        f"gateway for {len(model_file.devices)} devices"
        if model_file.is_gateway
        else "directly connected device"
    )
    lines = [f"{model_file.path}: OK ({role})"]
    for device in model_file.devices:
        lines.append(
            f"  device {device.id} ({', '.join(device.models)}): "
            f"{len(device.sensors)} sensor(s), {len(device.actuators)} actuator(s), "
            f"{len(device.alerts)} alert(s)"
        )
        for sensor in device.sensors:
            attrs = ", ".join(f"{r.reading}->{r.attribute}" for r in sensor.readings)
            lines.append(
                f"    sensor {sensor.name}: {sensor.driver} every "
                f"{format_duration(sensor.interval_s)} ({attrs})"
            )
        for actuator in device.actuators:
            lines.append(f"    actuator {actuator.name}: {actuator.driver} <- {actuator.attribute}")
        for alert in device.alerts:
            cond = alert.condition
            threshold = (
                f"{cond.threshold:g}"
                if isinstance(cond.threshold, float)
                else json.dumps(cond.threshold)
            )
            lines.append(
                f"    alert {alert.name}: {cond.attribute} {cond.op} {threshold} -> {alert.format}"
            )
    return "\n".join(lines)
