"""The SoC temperature from the kernel's thermal zone (``/sys/class/thermal/thermal_zone0/temp``).

Read straight from sysfs rather than through gpiozero's ``CPUTemperature``: that class is a
gpiozero ``Device`` and, given no pin factory, installs the global default factory just to read
a file (and fails with ``BadPinFactory`` off a Pi).  The file holds millidegrees Celsius
(``48312\\n`` is 48.312 degC).

Example::

    >>> from drivers.gpio.system import CpuTemperature
    >>> CpuTemperature().read()
    {'cpu_temperature': 48.312}
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import BusError, DeviceNotFound, DriverConfigError, HardwareError
from drivers.sim.physics import FixedValues, PhysicalSource

DEFAULT_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


class CpuTemperature(Sensor):
    """The CPU temperature in degC from a thermal zone file.

    ``zone_path`` is injectable (tests, other boards); ``zone`` picks ``thermal_zoneN``.
    """

    NAME = "cpu_temperature"
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "cpu_temperature": Quantity(float, "degC", "SoC temperature from the thermal zone")
    }

    def __init__(self, *, zone: int = 0, zone_path: str | Path | None = None) -> None:
        if isinstance(zone, bool) or not isinstance(zone, int) or zone < 0:
            raise DriverConfigError(f"{self.NAME}: zone {zone!r} must be an integer >= 0")
        if zone_path is None:
            zone_path = Path(f"/sys/class/thermal/thermal_zone{zone}/temp")
        self.zone_path = Path(zone_path)
        self._refresh: Any = None
        self._on_close: Any = None

    def read(self) -> Reading:
        """Read the zone file; missing file is DeviceNotFound, garbage is HardwareError."""
        if self._refresh is not None:
            self._refresh()
        try:
            text = self.zone_path.read_text(encoding="ascii")
        except FileNotFoundError as exc:
            raise DeviceNotFound(
                f"{self.NAME}: {self.zone_path} does not exist (no such thermal zone)", cause=exc
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise BusError(f"{self.NAME}: cannot read {self.zone_path}: {exc}", cause=exc) from exc
        try:
            millidegrees = int(text.strip())
        except ValueError as exc:
            raise HardwareError(
                f"{self.NAME}: {self.zone_path} holds {text.strip()!r}, not millidegrees",
                cause=exc,
            ) from exc
        return {"cpu_temperature": millidegrees / 1000.0}

    def close(self) -> None:
        """Nothing to release for a real zone; a simulated one removes its directory."""
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()
        super().close()

    def describe(self) -> str:
        """``cpu_temperature from /sys/class/thermal/thermal_zone0/temp``."""
        return f"{self.NAME} from {self.zone_path}"

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """A zone file in a temporary directory, rewritten from ``cpu_temperature`` per read."""
        source = physics if physics is not None else FixedValues()
        options.pop("pin_factory", None)  # no pins; accepted like every drivers.gpio driver
        given = options.pop("directory", None)
        directory = Path(given or tempfile.mkdtemp(prefix="sim-thermal-"))
        path = directory / "temp"
        sensor = cls(zone_path=path, **options)
        if given is None:
            sensor._on_close = lambda: shutil.rmtree(directory, ignore_errors=True)

        def refresh() -> None:
            value = round(source.get("cpu_temperature") * 1000)
            path.write_text(f"{value}\n", encoding="ascii")

        refresh()
        sensor._refresh = refresh
        return sensor
