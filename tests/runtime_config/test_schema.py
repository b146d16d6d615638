"""The schema pass: shapes, units, defaults, unknown keys, YAML syntax, driver options."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import pytest

from drivers import registry
from iotcs_hw.runtime.config import ModelFileError, load_model_file, parse_text
from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config.pins import PinNameError, bcm_number, i2c_address
from iotcs_hw.runtime.config.schema import format_duration, parse_duration

HEAD = """\
store: {path: /tmp/x.conf}
devices:
  - id: gh
    model: urn:com:iotcshw:device:greenhouse
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ModelFileError) as info:
        parse_text(text, "f.yaml")
    return [f"{d.line}:{d.column}: {d.message}" for d in info.value.diagnostics]


def sensor(body: str) -> str:
    """HEAD plus one sensor whose lines are ``body`` (indented as a sensors item)."""
    lines = "\n".join("        " + line for line in body.strip().splitlines())
    return HEAD + "    sensors:\n      - name: s\n" + lines + "\n"


# --------------------------------------------------------------------------------------------
# Units


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("30sec", 30), ("5min", 300), ("1h", 3600), ("2d", 172800),
     ("1.5s", 1.5), (" 10 s ", 10), (".5s", 0.5)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["30", "s", "5 minutes", "-1s", "1e3s", "10m", ""])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.5, "500ms"), (30, "30s"), (300, "5min"), (7200, "2h"), (90, "90s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("pin", "gpio"),
    [(17, 17), ("17", 17), ("GPIO17", 17), ("BCM17", 17), ("BOARD11", 17), ("J8:11", 17),
     ("WPI0", 17), ("BOARD3", 2), ("GPIO0", 0), ("BOARD40", 21)],
)  # fmt: skip
def test_pin_spellings_resolve_like_gpiozero(pin: object, gpio: int) -> None:
    assert bcm_number(pin) == gpio


@pytest.mark.parametrize(
    ("pin", "why"),
    [("gpio17", "case-sensitive"), ("GPIO 17", "not a valid pin name"), ("BOARD1", "3V3"),
     ("J8:6", "GND"), (99, "no GPIO99"), (-1, "no GPIO-1"), ("GPIO28", "no GPIO28"),
     (True, "not a pin name"), ("BOARD41", "1..40"), ("WPI17", "wiringPi"), (1.5, "not a pin")],
)  # fmt: skip
def test_pin_names_gpiozero_refuses(pin: object, why: str) -> None:
    with pytest.raises(PinNameError, match=why):
        bcm_number(pin)


def test_i2c_addresses() -> None:
    assert i2c_address(0x76) == 0x76
    assert i2c_address("0x23") == 0x23
    for bad, why in ((0x02, "0x02 is outside"), (0x78, "0x78 is outside"), ("x", "not an")):
        with pytest.raises(ValueError, match=why):
            i2c_address(bad)


# --------------------------------------------------------------------------------------------
# Defaults and conversion


def test_defaults_fill_in() -> None:
    text = sensor("driver: bme280\nreadings: {temperature: temperature}")
    mf = parse_text(text, "f.yaml")
    s = mf.sensors[0]
    assert s.interval_s == 60.0
    # Defaults come from the driver's own signature, whatever options the driver grows.
    signature = inspect.signature(registry.driver_class("bme280")).parameters
    assert (s.options["bus"], s.options["address"]) == (1, 0x76)
    for key, value in s.options.items():
        assert signature[key].default == value
    assert s.retry == m.RetryPolicy(pos=s.retry.pos)
    assert s.readings[0].report.mode == "every_sample"
    assert mf.buses == (m.BusConfig("i2c", 1, 100_000, mf.pos),)
    assert mf.health == m.HealthConfig(pos=mf.pos)
    assert mf.store.password_env == "IOTCS_HW_STORE_PASSWORD"
    assert not mf.is_gateway


