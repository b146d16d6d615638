"""A declarative register engine: a chip is a table of registers and fields, checked once.

A driver module describes its datasheet's register map::

    CTRL_MEAS = Register("CTRL_MEAS", 0xF4, fields=(
        Field("osrs_t", (7, 5), OVERSAMPLING),
        Field("osrs_p", (4, 2), OVERSAMPLING),
        Field("mode", (1, 0), LookupAdapter({"sleep": 0, "forced": 1, "normal": 3})),
    ))

and then reads and writes it through :class:`RegisterDevice`: ``get(reg)`` reads the register
once and decodes every field; ``set(reg, osrs_t=2, mode="forced")`` changes several fields in one
read-modify-write under the bus lock.

The engine is strict, so mistakes surface where they are made:

* at definition time: fields outside the register, overlapping fields, duplicate names and
  lookup tables that are not one-to-one raise :class:`RegisterDefinitionError`;
* at write time: a value that does not fit its field raises :class:`FieldOverflow` and a write to
  a read-only register or field raises :class:`ReadOnlyRegister`; both messages name the
  register and its address, e.g. ``CTRL_MEAS(0xF4).osrs_t: 32 not in {0, 1, 2, 4, 8, 16}``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from drivers.errors import DriverConfigError
from drivers.i2c.bus import I2CBus

ByteOrder = Literal["big", "little"]


class RegisterDefinitionError(ValueError):
    """A register table contradicts itself (a bug in a driver module, found at import)."""


class FieldOverflow(DriverConfigError):
    """A value does not fit the field it is written to. Not retryable."""


class ReadOnlyRegister(DriverConfigError):
    """A write to a read-only register or field. Not retryable."""


class Access(enum.Enum):
    """Who may read and write a register or field."""

    RO = "read-only"
    RW = "read-write"
    WO = "write-only"


class Adapter(Protocol):
    """Converts between a field's raw code and the value a driver works with."""

    def decode(self, raw: int) -> Any:
        """Code -> value."""
        ...

    def encode(self, value: Any) -> int:
        """Value -> code; ``ValueError`` (message without the field name) when impossible."""
        ...


class LookupAdapter:
    """A one-to-one table of value -> code, checked to be bijective when it is built.

    Args:
        table: value -> code.
        read_aliases: codes that only occur on read and what they mean (e.g. BME280
            oversampling codes 6 and 7 also mean x16); never used to encode.
    """

    def __init__(self, table: Mapping[Any, int], *, read_aliases: Mapping[int, Any] = ()) -> None:  # type: ignore[assignment]
        codes = list(table.values())
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            clashing = {code: [v for v, c in table.items() if c == code] for code in duplicates}
            raise RegisterDefinitionError(f"lookup table is not one-to-one: {clashing}")
        self._encode = dict(table)
        self._decode = {code: value for value, code in table.items()}
        for code, value in dict(read_aliases).items():
            if code in self._decode:
                raise RegisterDefinitionError(
                    f"read alias {code} is already code of {self._decode[code]!r}"
                )
            self._decode[code] = value

    @property
    def values(self) -> tuple[Any, ...]:
        """The values this adapter can encode."""
        return tuple(self._encode)

    @property
    def codes(self) -> tuple[int, ...]:
        """The codes of :attr:`values`, in the same order."""
        return tuple(self._encode.values())

    def decode(self, raw: int) -> Any:
        """The value of ``raw``; an undocumented code decodes to the raw int."""
        return self._decode.get(raw, raw)

    def encode(self, value: Any) -> int:
        """The code of ``value``; ``ValueError`` lists the valid values."""
        try:
            code: int = self._encode[value]
            return code
        except (KeyError, TypeError):
            valid = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in self._encode)
            raise ValueError(f"{value!r} not in {{{valid}}}") from None


