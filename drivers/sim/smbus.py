"""``SimSMBus``: a drop-in for ``smbus2.SMBus`` with register-level chip models at addresses.

Every method of smbus2 0.6.1's ``SMBus`` is here with the same signature and return values,
and each call puts on the simulated wire what the real call puts on the real one
(``shared/spec/hardware/io-and-linux.md`` §F.2): ``read_byte_data`` is a write of the register
byte then a read of one byte, ``read_word_data`` returns the low byte first, ``i2c_rdwr`` runs
its messages in order.  Nothing at an address -> ``OSError(121, 'Remote I/O error')``.

Test helpers:

* :attr:`SimSMBus.history`: every call as a :class:`Transfer` (address, pieces, thread, error);
* :meth:`SimSMBus.faults`: per-address fault injection (fail the next N transfers, fail at a
  seeded rate, disappear and come back, bad CRCs).

Example::

    >>> from drivers.sim.smbus import SimSMBus
    >>> from drivers.sim.chips.mcp9808 import MCP9808Model
    >>> bus = SimSMBus(1)
    >>> bus.attach(0x18, MCP9808Model())
    >>> bus.read_i2c_block_data(0x18, 0x06, 2)
    [0, 84]
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smbus2 import I2cFunc

from drivers.i2c.clock import Clock
from drivers.sim.chips.base import Nack, SimChip
from drivers.sim.chips.clock import VirtualClock

I2C_M_RD = 0x0001

#: Functionality a Raspberry Pi's i2c-bcm2835 reports, plus SMBus block reads (simulated here).
SIM_FUNCS = I2cFunc(0x0EFF0009) | I2cFunc.SMBUS_READ_BLOCK_DATA | I2cFunc.SMBUS_BLOCK_PROC_CALL


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@dataclass(frozen=True)
class Piece:
    """One part of a transfer on the wire: ``"w"`` with the bytes written, ``"r"`` with the bytes
    read, or ``"q"`` for a quick write."""

    kind: str
    data: bytes = b""


@dataclass(frozen=True)
class Transfer:
    """One SMBus call as the bus saw it."""

    call: str
    address: int
    pieces: tuple[Piece, ...]
    thread: str
    errno: int | None = None

    @property
    def ok(self) -> bool:
        """True when the call completed."""
        return self.errno is None


class ChipFaults:
    """Faults injected at one address.  Methods return ``self`` so they can be chained.

    Thread-safe.  Faults are checked at the start of each call (the address phase), so a
    failed call leaves the chip untouched, as a NACKed address does.
    """

    def __init__(self, bus: SimSMBus, address: int) -> None:
        self._bus = bus
        self._address = address
        self._lock = threading.Lock()
        self._fail_next = 0
        self._fail_errno = errno.EREMOTEIO
        self._rate = 0.0
        self._rate_errno = errno.EREMOTEIO
        self._rng = random.Random(0)
        self._gone = False

    def fail_next(self, count: int, *, code: int = errno.EREMOTEIO) -> ChipFaults:
        """Fail the next ``count`` calls to this address with ``OSError(code)``."""
        with self._lock:
            self._fail_next = count
            self._fail_errno = code
        return self

    def fail_rate(self, rate: float, *, seed: int = 0, code: int = errno.EREMOTEIO) -> ChipFaults:
        """Fail each call with probability ``rate`` (0..1), from a RNG seeded with ``seed``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate {rate!r} not in 0..1")
        with self._lock:
            self._rate = rate
            self._rate_errno = code
            self._rng = random.Random(seed)
        return self

    def disappear(self) -> ChipFaults:
        """The chip stops answering its address (unplugged, lost power) until :meth:`reappear`."""
        with self._lock:
            self._gone = True
        return self

    def reappear(self) -> ChipFaults:
        """The chip answers again, with the state it had."""
        with self._lock:
            self._gone = False
        return self

    def bad_crc(self, reads: int = 1) -> ChipFaults:
        """The next ``reads`` CRC-protected answers carry a wrong CRC (chips with CRCs only)."""
        chip = self._bus.chip_at(self._address)
        if chip is None:
            raise ValueError(f"no chip at 0x{self._address:02x} to corrupt CRCs of")
        chip.corrupt_crc(reads)
        return self

    def clear(self) -> ChipFaults:
        """Remove every injected fault."""
        with self._lock:
            self._fail_next = 0
            self._rate = 0.0
            self._gone = False
        return self

    def check(self) -> int | None:
        """The errno this call fails with, or None (called by the bus at each call's start)."""
        with self._lock:
            if self._gone:
                return errno.EREMOTEIO
            if self._fail_next > 0:
                self._fail_next -= 1
                return self._fail_errno
            if self._rate and self._rng.random() < self._rate:
                return self._rate_errno
            return None