def test_filters_parse_with_esphome_defaults() -> None:
    text = sensor(
        """
driver: bme280
readings:
  temperature:
    attribute: temperature
    filters:
      - median
      - quantile: {quantile: 0.5}
      - sliding_window_moving_average
      - exponential_moving_average: {alpha: 0.3}
      - offset: -0.5
      - multiply: 1.0
      - calibrate_linear: [[0, 0], "10 -> 11"]
      - calibrate_linear: {method: exact, datapoints: ["0 -> 0", "5 -> 6", "10 -> 10"]}
      - calibrate_polynomial: {degree: 1, datapoints: ["0 -> 1", "1 -> 2"]}
      - clamp: {min_value: -40}
      - round: 1
      - round_to_multiple_of: 0.5
      - throttle: 1s
      - throttle_average: 1min
      - heartbeat: 10min
      - delta: 5%
      - delta: 0.2
      - timeout: 10min
      - timeout: {timeout: 10min, value: 0}
      - debounce: 2s
      - filter_out: nan
      - filter_out: [85, nan]
      - min
      - max: {window_size: 3, send_every: 3, send_first_at: 3}
"""
    )
    specs = parse_text(text, "f.yaml").sensors[0].readings[0].filters
    assert specs[0].window == m.WindowOptions(5, 5, 1)  # type: ignore[union-attr]
    assert specs[1].quantile == 0.5  # type: ignore[union-attr]
    assert specs[2].window == m.WindowOptions(15, 15, 1)  # type: ignore[union-attr]
    assert (specs[3].alpha, specs[3].send_every, specs[3].send_first_at) == (0.3, 15, 1)  # type: ignore[union-attr]
    assert specs[6].datapoints == ((0.0, 0.0), (10.0, 11.0))  # type: ignore[union-attr]
    assert specs[7].method == "exact"  # type: ignore[union-attr]
    assert specs[15] == m.DeltaFilter(0.05, True, specs[15].pos)
    assert specs[16] == m.DeltaFilter(0.2, False, specs[16].pos)
    assert specs[17].value is None  # type: ignore[union-attr]
    assert specs[18].value == 0.0  # type: ignore[union-attr]
    assert math.isnan(specs[20].values[0])  # type: ignore[union-attr]
    assert specs[21].values[0] == 85.0  # type: ignore[union-attr]
    assert specs[23].window == m.WindowOptions(3, 3, 3)  # type: ignore[union-attr]
    assert len(specs) == 24


def test_gateway_with_two_devices_and_metadata() -> None:
    text = """\
store: {path: /tmp/x.conf, state_dir: /tmp/state}
devices:
  - id: north
    model: [urn:com:iotcshw:device:greenhouse]
    hardware_id: gh-north-01
    metadata: {manufacturer: Acme, serialNumber: 42}
  - id: south
    model: urn:com:iotcshw:device:greenhouse
"""
    mf = parse_text(text, "f.yaml")
    assert mf.is_gateway
    assert mf.devices[0].hardware_id == "gh-north-01"
    assert mf.devices[0].metadata == {"manufacturer": "Acme", "serialNumber": "42"}
    assert mf.devices[1].hardware_id is None
    assert mf.store.state_dir == "/tmp/state"


def test_yaml_anchors_and_merge_keys() -> None:
    text = HEAD + (
        "    sensors:\n"
        "      - &base {name: a, driver: bme280, readings: {temperature: temperature}}\n"
        "      - <<: *base\n"
        "        name: b\n"
        "        address: 0x77\n"
        "        readings: {humidity: humidity}\n"
    )
    mf = parse_text(text, "f.yaml")
    assert [(s.name, s.options["address"]) for s in mf.sensors] == [("a", 0x76), ("b", 0x77)]


# --------------------------------------------------------------------------------------------
# Problems


def test_yaml_syntax_error_has_its_position() -> None:
    (problem,) = problems("store: {path: x\ndevices: [")
    # libyaml and the pure-Python parser word it differently; the position is the same.
    assert problem.startswith("2:8: YAML syntax: while parsing a flow mapping ")
    assert "expected ',' or '}'" in problem


def test_empty_file_and_wrong_top_level() -> None:
    assert problems("") == ["1:1: the file is empty"]
    assert problems("- a\n- b\n") == ["1:1: expected a mapping (key: value), got a list"]


def test_several_documents() -> None:
    (problem,) = problems("store: {path: x}\n---\nother: 1\n")
    assert problem.startswith("2:1: YAML syntax: expected a single document")


def test_missing_required_sections() -> None:
    assert problems("health: {port: 1}\n") == [
        "1:1: missing required key 'devices' (at least one device)",
        "1:1: missing required key 'store' (where the device keeps its identity)",
    ]


def test_unknown_key_with_suggestion_and_the_known_ones() -> None:
    assert problems(HEAD + "heath: {port: 1}\n") == [
        "5:1: heath: unknown key (did you mean 'health'?); expected one of: "
        "store, buses, devices, health, logging"
    ]


def test_top_level_sensors_are_redirected_to_devices() -> None:
    (problem,) = problems(HEAD + "sensors: []\n")
    assert problem.startswith("5:1: sensors: sensors belong to a device")


def test_duplicate_keys_name_the_first() -> None:
    assert problems(HEAD + "health: {port: 1}\nhealth: {port: 2}\n") == [
        "6:1: health: duplicate key (first given on line 5)"
    ]


def test_unsupported_tag() -> None:
    (problem,) = problems(HEAD + "health: {host: !secret host}\n")
    assert problem == "5:16: health.host: unsupported YAML tag '!secret'"


