"""Checks across entries (pins, addresses, names) and against the device model."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from iotcs_hw.client.device_model import DeviceModel
from iotcs_hw.runtime.config import (
    ModelDirectory,
    ModelFile,
    ModelFileError,
    ModelMapping,
    ModelResolver,
    parse_text,
)

MODELS_DIR = Path(__file__).resolve().parents[2] / "device_models"
HEAD = """\
store: {path: /tmp/x.conf}
devices:
  - id: gh
    model: urn:com:iotcshw:device:greenhouse
"""


def _indent(body: str) -> str:
    """The body as keys of the device (four spaces in)."""
    return textwrap.indent(textwrap.dedent(body), "    ")


def problems(body: str, *, head: str = HEAD, models: ModelResolver | None = None) -> list[str]:
    resolver = models if models is not None else ModelDirectory(MODELS_DIR)
    with pytest.raises(ModelFileError) as info:
        parse_text(head + _indent(body), "f.yaml", models=resolver)
    return [f"{d.line}:{d.column}: {d.message}" for d in info.value.diagnostics]


def valid(body: str, *, head: str = HEAD, models: ModelResolver | None = None) -> ModelFile:
    resolver = models if models is not None else ModelDirectory(MODELS_DIR)
    return parse_text(head + _indent(body), "f.yaml", models=resolver)


# --------------------------------------------------------------------------------------------
# One Pi, one set of pins and buses


def test_same_pin_in_two_spellings_across_sensors_and_actuators() -> None:
    body = """\
        sensors:
          - {name: door, driver: digital_input, pin: J8:11, readings: {active: fan}}
        actuators:
          - {name: pump, driver: relay, pin: 17, attribute: pump, active_high: true}
    """
    assert problems(body) == [
        "8:42: actuator 'pump': pin 17 (GPIO17) is already used by sensor 'door' (line 6)"
    ]


def test_gpio_pins_of_a_busy_i2c_bus_are_taken() -> None:
    body = """\
        sensors:
          - {name: t, driver: bme280, readings: {temperature: temperature}}
        actuators:
          - {name: fan, driver: relay, pin: GPIO2, attribute: fan, active_high: true}
    """
    assert problems(body) == [
        "8:41: actuator 'fan': pin 'GPIO2' (GPIO2) is already used by I2C bus 1 (line 1)"
    ]


def test_i2c_address_twice_on_one_bus_but_fine_on_another() -> None:
    head = HEAD.replace("store:", "buses: {i2c: [{bus: 1}, {bus: 3, frequency: 400kHz}]}\nstore:")
    body = """\
        sensors:
          - {name: a, driver: bme280, readings: {temperature: temperature}}
          - {name: b, driver: bmp280, readings: {pressure: pressure}}
          - {name: c, driver: bme280, bus: 3, readings: {humidity: humidity}}
    """
    assert problems(body, head=head) == [
        "8:9: sensor 'b': bus 1 address 0x76 is already used by sensor 'a' (line 7)"
    ]


def test_undeclared_bus_and_bus_declared_twice() -> None:
    head = HEAD.replace("store:", "buses: {i2c: [{bus: 1}, {bus: 1}]}\nstore:")
    body = """\
        sensors:
          - {name: a, driver: bme280, bus: 4, readings: {temperature: temperature}}
    """
    assert problems(body, head=head) == [
        "1:25: buses.i2c: bus 1 is declared twice",
        "7:40: sensor 'a': I2C bus 4 is not declared under buses.i2c (declared: 1)",
    ]


def test_channels_share_a_chip_but_not_a_channel() -> None:
    body = """\
        actuators:
          - {name: light, driver: pca9685, channel: 0, attribute: grow_light,
             scale: {from: [0, 100], to: [0, 1]}}
          - {name: vent, driver: pca9685, channel: 1, attribute: vent,
             scale: {from: [0, 90], to: [0, 1]}}
          - {name: more, driver: pca9685, channel: 1, attribute: fan}
    """
    assert problems(body) == [
        "10:48: actuator 'more': bus 1 address 0x40 channel 1 is already used by actuator "
        "'vent' (line 8)",
        "10:62: actuator 'more' -> fan (BOOLEAN): a pca9685 takes a number",
    ]


def test_a_different_chip_on_a_channelled_chips_address() -> None:
    body = """\
        sensors:
          - {name: soil, driver: ads1115, channel: 0, readings: {voltage: soil_moisture}}
          - {name: soil2, driver: ads1115, channel: 1, readings: {voltage: humidity}}
        actuators:
          - {name: light, driver: pca9685, address: 0x48, channel: 0, attribute: grow_light,
             scale: {from: [0, 100], to: [0, 1]}}
    """
    assert problems(body) == [
        "9:49: actuator 'light': bus 1 address 0x48 is already used by sensor 'soil' (line 6)"
    ]


def test_address_a_chip_cannot_have() -> None:
    body = """\
        sensors:
          - {name: l, driver: bh1750, address: 0x24, readings: {light: light}}
    """
    assert problems(body) == [
        "6:44: devices[0].sensors[0].address: a bh1750 answers only at 0x23, 0x5c, not 0x24"
    ]


def test_names_must_be_unique() -> None:
    head = HEAD + (
        "    hardware_id: x\n  - id: gh\n    hardware_id: x\n"
        "    model: urn:com:iotcshw:device:greenhouse\n"
    )
    body = """\
        sensors:
          - {name: t, driver: bme280, readings: {temperature: temperature}}
          - {name: t, driver: bme280, address: 0x77, readings: {humidity: humidity}}
    """
    assert problems(body, head=head) == [
        "6:9: device 'gh': name 'gh' is already used by device 'gh' (line 3)",
        "7:18: device 'gh': hardware_id 'x' is already used by device 'gh' (line 5)",
        "11:16: sensor 't': name 't' is already used by sensor 't' (line 10)",
    ]


def test_one_attribute_one_binding() -> None:
    body = """\
        sensors:
          - {name: a, driver: bme280, readings: {temperature: temperature}}
          - {name: b, driver: sht3x, readings: {temperature: temperature}}
        actuators:
          - {name: f, driver: relay, pin: 17, attribute: fan, active_high: true}
          - {name: g, driver: relay, pin: 27, attribute: fan, active_high: true}
        alerts:
          - name: dry
            format: urn:com:iotcshw:device:greenhouse:too_hot
            when: {attribute: humidty, below: 20}
            fields: {temperature: temperature}
    """
    assert problems(body) == [
        "7:58: sensor 'b' reading 'temperature': attribute 'temperature' of device 'gh' is "
        "already fed by sensor 'a' reading 'temperature' (line 6)",
        "10:54: actuator 'g': attribute 'fan' of device 'gh' is already bound to actuator 'f' "
        "(line 9)",
        "14:27: alert 'dry' condition: device model urn:com:iotcshw:device:greenhouse has no "
        "attribute 'humidty' (did you mean 'humidity'?)",
    ]


def test_alert_on_an_attribute_nothing_feeds() -> None:
    body = """\
        alerts:
          - name: hot
            format: urn:com:iotcshw:device:greenhouse:too_hot
            when: {attribute: temperature, above: 40}
            fields: {temperature: temperature}
    """
    assert problems(body) == [
        "8:27: alert 'hot': nothing on device 'gh' feeds attribute 'temperature', so the alert "
        "could never fire"
    ]


def test_interlock_needs_two_and_suggests_the_other_group() -> None:
    body = """\
        actuators:
          - {name: f, driver: relay, pin: 17, attribute: fan, interlock: air, active_high: true}
          - {name: g, driver: relay, pin: 27, attribute: pump, interlock: air, active_high: true}
          - {name: h, driver: relay, pin: 22, attribute: fan2, interlock: airr, active_high: true}
    """
    assert problems(body) == [
        "8:54: actuator 'h': device model urn:com:iotcshw:device:greenhouse has no attribute "
        "'fan2' (did you mean 'fan'?)",
        "8:71: actuator 'h': interlock group 'airr' has no other member (did you mean 'air'?); "
        "an interlock needs at least two actuators",
    ]


def test_intervals_against_report_period_and_timeout() -> None:
    body = """\
        sensors:
          - name: a
            driver: bme280
            interval: 1min
            readings:
              temperature:
                attribute: temperature
                report: {mode: periodic, every: 30s}
              humidity:
                attribute: humidity
                filters: [{timeout: 1min}]
    """
    assert problems(body) == [
        "12:21: sensor 'a' reading 'temperature': report every 30s is shorter than the sensor "
        "interval 1min; the same sample would be sent again",
        "15:24: sensor 'a' reading 'humidity': timeout 1min is not longer than the sensor "
        "interval 1min; it would fire between every two samples",
    ]


def test_interval_bounds() -> None:
    body = """\
        sensors:
          - {name: a, driver: bme280, interval: 5ms, readings: {temperature: temperature}}
          - {name: b, driver: bme280, address: 0x77, interval: 2d, readings: {humidity: humidity}}
    """
    assert problems(body) == [
        "6:45: devices[0].sensors[0].interval: must be between 10ms and 1d, got 5ms",
        "7:60: devices[0].sensors[1].interval: must be between 10ms and 1d, got 2d",
    ]


# --------------------------------------------------------------------------------------------
# Against the device model


def test_types_and_writability() -> None:
    body = """\
        sensors:
          - {name: door, driver: digital_input, pin: 5, readings: {active: temperature}}
          - {name: t, driver: bme280, readings: {temperature: fan}}
        actuators:
          - {name: f, driver: relay, pin: 17, attribute: grow_light, active_high: true}
          - {name: l, driver: pwm_led, pin: 18, attribute: pump}
          - {name: v, driver: servo, pin: 12, attribute: light}
    """
    assert problems(body) == [
        "6:72: sensor 'door' reading 'active' -> temperature (NUMBER): the reading is a boolean",
        "7:59: sensor 't' reading 'temperature' -> fan (BOOLEAN): the reading is a number, not "
        "a boolean",
        "9:54: actuator 'f' -> grow_light (NUMBER): a relay is switched on/off",
        "10:56: actuator 'l' -> pump (BOOLEAN): a pwm_led takes a number",
        "11:54: actuator 'v' -> light (NUMBER): the attribute is read-only; actuators need "
        "writable ones",
    ]


def test_alias_binds_too() -> None:
    mf = valid(
        """\
        sensors:
          - {name: t, driver: bme280, readings: {temperature: temp}}
    """
    )
    assert mf.sensors[0].readings[0].attribute == "temp"


def _model(**attrs: dict[str, object]) -> ModelMapping:
    doc = {
        "urn": "urn:test:m",
        "name": "m",
        "attributes": [{"name": n, **a} for n, a in attrs.items()],
        "formats": [
            {"urn": "urn:test:m:data", "name": "d", "type": "DATA",
             "value": {"fields": [{"name": "x", "type": "NUMBER", "optional": False}]}},
            {"urn": "urn:test:m:hot", "name": "h", "type": "ALERT",
             "value": {"fields": [
                 {"name": "t", "type": "NUMBER", "optional": False},
                 {"name": "note", "type": "STRING", "optional": True},
                 {"name": "on", "type": "BOOLEAN", "optional": True}]}},
        ],
    }  # fmt: skip
    return ModelMapping([DeviceModel.fromJson(json.loads(json.dumps(doc)))])


TEST_HEAD = "store: {path: /x}\ndevices:\n  - id: d\n    model: urn:test:m\n"


def test_integer_attribute_needs_rounding_and_text_types_take_no_sensor() -> None:
    models = _model(
        count={"type": "INTEGER", "range": "0,100"},
        label={"type": "STRING"},
        level={"type": "INTEGER", "range": "-50,150"},
    )
    body = """\
        sensors:
          - {name: a, driver: bme280, readings: {temperature: count, humidity: label}}
          - name: b
            driver: sht3x
            readings: {temperature: {attribute: level, filters: [{round: 0}]}}
    """
    assert problems(body, head=TEST_HEAD, models=models) == [
        "6:59: sensor 'a' reading 'temperature' -> count (INTEGER): the reading is fractional; "
        "end the filters with '- round: 0' to send whole numbers",
        "6:76: sensor 'a' reading 'humidity' -> label (STRING): a sensor reading cannot feed a "
        "STRING",
    ]


def test_safe_state_and_limits_against_the_range() -> None:
    models = _model(
        dim={"type": "NUMBER", "range": "0,100", "writable": True},
        fan={"type": "BOOLEAN", "writable": True},
    )
    body = """\
        actuators:
          - {name: l, driver: pwm_led, pin: 18, attribute: dim, safe_state: 120,
             scale: {from: [0, 100], to: [0, 1]}}
          - {name: m, driver: pwm_led, pin: 19, attribute: dim2, safe_state: 1}
          - {name: n, driver: pca9685, channel: 2, attribute: dim, limits: {min: 10, max: 50},
             safe_state: 5, scale: {from: [0, 100], to: [0, 1]}}
          - {name: f, driver: relay, pin: 17, attribute: fan, safe_state: "off", active_high: true}
    """
    assert problems(body, head=TEST_HEAD, models=models) == [
        "6:73: actuator 'l': safe_state 120 is outside the attribute's range [0, 100]",
        "8:56: actuator 'm': device model urn:test:m has no attribute 'dim2' (did you mean 'dim'?)",
        "9:59: actuator 'n': attribute 'dim' of device 'd' is already bound to actuator 'l' "
        "(line 6)",
        "10:22: actuator 'n': safe_state 5 is outside the actuator's limits",
        "11:71: actuator 'f': safe_state 'off' is not a boolean (true/false)",
    ]


def test_alert_formats_and_fields() -> None:
    models = _model(t={"type": "NUMBER", "range": "0,50"}, fan={"type": "BOOLEAN"})
    body = """\
        sensors:
          - {name: a, driver: bme280, readings: {temperature: t}}
          - {name: door, driver: digital_input, pin: 5, readings: {active: fan}}
        alerts:
          - {name: a1, format: "urn:test:m:data", when: {attribute: t, above: 30},
             fields: {x: t}}
          - name: a2
            format: urn:test:m:hot
            when: {attribute: t, above: 60}
            fields: {tt: t, note: 5, on: t}
          - {name: a3, format: "urn:test:m:hot", when: {attribute: fan, above: 1}, fields: {t: t}}
          - {name: a4, format: "urn:test:m:hot", when: {attribute: fan, equals: 3}, fields: {t: t}}
          - {name: a5, format: "urn:test:m:hot", when: {attribute: t, equals: 3}, fields: {t: fan}}
    """
    assert problems(body, head=TEST_HEAD, models=models) == [
        "9:28: alert 'a1': format 'urn:test:m:data' is a DATA format",
        "13:37: alert 'a2': above 60 can never happen within the range [0, 50] of attribute 't'",
        "14:17: alert 'a2': format 'urn:test:m:hot' needs field(s) t; bind each to an attribute "
        "or a value under 'fields'",
        "14:22: alert 'a2': format 'urn:test:m:hot' has no field 'tt' (did you mean 't'?)",
        "14:31: devices[0].alerts[1].fields.note: expected an attribute name, got 5 (an "
        "integer); write a constant as {value: 5}",
        "14:34: devices[0].alerts[1].fields: keys must be names, got True (a boolean); YAML "
        "reads on as a boolean, quote it: 'on'",
        "15:76: alert 'a3': above needs a NUMBER or INTEGER attribute; 'fan' is BOOLEAN (use "
        "equals)",
        "16:77: alert 'a4': equals 3 is not a boolean (true/false)",
        "17:91: alert 'a5': field 't' is NUMBER but attribute 'fan' is BOOLEAN",
    ]


def test_alert_constants_and_optional_fields_bind() -> None:
    models = _model(t={"type": "NUMBER", "range": "0,50"}, fan={"type": "BOOLEAN"})
    body = """\
        sensors:
          - {name: a, driver: bme280, readings: {temperature: t}}
        alerts:
          - name: hot
            format: urn:test:m:hot
            when: {attribute: t, above: 40, hysteresis: 2, for: 30s}
            fields: {t: t, note: {value: hot}, "on": {value: true}}
            repeat: 1h
    """
    alert = valid(body, head=TEST_HEAD, models=models).alerts[0]
    assert (alert.condition.for_s, alert.repeat_s, alert.severity) == (30.0, 3600.0, "SIGNIFICANT")
    assert [(f.name, f.attribute, f.constant) for f in alert.fields] == [
        ("t", "t", None),
        ("note", None, "hot"),
        ("on", None, True),
    ]


def test_unknown_model_lists_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    head = "store: {path: /x}\ndevices:\n  - id: d\n    model: urn:nope\n"
    (problem,) = problems("", head=head, models=ModelDirectory(tmp_path))
    assert problem.startswith(
        f"4:12: device 'd': device model 'urn:nope' is not among the device models in {tmp_path}"
        f"; could not read: {tmp_path / 'broken.json'}: not valid JSON"
    )


def test_schema_only_when_no_models_are_given() -> None:
    text = HEAD + "    sensors:\n      - {name: a, driver: bme280, readings: {temperature: nope}}\n"
    assert parse_text(text, "f.yaml").sensors[0].readings[0].attribute == "nope"


def test_actuator_value_ranges_with_and_without_scale() -> None:
    body = """\
        actuators:
          - {name: a, driver: angular_servo, pin: 12, attribute: vent}
          - {name: b, driver: pwm_led, pin: 18, attribute: grow_light,
             scale: {from: [0, 100], to: [0, 2]}}
          - {name: c, driver: pca9685, channel: 3, attribute: grow_light2}
    """
    out = problems(body)
    assert out[:2] == [
        "8:17: actuator 'b': writes to 'grow_light' span [0, 100], scaled to [0, 2], but a "
        "pwm_led takes [0, 1]; narrow it with limits or change the scale",
        "9:59: actuator 'c': device model urn:com:iotcshw:device:greenhouse has no attribute "
        "'grow_light2' (did you mean 'grow_light'?)",
    ]
    assert len(out) == 2  # angular_servo's -90..90 holds the vent's 0..90


def test_limits_narrow_what_must_fit() -> None:
    valid(
        """\
        actuators:
          - {name: s, driver: angular_servo, pin: 12, attribute: vent, min_angle: 10,
             max_angle: 80, limits: {min: 10, max: 80}}
    """
    )
    (problem,) = problems(
        """\
        actuators:
          - {name: s, driver: angular_servo, pin: 12, attribute: vent, min_angle: 10,
             max_angle: 80}
    """
    )
    assert problem.endswith(
        "writes to 'vent' span [0, 90] but a angular_servo takes [10, 80]; "
        "add scale: {from: [0, 90], to: [10, 80]}"
    )


def test_scale_shape() -> None:
    body = """\
        actuators:
          - {name: b, driver: pwm_led, pin: 18, attribute: grow_light, scale: {from: [1, 1], to: 3}}
          - {name: f, driver: relay, pin: 17, active_high: true, attribute: fan,
             scale: {from: [0, 1], to: [0, 1]}}
    """
    assert problems(body) == [
        "6:82: devices[0].actuators[0].scale.from: the two ends must differ, got [1, 1]",
        "6:94: devices[0].actuators[0].scale.to: expected two numbers like [0, 100], got 3 (an "
        "integer)",
        "8:17: devices[0].actuators[1].scale: 'relay' is on/off; scale needs a number",
    ]


def test_a_named_adc_quantity_becomes_a_reading() -> None:
    body = """\
        sensors:
          - name: soil
            driver: ads1115
            quantity: soil_moisture
            scale_from: [2.8, 1.2]
            scale_to: [0, 100]
            readings: {soil_moisture: soil_moisture, voltage: humidity, moisture: light}
    """
    (problem,) = problems(body)
    assert problem == (
        "11:69: devices[0].sensors[0].readings.moisture: driver 'ads1115' has no reading "
        "'moisture' (did you mean 'soil_moisture'?); it reads: voltage, soil_moisture"
    )


def test_validate_later_against_fetched_models() -> None:
    from iotcs_hw.runtime.config import validate_against_models

    text = HEAD + "    sensors:\n      - {name: a, driver: bme280, readings: {temperature: tmp}}\n"
    model_file = parse_text(text, "f.yaml")  # schema only: no models at hand yet
    fetched = ModelMapping([DeviceModel.fromFile(MODELS_DIR / "greenhouse.json")])
    with pytest.raises(ModelFileError) as info:
        validate_against_models(model_file, fetched)
    assert [str(d) for d in info.value.diagnostics] == [
        "f.yaml:6:59: sensor 'a' reading 'temperature': device model "
        "urn:com:iotcshw:device:greenhouse has no attribute 'tmp' (did you mean 'temp'?)"
    ]
    validate_against_models(valid("sensors: []\n"), fetched)
