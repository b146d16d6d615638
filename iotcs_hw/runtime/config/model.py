"""The parsed model file: frozen, typed dataclasses the rest of the runtime codes against.

The parser (:mod:`iotcs_hw.runtime.config.loader`) turns one YAML model file into a
:class:`ModelFile`; after that every value here is checked, defaulted and converted to SI-ish
units (durations in seconds, frequencies in hertz), so runtime code may trust it.  Each object
keeps the :class:`SourcePos` of the YAML node it came from, so a runtime problem ("sensor
``climate`` keeps failing") can still point at ``FILE:LINE:COLUMN``.

Shape of the file (see ``docs/model-file.md`` for the full reference)::

    store: {path: /var/lib/iotcs-hw/greenhouse.conf}
    buses: {i2c: [{bus: 1, frequency: 400kHz}]}
    devices:
      - id: greenhouse
        model: urn:com:example:greenhouse
        sensors: [...]
        actuators: [...]
        alerts: [...]
    health: {port: 8321}
    logging: {level: INFO}

One device makes the Pi a directly connected device; several make it a gateway whose devices
are indirectly connected (registered through ``GatewayDevice``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: A value a reading, an attribute or an actuator can hold.
ScalarValue = bool | int | float | str
#: A driver option: a scalar, or a list of numbers (``scale_from: [2.8, 1.2]``).
OptionValue = ScalarValue | tuple[float, ...]

Severity = Literal["LOW", "NORMAL", "SIGNIFICANT", "CRITICAL"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@dataclass(frozen=True)
class SourcePos:
    """Where a node starts in the model file: 1-based ``line`` and ``column``."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


#: Position used for objects built in code rather than parsed (tests, defaults).
NOWHERE = SourcePos("<defaults>", 0, 0)


class _Located:
    """Mixin: :meth:`where` finds the position of one key's value (else the entry's start)."""

    pos: SourcePos
    positions: Mapping[str, SourcePos]

    def where(self, key: str) -> SourcePos:
        """Position of ``key``'s value in the file, or of the entry when it was defaulted."""
        return self.positions.get(key, self.pos)


# --------------------------------------------------------------------------------------------
# Filters (ESPHome vocabulary and semantics; see iotcs_hw.runtime.filters for behaviour)


@dataclass(frozen=True)
class OffsetFilter:
    """``offset: 2.5``: add a constant."""

    value: float
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class MultiplyFilter:
    """``multiply: 1.8``: multiply by a constant."""

    value: float
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class CalibrateLinearFilter:
    """``calibrate_linear``: map measured -> true through datapoints.

    ``least_squares`` fits one line through all points (exact with two points); ``exact``
    interpolates piecewise between neighbouring points and extrapolates with the end segments.
    """

    datapoints: tuple[tuple[float, float], ...]
    method: Literal["least_squares", "exact"] = "least_squares"
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class CalibratePolynomialFilter:
    """``calibrate_polynomial``: least-squares polynomial of ``degree`` through datapoints."""

    degree: int
    datapoints: tuple[tuple[float, float], ...]
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class ClampFilter:
    """``clamp``: limit to ``[min_value, max_value]``; drop instead when ``ignore_out_of_range``."""

    min_value: float | None = None
    max_value: float | None = None
    ignore_out_of_range: bool = False
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class RoundFilter:
    """``round: 1``: round to ``decimals`` places, halves away from zero (as ESPHome)."""

    decimals: int
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class RoundToMultipleOfFilter:
    """``round_to_multiple_of: 0.5``: round to the nearest multiple of ``multiple``."""

    multiple: float
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class WindowOptions:
    """Window settings shared by the windowed filters (ESPHome defaults differ per filter)."""

    window_size: int
    send_every: int
    send_first_at: int