class SimSMBus:
    """A simulated I2C bus with the API of ``smbus2.SMBus``.

    Args:
        bus: the bus number it stands in for (used in messages and for the per-bus lock of
            :class:`drivers.i2c.bus.I2CBus`).
        clock: time for the chip models; defaults to a :class:`VirtualClock` that follows real
            time (driver waits return at once; tests pass a plain ``VirtualClock()``).
        force: accepted for signature compatibility (no kernel driver owns simulated chips).

    Thread-safe: each call is atomic (like the kernel's adapter lock); several calls from one
    user are not, which is what :class:`drivers.i2c.bus.I2CBus` locks for.
    """

    def __init__(
        self, bus: int | str | None = 1, force: bool = False, *, clock: Clock | None = None
    ) -> None:
        self.clock: Clock = clock if clock is not None else VirtualClock(follow_real_time=True)
        self.force = force
        self.funcs = SIM_FUNCS
        self.address: int | None = None
        self.fd: int | None = None
        self._pec = 0
        self.bus_number: int | str | None = None
        self._lock = threading.RLock()
        self._chips: dict[int, SimChip] = {}
        self._faults: dict[int, ChipFaults] = {}
        self.history: list[Transfer] = []
        #: Keep at most this many transfers in :attr:`history` (oldest dropped); None = all.
        self.history_limit: int | None = 10000
        if bus is not None:
            self.open(bus)

    # --- the simulated world -------------------------------------------------------------
    def attach(self, address: int, chip: SimChip) -> SimChip:
        """Put ``chip`` at ``address``; an address can hold one chip."""
        if not 0 <= address <= 0x7F:
            raise ValueError(f"address {address!r} is not a 7-bit address (0x00..0x7f)")
        with self._lock:
            if address in self._chips:
                raise ValueError(
                    f"address 0x{address:02x} already holds {self._chips[address].NAME}"
                )
            chip.attached(self.clock)
            self._chips[address] = chip
        return chip

    def detach(self, address: int) -> SimChip | None:
        """Remove and return the chip at ``address``."""
        with self._lock:
            return self._chips.pop(address, None)

    def chip_at(self, address: int) -> SimChip | None:
        """The chip at ``address`` or None."""
        with self._lock:
            return self._chips.get(address)

    @property
    def addresses(self) -> list[int]:
        """Addresses that hold a chip, sorted."""
        with self._lock:
            return sorted(self._chips)

    def faults(self, address: int) -> ChipFaults:
        """The fault injector of ``address`` (created on first use)."""
        with self._lock:
            faults = self._faults.get(address)
            if faults is None:
                faults = self._faults[address] = ChipFaults(self, address)
            return faults

    def clear_history(self) -> None:
        """Forget recorded transfers."""
        with self._lock:
            self.history.clear()

    # --- the engine ----------------------------------------------------------------------
    def _transfer(self, call: str, address: int, steps: Sequence[tuple[str, Any]]) -> list[bytes]:
        """Run ``steps`` ("w", bytes) / ("r", length) / ("q", None) on the chip at ``address``."""
        if not isinstance(address, int) or not 0 <= address <= 0x7F:
            raise _oserror(errno.EINVAL)
        if self.fd is None:
            raise ValueError("SimSMBus is closed; call open(bus) first")
        if address == 0x00:
            return self._general_call(call, steps)
        with self._lock:
            self.address = address
            pieces: list[Piece] = []
            results: list[bytes] = []
            thread = threading.current_thread().name
            chip = self._chips.get(address)
            faults = self._faults.get(address)
            code = faults.check() if faults is not None else None
            if chip is None:
                code = errno.EREMOTEIO
            try:
                if code is not None:
                    raise _oserror(code)
                assert chip is not None
                for kind, arg in steps:
                    if kind == "w":
                        data = bytes(arg)
                        pieces.append(Piece("w", data))
                        chip.write(data)
                    elif kind == "r":
                        data = bytes(chip.read(int(arg)))
                        if len(data) != arg:
                            raise AssertionError(
                                f"{chip.NAME} model returned {len(data)} bytes for a read of {arg}"
                            )
                        pieces.append(Piece("r", data))
                        results.append(data)
                    else:
                        pieces.append(Piece("q"))
                        chip.quick()
            except Nack:
                self._record(Transfer(call, address, tuple(pieces), thread, errno.EREMOTEIO))
                raise _oserror(errno.EREMOTEIO) from None
            except OSError as exc:
                self._record(Transfer(call, address, tuple(pieces), thread, exc.errno))
                raise
            self._record(Transfer(call, address, tuple(pieces), thread))
            return results

    def _general_call(self, call: str, steps: Sequence[tuple[str, Any]]) -> list[bytes]:
        """Address 0x00: every chip that implements the general call acts on the written bytes
        (0x06 = reset); nobody acknowledging, or a read, is a NACK."""
        with self._lock:
            thread = threading.current_thread().name
            pieces = tuple(Piece("w", bytes(arg)) for kind, arg in steps if kind == "w")
            acked = False
            if pieces and all(kind == "w" for kind, _ in steps):
                for chip in list(self._chips.values()):
                    acked = chip.general_call(pieces[0].data) or acked
            if not acked:
                self._record(Transfer(call, 0x00, pieces, thread, errno.EREMOTEIO))
                raise _oserror(errno.EREMOTEIO)
            self._record(Transfer(call, 0x00, pieces, thread))
            return []

    def _record(self, transfer: Transfer) -> None:
        self.history.append(transfer)
        limit = self.history_limit
        if limit is not None and len(self.history) > limit:
            del self.history[: len(self.history) - limit]

    # --- smbus2.SMBus API ----------------------------------------------------------------
    def open(self, bus: int | str) -> None:
        """Open the (simulated) bus; an int names ``/dev/i2c-<bus>``, a str a path."""
        if not isinstance(bus, int | str):
            raise TypeError(f"Unexpected type(bus)={type(bus)}")
        self.bus_number = bus
        self.fd = -1
        self.address = None

    def close(self) -> None:
        """Close the bus (chips keep their state; reopen with :meth:`open`)."""
        self.fd = None
        self.address = None
        self._pec = 0

    def __enter__(self) -> SimSMBus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pec(self) -> int:
        """Packet error checking flag (accepted, not simulated on the wire)."""
        return self._pec

    @pec.setter
    def pec(self, value: bool) -> None:
        self.enable_pec(value)

    def enable_pec(self, enable: bool = True) -> None:
        """Enable or disable PEC, as smbus2 does when the adapter supports it."""
        self._pec = int(enable)

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None:
        """Quick write: address+W, no data."""
        self._transfer("write_quick", i2c_addr, [("q", None)])

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        """Receive byte: one byte, no register."""
        return self._transfer("read_byte", i2c_addr, [("r", 1)])[0][0]

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        """Send byte: one byte, no register."""
        self._transfer("write_byte", i2c_addr, [("w", [value])])

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Write ``register``, read one byte."""
        return self._transfer("read_byte_data", i2c_addr, [("w", [register]), ("r", 1)])[0][0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        """Write ``register`` then ``value``."""
        self._transfer("write_byte_data", i2c_addr, [("w", [register, value])])

    def read_word_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Write ``register``, read two bytes; the first byte on the wire is the low byte."""
        data = self._transfer("read_word_data", i2c_addr, [("w", [register]), ("r", 2)])[0]
        return data[0] | (data[1] << 8)

    def write_word_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        """Write ``register``, then the low byte, then the high byte."""
        self._transfer(
            "write_word_data", i2c_addr, [("w", [register, value & 0xFF, (value >> 8) & 0xFF])]
        )

    def process_call(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> int:
        """Write a word, read a word back (both low byte first)."""
        steps = [("w", [register, value & 0xFF, (value >> 8) & 0xFF]), ("r", 2)]
        data = self._transfer("process_call", i2c_addr, steps)[0]
        return data[0] | (data[1] << 8)

    def read_block_data(self, i2c_addr: int, register: int, force: bool | None = None) -> list[int]:
        """SMBus block read: the device sends a count (1..32) then that many bytes."""
        with self._lock:
            count = self._transfer("read_block_data", i2c_addr, [("w", [register]), ("r", 1)])[0][0]
            if not 1 <= count <= 32:
                raise _oserror(errno.EPROTO)
            return list(self._transfer("read_block_data", i2c_addr, [("r", count)])[0])

    def write_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        """SMBus block write: register, count, data."""
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        self._transfer("write_block_data", i2c_addr, [("w", [register, len(data), *data])])

    def block_process_call(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> list[int]:
        """Block write then block read."""
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        with self._lock:
            steps = [("w", [register, len(data), *data]), ("r", 1)]
            count = self._transfer("block_process_call", i2c_addr, steps)[0][0]
            if not 1 <= count <= 32:
                raise _oserror(errno.EPROTO)
            return list(self._transfer("block_process_call", i2c_addr, [("r", count)])[0])

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """Write ``register``, read ``length`` bytes (no count byte)."""
        if length > 32:
            raise ValueError("Desired block length over 32 bytes")
        return list(
            self._transfer("read_i2c_block_data", i2c_addr, [("w", [register]), ("r", length)])[0]
        )

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        """Write ``register`` then ``data``."""
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        self._transfer("write_i2c_block_data", i2c_addr, [("w", [register, *data])])

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        """Combined transfer: each ``smbus2.i2c_msg`` in order, read results land in the messages.

        All messages must address the same chip (what the drivers here send).
        """
        if not i2c_msgs:
            return
        if len(i2c_msgs) > 42:
            raise _oserror(errno.EINVAL)
        address = i2c_msgs[0].addr
        if any(m.addr != address for m in i2c_msgs):
            raise _oserror(errno.EOPNOTSUPP)
        steps: list[tuple[str, Any]] = []
        for msg in i2c_msgs:
            if msg.flags & I2C_M_RD:
                steps.append(("r", msg.len))
            else:
                steps.append(("w", bytes(msg)))
        results = iter(self._transfer("i2c_rdwr", address, steps))
        for msg in i2c_msgs:
            if msg.flags & I2C_M_RD:
                data = next(results)
                ctypes.memmove(msg.buf, data, len(data))

    def __repr__(self) -> str:
        chips = ", ".join(f"0x{a:02x}={c.NAME}" for a, c in sorted(self._chips.items()))
        return f"<SimSMBus {self.bus_number} [{chips}]>"