def test_wrong_types_say_what_they_got() -> None:
    assert problems(HEAD + "health: {port: eighty, enabled: maybe}\n") == [
        "5:16: health.port: expected a whole number, got 'eighty' (a string)",
        "5:33: health.enabled: expected true or false, got 'maybe' (a string)",
    ]


def test_driver_role_and_options() -> None:
    text = HEAD + (
        "    sensors:\n"
        "      - {name: a, driver: relay, readings: {x: y}}\n"
        "      - {name: b, driver: bme280, adress: 0x76, readings: {temperature: temperature}}\n"
        "      - {name: c, driver: digital_input, readings: {active: fan}}\n"
    )
    relay, adress, pin = problems(text)
    assert relay == (
        "6:27: devices[0].sensors[0].driver: 'relay' is an actuator; list it under actuators"
    )
    assert adress.startswith(
        "7:35: devices[0].sensors[1].adress: unknown option for driver 'bme280' "
        "(did you mean 'address'?); its options: bus, address"
    )
    assert pin == "8:9: devices[0].sensors[2]: driver 'digital_input' needs option 'pin'"


def test_numeric_filter_on_a_boolean_reading_and_invert_on_a_number() -> None:
    text = HEAD + (
        "    sensors:\n"
        "      - name: door\n"
        "        driver: digital_input\n"
        "        pin: GPIO5\n"
        "        readings:\n"
        "          active: {attribute: fan, filters: [{offset: 1}, invert]}\n"
        "      - name: t\n"
        "        driver: bme280\n"
        "        readings:\n"
        "          temperature: {attribute: temperature, filters: [invert]}\n"
    )
    assert problems(text) == [
        "10:47: devices[0].sensors[0].readings.active.filters[0]: filter 'offset' works on "
        "number readings; 'active' is a boolean",
        "14:59: devices[0].sensors[1].readings.temperature.filters[0]: filter 'invert' works on "
        "boolean readings; 'temperature' is a number",
    ]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ("[{median: {window_size: 3, send_every: 2, send_first_at: 3}}]",
         "send_first_at: must not be greater than send_every (2), got 3"),
        ("[{quantile: {quantile: 1.5}}]", "quantile: must be between 0 and 1, got 1.5"),
        ("[{calibrate_linear: ['1 -> 2']}]", "needs at least 2 datapoints, got 1"),
        ("[{calibrate_linear: ['1 -> 2', '1 -> 3']}]", "two datapoints share the same measured"),
        ("[{calibrate_linear: ['1 => 2', '2 -> 3']}]", "expected a datapoint like '0.5 -> 12.0'"),
        ("[{calibrate_polynomial: {degree: 2, datapoints: ['0 -> 0', '1 -> 1']}}]",
         "needs at least 3 datapoints, got 2"),
        ("[{clamp: {}}]", "needs min_value and/or max_value"),
        ("[{clamp: {min_value: 5, max_value: 1}}]", "min_value 5 is greater than max_value 1"),
        ("[{delta: 0%}]", "must be greater than 0%"),
        ("[{delta: -1}]", "must be greater than 0, got -1"),
        ("[{throttle: 10}]", "expected a duration such as 500ms"),
        ("[{round: 20}]", "must be between 0 and 12, got 20"),
        ("[offset]", "needs a value: a number to add"),
        ("[{offset: 1, multiply: 2}]", "each filter is one item"),
        ("[{or: []}]", "'or' is not supported"),
        ("[{exponential_moving_average: {alpha: 0}}]", "alpha: must be greater than 0, got 0"),
        ("[{filter_out: []}]", "expected at least 1 item(s), got 0"),
        ("[{invert: 3}]", "takes no value"),
        ("[[1]]", "expected a filter, got a list"),
    ],
)  # fmt: skip
def test_filter_problems(filters: str, message: str) -> None:
    text = sensor(
        f"driver: bme280\nreadings:\n  temperature: {{attribute: temperature, filters: {filters}}}"
    )
    (problem,) = problems(text)
    assert message in problem


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("sometimes", "expected one of every_sample, on_change, periodic, on_change_or_periodic"),
        ("on_chnage", "(did you mean 'on_change'?)"),
        ("periodic", "periodic needs a period"),
        ("{mode: periodic}", "mode periodic needs 'every'"),
        ("{mode: on_change, every: 5min}", "mode on_change takes no period"),
        ("{mode: periodic, every: 5min, min_change: 1}", "only applies to on_change modes"),
    ],
)
def test_report_problems(report: str, message: str) -> None:
    text = sensor(
        f"driver: bme280\nreadings:\n  temperature: {{attribute: temperature, report: {report}}}"
    )
    (problem,) = problems(text)
    assert message in problem


