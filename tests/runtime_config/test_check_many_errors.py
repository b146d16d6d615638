"""``iotcs-hw check`` on a file with many mistakes: every one reported at once, at its line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iotcs_hw.cli.main import main
from iotcs_hw.runtime.config import ModelFileError, check_file

HERE = Path(__file__).resolve().parent
MODELS_DIR = HERE.parents[1] / "device_models"
GREENHOUSE_YAML = MODELS_DIR / "greenhouse.yaml"
BROKEN = HERE / "broken_greenhouse.yaml"


def _marked_lines(path: Path) -> list[int]:
    """Lines carrying an ``# E:`` marker: each must get exactly one diagnostic."""
    return [
        n
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"#\s*E:", line) and not line.lstrip().startswith("#")
    ]


def test_every_marked_mistake_is_reported_once_at_its_line() -> None:
    with pytest.raises(ModelFileError) as info:
        check_file(BROKEN, models_dir=MODELS_DIR)
    lines = [d.line for d in info.value.diagnostics]
    assert lines == _marked_lines(BROKEN)
    assert len(lines) == 23
    assert all(d.file == str(BROKEN) for d in info.value.diagnostics)


def test_columns_point_at_the_offending_value_or_key() -> None:
    with pytest.raises(ModelFileError) as info:
        check_file(BROKEN, models_dir=MODELS_DIR)
    by_line = {d.line: d for d in info.value.diagnostics}
    text = BROKEN.read_text().splitlines()
    # A value problem points at the value, a key problem at the key.
    expectations = {
        11: "0x40",
        12: "10",
        15: "temprature",
        17: "medain",
        18: "lambda",
        29: "update_interval",
        31: "lux",
        34: "7",
        38: "bme281",
        47: "1",
        51: "BOARD11",
        52: "temperature",
        55: "gpio18",
        64: "vents",
        67: "urn:com:iotcshw:device:greenhouse:too_cold",
        70: "99999",
        72: "levle",
    }
    for line, token in expectations.items():
        column = text[line - 1].index(token) + 1
        assert by_line[line].column == column, (line, by_line[line])


def test_messages_name_path_value_and_fix() -> None:
    with pytest.raises(ModelFileError) as info:
        check_file(BROKEN, models_dir=MODELS_DIR)
    messages = {d.line: d.message for d in info.value.diagnostics}
    assert (
        messages[11]
        == "devices[0].sensors[0].address: a bme280 answers only at 0x76, 0x77, not 0x40"
    )
    assert messages[12] == (
        "devices[0].sensors[0].interval: expected a duration such as 500ms, 30s, 5min or 1h, "
        "got 10 (an integer); add a unit, e.g. 10s"
    )
    assert messages[17] == (
        "devices[0].sensors[0].readings.temperature.filters[0]: unknown filter 'medain' "
        "(did you mean 'median'?)"
    )
    assert "did you mean 'temperature'?" in messages[15]
    assert "lambda filters are not supported" in messages[18]
    assert messages[51] == (
        "actuator 'pump': pin 'BOARD11' (GPIO17) is already used by actuator 'fan' (line 44)"
    )
    assert "read-only" in messages[52]
    assert "[0, 90]" in messages[63]
    assert "(did you mean 'level'?)" in messages[72]
    assert "no value can fit the range [300, 1100]" in messages[24]
    assert messages[56] == (
        "actuator 'light': writes to 'grow_light' span [0, 100] but a pwm_led takes [0, 1]; "
        "add scale: {from: [0, 100], to: [0, 1]}"
    )


def test_error_str_is_one_compiler_line_per_problem_sorted() -> None:
    with pytest.raises(ModelFileError) as info:
        check_file(BROKEN, models_dir=MODELS_DIR)
    lines = str(info.value).splitlines()
    assert len(lines) == 23
    assert lines[0] == (
        f"{BROKEN}:4:3: store.password: never write the password here; "
        "use password_env or password_file"
    )
    keys = [tuple(int(x) for x in re.match(r".*?:(\d+):(\d+): ", line).groups()) for line in lines]  # type: ignore[union-attr]
    assert keys == sorted(keys)


def test_cli_prints_every_problem_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", str(BROKEN), "--models", str(MODELS_DIR)])
    out, err = capsys.readouterr()
    assert status == 1
    assert len(out.splitlines()) == 23
    assert all(line.startswith(f"{BROKEN}:") for line in out.splitlines())
    assert err.strip() == f"{BROKEN}: 23 problems"


def test_cli_summary_for_the_greenhouse(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", str(GREENHOUSE_YAML)])
    out, _ = capsys.readouterr()
    assert status == 0
    assert out.splitlines()[0] == f"{GREENHOUSE_YAML}: OK (directly connected device)"
    assert "sensor climate: bme280 every 10s" in out
    assert "actuator vent: angular_servo <- vent" in out


def test_cli_on_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["check", str(missing)]) == 1
    out, _ = capsys.readouterr()
    assert out.strip() == f"{missing}:1:1: cannot read the model file: No such file or directory"


def test_cli_with_a_models_directory_that_does_not_exist(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "models"
    assert main(["check", str(GREENHOUSE_YAML), "--models", str(missing)]) == 1
    out, _ = capsys.readouterr()
    assert out.strip() == (
        f"{GREENHOUSE_YAML}:20:12: device 'greenhouse': device model "
        f"'urn:com:iotcshw:device:greenhouse' is not among the device models in {missing}; "
        f"could not read: {missing}: no such directory"
    )