@dataclass(frozen=True)
class MedianFilter:
    """``median``: median of the last ``window_size`` values."""

    window: WindowOptions
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class QuantileFilter:
    """``quantile``: the ``quantile`` (0..1) of the last ``window_size`` values."""

    window: WindowOptions
    quantile: float = 0.9
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class MinFilter:
    """``min``: smallest of the last ``window_size`` values."""

    window: WindowOptions
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class MaxFilter:
    """``max``: largest of the last ``window_size`` values."""

    window: WindowOptions
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class SlidingWindowMovingAverageFilter:
    """``sliding_window_moving_average``: mean of the last ``window_size`` values."""

    window: WindowOptions
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class ExponentialMovingAverageFilter:
    """``exponential_moving_average``: ``avg = alpha*x + (1-alpha)*avg``."""

    alpha: float
    send_every: int
    send_first_at: int
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class ThrottleFilter:
    """``throttle: 10s``: pass a value only if the last passed one is ``interval_s`` old."""

    interval_s: float
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class ThrottleAverageFilter:
    """``throttle_average: 1min``: emit the mean of the values seen in each period."""

    interval_s: float
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class HeartbeatFilter:
    """``heartbeat: 1min``: hold values; emit the latest one every ``period_s``."""

    period_s: float
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class DeltaFilter:
    """``delta: 0.5`` or ``delta: 5%``: pass only changes of at least ``threshold``.

    With ``percent`` the threshold is relative to the last passed value (5% -> 0.05).
    """

    threshold: float
    percent: bool = False
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class TimeoutFilter:
    """``timeout: 5min``: pass values; if none came for ``timeout_s``, emit ``value``.

    ``value`` ``None`` means "report the reading as missing" (NaN, which is never sent).
    """

    timeout_s: float
    value: float | None = None
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class DebounceFilter:
    """``debounce: 100ms``: emit a value only once it stayed unchanged for ``delay_s``."""

    delay_s: float
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class FilterOutFilter:
    """``filter_out: [nan, 85.0]``: drop these exact values (NaN matches NaN)."""

    values: tuple[float, ...]
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class InvertFilter:
    """``invert``: logical not of a boolean reading."""

    pos: SourcePos = NOWHERE


FilterSpec = (
    OffsetFilter
    | MultiplyFilter
    | CalibrateLinearFilter
    | CalibratePolynomialFilter
    | ClampFilter
    | RoundFilter
    | RoundToMultipleOfFilter
    | MedianFilter
    | QuantileFilter
    | MinFilter
    | MaxFilter
    | SlidingWindowMovingAverageFilter
    | ExponentialMovingAverageFilter
    | ThrottleFilter
    | ThrottleAverageFilter
    | HeartbeatFilter
    | DeltaFilter
    | TimeoutFilter
    | DebounceFilter
    | FilterOutFilter
    | InvertFilter
)


# --------------------------------------------------------------------------------------------
# Report strategies


ReportMode = Literal["every_sample", "on_change", "periodic", "on_change_or_periodic"]


@dataclass(frozen=True)
class ReportStrategy:
    """When a filtered value is sent to the cloud.

    * ``every_sample``: every value that leaves the filter chain (the default).
    * ``on_change``: only when it differs from the last value sent (``min_change`` is an
      absolute dead band, 0 = any difference).
    * ``periodic``: the latest value every ``period_s``, changed or not.
    * ``on_change_or_periodic``: on change, and at least every ``period_s`` when nothing
      changed (the "heartbeat" peers ask for).
    """

    mode: ReportMode = "every_sample"
    period_s: float | None = None
    min_change: float = 0.0
    pos: SourcePos = NOWHERE


# --------------------------------------------------------------------------------------------
# Hardware


