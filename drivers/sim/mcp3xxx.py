"""MCP3001/3002/3004/3008/3201/3202/3204/3208 SPI ADCs, bit by bit as their datasheets time them.

A :class:`SimulatedMcp3xxx` sits on gpiozero's mock SPI pins (``MockSPIDevice``: SCLK GPIO11,
MOSI GPIO10, MISO GPIO9, CE0 GPIO8 / CE1 GPIO7) and answers what the master clocks:

* MCP3004/3008/3204/3208: after CS falls it waits for the start bit (the first 1 on DIN),
  takes SGL/DIFF and D2 D1 D0, samples for one clock, sends a null bit, then the result MSB
  first (10 or 12 bits), then, while clocks continue, the result again LSB first (sharing
  its LSB), then zeros (datasheet section 5.0, figures 5-1/5-2).
* MCP3002/3202: start bit, SGL/DIFF, ODD/SIGN, MSBF; then the null bit and the result MSB
  first; with MSBF = 0 the result follows again LSB first, with MSBF = 1 zeros follow (the
  overview paragraph of section 5.1; a later sentence there says the opposite).
* MCP3001/3201: no command; two sample clocks, a null bit, the result MSB first, then the
  result again LSB first (sharing its LSB).

The code is the datasheet's transfer function, ``code = floor(2**n * (IN+ - IN-) / VREF)``
clamped to ``0 .. 2**n - 1`` (pseudo-differential inputs cannot go negative).  In differential
mode channel ``c`` is IN+ and its pair partner ``c ^ 1`` is IN-.

Inputs come from callables (``set_source``) or fixed voltages (``set_voltage``), read at each
conversion, so a channel can follow a :class:`PhysicalSource` quantity.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from gpiozero.pins.mock import MockSPIDevice

from drivers.errors import DriverConfigError

Command = Literal["sgl+3", "sgl+odd+msbf", "none"]

#: SPI0 pins on the 40-pin header (BCM): SCLK, MOSI, MISO, CE0/CE1.
SPI0_CLOCK, SPI0_MOSI, SPI0_MISO = 11, 10, 9
SPI0_SELECT = {0: 8, 1: 7}


@dataclass(frozen=True)
class ChipSpec:
    """How a member of the family talks: channels, resolution, command layout."""

    channels: int
    bits: int
    command: Command


CHIPS: dict[str, ChipSpec] = {
    "mcp3001": ChipSpec(1, 10, "none"),
    "mcp3002": ChipSpec(2, 10, "sgl+odd+msbf"),
    "mcp3004": ChipSpec(4, 10, "sgl+3"),
    "mcp3008": ChipSpec(8, 10, "sgl+3"),
    "mcp3201": ChipSpec(1, 12, "none"),
    "mcp3202": ChipSpec(2, 12, "sgl+odd+msbf"),
    "mcp3204": ChipSpec(4, 12, "sgl+3"),
    "mcp3208": ChipSpec(8, 12, "sgl+3"),
}

_chips_lock = threading.Lock()
_chips: weakref.WeakKeyDictionary[Any, dict[int, SimulatedMcp3xxx]] = weakref.WeakKeyDictionary()


def code_for(volts: float, vref: float, bits: int) -> int:
    """The datasheet transfer function: floor(2**bits * volts / vref), clamped."""
    if math.isnan(volts):
        return 0
    full = 1 << bits
    return min(full - 1, max(0, math.floor(full * volts / vref)))


class SimulatedMcp3xxx(MockSPIDevice):  # type: ignore[misc]
    """One ADC chip on SPI0 of a mock factory; create it *before* the driver opens the bus."""

    def __init__(self, chip: str, *, factory: Any, select: int = 0, vref: float = 3.3) -> None:
        if chip not in CHIPS:
            raise DriverConfigError(f"unknown ADC chip {chip!r}; expected one of {sorted(CHIPS)}")
        if select not in SPI0_SELECT:
            raise DriverConfigError(f"{chip}: select {select!r} must be 0 (CE0) or 1 (CE1)")
        self.chip = chip
        self.spec = CHIPS[chip]
        self.vref = float(vref)
        self.sources: dict[int, Callable[[], float]] = {}
        self.conversions = 0
        self._phase = "idle"
        self._command: list[int] = []
        super().__init__(SPI0_CLOCK, SPI0_MOSI, SPI0_MISO, SPI0_SELECT[select], pin_factory=factory)

    def set_voltage(self, channel: int, volts: float) -> None:
        """Hold ``channel`` at a fixed voltage."""
        self.set_source(channel, lambda: volts)

    def set_source(self, channel: int, source: Callable[[], float]) -> None:
        """Read ``channel``'s voltage from ``source()`` at each conversion."""
        if not 0 <= channel < self.spec.channels:
            raise DriverConfigError(
                f"{self.chip}: channel {channel!r} must be in 0..{self.spec.channels - 1}"
            )
        self.sources[channel] = source

    def voltage(self, channel: int) -> float:
        """The voltage on ``channel`` now (0 V when nothing is connected)."""
        source = self.sources.get(channel)
        return 0.0 if source is None else float(source())

    def convert(self, channel: int, single_ended: bool) -> int:
        """Sample and convert ``channel`` (or the pair it leads in differential mode)."""
        self.conversions += 1
        volts = self.voltage(channel)
        if not single_ended:
            volts -= self.voltage(channel ^ 1) if self.spec.channels > 1 else 0.0
        return code_for(volts, self.vref, self.spec.bits)

    def on_start(self) -> None:
        super().on_start()
        self._command = []
        if self.spec.command == "none":
            code = self.convert(0, single_ended=False)
            self._send(code, leading=3, lsb_tail=True)
            self._phase = "sending"
        else:
            self._phase = "idle"

    def on_bit(self) -> None:
        bit = self.rx_buf[-1]
        if self._phase == "idle":
            if bit:
                self._phase = "command"
        elif self._phase == "command":
            self._command.append(int(bit))
            if self.spec.command == "sgl+3" and len(self._command) == 4:
                single, d2, d1, d0 = self._command
                code = self.convert(d2 << 2 | d1 << 1 | d0, bool(single))
                self._send(code, leading=2, lsb_tail=True)
                self._phase = "sending"
            elif self.spec.command == "sgl+odd+msbf" and len(self._command) == 3:
                single, odd, msbf = self._command
                code = self.convert(odd, bool(single))
                self._send(code, leading=1, lsb_tail=not msbf)
                self._phase = "sending"

    def _send(self, code: int, *, leading: int, lsb_tail: bool) -> None:
        """Queue ``leading`` zero bits (sample/null), the code MSB first, maybe LSB first."""
        bits = self.spec.bits
        msb_first = [(code >> i) & 1 for i in range(bits - 1, -1, -1)]
        self.tx_buf.extend([0] * leading + msb_first)
        if lsb_tail:
            self.tx_buf.extend((code >> i) & 1 for i in range(1, bits))


def chip_on(factory: Any, chip: str, *, select: int = 0, vref: float = 3.3) -> SimulatedMcp3xxx:
    """The simulated chip on ``select`` of ``factory``, created on first use (one per CE)."""
    with _chips_lock:
        per_factory = _chips.setdefault(factory, {})
        existing = per_factory.get(select)
        if existing is not None:
            if existing.chip != chip:
                raise DriverConfigError(
                    f"CE{select} already has a simulated {existing.chip}, not a {chip}"
                )
            return existing
        made = SimulatedMcp3xxx(chip, factory=factory, select=select, vref=vref)
        per_factory[select] = made
        return made
