"""Checks a model file against the IoTCS device models it names.

Every bound attribute must exist (by name or alias), have a type the reading or actuator can
produce or take, and a range the values can fall into; actuators need writable attributes;
alerts need an ALERT format whose fields are all bound.  Problems point at the model-file line
that binds the attribute, since that is what the user edits.
"""

from __future__ import annotations

import math

from iotcs_hw.client.device_model import (
    DataType,
    DeviceModel,
    DeviceModelAttribute,
    DeviceModelFormat,
    FormatType,
)
from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.config.device_models import ModelResolver
from iotcs_hw.runtime.config.diagnostics import Diagnostics
from iotcs_hw.runtime.config.drivers_info import DriverCatalog
from iotcs_hw.runtime.config.filter_schema import filter_name
from iotcs_hw.runtime.config.schema import did_you_mean
from iotcs_hw.runtime.filters import fit_line, interpolate

Interval = tuple[float, float]


def _models_of(
    device: m.DeviceConfig, models: ModelResolver, diags: Diagnostics
) -> list[DeviceModel] | None:
    found: list[DeviceModel] = []
    missing = False
    for urn in device.models:
        model = models.resolve(urn)
        if model is None:
            problems = models.problems()
            note = f"; could not read: {'; '.join(problems)}" if problems else ""
            diags.error(
                device.where("model"),
                f"device {device.id!r}: device model {urn!r} is not among "
                f"{models.describe()}{note}",
            )
            missing = True
        else:
            found.append(model)
    return None if missing else found


def _attribute(
    models: list[DeviceModel], name: str
) -> tuple[DeviceModelAttribute | None, list[str]]:
    names: list[str] = []
    for model in models:
        attr = model.attribute(name)
        if attr is not None:
            return attr, names
        for attr in model.getDeviceModelAttributes().values():
            names.extend(n for n in (attr.name, attr.alias) if n)
    return None, names


def check_against_models(
    mf: m.ModelFile,
    models: ModelResolver,
    diags: Diagnostics,
    drivers: DriverCatalog | None = None,
    *,
    partial: frozenset[tuple[str, m.SourcePos]] = frozenset(),
) -> None:
    """Report every mismatch between ``mf`` and its device models into ``diags``.

    ``partial`` says what lost broken parts in the schema pass (see
    :attr:`~.schema.Context.partial`): a reading's filter chain, a device's sensors or
    actuators.  Checks those gaps could make wrong are skipped there rather than reported.
    """
    catalog = drivers if drivers is not None else DriverCatalog()
    for device in mf.devices:
        device_models = _models_of(device, models, diags)
        if device_models is None:
            continue
        context = _DeviceCheck(device, device_models, diags, catalog, partial=partial)
        for sensor in device.sensors:
            for reading in sensor.readings:
                context.reading(sensor, reading)
        for actuator in device.actuators:
            context.actuator(actuator)
        for alert in device.alerts:
            context.alert(alert)


