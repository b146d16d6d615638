"""Find drivers by name: built-ins plus plug-ins from the ``iotcs_hw.drivers`` entry-point group.

A third-party package adds a driver with, in its ``pyproject.toml``::

    [project.entry-points."iotcs_hw.drivers"]
    my_sensor = "my_package.sensor:MySensor"

and ``driver: my_sensor`` in a model file then resolves to that class.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from importlib import metadata
from typing import Any

from drivers.base import Device
from drivers.errors import UnknownDriver

ENTRY_POINT_GROUP = "iotcs_hw.drivers"

# Catalog modules of the driver families shipped here, each a ``DRIVERS`` table of
# name -> "module:Class"; classes are imported on first use, so importing ``drivers`` does not
# import gpiozero or smbus2.
_CATALOGS = ("drivers.i2c.catalog", "drivers.gpio.catalog", "drivers.onewire.catalog")
_BUILTIN: dict[str, str] = {}
for _catalog in _CATALOGS:
    _BUILTIN.update(importlib.import_module(_catalog).DRIVERS)
_loaded: dict[str, type[Device]] = {}
_lock = threading.Lock()


def register(name: str, target: str | type[Device]) -> None:
    """Register a driver under ``name``: a class, or a ``"module:Class"`` path imported lazily."""
    with _lock:
        if isinstance(target, str):
            _BUILTIN[name] = target
            _loaded.pop(name, None)
        else:
            _loaded[name] = target
            _BUILTIN[name] = f"{target.__module__}:{target.__qualname__}"


def _plugins() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def known_drivers() -> list[str]:
    """Every driver name: built-in and plug-in, sorted."""
    with _lock:
        names = set(_BUILTIN)
    return sorted(names | set(_plugins()))


def driver_class(name: str) -> type[Device]:
    """Resolve ``name`` to its class; :class:`UnknownDriver` lists the known names."""
    with _lock:
        cls = _loaded.get(name)
        path = _BUILTIN.get(name)
    if cls is not None:
        return cls
    if path is not None:
        module_name, _, attr = path.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    else:
        plugin = _plugins().get(name)
        if plugin is None:
            known = known_drivers()
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownDriver(f"unknown driver {name!r}{hint}; known drivers: {', '.join(known)}")
        obj = plugin.load()
    if not (isinstance(obj, type) and issubclass(obj, Device)):
        raise UnknownDriver(f"driver {name!r} resolves to {obj!r}, which is not a Device class")
    with _lock:
        _loaded[name] = obj
    return obj


def create(name: str, **options: Any) -> Device:
    """Instantiate driver ``name`` with keyword ``options`` (bus, address, pin, ...)."""
    return driver_class(name)(**options)
