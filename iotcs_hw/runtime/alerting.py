"""Alert rules of the model file, raised as ALERT messages through the virtual device.

The rules themselves (threshold, hysteresis, ``for``, ``repeat``) are
:class:`iotcs_hw.runtime.alerts.AlertRule`; this module feeds them the values each device sends
and polls them from housekeeping (so ``for: 30s`` fires even when the value stops changing),
then raises ``vd.createAlert(format).set(...).raise_()`` with the fields the rule names.

Thread-safety: values arrive from several sampling threads and polls from the scheduler; one
lock per device serialises them, since a rule is not thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

from iotcs_hw.client import VirtualDevice
from iotcs_hw.runtime.alerts import AlertDecision, AlertRule
from iotcs_hw.runtime.clock import Clock
from iotcs_hw.runtime.config.model import AlertConfig

log = logging.getLogger(__name__)


class DeviceAlerts:
    """The alert rules of one device."""

    def __init__(self, device: VirtualDevice, configs: Sequence[AlertConfig], clock: Clock):
        self.device = device
        self.rules = [AlertRule(config, clock) for config in configs]
        self._lock = threading.Lock()
        self.raised: list[AlertDecision] = []

    def on_values(self, values: Mapping[str, object]) -> None:
        """Feed the values just sent to the rules watching them."""
        with self._lock:
            for rule in self.rules:
                attribute = rule.config.condition.attribute
                if attribute not in values:
                    continue
                value = values[attribute]
                if isinstance(value, bool | int | float | str):
                    self._raise(rule, rule.feed(value))

    def poll(self) -> None:
        """Let time-based conditions (``for``, ``repeat``) fire."""
        with self._lock:
            for rule in self.rules:
                self._raise(rule, rule.poll())

    def _raise(self, rule: AlertRule, decision: AlertDecision | None) -> None:
        if decision is None:
            return
        attributes = {}
        model = self.device.getDeviceModel()
        for name in model.getDeviceModelAttributes():
            current = self.device.get(name)
            if current is not None:
                attributes[name] = current
        try:
            alert = self.device.createAlert(decision.format).setSeverity(decision.severity)
            for field_name, value in rule.fields(attributes).items():
                alert.set(field_name, value)
            alert.raise_()
        except Exception as exc:
            log.error("alert %s could not be raised: %s", decision.name, exc)
            return
        self.raised.append(decision)
        log.warning(
            "alert %s raised on %s (%s=%r)",
            decision.name,
            decision.device,
            rule.config.condition.attribute,
            decision.value,
        )