class _DeviceCheck:
    """The checks of one device against its models."""

    def __init__(
        self,
        device: m.DeviceConfig,
        models: list[DeviceModel],
        diags: Diagnostics,
        drivers: DriverCatalog,
        *,
        partial: frozenset[tuple[str, m.SourcePos]],
    ) -> None:
        self.drivers = drivers
        self.device = device
        self.models = models
        self.diags = diags
        self.partial = partial

    def _fed(self, attr: DeviceModelAttribute) -> bool:
        """True when a sensor or actuator of the device binds ``attr`` (or a gap hides it)."""
        if any((what, self.device.pos) in self.partial for what in ("sensors", "actuators")):
            return True
        names = {attr.name, attr.alias}
        bound = {r.attribute for s in self.device.sensors for r in s.readings}
        bound |= {a.attribute for a in self.device.actuators}
        return bool(names & bound)

    def lookup(self, name: str, pos: m.SourcePos, label: str) -> DeviceModelAttribute | None:
        attr, names = _attribute(self.models, name)
        if attr is None:
            urns = ", ".join(self.device.models)
            self.diags.error(
                pos,
                f"{label}: device model {urns} has no attribute {name!r}"
                f"{did_you_mean(name, names)}",
            )
        return attr

    # ---------------------------------------------------------------------------------------
    def reading(self, sensor: m.SensorConfig, reading: m.ReadingBinding) -> None:
        label = f"sensor {sensor.name!r} reading {reading.reading!r}"
        attr = self.lookup(reading.attribute, reading.where("attribute"), label)
        if attr is None:
            return
        info = self.drivers.info(sensor.driver)
        kind = info.readings.get(reading.reading) if info else None
        where = f"{label} -> {attr.name} ({attr.type.value})"
        if attr.type in (DataType.STRING, DataType.DATETIME, DataType.URI):
            self.diags.error(
                reading.where("attribute"),
                f"{where}: a sensor reading cannot feed a {attr.type.value}",
            )
            return
        if kind == "boolean" and attr.type is not DataType.BOOLEAN:
            self.diags.error(reading.where("attribute"), f"{where}: the reading is a boolean")
            return
        if kind in ("number", "integer") and attr.type is DataType.BOOLEAN:
            self.diags.error(
                reading.where("attribute"), f"{where}: the reading is a {kind}, not a boolean"
            )
            return
        whole_chain = ("reading", reading.pos) not in self.partial
        if (
            whole_chain
            and kind == "number"
            and attr.type is DataType.INTEGER
            and not _rounds_to_int(reading)
        ):
            self.diags.error(
                reading.where("attribute"),
                f"{where}: the reading is fractional; end the filters with '- round: 0' "
                "to send whole numbers",
            )
            return
        if attr.range is None or not attr.type.is_numeric:
            return
        low, high = attr.range.low, attr.range.high
        for spec in reading.filters:
            if isinstance(spec, m.ClampFilter):
                for bound, value in (("min_value", spec.min_value), ("max_value", spec.max_value)):
                    if value is not None and not low <= value <= high:
                        self.diags.error(
                            spec.pos,
                            f"{label}: clamp {bound} {value:g} lies outside the range "
                            f"{attr.range} of attribute {attr.name!r}",
                        )
        sensor_range = info.ranges.get(reading.reading) if info else None
        if sensor_range is None or not whole_chain:
            return
        out = propagate(sensor_range, reading.filters)
        if out is not None and (out[1] < low or out[0] > high):
            self.diags.error(
                reading.where("attribute"),
                f"{label}: the {sensor.driver} measures {_iv(sensor_range)}, which after the "
                f"filters is {_iv(out)}; no value can fit the range {attr.range} of attribute "
                f"{attr.name!r} (wrong unit or calibration?)",
            )

    # ---------------------------------------------------------------------------------------
    def actuator(self, actuator: m.ActuatorConfig) -> None:
        label = f"actuator {actuator.name!r}"
        attr = self.lookup(actuator.attribute, actuator.where("attribute"), label)
        if attr is None:
            return
        where = f"{label} -> {attr.name} ({attr.type.value})"
        if not attr.writable:
            self.diags.error(
                actuator.where("attribute"),
                f"{where}: the attribute is read-only; actuators need writable ones",
            )
            return
        info = self.drivers.info(actuator.driver)
        kind = info.value_kind if info else None
        if kind == "boolean" and attr.type is not DataType.BOOLEAN:
            self.diags.error(
                actuator.where("attribute"), f"{where}: a {actuator.driver} is switched on/off"
            )
            return
        if kind == "number" and not attr.type.is_numeric:
            self.diags.error(
                actuator.where("attribute"), f"{where}: a {actuator.driver} takes a number"
            )
            return
        if attr.type in (DataType.STRING, DataType.DATETIME, DataType.URI):
            self.diags.error(
                actuator.where("attribute"), f"{where}: actuators take numbers or booleans"
            )
            return
        if actuator.limits is not None and attr.range is not None:
            for bound, value in (
                ("min", actuator.limits.min_value),
                ("max", actuator.limits.max_value),
            ):
                if value is not None and value not in attr.range:
                    self.diags.error(
                        actuator.limits.pos,
                        f"{label}: limits {bound} {value:g} lies outside the range "
                        f"{attr.range} of attribute {attr.name!r}",
                    )
        if actuator.safe_state is not None:
            self._safe_state(actuator, attr, label)
        broken_scale = ("scale", actuator.pos) in self.partial
        if info and info.value_range and attr.type.is_numeric and not broken_scale:
            self._driver_range(actuator, attr, info.value_range(actuator.options), label)

    def _driver_range(
        self,
        actuator: m.ActuatorConfig,
        attr: DeviceModelAttribute,
        accepted: Interval,
        label: str,
    ) -> None:
        """The values the cloud may write, carried through ``scale``, must suit the driver."""
        low = attr.range.low if attr.range else -math.inf
        high = attr.range.high if attr.range else math.inf
        if actuator.limits is not None:
            if actuator.limits.min_value is not None:
                low = max(low, actuator.limits.min_value)
            if actuator.limits.max_value is not None:
                high = min(high, actuator.limits.max_value)
        if low > high:
            return  # limits outside the range: reported already
        scale = actuator.scale
        mapped = sorted((scale.forward(low), scale.forward(high))) if scale else [low, high]
        if accepted[0] - 1e-9 <= mapped[0] and mapped[1] <= accepted[1] + 1e-9:
            return
        values = _iv((low, high))
        if scale is not None:
            values += f", scaled to {_iv((mapped[0], mapped[1]))},"
        hint = (
            f"; add scale: {{from: [{low:g}, {high:g}], to: [{accepted[0]:g}, {accepted[1]:g}]}}"
            if scale is None and math.isfinite(low) and math.isfinite(high)
            else "; narrow it with limits or change the scale"
        )
        self.diags.error(
            actuator.where("scale") if scale else actuator.where("attribute"),
            f"{label}: writes to {attr.name!r} span {values} but a {actuator.driver} takes "
            f"{_iv(accepted)}{hint}",
        )

    def _safe_state(
        self, actuator: m.ActuatorConfig, attr: DeviceModelAttribute, label: str
    ) -> None:
        value = actuator.safe_state
        problem = _type_problem(value, attr.type)
        if problem is None and attr.type.is_numeric:
            assert isinstance(value, int | float)
            if attr.range is not None and value not in attr.range:
                problem = f"is outside the attribute's range {attr.range}"
            limits = actuator.limits
            if limits is not None and (
                (limits.min_value is not None and value < limits.min_value)
                or (limits.max_value is not None and value > limits.max_value)
            ):
                problem = "is outside the actuator's limits"
        if problem is not None:
            self.diags.error(
                actuator.where("safe_state"), f"{label}: safe_state {value!r} {problem}"
            )

    # ---------------------------------------------------------------------------------------
    def alert(self, alert: m.AlertConfig) -> None:
        label = f"alert {alert.name!r}"
        fmt = self._format(alert, label)
        cond = alert.condition
        where = cond.where("attribute")
        attr = self.lookup(cond.attribute, where, f"{label} condition") if cond.attribute else None
        if attr is not None and not self._fed(attr):
            self.diags.error(
                where,
                f"{label}: nothing on device {self.device.id!r} feeds attribute "
                f"{cond.attribute!r}, so the alert could never fire",
            )
        if attr is not None:
            if cond.op in ("above", "below") and not attr.type.is_numeric:
                self.diags.error(
                    cond.where(cond.op),
                    f"{label}: {cond.op} needs a NUMBER or INTEGER attribute; "
                    f"{attr.name!r} is {attr.type.value} (use equals)",
                )
            elif cond.op == "equals" and (problem := _type_problem(cond.threshold, attr.type)):
                self.diags.error(
                    cond.where(cond.op), f"{label}: equals {cond.threshold!r} {problem}"
                )
            elif (
                cond.op != "equals"
                and attr.range is not None
                and isinstance(cond.threshold, int | float)
                and _never(cond.op, float(cond.threshold), attr.range.low, attr.range.high)
            ):
                self.diags.error(
                    cond.where(cond.op),
                    f"{label}: {cond.op} {cond.threshold:g} can never happen within the range "
                    f"{attr.range} of attribute {attr.name!r}",
                )
        if fmt is not None:
            self._fields(alert, fmt, label)

    def _format(self, alert: m.AlertConfig, label: str) -> DeviceModelFormat | None:
        known: list[str] = []
        for model in self.models:
            fmt = model.format(alert.format)
            if fmt is not None:
                if fmt.type is not FormatType.ALERT:
                    self.diags.error(
                        alert.where("format"),
                        f"{label}: format {alert.format!r} is a {fmt.type.value} format",
                    )
                    return None
                return fmt
            known.extend(model.getDeviceModelFormats())
        self.diags.error(
            alert.where("format"),
            f"{label}: the device model has no format {alert.format!r}"
            f"{did_you_mean(alert.format, known)}",
        )
        return None

    def _fields(self, alert: m.AlertConfig, fmt: DeviceModelFormat, label: str) -> None:
        bound = {f.name: f for f in alert.fields}
        names = [f.name for f in fmt.fields]
        for name, field in bound.items():
            spec = fmt.field(name)
            if spec is None:
                self.diags.error(
                    field.pos,
                    f"{label}: format {fmt.urn!r} has no field {name!r}{did_you_mean(name, names)}",
                )
                continue
            if field.constant is not None:
                problem = _type_problem(field.constant, spec.type)
                if problem:
                    self.diags.error(field.pos, f"{label}: field {name!r} value {problem}")
            elif field.attribute is not None:
                attr = self.lookup(field.attribute, field.pos, f"{label} field {name!r}")
                if attr is not None and not _compatible(attr.type, spec.type):
                    self.diags.error(
                        field.pos,
                        f"{label}: field {name!r} is {spec.type.value} but attribute "
                        f"{attr.name!r} is {attr.type.value}",
                    )
        missing = [f.name for f in fmt.fields if not f.optional and f.name not in bound]
        if missing:
            self.diags.error(
                alert.where("fields"),
                f"{label}: format {fmt.urn!r} needs field(s) {', '.join(missing)}; "
                "bind each to an attribute or a value under 'fields'",
            )


