"""Where the runtime's bindings meet a ``VirtualDevice``: transactions, writes and errors.

* :class:`DeviceWriter` serialises ``update()...finish()`` transactions on one virtual device.
  A virtual device has one transaction per device, not per thread, so two sampling groups (or
  a sampling tick and a safe-state report) must never interleave their ``set`` calls.
* :class:`ActuatorChangeCallback` is the ``ChangeCallback`` registered device-wide: it hands
  the whole write (one or several attributes) to the actuator bindings, all or nothing.  A
  refused value raises ``ValueError`` (the virtual device answers 400 and commits nothing); a
  hardware failure raises another error (500).
* :class:`LoggingErrorCallback` is the ``ErrorCallback``: delivery failures are logged and
  counted, with the attributes that were lost.
* :func:`value_check_for` turns a device-model attribute into the runtime's :class:`ValueCheck`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from iotcs_hw.client import ChangeCallback, ChangeEvent, ErrorCallback, ErrorEvent
from iotcs_hw.client.device_model import DeviceModelAttribute
from iotcs_hw.runtime.actuation import ActuationRefused, ActuatorBinding, apply_writes
from iotcs_hw.runtime.values import AttributeType, ValueCheck

log = logging.getLogger(__name__)


class AttributeUpdater(Protocol):
    """The part of ``VirtualDevice`` the runtime writes through (seed API names)."""

    def update(self) -> Any:
        """Open an update transaction."""
        ...

    def set(self, attributeName: str, value: Any) -> Any:
        """Set one attribute (validated against the device model; ``ValueError`` if bad)."""
        ...

    def finish(self) -> Any:
        """Send the transaction as one DATA message."""
        ...


class DeviceWriter:
    """Sends attribute values of one virtual device, one transaction at a time. Thread-safe."""

    def __init__(self, device: AttributeUpdater, name: str = "") -> None:
        self.device = device
        self.name = name or repr(device)
        self._lock = threading.Lock()
        self.transactions = 0
        self.refused = 0
        #: Called after each transaction with the values sent (the live view, tests).
        self.on_sent: Callable[[Mapping[str, object]], None] | None = None

    def send(self, values: Mapping[str, object]) -> bool:
        """Send ``values`` as one ``update()...finish()``; False if nothing went out.

        A value the device model refuses is logged and left out; the others still go.
        """
        if not values:
            return False
        sent: dict[str, object] = {}
        with self._lock:
            try:
                self.device.update()
                for attribute, value in values.items():
                    try:
                        self.device.set(attribute, value)
                    except ValueError as exc:
                        self.refused += 1
                        log.warning(
                            "%s: device model refused %s=%r: %s", self.name, attribute, value, exc
                        )
                    else:
                        sent[attribute] = value
                self.device.finish()
            except Exception:
                log.exception("%s: sending %s failed", self.name, dict(values))
                return False
            self.transactions += 1
        if sent and self.on_sent is not None:
            try:
                self.on_sent(sent)
            except Exception:
                log.exception("%s: on_sent hook raised", self.name)
        return bool(sent)

    def __repr__(self) -> str:
        return f"<DeviceWriter {self.name} transactions={self.transactions}>"


class ActuatorChangeCallback(ChangeCallback):
    """Applies cloud writes of bound attributes through their actuators.

    Attributes without an actuator (thresholds, set points the device only stores) pass through
    untouched; the virtual device commits them as usual.
    """

    def __init__(self, bindings: Mapping[str, ActuatorBinding]) -> None:
        self.bindings = dict(bindings)
        self._closed = False

    def close(self) -> None:
        """Refuse every later write (the runtime is stopping and its outputs are going safe)."""
        self._closed = True

    def onChange(self, event: ChangeEvent) -> None:
        """Apply every bound attribute of ``event``; raises if any is refused (none applied)."""
        if self._closed:
            names = ", ".join(nv.getName() for nv in event.getNamedValue())
            raise ActuationRefused(
                f"device is shutting down; write of {names} not applied", status=409
            )
        writes = [
            (nv.getName(), nv.getValue())
            for nv in event.getNamedValue()
            if nv.getName() in self.bindings
        ]
        if writes:
            apply_writes(self.bindings, writes)


class LoggingErrorCallback(ErrorCallback):
    """Logs and counts errors of one device: deliveries that failed (from the virtual device)
    and sensors that fail (from the runtime); optionally forwards each to ``also``."""

    def __init__(self, device_name: str, also: Callable[[ErrorEvent], None] | None = None):
        self.device_name = device_name
        self.errors = 0
        self.last_message: str | None = None
        self._also = also

    def onError(self, event: ErrorEvent) -> None:
        """Record one delivery failure."""
        self.errors += 1
        self.last_message = event.getMessage()
        attributes = event.getNamedValue().as_dict()
        log.error("%s: %s (attributes %s)", self.device_name, event.getMessage(), attributes)
        if self._also is not None:
            self._also(event)


def value_check_for(attribute: DeviceModelAttribute) -> ValueCheck:
    """The :class:`ValueCheck` of a device-model attribute (type and range)."""
    kind: AttributeType = attribute.type.value
    low = high = None
    if attribute.range is not None:
        low, high = attribute.range.low, attribute.range.high
    return ValueCheck(attribute.name, kind, low, high)
