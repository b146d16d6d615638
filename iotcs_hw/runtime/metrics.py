"""Prometheus text exposition (format 0.0.4) of the runtime's health, without a client library.

Metric names follow Prometheus conventions: an ``iotcs_hw_`` prefix, ``_total`` for counters,
base units in the name (``_seconds``).  Label values are escaped as the format requires
(backslash, double quote, newline).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from iotcs_hw.runtime.status import HealthRegistry, SensorState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value: str) -> str:
    """Escape a label value: ``\\`` -> ``\\\\``, ``"`` -> ``\\"``, newline -> ``\\n``."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class MetricFamily:
    """One metric name with its HELP, TYPE and samples."""

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.kind = kind
        self.help_text = help_text
        self.samples: list[tuple[Mapping[str, str], float]] = []

    def add(self, value: float, **labels: str) -> MetricFamily:
        """Add one sample with ``labels``."""
        self.samples.append((labels, float(value)))
        return self

    def render(self) -> Iterable[str]:
        """The exposition lines of this family."""
        help_text = self.help_text.replace("\\", "\\\\").replace("\n", "\\n")
        yield f"# HELP {self.name} {help_text}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            if labels:
                inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
                yield f"{self.name}{{{inner}}} {_format_value(value)}"
            else:
                yield f"{self.name} {_format_value(value)}"


def render(registry: HealthRegistry) -> str:
    """The whole ``/metrics`` document for ``registry``."""
    families: list[MetricFamily] = []
    families.append(
        MetricFamily("iotcs_hw_ready", "gauge", "1 once buses and the model are up").add(
            1 if registry.ready else 0
        )
    )
    connected = registry.cloud_connected()
    if connected is not None:
        families.append(
            MetricFamily(
                "iotcs_hw_cloud_connected", "gauge", "1 while the last cloud exchange succeeded"
            ).add(1 if connected else 0)
        )
    depth = registry.outbox_depth()
    if depth is not None:
        families.append(
            MetricFamily("iotcs_hw_outbox_depth", "gauge", "messages waiting in the outbox").add(
                depth
            )
        )
    reads = MetricFamily("iotcs_hw_sensor_reads_total", "counter", "sensor reads by result")
    rejected = MetricFamily(
        "iotcs_hw_sensor_values_rejected_total",
        "counter",
        "values not sent because the attribute cannot hold them",
    )
    up = MetricFamily("iotcs_hw_sensor_up", "gauge", "1 when the last read of the sensor worked")
    failures = MetricFamily(
        "iotcs_hw_sensor_consecutive_failures", "gauge", "failed reads since the last good one"
    )
    recoveries = MetricFamily(
        "iotcs_hw_sensor_recoveries_total", "counter", "times the sensor came back after failing"
    )
    values = MetricFamily("iotcs_hw_sensor_value", "gauge", "last value read, per reading")
    for snap in registry.sensor_snapshots():
        reads.add(snap.reads_ok, sensor=snap.name, result="ok")
        reads.add(snap.reads_failed, sensor=snap.name, result="failed")
        reads.add(snap.reads_skipped, sensor=snap.name, result="skipped")
        rejected.add(snap.values_rejected, sensor=snap.name)
        up.add(1 if snap.state is SensorState.OK else 0, sensor=snap.name)
        failures.add(snap.consecutive_failures, sensor=snap.name)
        recoveries.add(snap.recoveries, sensor=snap.name)
        for reading, value in sorted(snap.last_value.items()):
            values.add(float(value), sensor=snap.name, reading=reading)
    families += [reads, rejected, up, failures, recoveries, values]
    act_state = MetricFamily("iotcs_hw_actuator_state", "gauge", "value the output is driven to")
    act_safe = MetricFamily(
        "iotcs_hw_actuator_safe_mode", "gauge", "1 while held in its safe state (cloud lost)"
    )
    act_writes = MetricFamily("iotcs_hw_actuator_writes_total", "counter", "cloud writes by result")
    for act_provider in registry.actuators:
        act = act_provider()
        if isinstance(act.state, int | float):
            act_state.add(float(act.state), actuator=act.name)
        act_safe.add(1 if act.in_safe_mode else 0, actuator=act.name)
        act_writes.add(act.writes_applied, actuator=act.name, result="applied")
        act_writes.add(act.writes_rejected, actuator=act.name, result="rejected")
    families += [act_state, act_safe, act_writes]
    ticks = MetricFamily("iotcs_hw_sampling_ticks_total", "counter", "sampling ticks run")
    missed = MetricFamily(
        "iotcs_hw_sampling_missed_ticks_total", "counter", "ticks skipped because one was running"
    )
    late = MetricFamily(
        "iotcs_hw_sampling_lateness_seconds", "gauge", "how late the last tick started"
    )
    for group_provider in registry.groups:
        group = group_provider()
        ticks.add(group.ticks, group=group.key)
        missed.add(group.missed_ticks, group=group.key)
        late.add(group.last_tick_lateness_s, group=group.key)
    families += [ticks, missed, late]
    lines: list[str] = []
    for family in families:
        lines.extend(family.render())
    return "\n".join(lines) + "\n"
