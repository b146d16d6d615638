"""A simulated ``/sys/bus/w1/devices`` tree whose files read exactly like the kernel's.

The tree lives in a directory (a fresh temporary one by default)::

    devices/w1_bus_master1/w1_master_name          "w1_bus_master1\\n"
    devices/w1_bus_master1/w1_master_slaves        one id per line, or "not found.\\n"
    devices/w1_bus_master1/w1_master_slave_count   "2\\n"
    devices/28-0316a2797fff/{name,id,w1_slave,temperature,resolution}

:meth:`SimulatedDs18b20.convert` plays the part of one read of ``w1_slave``: it builds the
9-byte scratchpad from the physical temperature (quantised to the resolution, with the CRC
computed over it) and writes both lines in the kernel's format.  Faults are queued and consumed
one per conversion: ``crc`` (old kernels print ``crc=.. NO``; new kernels, the default, return
an empty read), ``power_on`` (the 85 degC pattern), ``stuck_low`` (all ``00``), ``no_device``
(all ``ff``, or empty on new kernels); :meth:`~SimulatedDs18b20.vanish` removes the device
directory and :meth:`~SimulatedDs18b20.reappear` brings it back.  A resolution written to
``resolution`` (or, as old kernels take it, to ``w1_slave``) applies from the next
conversion; :meth:`~SimulatedDs18b20.power_cycle` restores the EEPROM's 12 bits.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Literal

from drivers.errors import DriverConfigError
from drivers.onewire.crc import crc8
from drivers.onewire.ids import check_device_id
from drivers.sim.physics import FixedValues, PhysicalSource

Fault = Literal["crc", "power_on", "stuck_low", "no_device"]
Kernel = Literal["new", "old"]
FAULTS: tuple[Fault, ...] = ("crc", "power_on", "stuck_low", "no_device")

#: TH/TL as a factory-fresh part often has them (75 / 70 degC), as in the spec's example.
DEFAULT_TH, DEFAULT_TL = 75, 70


def scratchpad_for(celsius: float, *, resolution: int = 12, th: int = 75, tl: int = 70) -> bytes:
    """The DS18B20 scratchpad after converting ``celsius``: 8 data bytes and their CRC.

    The temperature is clamped to -55..125 degC and rounded to the resolution's step; the
    bits below the resolution read 0.  Byte 6 is ``0x10 - (LSB & 0x0F)``, as genuine parts
    report it (so a real 85 degC gives 0x10, not the power-on 0x0C).
    """
    if resolution not in (9, 10, 11, 12):
        raise DriverConfigError(f"DS18B20 resolution {resolution!r} must be 9, 10, 11 or 12")
    step = 1 << (12 - resolution)
    clamped = min(125.0, max(-55.0, celsius))
    raw = round(clamped * 16 / step) * step
    word = raw & 0xFFFF
    lsb, msb = word & 0xFF, word >> 8
    config = 0x1F | (resolution - 9) << 5
    data = bytes([lsb, msb, th & 0xFF, tl & 0xFF, config, 0xFF, 0x10 - (lsb & 0x0F), 0x10])
    return data + bytes([crc8(data)])


def power_on_scratchpad(*, th: int = DEFAULT_TH, tl: int = DEFAULT_TL) -> bytes:
    """What the scratchpad holds before any conversion: 0x0550 (85 degC) and byte 6 = 0x0C."""
    data = bytes([0x50, 0x05, th & 0xFF, tl & 0xFF, 0x7F, 0xFF, 0x0C, 0x10])
    return data + bytes([crc8(data)])


def w1_slave_text(read: bytes, retained: bytes) -> str:
    """The two lines the kernel prints for a scratchpad ``read`` (and the last good one)."""
    computed = crc8(read[:8])
    verdict = "YES" if computed == read[8] else "NO"
    raw = int.from_bytes(read[0:2], "little", signed=True)
    millidegrees = int(raw * 1000 / 16)  # C: int * 1000 / 16 truncates toward zero
    first = "".join(f"{b:02x} " for b in read)
    second = "".join(f"{b:02x} " for b in retained)
    return f"{first}: crc={computed:02x} {verdict}\n{second}t={millidegrees}\n"


class SimulatedDs18b20:
    """One simulated thermometer in a :class:`SimulatedW1Bus` tree."""

    def __init__(
        self, bus: SimulatedW1Bus, device_id: str, *, quantity: str, resolution: int
    ) -> None:
        self.bus = bus
        self.device_id = device_id
        self.quantity = quantity
        self.resolution = resolution
        self.th, self.tl = DEFAULT_TH, DEFAULT_TL
        self.present = True
        self._faults: deque[Fault] = deque()
        self._retained = power_on_scratchpad(th=self.th, tl=self.tl)
        self.conversions = 0

    @property
    def directory(self) -> Path:
        """``devices/28-...``."""
        return self.bus.base_path / self.device_id

    def fail(self, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` conversions show ``fault``."""
        if fault not in FAULTS:
            raise DriverConfigError(f"unknown 1-Wire fault {fault!r}; expected one of {FAULTS}")
        self._faults.extend([fault] * times)

    def vanish(self) -> None:
        """Unplug: the device directory disappears and the master lists it no more."""
        self.present = False
        shutil.rmtree(self.directory, ignore_errors=True)
        self.bus.write_master()

    def reappear(self) -> None:
        """Plug back in: the directory and its files come back."""
        self.present = True
        self.write_static_files()
        self.bus.write_master()
        self.convert()

    def write_static_files(self) -> None:
        """``name``, ``id`` (family, serial LSB first, ROM CRC) and, on new kernels,
        ``resolution``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        family = int(self.device_id[:2], 16)
        serial = int(self.device_id[3:], 16).to_bytes(6, "little")
        rom = bytes([family]) + serial
        (self.directory / "name").write_text(f"{self.device_id}\n", encoding="ascii")
        (self.directory / "id").write_bytes(rom + bytes([crc8(rom)]))
        if self.bus.kernel == "new":
            (self.directory / "resolution").write_text(f"{self.resolution}\n", encoding="ascii")

    def power_cycle(self) -> None:
        """Power loss: the configuration reverts to the EEPROM's (12 bits), nothing converted."""
        with self.bus.lock:
            self.resolution = 12
            self._retained = power_on_scratchpad(th=self.th, tl=self.tl)
            if self.present:
                self.write_static_files()

    def _take_resolution_writes(self) -> None:
        """Apply what a driver wrote: ``resolution`` (new kernels) or a number in ``w1_slave``."""
        for name in ("resolution", "w1_slave"):
            try:
                text = (self.directory / name).read_text(encoding="ascii").strip()
            except OSError:
                continue
            if text in ("9", "10", "11", "12") and int(text) != self.resolution:
                self.resolution = int(text)

    def convert(self) -> None:
        """One read's worth of kernel work: convert, then rewrite ``w1_slave``/``temperature``."""
        with self.bus.lock:
            if not self.present:
                return
            self._take_resolution_writes()
            self.conversions += 1
            fault = self._faults.popleft() if self._faults else None
            good = scratchpad_for(
                self.bus.physics.get(self.quantity),
                resolution=self.resolution,
                th=self.th,
                tl=self.tl,
            )
            text, temperature = self._render(fault, good)
            (self.directory / "w1_slave").write_text(text, encoding="ascii")
            (self.directory / "temperature").write_text(temperature, encoding="ascii")
            if self.bus.kernel == "new":
                resolution = f"{self.resolution}\n"
                (self.directory / "resolution").write_text(resolution, encoding="ascii")

    def _render(self, fault: Fault | None, good: bytes) -> tuple[str, str]:
        new_kernel = self.bus.kernel == "new"
        if fault is None:
            self._retained = good
            return w1_slave_text(good, good), f"{_millidegrees(good)}\n"
        if fault == "power_on":
            pad = power_on_scratchpad(th=self.th, tl=self.tl)
            self._retained = pad
            return w1_slave_text(pad, pad), "85000\n"
        if fault == "stuck_low":
            pad = bytes(9)
            self._retained = pad
            return w1_slave_text(pad, pad), "0\n"
        if new_kernel:  # crc or no_device: the rework returns nothing after its retries
            return "", ""
        if fault == "crc":
            corrupted = bytes([good[0] ^ 0x04]) + good[1:]  # one flipped bit on the wire
            return w1_slave_text(corrupted, self._retained), ""
        return w1_slave_text(b"\xff" * 9, self._retained), ""