class SignedAdapter:
    """Two's complement of the field's width."""

    def __init__(self, bits: int) -> None:
        self.bits = bits

    def decode(self, raw: int) -> int:
        """Sign-extend ``raw``."""
        return raw - (1 << self.bits) if raw & (1 << (self.bits - 1)) else raw

    def encode(self, value: Any) -> int:
        """Two's complement code of ``value``; ``ValueError`` outside the representable range."""
        low, high = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{value!r} not in {low}..{high}")
        return value & ((1 << self.bits) - 1)


class BoolAdapter:
    """A one-bit flag as ``bool``."""

    def decode(self, raw: int) -> bool:
        """``raw != 0``."""
        return bool(raw)

    def encode(self, value: Any) -> int:
        """1 for true, 0 for false; only bools and 0/1 are accepted."""
        if value in (0, 1) and isinstance(value, bool | int):
            return int(value)
        raise ValueError(f"{value!r} not in {{False, True}}")


@dataclass(frozen=True)
class Field:
    """A run of bits inside a register.

    Args:
        name: the datasheet's name, as a Python identifier.
        bits: ``(msb, lsb)`` inclusive, counted from bit 0 of the register value.
        adapter: converts codes to values; ``None`` means plain unsigned ints.
        access: overrides the register's access (a read-only flag inside a RW register).
    """

    name: str
    bits: tuple[int, int]
    adapter: Adapter | None = None
    access: Access | None = None

    @property
    def lsb(self) -> int:
        """Lowest bit."""
        return self.bits[1]

    @property
    def width(self) -> int:
        """Number of bits."""
        return self.bits[0] - self.bits[1] + 1

    @property
    def mask(self) -> int:
        """The field's bits in the register value."""
        return ((1 << self.width) - 1) << self.lsb


