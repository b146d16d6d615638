"""The I2C bus as drivers see it: locked transfers over any smbus2-compatible object.

Every transfer goes through :class:`I2CBus`, which

* holds one lock per bus number, shared by every ``I2CBus`` in the process (two drivers that
  opened ``/dev/i2c-1`` separately still take turns), so a write-pointer-then-read is one
  indivisible unit and :meth:`I2CBus.transaction` can group several transfers;
* translates ``OSError`` from the kernel (or from the simulated bus) once, here, into
  :mod:`drivers.errors`: errno 121 (EREMOTEIO, what a Pi reports for a NACK) and 6 (ENXIO, the
  kernel's convention) become :class:`DeviceNotFound`, everything else :class:`BusError`, each
  carrying the bus, the address and the original error as ``cause``.

Nothing above this module catches a bare ``OSError``.

Example::

    >>> bus = open_bus(1)                       # /dev/i2c-1 on a Pi
    >>> bus.write_then_read(0x76, [0xD0], 1)    # BME280 chip id
    b'`'
"""

from __future__ import annotations

import errno
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from smbus2 import i2c_msg

from drivers.errors import BusError, DeviceNotFound, DriverConfigError

#: errno values that mean "nothing acknowledged the address".
NOT_FOUND_ERRNOS = frozenset({errno.EREMOTEIO, errno.ENXIO})

BusId = int | str

_registry_lock = threading.Lock()
_bus_locks: dict[BusId, threading.RLock] = {}
_device_locks: dict[tuple[BusId, int], threading.RLock] = {}


def bus_lock(bus_id: BusId) -> threading.RLock:
    """The process-wide re-entrant lock of bus ``bus_id`` (created on first use)."""
    with _registry_lock:
        lock = _bus_locks.get(bus_id)
        if lock is None:
            lock = _bus_locks[bus_id] = threading.RLock()
        return lock


def device_lock(bus_id: BusId, address: int) -> threading.RLock:
    """The process-wide lock of one chip, for sequences with waits (command, sleep, read).

    Holding it keeps other users of the *same chip* out without blocking the rest of the bus.
    """
    with _registry_lock:
        key = (bus_id, address)
        lock = _device_locks.get(key)
        if lock is None:
            lock = _device_locks[key] = threading.RLock()
        return lock


class SMBusLike(Protocol):
    """What :class:`I2CBus` needs from ``smbus2.SMBus`` (the simulated bus offers the same)."""

    def i2c_rdwr(self, *i2c_msgs: Any) -> None: ...

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None: ...

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int: ...

    def close(self) -> None: ...


def check_address(address: int) -> int:
    """Validate a 7-bit address; DriverConfigError names the value and the valid range."""
    if isinstance(address, bool) or not isinstance(address, int) or not 0 <= address <= 0x7F:
        raise DriverConfigError(
            f"I2C address {address!r} is not a 7-bit address; valid: 0x00..0x7f"
        )
    return address


def translate(exc: OSError, *, bus: BusId, address: int, action: str) -> BusError:
    """Turn the ``OSError`` of one transfer into the matching :mod:`drivers.errors` exception."""
    if isinstance(exc, BusError):
        return exc
    code = exc.errno
    reason = os.strerror(code) if code else (str(exc) or type(exc).__name__)
    if code in NOT_FOUND_ERRNOS:
        return DeviceNotFound(
            f"no device acknowledged {action} (errno {code}, {reason}); "
            "check the wiring, the power and the address",
            bus=bus,
            address=address,
            cause=exc,
        )
    where = f"errno {code}, {reason}" if code else reason
    return BusError(f"{action} failed ({where})", bus=bus, address=address, cause=exc)


