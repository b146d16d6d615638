"""``iotcs-hw scan`` and ``iotcs-hw read`` as a newcomer types them."""

from __future__ import annotations

import json

import pytest

from iotcs_hw.cli.main import main


def test_scan_simulate_lists_one_of_each_chip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--simulate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("simulated bus 1, addresses 0x08..0x77:\n")
    assert "70: -- -- -- -- -- -- 76 77" in out
    for line in (
        "0x18  mcp9808",
        "0x23  bh1750, pcf8574",
        "0x44  sht3x, ina219, pca9685",
        "0x76  bme280, bmp280",
    ):
        assert line in out


def test_scan_simulate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--simulate", "--json", "--bus", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bus"] == 3
    assert [row["address"] for row in data["found"]] == [
        "0x18", "0x20", "0x23", "0x40", "0x41", "0x44", "0x45", "0x48", "0x76", "0x77",
    ]  # fmt: skip
    assert {row["probe"] for row in data["found"]} == {"quick"}


def test_scan_missing_bus_says_which_buses_exist(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--bus", "97"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "iotcs-hw: error: bus 97: /dev/i2c-97 does not exist; I2C buses present: "
    )


def test_read_bme280_simulate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "bme280", "--simulate", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["driver"] == "bme280"
    assert data["device"] == "bme280 on bus 1, address 0x76"
    assert data["units"] == {"temperature": "degC", "humidity": "%RH", "pressure": "hPa"}
    assert data["reading"]["temperature"] == 21.0
    assert data["reading"]["humidity"] == pytest.approx(45.0, abs=0.01)
    assert data["reading"]["pressure"] == pytest.approx(1013.25, abs=0.03)


def test_read_with_options_address_and_physics(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["read", "sht3x", "--simulate", "--address", "0x45", "-o", "repeatability=low"]
    argv += ["--set", "temperature=30", "--set", "humidity=70"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "sht3x on bus 1, address 0x45 (simulated)",
        "  temperature      29.9989 degC",
        "  humidity         69.9992 %RH",
    ]


def test_read_scaled_adc_channel(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "read",
        "ads1115",
        "--simulate",
        "--json",
        "-o",
        "channel=1",
        "-o",
        "quantity=soil_moisture",
    ]
    argv += [
        "-o",
        "unit=%",
        "-o",
        "scale_from=[2.8, 1.2]",
        "-o",
        "scale_to=[0, 100]",
        "--set",
        "soil_moisture=25",
    ]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reading"] == {"soil_moisture": 25.0, "voltage": 2.4}
    assert data["units"] == {"soil_moisture": "%", "voltage": "V"}


def test_read_actuator_shows_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "pcf8574", "--simulate", "-o", "line=3", "-o", "active_high=false"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "pcf8574 line 3 on bus 1, address 0x20 (simulated)",
        "  state            False",
        "  safe state       False",
    ]


def test_unknown_driver_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "bme28", "--simulate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "iotcs-hw: error: unknown driver 'bme28' (did you mean 'bme280'?); known drivers: "
    )
    for name in (
        "ads1115",
        "bh1750",
        "bme280",
        "mcp9808",
        "pca9685_servo",
        "pcf8574_input",
        "si7021",
    ):
        assert name in err


def test_wrong_address_says_what_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "bme280", "--simulate", "--address", "0x50"]) == 2
    assert capsys.readouterr().err == (
        "iotcs-hw: error: bme280: option 'address' = '0x50' is not an address this chip can "
        "have; valid: 0x76, 0x77\n"
    )


def test_wrong_bus_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "bme280", "--simulate", "--bus", "x"]) == 2
    assert (
        "bme280: option 'bus' = 'x' is not a bus number; valid: 0, 1, 2, ..."
        in capsys.readouterr().err
    )


def test_unknown_option_suggests_the_right_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "bme280", "--simulate", "-o", "oversampleing=2"]) == 2
    assert capsys.readouterr().err == (
        "iotcs-hw: error: bme280: unknown option 'oversampleing' (did you mean 'oversampling'?); "
        "options: address, bus, iir_filter, oversampling\n"
    )


def test_set_without_simulate_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "bme280", "--set", "temperature=3"]) == 2
    assert "--set only makes sense with --simulate" in capsys.readouterr().err


@pytest.mark.parametrize(
    "driver",
    ["bme280", "bmp280", "sht3x", "bh1750", "ads1115", "ina219", "mcp9808", "htu21d", "si7021",
     "pca9685", "pca9685_servo", "pcf8574", "pcf8574_input"],
)  # fmt: skip
def test_every_i2c_driver_reads_simulated(driver: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", driver, "--simulate", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["driver"] == driver
    assert ("reading" in data) != ("state" in data)


def test_list_and_missing_driver_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "--list"]) == 0
    names = capsys.readouterr().out.split()
    assert {"bme280", "ina219", "pca9685_servo", "pcf8574_input"} <= set(names)
    assert names == sorted(names)
    assert main(["read"]) == 2
    assert capsys.readouterr().err.startswith(
        "iotcs-hw: error: name a driver to read; known drivers: "
    )