def _millidegrees(pad: bytes) -> int:
    return int(int.from_bytes(pad[0:2], "little", signed=True) * 1000 / 16)


class SimulatedW1Bus:
    """A ``w1_bus_master1`` with simulated thermometers, files laid out as the kernel does.

    ``root``: directory to build ``devices/`` in (default: a new temporary directory, removed
    by :meth:`close`).  ``physics``: where temperatures come from.  ``kernel``: ``"new"``
    (since ~5.9: failed reads are empty) or ``"old"`` (``crc=.. NO`` lines).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        physics: PhysicalSource | None = None,
        kernel: Kernel = "new",
    ) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="sim-w1-") if root is None else root)
        self.base_path = self.root / "devices"
        self.master = self.base_path / "w1_bus_master1"
        self.master.mkdir(parents=True, exist_ok=True)
        self.physics: PhysicalSource = physics if physics is not None else FixedValues()
        self.kernel: Kernel = kernel
        self.sensors: dict[str, SimulatedDs18b20] = {}
        self.lock = threading.RLock()
        self._next_serial = 0x0316A2797FFF
        self.write_master()

    def add_sensor(
        self, device_id: str | None = None, *, quantity: str = "temperature", resolution: int = 12
    ) -> SimulatedDs18b20:
        """Attach a thermometer (next serial if ``device_id`` is None) and convert once."""
        with self.lock:
            if device_id is None:
                device_id = f"28-{self._next_serial:012x}"
                self._next_serial += 1
            device_id = check_device_id(device_id)
            if device_id in self.sensors:
                raise DriverConfigError(f"simulated 1-Wire bus already has {device_id}")
            scratchpad_for(0.0, resolution=resolution)  # validates the resolution
            sensor = SimulatedDs18b20(self, device_id, quantity=quantity, resolution=resolution)
            self.sensors[device_id] = sensor
            sensor.write_static_files()
            self.write_master()
            sensor.convert()
            return sensor

    def sensor(self, device_id: str) -> SimulatedDs18b20:
        """The simulated sensor ``device_id``."""
        return self.sensors[device_id]

    def write_master(self) -> None:
        """Rewrite the master's slave list and count from the sensors present."""
        with self.lock:
            present = [s.device_id for s in self.sensors.values() if s.present]
            listing = "".join(f"{name}\n" for name in present) or "not found.\n"
            (self.master / "w1_master_name").write_text("w1_bus_master1\n", encoding="ascii")
            (self.master / "w1_master_slaves").write_text(listing, encoding="ascii")
            (self.master / "w1_master_slave_count").write_text(
                f"{len(present)}\n", encoding="ascii"
            )
            (self.master / "w1_master_max_slave_count").write_text("64\n", encoding="ascii")

    def convert_all(self) -> None:
        """Every present sensor converts once (like reading each ``w1_slave``)."""
        for sensor in list(self.sensors.values()):
            sensor.convert()

    def close(self) -> None:
        """Remove the tree if this bus created its directory."""
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


__all__ = [
    "FAULTS",
    "SimulatedDs18b20",
    "SimulatedW1Bus",
    "power_on_scratchpad",
    "scratchpad_for",
    "w1_slave_text",
]