class I2CBus:
    """Locked, error-translating transfers on one I2C bus.

    Args:
        smbus: an open ``smbus2.SMBus`` or ``drivers.sim.smbus.SimSMBus``.
        bus_id: the bus number (or a name) used for the lock and in error messages.
        owns: close ``smbus`` when this object is closed.

    Thread-safe: every method takes the bus lock; :meth:`transaction` holds it across several.
    """

    def __init__(self, smbus: SMBusLike, *, bus_id: BusId, owns: bool = False) -> None:
        self._smbus = smbus
        self._bus_id = bus_id
        self._owns = owns
        self._lock = bus_lock(bus_id)
        self._closed = False

    @property
    def bus_id(self) -> BusId:
        """The bus number (or name) this object talks to."""
        return self._bus_id

    @property
    def smbus(self) -> SMBusLike:
        """The underlying smbus object (for tests and for the simulated bus's helpers)."""
        return self._smbus

    @contextmanager
    def transaction(self) -> Iterator[I2CBus]:
        """Hold the bus lock across several transfers, which then reach the bus back to back."""
        with self._lock:
            yield self

    def device_lock(self, address: int) -> threading.RLock:
        """The process-wide lock of the chip at ``address`` on this bus."""
        return device_lock(self._bus_id, address)

    def _rdwr(self, address: int, action: str, *msgs: Any) -> None:
        with self._lock:
            try:
                self._smbus.i2c_rdwr(*msgs)
            except OSError as exc:
                raise translate(exc, bus=self._bus_id, address=address, action=action) from exc

    def write(self, address: int, data: Sequence[int] | bytes) -> None:
        """One write transfer: START, address+W, ``data``, STOP."""
        payload = bytes(data)
        self._rdwr(address, f"write {payload.hex(' ')}", i2c_msg.write(address, payload))

    def read(self, address: int, length: int) -> bytes:
        """One read transfer of ``length`` bytes: START, address+R, data, STOP."""
        msg = i2c_msg.read(address, length)
        self._rdwr(address, f"read of {length} bytes", msg)
        return bytes(msg)

    def write_then_read(self, address: int, data: Sequence[int] | bytes, length: int) -> bytes:
        """Write ``data`` then read ``length`` bytes with a repeated START, as one unit.

        This is the register read of pointer-based chips: ``[register]`` then the value.
        """
        payload = bytes(data)
        wmsg = i2c_msg.write(address, payload)
        rmsg = i2c_msg.read(address, length)
        self._rdwr(address, f"write {payload.hex(' ')} then read of {length} bytes", wmsg, rmsg)
        return bytes(rmsg)

    def write_quick(self, address: int) -> None:
        """SMBus quick write (address only, no data): i2cdetect's default probe."""
        with self._lock:
            try:
                self._smbus.write_quick(address)
            except OSError as exc:
                raise translate(
                    exc, bus=self._bus_id, address=address, action="quick write"
                ) from exc

    def read_byte(self, address: int) -> int:
        """SMBus receive byte (one byte, no register): i2cdetect's probe for EEPROM ranges."""
        with self._lock:
            try:
                return self._smbus.read_byte(address)
            except OSError as exc:
                raise translate(
                    exc, bus=self._bus_id, address=address, action="receive byte"
                ) from exc

    def close(self) -> None:
        """Close the underlying smbus if this object opened it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns:
            self._smbus.close()

    def __enter__(self) -> I2CBus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<I2CBus {self._bus_id} {type(self._smbus).__name__} {state}>"


def available_buses(dev_dir: Path | str = "/dev") -> list[int]:
    """The bus numbers with a ``/dev/i2c-N`` file, sorted."""
    found = []
    try:
        names = os.listdir(dev_dir)
    except OSError:
        return []
    for name in names:
        match = re.fullmatch(r"i2c-(\d+)", name)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def open_bus(number: int, *, dev_dir: Path | str = "/dev") -> I2CBus:
    """Open ``/dev/i2c-<number>`` with smbus2 and wrap it (the wrapper owns and closes it).

    Raises:
        DriverConfigError: ``number`` is not a non-negative integer.
        DeviceNotFound: the device file is missing; the message lists the buses that exist and
            how to enable I2C on a Pi.
        BusError: the file exists but cannot be opened (permissions, ...).
    """
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise DriverConfigError(f"I2C bus {number!r} is not a bus number; valid: 0, 1, 2, ...")
    import smbus2  # noqa: PLC0415 - only real hardware needs it at this point

    path = Path(dev_dir) / f"i2c-{number}"
    if not path.exists():
        buses = available_buses(dev_dir)
        present = ", ".join(str(n) for n in buses) if buses else "none"
        raise DeviceNotFound(
            f"{path} does not exist; I2C buses present: {present}. On a Raspberry Pi enable I2C "
            "with 'sudo raspi-config nonint do_i2c 0' (loads i2c-dev); the header bus is 1",
            bus=number,
        )
    try:
        smbus = smbus2.SMBus(str(path))
    except PermissionError as exc:
        raise BusError(
            f"no permission to open {path}; add the user to the 'i2c' group",
            bus=number,
            cause=exc,
        ) from exc
    except OSError as exc:
        raise BusError(f"cannot open {path}: {exc}", bus=number, cause=exc) from exc
    return I2CBus(smbus, bus_id=number, owns=True)
