"""Where the validator finds the IoTCS device models a model file names.

``iotcs-hw check --models DIR`` reads every ``*.json`` in DIR (any file name; Oracle's cache
names them ``dm-<urn>.json``, ours ``greenhouse.json``) and indexes them by URN.  ``run`` may
instead hand over the models it fetched from the server, through :class:`ModelMapping`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from iotcs_hw.client.device_model import DeviceModel
from iotcs_hw.errors import DeviceModelError


class ModelResolver(Protocol):
    """Finds a device model by URN."""

    def resolve(self, urn: str) -> DeviceModel | None:
        """The model with ``urn``, or None when it is unknown here."""
        ...

    def describe(self) -> str:
        """Where models were looked for, for "not found in ..." messages."""
        ...

    def problems(self) -> tuple[str, ...]:
        """Model documents that could not be read (shown when a URN is not found)."""
        ...


class ModelMapping:
    """Device models already in memory (fetched from the server, or built by a test)."""

    def __init__(self, models: Iterable[DeviceModel] | Mapping[str, DeviceModel]) -> None:
        values = models.values() if isinstance(models, Mapping) else models
        self._models = {m.getURN(): m for m in values}

    def resolve(self, urn: str) -> DeviceModel | None:
        """The model with ``urn``, or None."""
        return self._models.get(urn)

    def describe(self) -> str:
        """``the N models given``."""
        return f"the {len(self._models)} device model(s) given"

    def problems(self) -> tuple[str, ...]:
        """Always empty: in-memory models are already parsed."""
        return ()


class ModelDirectory:
    """Every ``*.json`` device model in a directory, indexed by URN (read once, lazily)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._models: dict[str, DeviceModel] | None = None
        self._problems: list[str] = []

    def _load(self) -> dict[str, DeviceModel]:
        if self._models is None:
            self._models = {}
            if not self.directory.is_dir():
                self._problems.append(f"{self.directory}: no such directory")
                return self._models
            try:
                files = sorted(self.directory.glob("*.json"))
            except OSError as exc:
                self._problems.append(f"{self.directory}: {exc.strerror or exc}")
                files = []
            for file in files:
                try:
                    model = DeviceModel.fromFile(file)
                except DeviceModelError as exc:
                    self._problems.append(str(exc))
                    continue
                self._models.setdefault(model.getURN(), model)
        return self._models

    def resolve(self, urn: str) -> DeviceModel | None:
        """The model with ``urn``, or None."""
        return self._load().get(urn)

    def describe(self) -> str:
        """``device models in DIR``."""
        return f"the device models in {self.directory}"

    def problems(self) -> tuple[str, ...]:
        """Files in the directory that are not valid device models."""
        self._load()
        return tuple(self._problems)

    def urns(self) -> list[str]:
        """Every URN found, sorted."""
        return sorted(self._load())