class FieldValues(Mapping[str, Any]):
    """The decoded fields of one register read (immutable), plus the ``raw`` value."""

    def __init__(self, register: Register, raw: int, values: Mapping[str, Any]) -> None:
        self.register = register
        self.raw = raw
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise KeyError(f"{self.register.label} has no field {key!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{self.register.label}[0x{self.raw:0{self.register.width * 2}X}]({inner})"


@dataclass(frozen=True)
class Register:
    """One register: where it is, how wide, its byte order, who may write it, and its fields.

    Args:
        name: the datasheet's name.
        address: register address (pointer value).
        width: size in bytes.
        byte_order: order of the bytes on the wire ("big": MSB at the lower address).
        access: RO, RW or WO.
        fields: the bit fields; may be empty (the register is one number).
    """

    name: str
    address: int
    width: int = 1
    byte_order: ByteOrder = "big"
    access: Access = Access.RW
    fields: tuple[Field, ...] = ()
    _by_name: dict[str, Field] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        label = self.label
        bits = self.width * 8
        if self.width < 1:
            raise RegisterDefinitionError(f"{label}: width must be at least 1 byte")
        if self.byte_order not in ("big", "little"):
            raise RegisterDefinitionError(
                f"{label}: byte order {self.byte_order!r} not in big, little"
            )
        used = 0
        for f in self.fields:
            msb, lsb = f.bits
            if not 0 <= lsb <= msb < bits:
                raise RegisterDefinitionError(
                    f"{label}.{f.name}: bits {f.bits} outside the register's {bits} bits"
                )
            if f.name in self._by_name:
                raise RegisterDefinitionError(f"{label}: field {f.name!r} defined twice")
            if used & f.mask:
                other = next(g.name for g in self.fields if g.mask & f.mask and g is not f)
                raise RegisterDefinitionError(f"{label}: field {f.name!r} overlaps field {other!r}")
            used |= f.mask
            self._by_name[f.name] = f

    @property
    def label(self) -> str:
        """``NAME(0xAA)``, used in every message about this register."""
        return f"{self.name}(0x{self.address:02X})"

    @property
    def max_raw(self) -> int:
        """Largest raw value."""
        return (1 << (self.width * 8)) - 1

    def field(self, name: str) -> Field:
        """The field called ``name``; the error lists the fields that exist."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise DriverConfigError(
                f"{self.label} has no field {name!r}; fields: {known}"
            ) from None

    def from_bytes(self, data: bytes) -> int:
        """The raw value of ``width`` bytes as they came over the wire."""
        if len(data) != self.width:
            raise ValueError(f"{self.label}: expected {self.width} bytes, got {len(data)}")
        return int.from_bytes(data, self.byte_order)

    def to_bytes(self, raw: int) -> bytes:
        """The wire bytes of ``raw``."""
        if not 0 <= raw <= self.max_raw:
            raise FieldOverflow(f"{self.label}: {raw} does not fit in {self.width * 8} bits")
        return raw.to_bytes(self.width, self.byte_order)

    def decode(self, raw: int) -> FieldValues:
        """Every field of ``raw``, decoded by its adapter."""
        values = {}
        for f in self.fields:
            code = (raw & f.mask) >> f.lsb
            values[f.name] = f.adapter.decode(code) if f.adapter is not None else code
        return FieldValues(self, raw, values)

    def encode(self, base: int = 0, **values: Any) -> int:
        """``base`` with the named fields replaced; checks access and range of every field.

        Raises:
            ReadOnlyRegister: the register or one of the fields is read-only.
            FieldOverflow: a value does not fit (the message names register, field and range).
        """
        if self.access is Access.RO:
            names = ", ".join(values) or "the register"
            raise ReadOnlyRegister(f"{self.label} is read-only; cannot write {names}")
        raw = base
        for name, value in values.items():
            f = self.field(name)
            if (f.access or self.access) is Access.RO:
                raise ReadOnlyRegister(f"{self.label}.{name} is read-only")
            if f.adapter is not None:
                try:
                    code = f.adapter.encode(value)
                except ValueError as exc:
                    raise FieldOverflow(f"{self.label}.{name}: {exc}") from None
            else:
                code = value
            limit = (1 << f.width) - 1
            if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= limit:
                raise FieldOverflow(
                    f"{self.label}.{name}: {value!r} does not fit in {f.width} bits (0..{limit})"
                )
            raw = (raw & ~f.mask) | (code << f.lsb)
        return raw


class RegisterDevice:
    """Register access to one chip: pointer byte, then the register's bytes.

    Args:
        bus: the locked bus.
        address: the chip's 7-bit address.

    Thread-safe: ``set`` holds the bus lock across its read and its write.
    """

    def __init__(self, bus: I2CBus, address: int) -> None:
        self.bus = bus
        self.address = address

    def read_raw(self, register: Register) -> int:
        """Read the register once; write-only registers are refused."""
        if register.access is Access.WO:
            raise ReadOnlyRegister(f"{register.label} is write-only; it cannot be read")
        data = self.bus.write_then_read(self.address, [register.address], register.width)
        return register.from_bytes(data)

    def get(self, register: Register) -> FieldValues:
        """Read the register once and decode all its fields."""
        return register.decode(self.read_raw(register))

    def write_raw(self, register: Register, raw: int) -> None:
        """Write a whole register value (read-only registers are refused)."""
        if register.access is Access.RO:
            raise ReadOnlyRegister(f"{register.label} is read-only; cannot write 0x{raw:X}")
        self.bus.write(self.address, bytes([register.address]) + register.to_bytes(raw))

    def set(self, register: Register, **values: Any) -> int:
        """Change the named fields in one read-modify-write; returns the value written.

        All values are checked before anything is written, so a bad value leaves the chip as it
        was.  Write-only registers start from 0.
        """
        register.encode(0, **values)  # validate before touching the bus
        with self.bus.transaction():
            base = 0 if register.access is Access.WO else self.read_raw(register)
            raw = register.encode(base, **values)
            self.write_raw(register, raw)
        return raw

    def read_block(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` in one transfer (auto-incrementing chips)."""
        return self.bus.write_then_read(self.address, [start], length)