def _rounds_to_int(reading: m.ReadingBinding) -> bool:
    for spec in reversed(reading.filters):
        if isinstance(spec, m.RoundFilter):
            return spec.decimals == 0
        if isinstance(spec, m.RoundToMultipleOfFilter):
            return float(spec.multiple).is_integer()
        if filter_name(spec) in ("offset", "multiply", "calibrate_linear", "calibrate_polynomial"):
            return False
    return False


def _compatible(attr: DataType, field: DataType) -> bool:
    return attr is field or (attr.is_numeric and field is DataType.NUMBER)


def _type_problem(value: object, dtype: DataType) -> str | None:
    """Why ``value`` cannot be a ``dtype`` value, or None if it can."""
    is_num = isinstance(value, int | float) and not isinstance(value, bool)
    if dtype is DataType.BOOLEAN and not isinstance(value, bool):
        return "is not a boolean (true/false)"
    if dtype is DataType.NUMBER and not is_num:
        return "is not a number"
    if dtype is DataType.INTEGER and not (is_num and float(value).is_integer()):  # type: ignore[arg-type]
        return "is not a whole number"
    if dtype in (DataType.STRING, DataType.URI) and not isinstance(value, str):
        return "is not a string"
    if dtype is DataType.DATETIME and not is_num:
        return "is not an epoch-milliseconds number"
    return None


