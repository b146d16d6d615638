"""The register engine: definition-time checks, strict writes, decode-all and read-modify-write."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DriverConfigError
from drivers.i2c.bus import I2CBus
from drivers.i2c.registers import (
    Access,
    BoolAdapter,
    Field,
    FieldOverflow,
    LookupAdapter,
    ReadOnlyRegister,
    Register,
    RegisterDefinitionError,
    RegisterDevice,
    SignedAdapter,
)
from drivers.sim.chips.mcp9808 import MCP9808Model
from drivers.sim.smbus import SimSMBus

OSRS = LookupAdapter({0: 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5}, read_aliases={6: 16, 7: 16})
CTRL_MEAS = Register(
    "CTRL_MEAS",
    0xF4,
    fields=(
        Field("osrs_t", (7, 5), OSRS),
        Field("osrs_p", (4, 2), OSRS),
        Field("mode", (1, 0), LookupAdapter({"sleep": 0, "forced": 1, "normal": 3})),
    ),
)


def test_overflowing_lookup_value_names_register_address_field_and_valid_values() -> None:
    with pytest.raises(FieldOverflow) as info:
        CTRL_MEAS.encode(osrs_t=32)
    assert str(info.value) == "CTRL_MEAS(0xF4).osrs_t: 32 not in {0, 1, 2, 4, 8, 16}"


def test_plain_field_overflow_gives_the_range() -> None:
    reg = Register("CONFIG", 0x01, width=2, fields=(Field("hyst", (10, 9)),))
    with pytest.raises(FieldOverflow) as info:
        reg.encode(hyst=4)
    assert str(info.value) == "CONFIG(0x01).hyst: 4 does not fit in 2 bits (0..3)"
    with pytest.raises(FieldOverflow):
        reg.encode(hyst=-1)


def test_read_only_register_and_field_refuse_writes() -> None:
    status = Register("STATUS", 0xF3, access=Access.RO, fields=(Field("measuring", (3, 3)),))
    with pytest.raises(ReadOnlyRegister) as info:
        status.encode(measuring=1)
    assert str(info.value) == "STATUS(0xF3) is read-only; cannot write measuring"
    config = Register(
        "CONFIG",
        0x01,
        width=2,
        fields=(Field("alert_stat", (4, 4), access=Access.RO), Field("shdn", (8, 8))),
    )
    with pytest.raises(ReadOnlyRegister) as info2:
        config.encode(shdn=1, alert_stat=1)
    assert str(info2.value) == "CONFIG(0x01).alert_stat is read-only"
    assert config.encode(shdn=1) == 0x100


def test_unknown_field_lists_the_fields() -> None:
    with pytest.raises(
        DriverConfigError,
        match=r"CTRL_MEAS\(0xF4\) has no field 'osrs_h'; fields: osrs_t, osrs_p, mode",
    ):
        CTRL_MEAS.encode(osrs_h=1)


def test_overlapping_fields_rejected_at_definition() -> None:
    with pytest.raises(RegisterDefinitionError, match=r"X\(0x10\): field 'b' overlaps field 'a'"):
        Register("X", 0x10, fields=(Field("a", (3, 0)), Field("b", (4, 3))))


def test_field_outside_register_and_duplicate_names_rejected() -> None:
    with pytest.raises(RegisterDefinitionError, match="outside the register's 8 bits"):
        Register("X", 0x10, fields=(Field("a", (8, 7)),))
    with pytest.raises(RegisterDefinitionError, match="defined twice"):
        Register("X", 0x10, fields=(Field("a", (1, 0)), Field("a", (3, 2))))


def test_non_bijective_lookup_table_rejected() -> None:
    # The LTR559 slip the style guide describes: gains 4 and 8 both mapped to 0b011.
    with pytest.raises(RegisterDefinitionError, match=r"not one-to-one: \{3: \[4, 8\]\}"):
        LookupAdapter({1: 0, 2: 1, 4: 3, 8: 3})


def test_decode_reads_all_fields_with_aliases() -> None:
    values = CTRL_MEAS.decode(0b111_101_01)
    assert dict(values) == {"osrs_t": 16, "osrs_p": 16, "mode": "forced"}
    assert values.raw == 0xF5
    assert repr(values) == "CTRL_MEAS(0xF4)[0xF5](osrs_t=16, osrs_p=16, mode='forced')"


def test_encode_keeps_other_bits() -> None:
    assert CTRL_MEAS.encode(0xFF, mode="sleep") == 0xFC
    assert CTRL_MEAS.encode(0, osrs_t=2, osrs_p=16, mode="forced") == 0b010_101_01


@given(st.integers(min_value=2, max_value=16), st.data())
def test_signed_adapter_round_trips(bits: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(min_value=-(1 << (bits - 1)), max_value=(1 << (bits - 1)) - 1))
    adapter = SignedAdapter(bits)
    assert adapter.decode(adapter.encode(value)) == value


@given(st.integers(min_value=0, max_value=0xFF))
def test_encode_decode_round_trip_for_every_register_value(raw: int) -> None:
    values = CTRL_MEAS.decode(raw)
    if raw >> 5 < 6 and (raw >> 2) & 7 < 6 and raw & 3 != 2:
        assert CTRL_MEAS.encode(0, **values) == raw


def test_bool_adapter_is_strict() -> None:
    reg = Register("R", 0x00, fields=(Field("en", (0, 0), BoolAdapter()),))
    assert reg.encode(en=True) == 1
    with pytest.raises(FieldOverflow, match=r"R\(0x00\)\.en: 2 not in \{False, True\}"):
        reg.encode(en=2)


def test_register_device_read_modify_write_in_one_locked_unit(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    config = Register(
        "CONFIG",
        0x01,
        width=2,
        fields=(
            Field("hyst", (10, 9)),
            Field("shdn", (8, 8), BoolAdapter()),
            Field("alert_pol", (1, 1)),
        ),
    )
    regs = RegisterDevice(I2CBus(sim_bus, bus_id=1), 0x18)
    sim_bus.clear_history()
    written = regs.set(config, hyst=2, alert_pol=1)
    assert written == 0x0402
    assert [(t.call, [(p.kind, p.data) for p in t.pieces]) for t in sim_bus.history] == [
        ("i2c_rdwr", [("w", b"\x01"), ("r", b"\x00\x00")]),
        ("i2c_rdwr", [("w", b"\x01\x04\x02")]),
    ]
    assert dict(regs.get(config)) == {"hyst": 2, "shdn": False, "alert_pol": 1}


def test_bad_value_leaves_the_chip_untouched(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    config = Register(
        "CONFIG", 0x01, width=2, fields=(Field("hyst", (10, 9)), Field("shdn", (8, 8)))
    )
    regs = RegisterDevice(I2CBus(sim_bus, bus_id=1), 0x18)
    sim_bus.clear_history()
    with pytest.raises(FieldOverflow):
        regs.set(config, hyst=1, shdn=3)
    assert sim_bus.history == []


def test_write_only_register_cannot_be_read(sim_bus: SimSMBus) -> None:
    reg = Register("RESET", 0xE0, access=Access.WO)
    regs = RegisterDevice(I2CBus(sim_bus, bus_id=1), 0x76)
    with pytest.raises(ReadOnlyRegister, match=r"RESET\(0xE0\) is write-only"):
        regs.read_raw(reg)


def test_option_parsers_accept_what_a_model_file_or_cli_gives() -> None:
    from drivers.i2c.device import parse_address, parse_choice, parse_float

    assert parse_address("x", "0x76", (0x76, 0x77)) == 0x76
    assert parse_address("x", 119, (0x76, 0x77)) == 0x77
    assert parse_choice("x", "fsr", "4.096", (6.144, 4.096)) == 4.096
    assert parse_choice("x", "n", "16", (1, 16)) == 16
    with pytest.raises(DriverConfigError, match=r"x: option 'n' = True is not valid; valid: 1, 16"):
        parse_choice("x", "n", True, (1, 16))
    with pytest.raises(
        DriverConfigError, match=r"option 'mode' = 'hihg' is not valid \(did you mean 'high'\?\)"
    ):
        parse_choice("x", "mode", "hihg", ("high", "low"))
    with pytest.raises(DriverConfigError, match=r"option 'r' = 'nan' is not a number"):
        parse_float("x", "r", "nan")
    with pytest.raises(DriverConfigError, match=r"option 'r' = 5 is out of range; valid: 0\.\.1"):
        parse_float("x", "r", 5, 0, 1)