def test_report_strategies_parse() -> None:
    text = sensor(
        "driver: bme280\ninterval: 1s\nreadings:\n"
        "  temperature: {attribute: temperature, report: on_change}\n"
        "  humidity: {attribute: humidity, report: {mode: periodic, every: 1min}}\n"
        "  pressure: {attribute: pressure, report: "
        "{mode: on_change_or_periodic, every: 5min, min_change: 0.5}}"
    )
    r = [b.report for b in parse_text(text, "f.yaml").sensors[0].readings]
    assert [(x.mode, x.period_s, x.min_change) for x in r] == [
        ("on_change", None, 0.0),
        ("periodic", 60.0, 0.0),
        ("on_change_or_periodic", 300.0, 0.5),
    ]


def test_actuator_keys_parse() -> None:
    text = HEAD + (
        "    actuators:\n"
        "      - {name: fan, driver: relay, pin: 17, attribute: fan, safe_state: false,\n"
        "         min_on: 30s, min_off: 1min, interlock: air, offline_safe_after: 10min,\n"
        "         active_high: true}\n"
        "      - {name: heat, driver: relay, pin: 27, attribute: pump, interlock: air,\n"
        "         active_high: false}\n"
    )
    fan, heat = parse_text(text, "f.yaml").actuators
    assert (fan.min_on_s, fan.min_off_s, fan.interlock, fan.offline_safe_after_s) == (
        30.0,
        60.0,
        "air",
        600.0,
    )
    assert fan.safe_state is False
    assert heat.options == {"pin": 27, "active_high": False}
    assert fan.options == {"pin": 17, "active_high": True}


def test_number_actuator_refuses_min_on_and_boolean_refuses_limits() -> None:
    text = HEAD + (
        "    actuators:\n"
        "      - {name: l, driver: pwm_led, pin: 18, attribute: grow_light, min_on: 1s}\n"
        "      - {name: f, driver: relay, pin: 17, attribute: fan, limits: {min: 0},\n"
        "         active_high: true}\n"
    )
    assert problems(text) == [
        "6:76: devices[0].actuators[0].min_on: only applies to on/off actuators; "
        "'pwm_led' takes a number",
        "7:67: devices[0].actuators[1].limits: 'relay' is on/off; limits need a number",
    ]


def test_alert_condition_shapes() -> None:
    text = HEAD + (
        "    alerts:\n"
        "      - {name: a, format: 'urn:x:y', when: {attribute: temperature}}\n"
        "      - {name: b, format: 'urn:x:y', when: {attribute: fan, equals: true, hysteresis: 1}}"
        "\n"
        "      - {name: c, format: not-a-urn, when: {attribute: t, below: 3}, severity: urgent}\n"
    )
    assert problems(text) == [
        "6:44: devices[0].alerts[0].when: give exactly one of above, below, equals (got none)",
        "7:87: devices[0].alerts[1].when.hysteresis: only applies to above/below",
        "8:27: devices[0].alerts[2].format: expected a URN (urn:...), got 'not-a-urn'",
        "8:80: devices[0].alerts[2].severity: expected one of LOW, NORMAL, SIGNIFICANT, "
        "CRITICAL, got 'urgent' (a string)",
    ]


def test_store_never_holds_a_password() -> None:
    (problem,) = problems(
        "store: {path: /x, password: secret}\ndevices: [{id: a, model: 'urn:a'}]\n"
    )
    assert problem.startswith("1:19: store.password: never write the password here")


def test_relative_store_paths_resolve_against_the_model_file(tmp_path: Path) -> None:
    sub = tmp_path / "site"
    sub.mkdir()
    text = HEAD.replace("/tmp/x.conf", "state/gh.conf, password_file: ../secret, state_dir: /var/x")
    (sub / "gh.yaml").write_text(text)
    store = load_model_file(sub / "gh.yaml").store
    assert store.path == str(sub / "state" / "gh.conf")
    assert store.password_file == str(sub / ".." / "secret")
    assert store.state_dir == "/var/x"


def test_nested_aliases_cannot_blow_up_validation() -> None:
    # Each level repeats the one below ten times through aliases: 10**6 values to walk.
    text = """\
defs:
  f: &f {filter_out: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}
  fl: &fl [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
  s: &s {name: s, driver: bme280, readings: {temperature: {attribute: t, filters: *fl}}}
  d: &d {id: d, model: "urn:x", sensors: [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]}
store: {path: /x}
devices: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d,
          *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d,
          *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d,
          *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d,
          *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
"""
    found = problems(text)
    assert "1:1: the file expands to more than 200000 values (nested aliases?)" in found
