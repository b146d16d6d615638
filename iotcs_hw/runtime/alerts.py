"""Alert rules: a threshold with hysteresis decides when an ALERT format is raised.

Pure logic, no I/O: feed the filtered values of the watched attribute, get a
:class:`AlertDecision` when the alert must be raised now; the runtime turns it into
``VirtualDevice.createAlert(format)...raise()``.  Time (for ``for`` and ``repeat``) comes from an
injected clock.

States (one table, :data:`TRANSITIONS`)::

    ARMED   --trigger--> PENDING (or FIRED at once when for=0, raising)
    PENDING --trigger held for 'for'--> FIRED (raise)
    PENDING --no trigger--> ARMED
    FIRED   --re-arm (past threshold by the hysteresis)--> ARMED
    FIRED   --still triggering after 'repeat'--> FIRED (raise again)

``above 35, hysteresis 2`` raises when the value exceeds 35 and re-arms only once it is at or
below 33, so a value wobbling around 35 raises once, not at every sample.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.filters import Clock, MonotonicClock

Value = float | int | bool | str


class AlertState(enum.Enum):
    """Where a rule is in its cycle."""

    ARMED = "armed"
    PENDING = "pending"
    FIRED = "fired"


class _Event(enum.Enum):
    TRIGGER = "trigger"
    HOLD = "hold"  # trigger, and the 'for' time has elapsed
    CLEAR = "clear"  # no trigger, but inside the hysteresis band
    REARM = "rearm"  # past the threshold by the hysteresis


#: state -> event -> (next state, raise?)
TRANSITIONS: dict[AlertState, dict[_Event, tuple[AlertState, bool]]] = {
    AlertState.ARMED: {
        _Event.TRIGGER: (AlertState.PENDING, False),
        _Event.HOLD: (AlertState.FIRED, True),
        _Event.CLEAR: (AlertState.ARMED, False),
        _Event.REARM: (AlertState.ARMED, False),
    },
    AlertState.PENDING: {
        _Event.TRIGGER: (AlertState.PENDING, False),
        _Event.HOLD: (AlertState.FIRED, True),
        _Event.CLEAR: (AlertState.ARMED, False),
        _Event.REARM: (AlertState.ARMED, False),
    },
    AlertState.FIRED: {
        _Event.TRIGGER: (AlertState.FIRED, False),
        _Event.HOLD: (AlertState.FIRED, False),
        _Event.CLEAR: (AlertState.FIRED, False),
        _Event.REARM: (AlertState.ARMED, False),
    },
}


@dataclass(frozen=True)
class AlertDecision:
    """Raise this alert now: its format, severity, description and the value that caused it."""

    name: str
    device: str
    format: str
    severity: m.Severity
    description: str | None
    value: Value
    repeat: bool = False


class AlertRule:
    """One :class:`~iotcs_hw.runtime.config.model.AlertConfig`, evaluated value by value.

    Not thread-safe: one rule is fed from the thread that samples its attribute.
    """

    def __init__(self, config: m.AlertConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or MonotonicClock()
        self.state = AlertState.ARMED
        self.pending_since: float | None = None
        self.raised_at: float | None = None
        self.last_value: Value | None = None

    def __repr__(self) -> str:
        return f"<AlertRule {self.config.name!r} state={self.state.value}>"

    def _classify(self, value: Value) -> _Event:
        cond = self.config.condition
        if cond.op == "equals":
            return _Event.TRIGGER if value == cond.threshold else _Event.REARM
        x, limit = float(value), float(cond.threshold)
        if cond.op == "above":
            if x > limit:
                return _Event.TRIGGER
            return _Event.REARM if x <= limit - cond.hysteresis else _Event.CLEAR
        if x < limit:
            return _Event.TRIGGER
        return _Event.REARM if x >= limit + cond.hysteresis else _Event.CLEAR

    def _step(self, event: _Event, value: Value, now: float) -> AlertDecision | None:
        if event is _Event.TRIGGER:
            if self.pending_since is None:
                self.pending_since = now
            if now - self.pending_since >= self.config.condition.for_s:
                event = _Event.HOLD
        else:
            self.pending_since = None
        next_state, fire = TRANSITIONS[self.state][event]
        repeat = (
            not fire
            and next_state is AlertState.FIRED
            and event is _Event.HOLD
            and self.config.repeat_s is not None
            and self.raised_at is not None
            and now - self.raised_at >= self.config.repeat_s
        )
        self.state = next_state
        if not (fire or repeat):
            return None
        self.raised_at = now
        return AlertDecision(
            self.config.name,
            self.config.device,
            self.config.format,
            self.config.severity,
            self.config.description,
            value,
            repeat,
        )

    def feed(self, value: Value) -> AlertDecision | None:
        """Evaluate one value of the watched attribute; a decision when it must raise now.

        NaN (no valid measurement) changes nothing.
        """
        if isinstance(value, float) and math.isnan(value):
            return None
        self.last_value = value
        return self._step(self._classify(value), value, self.clock.monotonic())

    def poll(self) -> AlertDecision | None:
        """Re-evaluate the last value because time passed (``for`` and ``repeat``)."""
        if self.last_value is None:
            return None
        return self._step(self._classify(self.last_value), self.last_value, self.clock.monotonic())

    def next_deadline(self) -> float | None:
        """When :meth:`poll` could next raise, or None if only a new value can change things."""
        if self.state is AlertState.PENDING and self.pending_since is not None:
            return self.pending_since + self.config.condition.for_s
        if self.state is AlertState.FIRED and self.config.repeat_s and self.raised_at is not None:
            return self.raised_at + self.config.repeat_s
        return None

    def fields(self, attributes: Mapping[str, Value]) -> dict[str, Value]:
        """The alert's field values from the current ``attributes`` of its device.

        Fields bound to an attribute that has no value yet are left out; the virtual device
        refuses the alert if such a field is not optional.
        """
        out: dict[str, Value] = {}
        for f in self.config.fields:
            if f.constant is not None:
                out[f.name] = f.constant
            elif f.attribute is not None and f.attribute in attributes:
                out[f.name] = attributes[f.attribute]
        return out
