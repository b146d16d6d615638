"""DS18B20 (and DS1822, DS1825, DS28EA00, DS18S20) through the kernel's w1 sysfs interface.

Enable the bus with ``dtoverlay=w1-gpio`` (data on GPIO4, 4.7 kOhm pull-up to 3.3 V); the
kernel then lists each sensor as ``/sys/bus/w1/devices/28-xxxxxxxxxxxx``.  Each read of its
``w1_slave`` file runs a conversion (750 ms at 12 bits), so :meth:`read` blocks that long on
real hardware; run it from a sampling job, not an event loop.

Example::

    >>> from drivers.onewire.ds18b20 import Ds18b20
    >>> Ds18b20().read()                         # the first sensor found
    {'temperature': 23.125}
    >>> Ds18b20("28-0316a2797fff").read()
    {'temperature': 21.875}
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from drivers.base import Quantity, Reading, Sensor
from drivers.errors import BusError, DeviceNotFound, DriverConfigError
from drivers.onewire import w1_slave
from drivers.onewire.ids import ID_PATTERN, THERMOMETER_FAMILIES, check_device_id
from drivers.sim.onewire import SimulatedW1Bus
from drivers.sim.physics import PhysicalSource

DEFAULT_BASE_PATH = Path("/sys/bus/w1/devices")
RESOLUTIONS = (9, 10, 11, 12)
_log = logging.getLogger(__name__)


def find_thermometers(base_path: Path) -> list[str]:
    """Ids of the thermometers listed under ``base_path``, sorted."""
    try:
        names = [entry.name for entry in base_path.iterdir()]
    except OSError:
        return []
    return sorted(
        name for name in names if ID_PATTERN.match(name) and name[:2] in THERMOMETER_FAMILIES
    )


class Ds18b20(Sensor):
    """One 1-Wire thermometer, by id or the first one found.

    ``device``: the sysfs name (``28-0316a2797fff``); ``None`` takes the first thermometer
    listed (found again after :meth:`reinitialize`, e.g. when it was replaced).
    ``base_path``: where the kernel lists 1-Wire devices (injectable for tests).
    ``resolution``: 9..12 bits to write through sysfs (needs write access to the file;
    ``None`` keeps the sensor's own, 12 bits from the factory).
    Thread-safe: one read at a time per instance.
    """

    NAME = "ds18b20"
    QUANTITIES: ClassVar[Mapping[str, Quantity]] = {
        "temperature": Quantity(float, "degC", "temperature at the probe")
    }

    def __init__(
        self,
        device: str | None = None,
        *,
        base_path: str | Path = DEFAULT_BASE_PATH,
        resolution: int | None = None,
    ) -> None:
        if resolution is not None and resolution not in RESOLUTIONS:
            raise DriverConfigError(
                f"ds18b20: resolution {resolution!r} must be one of 9, 10, 11, 12 (bits; "
                "0.5 / 0.25 / 0.125 / 0.0625 degC, 94 to 750 ms per conversion)"
            )
        self.resolution = resolution
        self._resolution_pending = resolution is not None
        self._wanted = None if device is None else check_device_id(device)
        self.base_path = Path(base_path)
        self._found: str | None = self._wanted
        self._lock = threading.Lock()
        self._before_read: Callable[[], None] | None = None
        self._on_close: Callable[[], None] | None = None

    @property
    def device_id(self) -> str | None:
        """The id being read (``None`` until the first sensor is found)."""
        return self._found

    def _resolve(self) -> str:
        if self._found is None:
            found = find_thermometers(self.base_path)
            if not found:
                raise DeviceNotFound(
                    f"ds18b20: no 1-Wire thermometer under {self.base_path} (is "
                    "dtoverlay=w1-gpio in config.txt and the sensor wired with a pull-up?)"
                )
            self._found = found[0]
        return self._found

    def read(self) -> Reading:
        """One conversion: ``{"temperature": degC}`` or the fault ``w1_slave`` shows.

        With ``resolution`` set, the first read (and the first after the sensor is seen at
        another resolution, e.g. after a power cycle restored its EEPROM setting) writes it.
        """
        with self._lock:
            device_id = self._resolve()
            where = f"ds18b20 {device_id}"
            if self._resolution_pending:
                self._write_resolution(device_id, where)
            if self._before_read is not None:
                self._before_read()
            path = self.base_path / device_id / "w1_slave"
            try:
                text = path.read_text(encoding="ascii")
            except FileNotFoundError as exc:
                raise DeviceNotFound(
                    f"{where}: {path} is gone (sensor disconnected or aged out of the bus)",
                    bus="w1",
                    cause=exc,
                ) from exc
            except (OSError, UnicodeDecodeError) as exc:
                raise BusError(f"{where}: cannot read {path}: {exc}", bus="w1", cause=exc) from exc
            family = int(device_id[:2], 16)
            celsius = w1_slave.temperature_from(text, where=where, family=family)
            if self.resolution is not None and family in w1_slave.TWELVE_BIT_FAMILIES:
                config = w1_slave.parse(text, where=where).scratchpad[4]
                seen = (config >> 5 & 0b11) + 9
                if seen != self.resolution:
                    _log.warning(
                        "%s: converts at %d bits, not %d; writing the resolution again",
                        where,
                        seen,
                        self.resolution,
                    )
                    self._resolution_pending = True
            return {"temperature": celsius}

    def _write_resolution(self, device_id: str, where: str) -> None:
        """Write ``resolution`` through sysfs (``resolution``, or ``w1_slave`` on old kernels)."""
        directory = self.base_path / device_id
        target = directory / "resolution"
        if not target.exists():
            target = directory / "w1_slave"  # kernels before the 2020 rework
        try:
            target.write_text(f"{self.resolution}\n", encoding="ascii")
        except FileNotFoundError as exc:
            raise DeviceNotFound(f"{where}: {directory} is gone", bus="w1", cause=exc) from exc
        except PermissionError as exc:
            raise DriverConfigError(
                f"{where}: cannot write {target} ({exc.strerror}); setting the resolution "
                "needs root or a udev rule that makes the file writable"
            ) from exc
        except OSError as exc:
            raise BusError(
                f"{where}: writing resolution {self.resolution} to {target} failed: {exc} "
                "(clones that ignore configuration writes answer EIO)",
                bus="w1",
                cause=exc,
            ) from exc
        self._resolution_pending = False

    def reinitialize(self) -> None:
        """Forget the sensor found first (the next read looks again) and rewrite resolution."""
        with self._lock:
            self._found = self._wanted
            self._resolution_pending = self.resolution is not None

    def close(self) -> None:
        """Nothing to release on a real bus; a simulated one removes its own tree."""
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()
        super().close()

    def describe(self) -> str:
        """``ds18b20 28-0316a2797fff`` or ``ds18b20 (first found under ...)``."""
        if self._found is not None:
            return f"ds18b20 {self._found}"
        return f"ds18b20 (first found under {self.base_path})"

    def __repr__(self) -> str:
        return f"<Ds18b20 {self._found or 'first found'} at {self.base_path}>"

    @classmethod
    def simulated(cls, *, physics: PhysicalSource | None = None, **options: Any) -> Self:
        """A sensor on a simulated sysfs tree (``drivers.sim.onewire``) in a temp directory.

        Each read regenerates ``w1_slave`` from ``physics`` ("temperature" unless
        ``quantity=`` says otherwise), as each real read runs a conversion.  Pass ``bus=`` to
        share a :class:`~drivers.sim.onewire.SimulatedW1Bus` and inject its faults.
        """
        shared = options.pop("bus", None)
        bus = shared or SimulatedW1Bus(physics=physics)
        quantity = options.pop("quantity", "temperature")
        device = options.pop("device", None)
        try:
            if device in bus.sensors:
                sim = bus.sensor(device)
            else:
                sim = bus.add_sensor(device, quantity=quantity)
            sensor = cls(sim.device_id, base_path=bus.base_path, **options)
        except BaseException:
            if shared is None:
                bus.close()
            raise
        sensor._before_read = sim.convert
        if shared is None:
            sensor._on_close = bus.close
        return sensor