def _never(op: str, threshold: float, low: float, high: float) -> bool:
    return (op == "above" and threshold >= high) or (op == "below" and threshold <= low)


def _iv(interval: Interval) -> str:
    return f"[{interval[0]:g}, {interval[1]:g}]"


def propagate(interval: Interval, filters: tuple[m.FilterSpec, ...]) -> Interval | None:
    """The range of values that can leave ``filters`` when inputs span ``interval``.

    Interval arithmetic over the filters whose effect on a range is known; None when a filter
    makes it unknowable (a polynomial, a timeout value...) or the arithmetic overflows.
    """
    try:
        return _propagate(interval, filters)
    except (ArithmeticError, ValueError):
        return None


def _propagate(interval: Interval, filters: tuple[m.FilterSpec, ...]) -> Interval | None:
    low, high = interval
    for spec in filters:
        if isinstance(spec, m.OffsetFilter):
            low, high = low + spec.value, high + spec.value
        elif isinstance(spec, m.MultiplyFilter):
            low, high = sorted((low * spec.value, high * spec.value))
        elif isinstance(spec, m.CalibrateLinearFilter):
            if spec.method == "exact":
                a, b = interpolate(spec.datapoints, low), interpolate(spec.datapoints, high)
                ys = [y for x, y in spec.datapoints if low <= x <= high]
                low, high = min(a, b, *ys), max(a, b, *ys)
            else:
                slope, intercept = fit_line(spec.datapoints)
                low, high = sorted((slope * low + intercept, slope * high + intercept))
        elif isinstance(spec, m.ClampFilter):
            if spec.min_value is not None:
                low, high = max(low, spec.min_value), max(high, spec.min_value)
            if spec.max_value is not None:
                low, high = min(low, spec.max_value), min(high, spec.max_value)
        elif isinstance(spec, m.RoundFilter | m.RoundToMultipleOfFilter):
            step = 10.0**-spec.decimals if isinstance(spec, m.RoundFilter) else spec.multiple
            low, high = low - step / 2, high + step / 2
        elif isinstance(spec, m.CalibratePolynomialFilter | m.TimeoutFilter):
            return None
        if not (math.isfinite(low) and math.isfinite(high)):
            return None
    return (low, high)
