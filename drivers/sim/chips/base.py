"""The contract between the simulated bus and a chip model, and the CRC-8 the sensors use.

The bus turns every SMBus call into wire-level pieces and hands them to the chip at the address:
:meth:`SimChip.write` for each write message (the bytes after address+W), :meth:`SimChip.read`
for each read message, :meth:`SimChip.quick` for a quick write.  A chip that would not
acknowledge raises :class:`Nack`; the bus turns it into ``OSError(121)`` as a Pi does.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from drivers.i2c.clock import Clock
from drivers.sim.physics import FixedValues, PhysicalSource


class Nack(Exception):
    """The chip did not acknowledge (address or data); the bus reports errno 121."""


class SimChip:
    """Base of the chip models.

    Args:
        physics: where measured quantities come from (defaults: :class:`FixedValues`).
        clock: time for conversion delays; ``None`` takes the bus's clock when attached.

    Thread-safety: the bus calls a chip from one thread at a time (its adapter lock).
    """

    #: Short chip name for scans and histories.
    NAME: ClassVar[str] = "chip"
    #: Whether the chip protects its answers with CRCs (bad-CRC fault injection needs it).
    HAS_CRC: ClassVar[bool] = False

    def __init__(
        self, *, physics: PhysicalSource | None = None, clock: Clock | None = None
    ) -> None:
        self.physics: PhysicalSource = physics if physics is not None else FixedValues()
        self._clock = clock
        self._bad_crc_lock = threading.Lock()
        self._bad_crc_reads = 0

    @property
    def clock(self) -> Clock:
        """The clock conversions are timed on."""
        if self._clock is None:
            raise RuntimeError(f"{self.NAME} model is not attached to a bus and has no clock")
        return self._clock

    def attached(self, clock: Clock) -> None:
        """Called by the bus on attach; takes the bus clock unless the chip has its own."""
        if self._clock is None:
            self._clock = clock

    def now(self) -> float:
        """Current time on the chip's clock."""
        return self.clock.monotonic()

    def write(self, data: bytes) -> None:
        """One write message (the bytes after address+W); raise :class:`Nack` to refuse."""
        raise Nack

    def read(self, length: int) -> bytes:
        """One read message of ``length`` bytes; raise :class:`Nack` to refuse the header."""
        raise Nack

    def quick(self) -> None:
        """A quick write (address only): chips acknowledge their address by default."""

    def general_call(self, data: bytes) -> bool:
        """A write to the general-call address 0x00; True when this chip acts on it (ACKs).

        Chips that implement the general-call reset (``0x06``) override this.
        """
        return False

    def corrupt_crc(self, reads: int) -> None:
        """Make the next ``reads`` CRC-carrying answers have a wrong CRC."""
        if not self.HAS_CRC:
            raise ValueError(f"{self.NAME} answers carry no CRC; a bad CRC cannot be injected")
        with self._bad_crc_lock:
            self._bad_crc_reads += reads

    def _crc_fault(self) -> bool:
        """Consume one pending bad-CRC fault; True when this answer must carry a wrong CRC."""
        with self._bad_crc_lock:
            if self._bad_crc_reads > 0:
                self._bad_crc_reads -= 1
                return True
            return False

    def describe(self) -> str:
        """One line about the chip's state, for ``repr`` and scans."""
        return self.NAME

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