@dataclass(frozen=True)
class BusConfig:
    """One bus the Pi uses.  ``kind`` is ``i2c`` for now; ``number`` is N of /dev/i2c-N."""

    kind: Literal["i2c"]
    number: int
    frequency_hz: int = 100_000
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for a failing sensor: ``initial_s`` doubling (``multiplier``) up to
    ``max_s``; never gives up."""

    initial_s: float = 1.0
    max_s: float = 300.0
    multiplier: float = 2.0
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class ReadingBinding(_Located):
    """One reading of a sensor feeding one attribute of its device, through ``filters``."""

    reading: str
    attribute: str
    filters: tuple[FilterSpec, ...] = ()
    report: ReportStrategy = field(default_factory=ReportStrategy)
    pos: SourcePos = NOWHERE
    #: Key -> position of its value, for messages that point at one key.
    positions: Mapping[str, SourcePos] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class SensorConfig(_Located):
    """A sensor: a driver instance sampled every ``interval_s``.

    ``options`` are the driver's keyword arguments after validation (``bus``, ``address``,
    ``pin``, ``channel``... with ints for addresses and pins as written); ``name`` is unique in
    the file; ``device`` is the id of the :class:`DeviceConfig` it belongs to.
    """

    name: str
    driver: str
    device: str
    interval_s: float
    readings: tuple[ReadingBinding, ...]
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    pos: SourcePos = NOWHERE
    #: Key -> position of its value, for messages that point at one key.
    positions: Mapping[str, SourcePos] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Limits:
    """Values an actuator accepts (inclusive); a cloud write outside gets a 400."""

    min_value: float | None = None
    max_value: float | None = None
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class LinearMap:
    """A linear map between attribute values and driver values, through two points.

    ``scale: {from: [0, 100], to: [0, 1]}`` makes a 0..100 % attribute drive a 0..1 duty cycle:
    :meth:`forward` turns a written value into what the driver takes, :meth:`inverse` turns what
    the driver applied back into the attribute's unit (for the echo to the cloud).
    """

    source: tuple[float, float]
    target: tuple[float, float]
    pos: SourcePos = NOWHERE

    def forward(self, value: float) -> float:
        """Attribute value -> driver value."""
        (x0, x1), (y0, y1) = self.source, self.target
        return y0 + (float(value) - x0) * (y1 - y0) / (x1 - x0)

    def inverse(self, value: float) -> float:
        """Driver value -> attribute value."""
        (x0, x1), (y0, y1) = self.source, self.target
        return x0 + (float(value) - y0) * (x1 - x0) / (y1 - y0)


@dataclass(frozen=True)
class ActuatorConfig(_Located):
    """An actuator driven by a writable attribute.

    * ``safe_state``: applied at start, at shutdown and after ``offline_safe_after_s`` without
      the cloud; ``None`` means the driver's own :attr:`~drivers.base.Actuator.safe_state`.
    * ``min_on_s`` / ``min_off_s``: a boolean output stays on (off) at least this long; a write
      that would break it is refused (safe-state transitions are never refused).
    * ``interlock``: actuators sharing a group name are never on (truthy) together.
    * ``scale``: attribute values <-> driver values (``None``: the same numbers); ``limits`` and
      ``safe_state`` are in attribute units.
    """

    name: str
    driver: str
    device: str
    attribute: str
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    safe_state: ScalarValue | None = None
    limits: Limits | None = None
    min_on_s: float = 0.0
    min_off_s: float = 0.0
    interlock: str | None = None
    offline_safe_after_s: float | None = None
    pos: SourcePos = NOWHERE
    #: Key -> position of its value, for messages that point at one key.
    positions: Mapping[str, SourcePos] = field(default_factory=dict, compare=False, repr=False)
    scale: LinearMap | None = None


# --------------------------------------------------------------------------------------------
# Alerts


@dataclass(frozen=True)
class AlertCondition(_Located):
    """When an alert fires, on the filtered value of ``attribute`` of the alert's device.

    ``above``: value > threshold raises; it re-arms once value <= threshold - hysteresis.
    ``below``: value < threshold raises; it re-arms once value >= threshold + hysteresis.
    ``equals``: value == threshold raises (booleans, strings); it re-arms when different.
    The condition must hold for ``for_s`` seconds before it raises.
    """

    attribute: str
    op: Literal["above", "below", "equals"]
    threshold: ScalarValue
    hysteresis: float = 0.0
    for_s: float = 0.0
    pos: SourcePos = NOWHERE
    #: Key -> position of its value, for messages that point at one key.
    positions: Mapping[str, SourcePos] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class AlertField:
    """One field of the alert format: the current value of ``attribute`` or a ``constant``."""

    name: str
    attribute: str | None = None
    constant: ScalarValue | None = None
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class AlertConfig(_Located):
    """An ALERT format raised by a threshold rule with hysteresis.

    ``repeat_s`` re-raises while the condition stays true (``None``: once per crossing).
    """

    name: str
    device: str
    format: str
    condition: AlertCondition
    severity: Severity = "SIGNIFICANT"
    fields: tuple[AlertField, ...] = ()
    description: str | None = None
    repeat_s: float | None = None
    pos: SourcePos = NOWHERE
    #: Key -> position of its value, for messages that point at one key.
    positions: Mapping[str, SourcePos] = field(default_factory=dict, compare=False, repr=False)


# --------------------------------------------------------------------------------------------
# Devices and the file


@dataclass(frozen=True)
class DeviceConfig(_Located):
    """One IoTCS device this Pi implements.

    ``models`` are the device-model URNs; attributes bound below must exist in one of them.
    ``hardware_id`` identifies an indirectly connected device to its gateway (defaults to
    ``id``); ``metadata`` goes with its registration (manufacturer, modelNumber, serialNumber).
    """

    id: str
    models: tuple[str, ...]
    sensors: tuple[SensorConfig, ...] = ()
    actuators: tuple[ActuatorConfig, ...] = ()
    alerts: tuple[AlertConfig, ...] = ()
    hardware_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    pos: SourcePos = NOWHERE
    #: Key -> position of its value, for messages that point at one key.
    positions: Mapping[str, SourcePos] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class StoreConfig:
    """Where the Pi keeps its identity and state.

    ``path``: the trusted-assets store (provisioning file) of this directly connected device or
    gateway.  Its password comes from ``password_file`` or the environment variable
    ``password_env``.  ``state_dir`` holds the outbox database and indirect endpoint ids
    (default: the directory of ``path``).
    """

    path: str
    password_env: str = "IOTCS_HW_STORE_PASSWORD"
    password_file: str | None = None
    state_dir: str | None = None
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class HealthConfig:
    """The local health endpoint and systemd integration."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8321
    watchdog: bool = True
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class LoggingConfig:
    """Log level of the runtime and optional per-logger levels."""

    level: LogLevel = "INFO"
    loggers: Mapping[str, LogLevel] = field(default_factory=dict)
    pos: SourcePos = NOWHERE


@dataclass(frozen=True)
class ModelFile:
    """A whole, validated model file."""

    path: str
    store: StoreConfig
    devices: tuple[DeviceConfig, ...]
    buses: tuple[BusConfig, ...] = (BusConfig("i2c", 1),)
    health: HealthConfig = field(default_factory=HealthConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    pos: SourcePos = NOWHERE

    @property
    def is_gateway(self) -> bool:
        """True when the Pi acts as a gateway for several indirectly connected devices."""
        return len(self.devices) > 1

    @property
    def sensors(self) -> tuple[SensorConfig, ...]:
        """Every sensor of every device, in file order."""
        return tuple(s for d in self.devices for s in d.sensors)

    @property
    def actuators(self) -> tuple[ActuatorConfig, ...]:
        """Every actuator of every device, in file order."""
        return tuple(a for d in self.devices for a in d.actuators)

    @property
    def alerts(self) -> tuple[AlertConfig, ...]:
        """Every alert of every device, in file order."""
        return tuple(a for d in self.devices for a in d.alerts)

    def device(self, device_id: str) -> DeviceConfig:
        """The device with ``device_id``; ``KeyError`` if there is none."""
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)
